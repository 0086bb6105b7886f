from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from otel_tokens import ConfigurationError
from otel_tokens._settings import ENVIRONMENT_VARIABLES, Settings, sources


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
        (
            "max_tag_values",
            "lots",
            "OTEL_TOKENS_MAX_TAG_VALUES must be an integer from 1 to 2000 .*, got 'lots'",
        ),
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
    with pytest.raises(
        ConfigurationError, match="max_tag_values must be an integer from 1 to 2000 .*, got 0"
    ):
        Settings.load({"max_tag_values": 0}, environ={})


def test_unknown_keyword_lists_accepted_names():
    with pytest.raises(
        ConfigurationError, match="unknown setting\\(s\\) max_tags; accepted: .*max_tag_values"
    ):
        Settings.load({"max_tags": 3}, environ={})


def test_every_setting_has_an_environment_variable():
    from dataclasses import fields

    assert {f.name for f in fields(Settings)} == set(ENVIRONMENT_VARIABLES)


# --- every setting rejects what it cannot use ------------------------------------------------


def test_known_clients_match_the_instrumentors_directory():
    from otel_tokens._settings import KNOWN_CLIENTS

    root = Path(__file__).resolve().parents[1] / "instrumentors"
    folders = sorted(p.name for p in root.iterdir() if (p / "pyproject.toml").is_file())
    assert list(KNOWN_CLIENTS) == folders
    for folder in folders:
        project = tomllib.loads((root / folder / "pyproject.toml").read_text())["project"]
        entry_points = project["entry-points"]["opentelemetry_instrumentor"]
        assert list(entry_points) == [f"otel_tokens_{folder}"]


@pytest.mark.parametrize("source", ["keyword", "environment"])
def test_unknown_disabled_instrumentor_fails_listing_the_known_clients(source):
    name = "disabled_instrumentors" if source == "keyword" else "OTEL_TOKENS_DISABLED_INSTRUMENTORS"
    message = (
        f"{name}: unknown client(s) 'opneai'; accepted: anthropic, bedrock, cohere, google_genai, "
        "litellm, mistralai, ollama, openai"
    )
    with pytest.raises(ConfigurationError) as raised:
        if source == "keyword":
            Settings.load({"disabled_instrumentors": "anthropic,opneai"}, environ={})
        else:
            Settings.load({}, environ={"OTEL_TOKENS_DISABLED_INSTRUMENTORS": "anthropic, opneai"})
    assert str(raised.value) == message


def test_disabled_instrumentors_accept_distribution_and_entry_point_spellings():
    settings = Settings.load(
        {"disabled_instrumentors": ["Google-GenAI", "otel_tokens_openai", " "]}, environ={}
    )
    assert settings.disabled_instrumentors == ("google_genai", "openai")


def test_disabled_instrumentor_of_an_installed_entry_point_the_core_does_not_know(monkeypatch):
    from otel_tokens import _settings

    monkeypatch.setattr(_settings, "_installed_clients", lambda: {"acme", "openai"})
    assert Settings.load({"disabled_instrumentors": "acme"}, environ={}).disabled_instrumentors == ("acme",)


@pytest.mark.parametrize(("kind", "problem"), [("missing", "does not exist"), ("file", "is not a directory")])
@pytest.mark.parametrize("source", ["keyword", "environment"])
def test_tokenizer_dir_must_be_an_existing_directory(tmp_path, kind, problem, source):
    path = tmp_path / "ranks"
    if kind == "file":
        path.write_text("not a directory")
    name = "tokenizer_dir" if source == "keyword" else "OTEL_TOKENS_TOKENIZER_DIR"
    with pytest.raises(ConfigurationError) as raised:
        if source == "keyword":
            Settings.load({"tokenizer_dir": path}, environ={})
        else:
            Settings.load({}, environ={"OTEL_TOKENS_TOKENIZER_DIR": str(path)})
    assert str(raised.value) == (
        f"{name}: tokenizer directory {str(path)!r} {problem}; give a directory of .tiktoken rank files"
    )


def test_tokenizer_dir_is_made_absolute_and_warned_about_when_it_holds_no_ranks(
    tmp_path, monkeypatch, caplog
):
    (tmp_path / "ranks").mkdir()
    monkeypatch.chdir(tmp_path)
    settings = Settings.load({}, environ={"OTEL_TOKENS_TOKENIZER_DIR": "ranks"})
    # Encodings load lazily: a later chdir must not change which directory is searched.
    assert settings.tokenizer_dir == str(tmp_path / "ranks")
    [record] = caplog.records
    assert record.levelname == "WARNING"
    assert record.getMessage().startswith(
        f"otel-tokens: OTEL_TOKENS_TOKENIZER_DIR {tmp_path / 'ranks'} holds none"
    )
    caplog.clear()
    (tmp_path / "ranks" / "o200k_base.tiktoken.gz").write_bytes(b"")
    Settings.load({}, environ={"OTEL_TOKENS_TOKENIZER_DIR": "ranks"})
    assert not caplog.records


