"""The checks scripts/test-install runs inside each fresh venv (standard library only, but `call`).

    python _install_check.py installed VERSION DIST...  the otel-tokens distributions installed are
        exactly DIST..., at VERSION, each importable, each instrumentor's entry point registered
        (and the core's; the fake providers and the command have none)
    python _install_check.py call BASE_URL              one chat call with the openai client to the
        fake provider (the program run under opentelemetry-instrument)
    python _install_check.py spans FILE                 FILE (ConsoleSpanExporter output) holds that
        call's span, with token counts and a cost

Each prints what it found and exits non-zero, naming what is wrong, on a failure.
"""

from __future__ import annotations

import json
import sys
from importlib import import_module
from importlib.metadata import distributions, entry_points
from pathlib import Path

MODEL = "gpt-4o-mini"  # priced by genai-prices, so the span must carry a cost


def installed(version: str, expected: list[str]) -> list[str]:
    """Problems with the installed otel-tokens distributions, their modules and entry points."""
    found = {
        dist.metadata["Name"]: dist.version
        for dist in distributions()
        if dist.metadata["Name"].startswith("otel-tokens")
    }
    print("installed:", ", ".join(f"{name} {found[name]}" for name in sorted(found)))
    problems = []
    if set(found) != set(expected):
        problems.append(f"expected exactly {sorted(expected)}, found {sorted(found)}")
    problems += [f"{name} is {found[name]}, not {version}" for name in found if found[name] != version]
    for name in found:
        module = name.replace("-", "_")
        try:
            import_module(module)
        except Exception as error:  # the message names what is broken in this install
            problems.append(f"import {module}: {type(error).__name__}: {error}")
    registered = {ep.name for ep in entry_points(group="opentelemetry_instrumentor")}
    # otel_tokens (the launcher's check) included; the fake providers and the command instrument nothing.
    wanted = {name.replace("-", "_") for name in found} - {"otel_tokens_fake_providers", "otel_tokens_cli"}
    problems += [f"entry point {name} not registered" for name in sorted(wanted - registered)]
    return problems


def call(base_url: str) -> list[str]:
    """Make one chat completion against the fake provider; the instrumentation is the launcher's."""
    import openai

    client = openai.OpenAI(base_url=f"{base_url}/v1", api_key="not-a-key", max_retries=0)
    response = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Hi"}])
    print(f"called {MODEL}: {response.usage}", file=sys.stderr)
    return []


def spans(path: Path) -> list[str]:
    """Problems with the call's span in a ConsoleSpanExporter output (indented JSON objects)."""
    text, decoder, found, position = path.read_text(), json.JSONDecoder(), [], 0
    while position < len(text):
        if text[position].isspace():
            position += 1
            continue
        try:
            span, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError:
            return [f"{path} is not a series of JSON spans at offset {position}: {text[position:][:200]!r}"]
        found.append(span)
    chats = [s for s in found if s.get("attributes", {}).get("gen_ai.operation.name") == "chat"]
    print(f"{len(found)} span(s), {len(chats)} chat span(s)")
    if len(chats) != 1:
        return [f"expected one chat span, got {len(chats)} of {[s.get('name') for s in found]}"]
    [span] = chats
    attributes = span["attributes"]
    for key in sorted(attributes):
        if key.startswith(("gen_ai.", "otel_tokens.")):
            print(f"  {key} = {attributes[key]!r}")
    problems = []
    if span.get("name") != f"chat {MODEL}" or span.get("kind") != "SpanKind.CLIENT":
        problems.append(
            f"span {span.get('name')!r} of kind {span.get('kind')!r}, not a CLIENT 'chat {MODEL}'"
        )
    expected = {
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": MODEL,
        "gen_ai.usage.cost.currency": "USD",
    }
    problems += [
        f"{key} is {attributes.get(key)!r}, not {value!r}"
        for key, value in expected.items()
        if attributes.get(key) != value
    ]
    for key in ("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens"):
        if not (isinstance(attributes.get(key), int) and attributes[key] > 0):
            problems.append(f"{key} is {attributes.get(key)!r}, not a positive count")
    cost = attributes.get("gen_ai.usage.cost.amount")
    if not (isinstance(cost, float) and cost > 0):
        problems.append(f"gen_ai.usage.cost.amount is {cost!r}, not a positive cost")
    if not str(attributes.get("otel_tokens.price.source", "")).startswith("genai-prices"):
        problems.append(f"otel_tokens.price.source is {attributes.get('otel_tokens.price.source')!r}")
    return problems


def main(argv: list[str]) -> int:
    """Run one check; print its problems to stderr and return 1 if there are any."""
    command, *args = argv
    if command == "installed":
        problems = installed(args[0], args[1:])
    elif command == "call":
        problems = call(args[0])
    elif command == "spans":
        problems = spans(Path(args[0]))
    else:
        raise SystemExit(f"unknown check {command!r}; see {__file__}'s docstring")
    for problem in problems:
        print(f"FAIL: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
