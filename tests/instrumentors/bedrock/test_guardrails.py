"""Guardrails on Bedrock runtime calls through real boto3: checked before the request is sent,
settled with what the call cost. The model travels in the URL path (``/model/<id>/converse``)."""

from __future__ import annotations

import copy
import json
from urllib.parse import unquote

import pytest
from otel_tokens_bedrock import _extract
from otel_tokens_fake_providers import Scenario

import otel_tokens
from otel_tokens import Action, Budget, Catalogue, Decision, _runtime
from otel_tokens._settings import Settings

from .._guardrails import decisions, enforce, held, spent
from .helpers import CLAUDE_3_HAIKU, CLAUDE_35_HAIKU, NOVA_LITE, cost, only_span

HAIKU = "us.anthropic.claude-3-5-haiku-20241022-v1:0"
CHEAPER = "anthropic.claude-3-haiku-20240307-v1:0"
NOVA = "amazon.nova-lite-v1:0"
MESSAGES = [{"role": "user", "content": [{"text": "Say hello."}]}]
ANTHROPIC_BODY = {
    "anthropic_version": "bedrock-2023-05-31",
    "messages": [{"role": "user", "content": [{"type": "text", "text": "Say hello."}]}],
    "max_tokens": 64,
}
OPERATIONS = ["converse", "converse_stream", "invoke_model", "invoke_model_with_response_stream"]


def params(operation: str, model: str = HAIKU, max_tokens: int = 100) -> dict:
    if operation.startswith("converse"):
        return {"modelId": model, "messages": MESSAGES, "inferenceConfig": {"maxTokens": max_tokens}}
    return {"modelId": model, "body": json.dumps({**ANTHROPIC_BODY, "max_tokens": max_tokens})}


def counted_input(operation: str, model: str = HAIKU) -> int:
    """The input tokens the core counts offline for the reservation (the instrumentor's estimate)."""
    source, _ = _extract.request_source(params(operation, model), model, operation.startswith("invoke"))
    return _extract.estimate_input(model, source, _runtime.tokenizer()).tokens


def call(client, operation: str, model: str = HAIKU, max_tokens: int = 100):
    """One call of ``operation``, its result read to the end (so its telemetry is written)."""
    response = getattr(client, operation)(**params(operation, model, max_tokens))
    if operation == "converse_stream":
        list(response["stream"])
    elif operation == "invoke_model":
        response["body"].read()
    elif operation == "invoke_model_with_response_stream":
        list(response["body"])
    return response


def models_in_paths(requests) -> list[str]:
    """The model id of each request: Bedrock puts it in the path, ``/model/<id>/<operation>``."""
    return [unquote(r.path.split("/")[2]) for r in requests]


# -- block -------------------------------------------------------------------------------------


@pytest.mark.parametrize("operation", OPERATIONS)
def test_a_blocking_budget_stops_the_call_before_it_is_sent(server, client, telemetry, operation):
    guardrails = enforce(Budget("cap", limit=0, action="block"))
    with pytest.raises(otel_tokens.BudgetExceededError) as raised:
        call(client, operation)
    assert isinstance(raised.value, otel_tokens.GuardrailError)
    assert "budget 'cap'" in str(raised.value)
    assert (raised.value.budget_id, raised.value.limit, raised.value.spent) == ("cap", 0.0, 0.0)
    assert server.requests == []
    span = only_span(telemetry)
    assert span.attributes["otel_tokens.budget.decision"] == "blocked"
    assert span.attributes["otel_tokens.budget.id"] == "cap"
    assert span.attributes["error.type"] == "BudgetExceededError"
    assert span.attributes["otel_tokens.budget.reservation"] == raised.value.reservation > 0
    assert span.attributes["otel_tokens.budget.unit"] == "USD"
    assert "gen_ai.usage.input_tokens" not in span.attributes
    assert decisions(telemetry) == {("cap", "blocked"): 1}
    assert (held(guardrails, "cap"), spent(guardrails, "cap")) == (0, 0)


# -- admitted and settled ------------------------------------------------------------------------


