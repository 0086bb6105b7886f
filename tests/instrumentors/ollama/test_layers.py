"""Counted once: stacked instrumented layers, module-level functions, instrumenting twice, removal."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import httpx
import ollama
import openai
import wrapt
from otel_tokens_fake_providers import Scenario
from otel_tokens_ollama import OllamaInstrumentor

from .helpers import MESSAGES, only_span


def test_ollama_call_inside_an_instrumented_openai_call_records_nothing_extra(server, client, telemetry):
    """The OpenAI SDK on Ollama's OpenAI-compatible /v1 is the outer layer; the Ollama call inside it
    (here from an httpx hook, as a framework's callback would make it) must add no span or tokens."""
    from otel_tokens_openai import OpenAIInstrumentor

    from otel_tokens import _runtime
    from otel_tokens._settings import Settings

    # Port 11434 is what the openai instrumentor recognises as Ollama; the fake server's port is mapped.
    _runtime.set_settings(Settings(provider_hosts={f"127.0.0.1:{server.port}": "ollama"}))
    OllamaInstrumentor().uninstrument()
    OllamaInstrumentor().instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )
    OpenAIInstrumentor().instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )
    inner: list[ollama.ChatResponse] = []
    http = httpx.Client(
        event_hooks={
            "request": [lambda request: inner.append(client.chat(model="llama3", messages=MESSAGES))]
        }
    )
    compat = openai.OpenAI(base_url=server.url + "/v1", api_key="ollama", http_client=http, max_retries=0)
    try:
        server.enqueue(Scenario(prompt_tokens=5, completion_tokens=2))  # the inner /api/chat
        server.enqueue(Scenario(prompt_tokens=30, completion_tokens=10))  # the outer /v1/chat/completions
        compat.chat.completions.create(model="llama3", messages=MESSAGES)
    finally:
        OpenAIInstrumentor().uninstrument()
    assert inner and inner[0].prompt_eval_count == 5  # the inner call happened, inside the outer one
    assert [r.path for r in server.requests] == ["/api/chat", "/v1/chat/completions"]
    span = only_span(telemetry)
    assert span.instrumentation_scope.name == "otel_tokens_openai"
    assert span.attributes["gen_ai.provider.name"] == "ollama"
    assert span.attributes["gen_ai.usage.input_tokens"] == 30
    assert [p.sum for p in telemetry.points("gen_ai.client.token.usage")] == [30, 10]


def test_ollama_call_inside_another_ollama_call_is_counted_once(server, telemetry):
    """An Ollama call made while another is in flight (a client whose httpx hook calls Ollama)."""
    inner_client = ollama.Client(host=server.url)
    outer_client = ollama.Client(
        host=server.url,
        event_hooks={"request": [lambda request: inner_client.embed(model="all-minilm", input="x")]},
    )
    outer_client.chat(model="llama3", messages=MESSAGES)
    assert len(server.requests) == 2
    assert only_span(telemetry).attributes["gen_ai.operation.name"] == "chat"


def test_module_level_function_is_wrapped_once_and_counted_once(server, telemetry, default_client):
    assert isinstance(ollama.chat, wrapt.FunctionWrapper)
    assert isinstance(ollama.Client.__dict__["chat"], wrapt.FunctionWrapper)
    ollama.chat(model="llama3", messages=MESSAGES)
    only_span(telemetry)
    assert len(telemetry.points("gen_ai.client.operation.duration")) == 1


def test_instrumenting_twice_does_not_double_wrap(server, client, telemetry):
    OllamaInstrumentor().instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )
    for owner, name in ((ollama.Client, "chat"), (ollama.AsyncClient, "generate"), (ollama, "embed")):
        wrapper = owner.__dict__[name]
        assert isinstance(wrapper, wrapt.FunctionWrapper)
        assert not isinstance(wrapper.__wrapped__, wrapt.FunctionWrapper)
    # Removed and applied again: still one layer, one span per call.
    OllamaInstrumentor().uninstrument()
    OllamaInstrumentor().instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )
    assert not isinstance(ollama.Client.__dict__["chat"].__wrapped__, wrapt.FunctionWrapper)
    client.chat(model="llama3", messages=MESSAGES)
    only_span(telemetry)


def test_uninstrument_restores_everything_and_stale_wrappers_call_through(
    server, client, telemetry, default_client
):
    saved = client.chat  # a bound method taken while instrumented keeps its wrapper
    OllamaInstrumentor().uninstrument()
    assert not isinstance(ollama.Client.__dict__["chat"], wrapt.FunctionWrapper)
    assert not isinstance(ollama.chat, wrapt.FunctionWrapper)
    assert saved(model="llama3", messages=MESSAGES).message.content
    ollama.chat(model="llama3", messages=MESSAGES)
    assert telemetry.spans() == ()
    OllamaInstrumentor().instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )
    saved(model="llama3", messages=MESSAGES)
    only_span(telemetry)  # the stale wrapper stays quiet; the class's new one records the call


def test_instrumenting_before_ollama_is_imported(server):
    """The usual order (init() first): ollama.chat is then bound from the wrapped class at import."""
    script = textwrap.dedent(
        f"""
        import sys
        assert "ollama" not in sys.modules
        from otel_tokens_ollama import OllamaInstrumentor
        from otel_tokens.testing import InMemoryTelemetry
        memory = InMemoryTelemetry()
        providers = dict(tracer_provider=memory.tracer_provider, meter_provider=memory.meter_provider)
        OllamaInstrumentor().instrument(**providers)
        import ollama
        ollama._client._client.base_url = "{server.url}"
        hi = [{{"role": "user", "content": "hi"}}]
        ollama.chat(model="llama3", messages=hi)
        ollama.Client(host="{server.url}").chat(model="llama3", messages=hi)
        print(len(memory.spans()))
        OllamaInstrumentor().uninstrument()
        ollama.chat(model="llama3", messages=hi)
        print(len(memory.spans()))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["2", "2"]
    assert len(server.requests) == 3


def test_no_op_when_ollama_is_not_installed(monkeypatch):
    from otel_tokens import _dependencies

    real = _dependencies.installed_version
    monkeypatch.setattr(
        _dependencies, "installed_version", lambda name: None if name == "ollama" else real(name)
    )
    instrumentor = OllamaInstrumentor()
    instrumentor.instrument()
    try:
        assert not instrumentor.patches_applied
        assert not isinstance(ollama.Client.__dict__["chat"], wrapt.FunctionWrapper)
    finally:
        instrumentor.uninstrument()


def test_init_instruments_ollama_through_its_entry_point(server, client):
    import otel_tokens
    from otel_tokens.testing import InMemoryTelemetry

    memory = InMemoryTelemetry()
    otel_tokens.init(tracer_provider=memory.tracer_provider, meter_provider=memory.meter_provider)
    try:
        assert "ollama" in otel_tokens.instrumented_clients()
        client.chat(model="llama3", messages=MESSAGES)
    finally:
        otel_tokens.shutdown()
    [span] = memory.spans()
    assert span.instrumentation_scope.name == "otel_tokens_ollama"