@pytest.mark.parametrize("value", [123, 1.5, ["a.toml"], ""])
def test_price_overrides_must_be_a_path(value):
    with pytest.raises(ConfigurationError) as raised:
        Settings.load({"price_overrides": value}, environ={})
    assert str(raised.value) == (
        f"price_overrides must be a non-empty file system path (str or os.PathLike), got {value!r}"
    )


@pytest.mark.parametrize("value", [0, 2001, -1, True, 3.0, "lots", "10 0", "²"])
def test_max_tag_values_is_bounded(value):
    with pytest.raises(ConfigurationError, match=r"max_tag_values must be an integer from 1 to 2000 \("):
        Settings.load({"max_tag_values": value}, environ={})


def test_max_tag_values_accepts_its_bounds():
    assert Settings.load({"max_tag_values": 2000}, environ={}).max_tag_values == 2000
    assert Settings.load({}, environ={"OTEL_TOKENS_MAX_TAG_VALUES": " 1 "}).max_tag_values == 1


@pytest.mark.parametrize("value", ["", "   ", "tag prefix.", "team=", "a,b", 7])
def test_baggage_prefix_must_be_a_usable_baggage_key(value):
    with pytest.raises(ConfigurationError, match="baggage_prefix must be"):
        Settings.load({"baggage_prefix": value}, environ={})


def test_baggage_prefix_is_stripped():
    settings = Settings.load({}, environ={"OTEL_TOKENS_BAGGAGE_PREFIX": " acme.tag. "})
    assert settings.baggage_prefix == "acme.tag."


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "http://vllm.internal:8000=vllm",
            "'http://vllm.internal:8000' is not a host[:port]; a host, not a URL",
        ),
        ("vllm.internal/v1=vllm", "'vllm.internal/v1' is not a host[:port]; a host, not a URL"),
        (
            "vllm.internal:99999=vllm",
            "'vllm.internal:99999' is not a host[:port]; expected host or host:port",
        ),
        ("vllm.internal:http=vllm", "'vllm.internal:http' is not a host[:port]"),
        ("[::1=vllm", "'[::1' is not a host[:port]; expected [ipv6] or [ipv6]:port"),
        ("vllm.internal=vLLM", "provider 'vLLM' for 'vllm.internal' is not a gen_ai.provider.name"),
        (
            "vllm.internal=my provider",
            "provider 'my provider' for 'vllm.internal' is not a gen_ai.provider.name",
        ),
        ("vllm.internal", "expected key=value pairs"),
    ],
)
def test_provider_hosts_rejects_what_could_never_match(value, message):
    with pytest.raises(ConfigurationError, match=re.escape(f"OTEL_TOKENS_PROVIDER_HOSTS: {message}")):
        Settings.load({}, environ={"OTEL_TOKENS_PROVIDER_HOSTS": value})


def test_provider_hosts_normalise_to_what_instrumentors_look_up(caplog):
    settings = Settings.load(
        {"provider_hosts": {"GW.corp:08443": "azure.ai.openai", "[::1]:8000": "vllm", "[fe80::2]": "ollama"}},
        environ={},
    )
    assert settings.provider_hosts == {
        "gw.corp:8443": "azure.ai.openai",
        "::1:8000": "vllm",
        "fe80::2": "ollama",
    }
    assert not caplog.records


def test_provider_hosts_to_an_unknown_provider_is_accepted_with_a_warning(caplog):
    # gen_ai.provider.name is an open set (tgi, sglang...), so this cannot be an error; but a typo
    # of a known name must be visible.
    settings = Settings.load({}, environ={"OTEL_TOKENS_PROVIDER_HOSTS": "tgi.internal=opneai"})
    assert settings.provider_hosts == {"tgi.internal": "opneai"}
    [record] = caplog.records
    assert record.levelname == "WARNING"
    assert "maps tgi.internal to provider 'opneai', which otel-tokens does not know" in record.getMessage()