@pytest.mark.parametrize("operation", OPERATIONS)
def test_an_admitted_call_is_settled_at_its_cost(server, client, telemetry, operation):
    guardrails = enforce(Budget("monthly", limit=100.0))
    server.enqueue(Scenario(prompt_tokens=120, completion_tokens=40))
    call(client, operation)
    assert models_in_paths(server.requests) == [HAIKU]
    span = only_span(telemetry)
    expected = cost(CLAUDE_35_HAIKU, input=120, output=40)
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(expected, rel=1e-9)
    assert span.attributes["otel_tokens.budget.decision"] == "admitted"
    assert span.attributes["otel_tokens.budget.id"] == "monthly"
    reservation = span.attributes["otel_tokens.budget.reservation"]
    # The worst case: the input counted offline and the requested 100 output tokens.
    worst = cost(CLAUDE_35_HAIKU, input=counted_input(operation), output=100)
    assert reservation == pytest.approx(worst, rel=1e-12)
    assert reservation > expected
    assert span.attributes["otel_tokens.budget.utilisation"] == pytest.approx(reservation / 100.0)
    assert spent(guardrails, "monthly") == pytest.approx(
        span.attributes["gen_ai.usage.cost.amount"], rel=1e-12
    )
    assert held(guardrails, "monthly") == 0
    assert decisions(telemetry) == {}


def test_a_token_budget_counts_input_and_output_tokens(server, client, telemetry):
    guardrails = enforce(Budget("tokens", limit=1_000_000, unit="token"))
    server.enqueue(Scenario(prompt_tokens=120, completion_tokens=40))
    call(client, "converse")
    span = only_span(telemetry)
    assert span.attributes["otel_tokens.budget.unit"] == "token"
    # Input counted offline from the request, plus the requested maximum output.
    assert span.attributes["otel_tokens.budget.reservation"] == counted_input("converse") + 100
    assert (
        spent(guardrails, "tokens")
        == (span.attributes["gen_ai.usage.input_tokens"] + span.attributes["gen_ai.usage.output_tokens"])
        == 160
    )
    assert held(guardrails, "tokens") == 0


def test_the_next_call_is_blocked_once_the_budget_is_spent(server, client, telemetry):
    # The first call settles 160 tokens; the second reserves its input and 200 more: over 300.
    assert 160 + counted_input("converse") + 200 > 300 >= counted_input("converse") + 100
    guardrails = enforce(Budget("tokens", limit=300, unit="token"))
    server.enqueue(Scenario(prompt_tokens=120, completion_tokens=40))
    call(client, "converse")
    with pytest.raises(otel_tokens.BudgetExceededError) as raised:
        call(client, "converse", max_tokens=200)
    assert raised.value.spent == 160
    assert len(server.requests) == 1
    assert [s.attributes["otel_tokens.budget.decision"] for s in telemetry.spans()] == ["admitted", "blocked"]
    assert (spent(guardrails, "tokens"), held(guardrails, "tokens")) == (160, 0)


# -- streams -------------------------------------------------------------------------------------


@pytest.mark.parametrize("operation", ["converse_stream", "invoke_model_with_response_stream"])
def test_a_stream_holds_its_reservation_until_it_ends(server, client, telemetry, operation):
    guardrails = enforce(Budget("monthly", limit=100.0))
    server.enqueue(Scenario(chunks=3, prompt_tokens=30, completion_tokens=4))
    if operation == "converse_stream":
        stream = client.converse_stream(modelId=HAIKU, messages=MESSAGES, inferenceConfig={"maxTokens": 100})
        events = stream["stream"]
    else:
        body = json.dumps({**ANTHROPIC_BODY, "max_tokens": 100})
        events = client.invoke_model_with_response_stream(modelId=HAIKU, body=body)["body"]
    holding = held(guardrails, "monthly")
    assert holding > 0 and spent(guardrails, "monthly") == 0
    list(events)
    span = only_span(telemetry)
    assert span.attributes["otel_tokens.budget.reservation"] == pytest.approx(holding, rel=1e-12)
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(
        cost(CLAUDE_35_HAIKU, input=30, output=4), rel=1e-9
    )
    assert spent(guardrails, "monthly") == pytest.approx(
        span.attributes["gen_ai.usage.cost.amount"], rel=1e-12
    )
    assert held(guardrails, "monthly") == 0


def test_a_stream_abandoned_early_is_settled_with_what_was_seen(server, client, telemetry):
    guardrails = enforce(Budget("monthly", limit=100.0))
    server.enqueue(Scenario(text="one two three four", chunks=4, prompt_tokens=30, completion_tokens=4))
    events = client.converse_stream(modelId=HAIKU, messages=MESSAGES)["stream"]
    for _ in events:
        break
    events.close()
    span = only_span(telemetry)
    # No metadata event arrived: the call is estimated from what was seen, and that is charged.
    assert span.attributes["otel_tokens.usage.estimated"] is True
    assert spent(guardrails, "monthly") == pytest.approx(
        span.attributes["gen_ai.usage.cost.amount"], rel=1e-12
    )
    assert spent(guardrails, "monthly") > 0
    assert held(guardrails, "monthly") == 0


