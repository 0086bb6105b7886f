"""The patch point: other AWS calls pass through, stacked layers count once, install and uninstall."""

from __future__ import annotations

import json

import boto3
import botocore.client
import pytest
import wrapt
from botocore.exceptions import ClientError
from otel_tokens_bedrock import BedrockInstrumentor, _endpoints
from otel_tokens_fake_providers import Scenario

from otel_tokens.testing import InMemoryTelemetry

from .conftest import NO_RETRIES, make_client
from .helpers import only_span

NOVA = "amazon.nova-lite-v1:0"
MESSAGES = [{"role": "user", "content": [{"text": "Say hello."}]}]


def test_other_aws_calls_pass_through_untouched(server, telemetry, monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("an endpoint was consulted for a non-Bedrock call")

    monkeypatch.setattr(_endpoints.BedrockEndpoint, "prepare", never)
    s3 = boto3.client(
        "s3", endpoint_url=server.url, region_name="us-east-1", aws_access_key_id="x",
        aws_secret_access_key="x", config=NO_RETRIES,
    )  # fmt: skip
    with pytest.raises(ClientError):  # the fake server speaks no S3; the call still went out
        s3.list_buckets()
    assert len(server.requests) == 1
    # The bedrock control plane shares operation names with nothing we wrap, but not the service.
    control = boto3.client(
        "bedrock", endpoint_url=server.url, region_name="us-east-1", aws_access_key_id="x",
        aws_secret_access_key="x", config=NO_RETRIES,
    )  # fmt: skip
    with pytest.raises(ClientError):
        control.list_foundation_models()
    assert telemetry.spans() == ()
    assert telemetry.points("gen_ai.client.operation.duration") == []


def test_bedrock_call_inside_an_instrumented_call_is_counted_once(server, client, telemetry):
    from otel_tokens.record import enter_call, exit_call

    # An outer instrumented layer (LiteLLM, a framework...) already records this logical call.
    token = enter_call()
    try:
        client.converse(modelId=NOVA, messages=MESSAGES)
        list(client.converse_stream(modelId=NOVA, messages=MESSAGES)["stream"])
        client.invoke_model(modelId=NOVA, body=json.dumps({"messages": MESSAGES}))["body"].read()
    finally:
        exit_call(token)
    assert telemetry.spans() == ()
    assert telemetry.points("gen_ai.client.token.usage") == []
    client.converse(modelId=NOVA, messages=MESSAGES)
    assert len(telemetry.spans()) == 1


def test_instrumenting_twice_wraps_once(server, client, telemetry):
    from otel_tokens._patching import PatchSet
    from otel_tokens.metrics import create_instruments
    from otel_tokens.record import Recorder

    BedrockInstrumentor().instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )
    # Even a second patch set (another recorder) leaves the one wrapper in place.
    recorder = Recorder(
        telemetry.tracer_provider.get_tracer("other"),
        create_instruments(telemetry.meter_provider.get_meter("other")),
    )
    second = PatchSet(BedrockInstrumentor().patch_specs(), recorder)
    assert second.applied == []
    current = botocore.client.BaseClient.__dict__["_make_api_call"]
    assert isinstance(current, wrapt.FunctionWrapper)
    assert not isinstance(current.__wrapped__, wrapt.FunctionWrapper)
    server.enqueue(Scenario(prompt_tokens=10, completion_tokens=5))
    client.converse(modelId=NOVA, messages=MESSAGES)
    only_span(telemetry)
    tokens = {p.attributes["gen_ai.token.type"]: p.sum for p in telemetry.points("gen_ai.client.token.usage")}
    assert tokens == {"input": 10, "output": 5}


def test_init_twice_records_once(server):
    import otel_tokens

    memory = InMemoryTelemetry()
    try:
        for _ in range(2):
            otel_tokens.init(tracer_provider=memory.tracer_provider, meter_provider=memory.meter_provider)
        make_client(server.url).converse(modelId=NOVA, messages=MESSAGES)
        assert len([s for s in memory.spans() if s.instrumentation_scope.name == "otel_tokens_bedrock"]) == 1
    finally:
        otel_tokens.uninstrument()
        memory.shutdown()