@pytest.mark.parametrize(
    ("name", "value"),
    [("provider_hosts", {"vllm.internal": None}), ("default_tags", {"team": 5}), ("default_tags", {5: "x"})],
)
def test_mappings_must_hold_strings(name, value):
    # The old parser turned these into "None" and "5" without a word.
    with pytest.raises(ConfigurationError, match=f"{name}: keys and values must be strings"):
        Settings.load({name: value}, environ={})


def test_lists_must_hold_strings():
    with pytest.raises(ConfigurationError, match="metric_tag_keys: every item must be a string, got 5"):
        Settings.load({"metric_tag_keys": ["team", 5]}, environ={})
    assert Settings.load({"metric_tag_keys": (k for k in ["team"])}, environ={}).metric_tag_keys == ("team",)


@pytest.mark.parametrize("value", ["", "   ", 42])
def test_service_name_given_must_be_a_non_empty_string(value):
    with pytest.raises(ConfigurationError, match="service_name must be a non-empty string"):
        Settings.load({"service_name": value}, environ={})


def test_empty_environment_variables_count_as_unset():
    # As OpenTelemetry specifies: `OTEL_TOKENS_ENABLED=` (an unset shell variable in a compose
    # file) used to switch everything off.
    settings = Settings.load(
        {},
        environ={
            "OTEL_TOKENS_ENABLED": "",
            "OTEL_TOKENS_METRIC_TAG_KEYS": " ",
            "OTEL_TOKENS_SERVICE_NAME": "",
            "OTEL_SERVICE_NAME": " checkout ",
            "OTEL_TOKENS_TOKENIZER_DIR": "",
        },
    )
    assert settings == Settings(service_name="checkout")


def test_sources_name_the_variable_each_value_comes_from():
    environ = {
        "OTEL_TOKENS_MAX_TAG_VALUES": "7",
        "OTEL_TOKENS_ENABLED": " ",  # blank: unset, the default applies
        "OTEL_SERVICE_NAME": "checkout",
        "OTEL_TOKENS_UNRELATED": "x",
    }
    found = sources(environ)
    assert set(found) == set(ENVIRONMENT_VARIABLES)
    assert {name: variable for name, variable in found.items() if variable is not None} == {
        "max_tag_values": "OTEL_TOKENS_MAX_TAG_VALUES",
        "service_name": "OTEL_SERVICE_NAME",
    }
    both = sources({"OTEL_SERVICE_NAME": "a", "OTEL_TOKENS_SERVICE_NAME": "b"})
    assert both["service_name"] == "OTEL_TOKENS_SERVICE_NAME"
    assert (
        Settings.load({}, environ={"OTEL_SERVICE_NAME": "a", "OTEL_TOKENS_SERVICE_NAME": "b"}).service_name
        == "b"
    )


def test_sources_read_the_process_environment(monkeypatch):
    monkeypatch.setenv("OTEL_TOKENS_BUDGET_KEY_PREFIX", "team_a")
    assert sources()["budget_key_prefix"] == "OTEL_TOKENS_BUDGET_KEY_PREFIX"


def test_empty_string_keyword_is_invalid_not_false():
    with pytest.raises(ConfigurationError, match="enabled must be true or false, got ''"):
        Settings.load({"enabled": ""}, environ={})


def test_invalid_environment_under_opentelemetry_instrument_logs_and_runs_the_program(tmp_path):
    # No init() there to raise into: each instrumentor reports the error once and stands down,
    # and the program runs unchanged.
    script = (
        "import openai\n"
        "from openai.resources.chat.completions import Completions\n"
        "print(type(Completions.create).__name__)\n"
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("OTEL_")},
        "OTEL_TRACES_EXPORTER": "none",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_TOKENS_TOKENIZER_DIR": str(tmp_path / "missing"),
    }
    launcher = str(Path(sys.executable).with_name("opentelemetry-instrument"))
    completed = subprocess.run(
        [launcher, sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == "function\n"  # openai left alone
    assert "Traceback" not in completed.stderr
    problem = (
        f"OTEL_TOKENS_TOKENIZER_DIR: tokenizer directory {str(tmp_path / 'missing')!r} does not exist; "
        "give a directory of .tiktoken rank files"
    )
    lines = completed.stderr.splitlines()
    # One line for the one problem, not one per client, and nothing else.
    assert lines == [f"otel-tokens: invalid configuration, no LLM client is instrumented: {problem}"]


def test_readme_configuration_table_lists_every_setting_and_variable():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    table = readme.split("| `init()` argument | environment variable |", 1)[1].split("\n\n", 1)[0]
    rows = dict(re.findall(r"^\| `(\w+)` \| `(\w+)`", table, flags=re.MULTILINE))
    assert rows == ENVIRONMENT_VARIABLES
