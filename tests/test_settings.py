from __future__ import annotations

import pytest

from otel_tokens import ConfigurationError
from otel_tokens._settings import ENVIRONMENT_VARIABLES, Settings


def test_defaults_without_environment():
    settings = Settings.load({}, environ={})
    assert settings.capture_content is False
    assert settings.metric_tag_keys == ("team", "project", "feature", "cost_center")
    assert settings.max_tag_values == 100
    assert settings.stream_include_usage is False
    assert settings.estimate_usage is True


def test_environment_is_read():
    settings = Settings.load(
        {},
        environ={
            "OTEL_TOKENS_MAX_TAG_VALUES": "7",
            "OTEL_TOKENS_METRIC_TAG_KEYS": "team, user",
            "OTEL_TOKENS_DEFAULT_TAGS": "team=search,cost_center=cc-42",
            "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "SPAN_ONLY",
            "OTEL_TOKENS_PROVIDER_HOSTS": "LLM.corp:8443=openai",
            "OTEL_SERVICE_NAME": "checkout",
        },
    )
    assert settings.max_tag_values == 7
    assert settings.metric_tag_keys == ("team", "user")
    assert settings.default_tags == {"team": "search", "cost_center": "cc-42"}
    assert settings.capture_content is True
    assert settings.provider_hosts == {"llm.corp:8443": "openai"}
    assert settings.service_name == "checkout"


def test_keyword_arguments_beat_environment():
    settings = Settings.load({"max_tag_values": 3}, environ={"OTEL_TOKENS_MAX_TAG_VALUES": "7"})
    assert settings.max_tag_values == 3


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("max_tag_values", "lots", "OTEL_TOKENS_MAX_TAG_VALUES must be a positive integer, got 'lots'"),
        ("enabled", "maybe", "OTEL_TOKENS_ENABLED must be true or false, got 'maybe'"),
        ("metric_tag_keys", "Team", "tag key 'Team' is invalid"),
        ("default_tags", "team", "expected key=value pairs"),
        ("capture_content", "sometimes", "SPAN_ONLY"),
    ],
)
def test_invalid_environment_values_name_the_variable(name, value, message):
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Settings.load({}, environ={ENVIRONMENT_VARIABLES[name]: value})


def test_invalid_keyword_names_the_setting():
    with pytest.raises(ConfigurationError, match="max_tag_values must be a positive integer, got 0"):
        Settings.load({"max_tag_values": 0}, environ={})


def test_unknown_keyword_lists_accepted_names():
    with pytest.raises(
        ConfigurationError, match="unknown setting\\(s\\) max_tags; accepted: .*max_tag_values"
    ):
        Settings.load({"max_tags": 3}, environ={})


def test_every_setting_has_an_environment_variable():
    from dataclasses import fields

    assert {f.name for f in fields(Settings)} == set(ENVIRONMENT_VARIABLES)
