from __future__ import annotations

import asyncio
import threading

import pytest
from opentelemetry import baggage, context

from otel_tokens import ConfigurationError, current_tags, tags
from otel_tokens import _tags as tags_module
from otel_tokens._tags import CardinalityGuard, effective_tags


def test_nested_blocks_merge_and_restore():
    with tags(team="search", feature="autocomplete"):
        with tags(feature="ranking", user="u1"):
            assert dict(current_tags()) == {"team": "search", "feature": "ranking", "user": "u1"}
        assert dict(current_tags()) == {"team": "search", "feature": "autocomplete"}
    assert dict(current_tags()) == {}


def test_decorator_sync_and_async():
    @tags(team="billing")
    def sync():
        return dict(current_tags())

    @tags(team="ml")
    async def coro():
        await asyncio.sleep(0)
        return dict(current_tags())

    assert sync() == {"team": "billing"}
    assert asyncio.run(coro()) == {"team": "ml"}
    assert dict(current_tags()) == {}


def test_threads_do_not_see_each_others_tags():
    seen: dict[str, dict[str, str]] = {}
    barrier = threading.Barrier(2)

    def work(team: str) -> None:
        with tags(team=team):
            barrier.wait()
            seen[team] = dict(current_tags())

    threads = [threading.Thread(target=work, args=(team,)) for team in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == {"a": {"team": "a"}, "b": {"team": "b"}}


def test_asyncio_tasks_inherit_and_isolate():
    async def child(feature: str) -> dict[str, str]:
        with tags(feature=feature):
            await asyncio.sleep(0.01)
            return dict(current_tags())

    async def main():
        with tags(team="search"):
            return await asyncio.gather(child("x"), child("y"))

    assert asyncio.run(main()) == [{"team": "search", "feature": "x"}, {"team": "search", "feature": "y"}]


@pytest.mark.parametrize(
    ("key", "value"), [("Team", "x"), ("team", ""), ("team", 3), ("t" * 65, "x"), ("team", "x" * 257)]
)
def test_invalid_tags_raise_a_clear_error(key, value):
    with pytest.raises(ConfigurationError, match="tag"):
        tags(**{key: value})


def test_baggage_defaults_and_precedence():
    tags_module.configure("otel_tokens.tag.", {"team": "default-team", "project": "p0"})
    ctx = baggage.set_baggage("otel_tokens.tag.team", "from-baggage")
    ctx = baggage.set_baggage("otel_tokens.tag.feature", "bag-feature", ctx)
    ctx = baggage.set_baggage("unrelated", "ignored", ctx)
    token = context.attach(ctx)
    try:
        assert effective_tags() == {"team": "from-baggage", "project": "p0", "feature": "bag-feature"}
        with tags(team="explicit"):
            assert effective_tags()["team"] == "explicit"
    finally:
        context.detach(token)


def test_propagate_writes_baggage():
    with tags(team="search", propagate=True):
        assert baggage.get_baggage("otel_tokens.tag.team") == "search"
    assert baggage.get_baggage("otel_tokens.tag.team") is None


def test_cardinality_guard_folds_and_counts():
    folds: list[str] = []
    guard = CardinalityGuard(["team", "user"], max_values=2)
    fold = folds.append
    assert guard.metric_attributes({"team": "a", "other": "x"}, fold) == {"otel_tokens.tag.team": "a"}
    guard.metric_attributes({"team": "b"}, fold)
    assert guard.metric_attributes({"team": "c"}, fold) == {"otel_tokens.tag.team": "__overflow__"}
    assert guard.metric_attributes({"team": "a"}, fold) == {"otel_tokens.tag.team": "a"}
    assert folds == ["team"]


def test_the_tag_value_limit_holds_across_instrumented_clients():
    """One process-wide limit: values seen by one client count against every other client."""
    import anthropic
    import openai
    from otel_tokens_anthropic import AnthropicInstrumentor
    from otel_tokens_fake_providers import FakeProviderServer, Scenario
    from otel_tokens_openai import OpenAIInstrumentor

    from otel_tokens import _runtime
    from otel_tokens._settings import Settings
    from otel_tokens.testing import InMemoryTelemetry

    _runtime.set_settings(Settings(max_tag_values=2))
    memory = InMemoryTelemetry()
    instrumentors = [OpenAIInstrumentor(), AnthropicInstrumentor()]
    for instrumentor in instrumentors:
        instrumentor.instrument(tracer_provider=memory.tracer_provider, meter_provider=memory.meter_provider)
    try:
        with FakeProviderServer() as server:
            gpt = openai.OpenAI(base_url=server.url + "/v1", api_key="sk-test", max_retries=0)
            claude = anthropic.Anthropic(base_url=server.url, api_key="sk-ant-test", max_retries=0)
            for team in ("a", "b"):
                server.enqueue(Scenario(prompt_tokens=1, completion_tokens=1))
                with tags(team=team):
                    gpt.chat.completions.create(
                        model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}]
                    )
            server.enqueue(Scenario(prompt_tokens=1, completion_tokens=1))
            with tags(team="c"):
                claude.messages.create(
                    model="claude-haiku-4-5", max_tokens=8, messages=[{"role": "user", "content": "x"}]
                )
    finally:
        for instrumentor in instrumentors:
            instrumentor.uninstrument()
    teams = {
        (p.attributes["gen_ai.provider.name"], p.attributes["otel_tokens.tag.team"])
        for p in memory.points("gen_ai.client.operation.duration")
    }
    assert teams == {("openai", "a"), ("openai", "b"), ("anthropic", "__overflow__")}
    [folded] = memory.points("otel_tokens.tags.folded")
    assert (folded.attributes, folded.value) == ({"otel_tokens.tag.key": "team"}, 1)