def test_a_stream_abandoned_without_usage_or_estimate_releases_its_hold(
    server, client, telemetry, reinstrument
):
    _runtime.set_settings(Settings(estimate_usage=False))
    reinstrument()
    guardrails = enforce(Budget("monthly", limit=100.0))
    server.enqueue(Scenario(chunks=4, prompt_tokens=30, completion_tokens=4))
    events = client.converse_stream(modelId=HAIKU, messages=MESSAGES)["stream"]
    for _ in events:
        break
    events.close()
    span = only_span(telemetry)
    assert "gen_ai.usage.input_tokens" not in span.attributes
    assert (spent(guardrails, "monthly"), held(guardrails, "monthly")) == (0, 0)


# -- warn and downgrade --------------------------------------------------------------------------


def test_a_warning_budget_lets_the_call_through(server, client, telemetry):
    guardrails = enforce(Budget("cap", limit=0, action="warn"))
    server.enqueue(Scenario(prompt_tokens=120, completion_tokens=40))
    call(client, "converse")
    assert models_in_paths(server.requests) == [HAIKU]
    span = only_span(telemetry)
    assert span.attributes["otel_tokens.budget.decision"] == "warned"
    assert span.attributes["otel_tokens.budget.id"] == "cap"
    assert decisions(telemetry) == {("cap", "warned"): 1}
    assert spent(guardrails, "cap") == pytest.approx(cost(CLAUDE_35_HAIKU, input=120, output=40), rel=1e-9)
    assert held(guardrails, "cap") == 0


@pytest.mark.parametrize("operation", OPERATIONS)
def test_a_downgrade_sends_the_cheaper_model(server, client, telemetry, operation):
    guardrails = enforce(Budget("cap", limit=0, action="downgrade", downgrade_to=CHEAPER))
    server.enqueue(Scenario(prompt_tokens=120, completion_tokens=40))
    call(client, operation)
    assert models_in_paths(server.requests) == [CHEAPER]
    span = only_span(telemetry)
    assert span.attributes["gen_ai.request.model"] == CHEAPER
    assert span.name.endswith(f" {CHEAPER}")
    assert span.attributes["otel_tokens.budget.original_model"] == HAIKU
    assert span.attributes["otel_tokens.budget.decision"] == "downgraded"
    expected = cost(CLAUDE_3_HAIKU, input=120, output=40)
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(expected, rel=1e-9)
    assert decisions(telemetry) == {("cap", "downgraded"): 1}
    assert spent(guardrails, "cap") == pytest.approx(expected, rel=1e-9)
    assert held(guardrails, "cap") == 0


def test_a_downgrade_leaves_the_users_parameters_alone(server, client, telemetry):
    enforce(Budget("cap", limit=0, action="downgrade", downgrade_to=CHEAPER))
    # botocore's own entry point, called as client.converse calls it: the params dict is the
    # one the SDK hands over, and must come back as it went in.
    given = params("converse")
    before = copy.deepcopy(given)
    client._make_api_call("Converse", given)
    assert given == before
    assert MESSAGES == [{"role": "user", "content": [{"text": "Say hello."}]}]
    assert models_in_paths(server.requests) == [CHEAPER]


# -- callbacks -----------------------------------------------------------------------------------


def test_a_callback_decides_with_the_budgets_numbers(server, client, telemetry):
    seen: list[Decision] = []

    def decide(decision: Decision) -> Action:
        seen.append(decision)
        return Action.downgrade(CHEAPER)

    guardrails = enforce(Budget("cap", limit=0, action=decide))
    server.enqueue(Scenario(prompt_tokens=120, completion_tokens=40))
    call(client, "converse")
    [decision] = seen
    span = only_span(telemetry)
    assert (decision.kind, decision.id, decision.provider, decision.model) == (
        "budget",
        "cap",
        "aws.bedrock",
        HAIKU,
    )
    assert (decision.reason, decision.limit, decision.spent, decision.unit) == ("limit", 0.0, 0.0, "USD")
    # The callback saw the worst case of the model asked for; the span, what the cheaper one held.
    assert decision.reservation > span.attributes["otel_tokens.budget.reservation"] > 0
    assert models_in_paths(server.requests) == [CHEAPER]
    assert span.attributes["otel_tokens.budget.decision"] == "downgraded"
    assert spent(guardrails, "cap") == pytest.approx(cost(CLAUDE_3_HAIKU, input=120, output=40), rel=1e-9)


def test_a_callback_may_block(server, client, telemetry):
    enforce(Budget("cap", limit=0, action=lambda decision: "block"))
    with pytest.raises(otel_tokens.BudgetExceededError):
        call(client, "converse")
    assert server.requests == []
    assert only_span(telemetry).attributes["otel_tokens.budget.decision"] == "blocked"