def test_anthropic_bedrock_client_does_not_go_through_botocore_calls(server, telemetry):
    anthropic = pytest.importorskip("anthropic")

    calls = []
    original = botocore.client.BaseClient.__dict__["_make_api_call"]

    def spy(wrapped, instance, args, kwargs):
        calls.append(args[0])
        return wrapped(*args, **kwargs)

    wrapt.wrap_function_wrapper(botocore.client, "BaseClient._make_api_call", spy)
    try:
        client = anthropic.AnthropicBedrock(
            base_url=server.url, aws_access_key="x", aws_secret_key="x", aws_region="us-east-1", max_retries=0
        )
        model = "anthropic.claude-3-haiku-20240307-v1:0"
        server.enqueue(Scenario(text="Hi!", prompt_tokens=12, completion_tokens=2))
        message = client.messages.create(
            model=model, max_tokens=10, messages=[{"role": "user", "content": "Hi"}]
        )
        assert message.usage.input_tokens == 12
        server.enqueue(Scenario(text="Hi there!", chunks=3, prompt_tokens=12, completion_tokens=3))
        with client.messages.stream(
            model=model, max_tokens=10, messages=[{"role": "user", "content": "Hi"}]
        ) as s:
            assert s.get_final_text() == "Hi there!"
            assert s.get_final_message().usage.output_tokens == 3
    finally:
        setattr(botocore.client.BaseClient, "_make_api_call", original)  # noqa: B010
    assert calls == []  # signed with botocore's SigV4Auth, sent with httpx: never _make_api_call
    assert telemetry.spans() == ()
    assert [r.path for r in server.requests] == [
        f"/model/{model}/invoke",
        f"/model/{model}/invoke-with-response-stream",
    ]


def test_uninstrument_restores_botocore(server, client, telemetry):
    BedrockInstrumentor().uninstrument()
    assert not isinstance(botocore.client.BaseClient.__dict__["_make_api_call"], wrapt.FunctionWrapper)
    client.converse(modelId=NOVA, messages=MESSAGES)
    assert telemetry.spans() == ()
    BedrockInstrumentor().instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )
    client.converse(modelId=NOVA, messages=MESSAGES)
    assert len(telemetry.spans()) == 1


def test_no_op_when_botocore_is_not_installed(monkeypatch):
    from otel_tokens import _dependencies

    real = _dependencies.installed_version
    monkeypatch.setattr(
        _dependencies, "installed_version", lambda name: None if name == "botocore" else real(name)
    )
    memory = InMemoryTelemetry()
    instrumentor = BedrockInstrumentor()
    instrumentor.instrument(tracer_provider=memory.tracer_provider, meter_provider=memory.meter_provider)
    try:
        assert not instrumentor.patches_applied
        assert not isinstance(botocore.client.BaseClient.__dict__["_make_api_call"], wrapt.FunctionWrapper)
    finally:
        instrumentor.uninstrument()


def test_internal_failure_never_reaches_the_user(server, client, telemetry, monkeypatch, caplog):
    from otel_tokens_bedrock import _families

    from otel_tokens import _safety

    _safety.set_strict(False)
    monkeypatch.setattr(_families.OutputReader, "add", lambda self, doc: 1 / 0)
    server.enqueue(Scenario(prompt_tokens=3, completion_tokens=2))
    response = client.converse(modelId=NOVA, messages=MESSAGES)
    assert response["usage"]["inputTokens"] == 3
    server.enqueue(Scenario(chunks=3))
    events = list(client.converse_stream(modelId=NOVA, messages=MESSAGES)["stream"])
    assert len(events) == 7
    server.enqueue(Scenario(text="fine"))
    body = client.invoke_model(modelId="amazon.titan-text-express-v1", body=json.dumps({"inputText": "x"}))[
        "body"
    ]
    assert json.loads(body.read())["results"][0]["outputText"] == "fine"
    assert len(telemetry.spans()) == 3  # every span still ends
    assert any("internal error" in r.getMessage() for r in caplog.records)