@pytest.mark.parametrize(("fail_mode", "decision"), [("open", "warned"), ("closed", "blocked")])
def test_a_raising_callback_follows_the_fail_mode(server, client, telemetry, fail_mode, decision):
    def broken(found: Decision) -> Action:
        raise RuntimeError("the callback's own bug")

    enforce(Budget("cap", limit=0, action=broken, fail_mode=fail_mode))
    server.enqueue(Scenario(prompt_tokens=120, completion_tokens=40))
    if decision == "blocked":
        with pytest.raises(otel_tokens.BudgetExceededError):
            call(client, "converse")
        assert server.requests == []
    else:
        call(client, "converse")
        assert models_in_paths(server.requests) == [HAIKU]
    assert only_span(telemetry).attributes["otel_tokens.budget.decision"] == decision
    assert decisions(telemetry) == {("cap", decision): 1}


# -- provider errors -----------------------------------------------------------------------------


@pytest.mark.parametrize("operation", ["converse", "converse_stream"])
def test_a_provider_error_passes_through_and_releases_the_hold(server, client, telemetry, operation):
    guardrails = enforce(Budget("monthly", limit=100.0))
    server.enqueue(Scenario(error_status=429))
    with pytest.raises(client.exceptions.ThrottlingException) as raised:
        call(client, operation)
    assert type(raised.value) is client.exceptions.ThrottlingException
    span = only_span(telemetry)
    assert span.attributes["error.type"] == "ThrottlingException"
    assert span.attributes["otel_tokens.budget.decision"] == "admitted"
    assert (held(guardrails, "monthly"), spent(guardrails, "monthly")) == (0, 0)


# -- catalogues ----------------------------------------------------------------------------------


def test_a_catalogue_blocks_an_unapproved_model_before_it_is_sent(server, client, telemetry):
    enforce(Catalogue("approved", models=["amazon.nova-*"], action="block"))
    with pytest.raises(otel_tokens.ModelNotApprovedError) as raised:
        call(client, "converse")
    assert (raised.value.catalogue_id, raised.value.model) == ("approved", HAIKU)
    assert server.requests == []
    span = only_span(telemetry)
    assert span.attributes["otel_tokens.budget.decision"] == "blocked"
    assert span.attributes["otel_tokens.catalogue.id"] == "approved"
    assert span.attributes["otel_tokens.model.approved"] is False
    assert span.attributes["error.type"] == "ModelNotApprovedError"


def test_a_catalogue_downgrades_to_an_approved_model(server, client, telemetry):
    enforce(Catalogue("approved", models=["amazon.nova-*"], action="downgrade", downgrade_to=NOVA))
    server.enqueue(Scenario(prompt_tokens=120, completion_tokens=40))
    call(client, "converse")
    assert models_in_paths(server.requests) == [NOVA]
    span = only_span(telemetry)
    assert span.attributes["gen_ai.request.model"] == NOVA
    assert span.attributes["otel_tokens.budget.original_model"] == HAIKU
    assert span.attributes["otel_tokens.budget.decision"] == "downgraded"
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(
        cost(NOVA_LITE, input=120, output=40), rel=1e-9
    )


def test_an_approved_calls_points_say_so(server, client, telemetry):
    enforce(Catalogue("approved", models=["amazon.nova-*"]))
    server.enqueue(Scenario(prompt_tokens=120, completion_tokens=40))
    call(client, "converse", model=NOVA)
    span = only_span(telemetry)
    assert span.attributes["otel_tokens.model.approved"] is True
    assert span.attributes["otel_tokens.budget.decision"] == "admitted"
    points = [
        *telemetry.points("gen_ai.client.token.usage"),
        *telemetry.points("otel_tokens.client.cost"),
        *telemetry.points("gen_ai.client.operation.duration"),
    ]
    assert len(points) == 4
    assert all(p.attributes["otel_tokens.model.approved"] is True for p in points)


def test_a_call_downgraded_to_an_approved_model_is_recorded_as_approved(server, client, telemetry):
    enforce(Catalogue("approved", models=["amazon.nova-*"], action="downgrade", downgrade_to=NOVA))
    server.enqueue(Scenario(prompt_tokens=120, completion_tokens=40))
    call(client, "converse")
    span = only_span(telemetry)
    assert span.attributes["gen_ai.request.model"] == NOVA
    assert span.attributes["otel_tokens.model.approved"] is True
    assert all(
        p.attributes["otel_tokens.model.approved"] is True
        for p in telemetry.points("gen_ai.client.token.usage")
    )
