"""Frozen settings, read once from ``init()`` keyword arguments and ``OTEL_TOKENS_*`` variables.

This is the only module that reads ``os.environ``. Keyword arguments beat environment
variables; an empty (or blank) variable counts as unset, as OpenTelemetry specifies for its
own. Every invalid value raises :class:`ConfigurationError` naming the setting (or the
variable), the value and what is accepted, so a typo fails ``init()`` at once instead of
silently turning a feature off.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from otel_tokens._errors import ConfigurationError
from otel_tokens.semconv import OTEL_TOKENS_TAG_PREFIX

if TYPE_CHECKING:
    from otel_tokens.budgets import Policy

logger = logging.getLogger("otel_tokens")

ENV_PREFIX = "OTEL_TOKENS_"

OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
"""Standard opt-in for recording prompt and completion text on spans (off by default)."""

TAG_KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
DEFAULT_METRIC_TAG_KEYS = ("team", "project", "feature", "cost_center")

MAX_TAG_VALUES_LIMIT = 2000
"""Upper bound of ``max_tag_values``: the OpenTelemetry SDK's default cardinality limit per
metric. Past it the SDK folds whole points into ``otel.metric.overflow`` (losing every tag of
the point), so a larger per-key limit could never hold, and a typo such as ``1000000`` would
quietly switch the guard off."""

KNOWN_CLIENTS: tuple[str, ...] = (
    "anthropic",
    "bedrock",
    "cohere",
    "google_genai",
    "litellm",
    "mistralai",
    "ollama",
    "openai",
)
"""Clients otel-tokens has an instrumentor for (entry point ``otel_tokens_<client>``), installed or
not, so one ``OTEL_TOKENS_DISABLED_INSTRUMENTORS`` value serves every service of a fleet. Names of
installed ``otel_tokens_*`` entry points are accepted too. tests/test_settings.py keeps this
equal to the ``instrumentors/`` directory."""

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})
# Values the GenAI instrumentations accept for the content-capture variable.
_CAPTURE_ON = _TRUE | {"span_only", "span_and_event"}
_CAPTURE_OFF = _FALSE | {"no_content", "event_only"}
# W3C baggage keys are RFC 7230 tokens: a prefix with any other character never matches.
_BAGGAGE_KEY = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
# gen_ai.provider.name values are lower-case: "openai", "azure.ai.openai", "mistral_ai".
_PROVIDER_NAME = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")
_HOST = re.compile(r"^[a-z0-9_.-]+$")  # a DNS name or an IPv4 address, lower-cased


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything otel-tokens can be told. See the README's configuration table."""

    enabled: bool = True
    capture_content: bool = False
    metric_tag_keys: tuple[str, ...] = DEFAULT_METRIC_TAG_KEYS
    max_tag_values: int = 100
    default_tags: Mapping[str, str] = field(default_factory=dict)
    baggage_prefix: str = OTEL_TOKENS_TAG_PREFIX
    price_overrides: str | None = None
    price_auto_update: bool = False
    tokenizer_dir: str | None = None
    estimate_usage: bool = True
    stream_include_usage: bool = False
    provider_hosts: Mapping[str, str] = field(default_factory=dict)
    disabled_instrumentors: tuple[str, ...] = ()
    configure_otel: bool = True
    service_name: str | None = None
    budgets: Policy | None = None
    budget_store: str = "memory"
    budget_store_timeout_ms: int = 50
    budget_key_prefix: str = "otel_tokens"

    @classmethod
    def load(
        cls, overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
    ) -> Settings:
        """Build settings from keyword overrides first, then the environment, then defaults.

        An override of ``None`` means "not given". An environment variable that is empty or
        blank counts as unset. Raises :class:`ConfigurationError` for an unknown setting or an
        invalid value; checks the tokenizer directory on disk.
        """
        overrides = dict(overrides or {})
        environ = os.environ if environ is None else environ
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ConfigurationError(
                f"unknown setting(s) {', '.join(unknown)}; accepted: {', '.join(sorted(known))}"
            )
        values: dict[str, Any] = {}
        for name, variable in sources(environ).items():
            parse = _PARSERS[name][1]
            if overrides.get(name) is not None:
                values[name] = parse(name, overrides[name])
            elif variable is not None:
                values[name] = parse(variable, environ[variable])
        return cls(**values)


def sources(environ: Mapping[str, str] | None = None) -> dict[str, str | None]:
    """Setting name -> the environment variable :meth:`Settings.load` reads it from when no keyword
    gives it, or ``None`` when no variable is set and the default applies.

    A variable that is empty or blank counts as unset. ``service_name`` comes from
    ``OTEL_TOKENS_SERVICE_NAME``, else the standard ``OTEL_SERVICE_NAME``. Reads ``os.environ``
    unless ``environ`` is given; validates nothing.
    """
    environ = os.environ if environ is None else environ
    found = {
        name: variable if environ.get(variable, "").strip() else None
        for name, (variable, _) in _PARSERS.items()
    }
    if found["service_name"] is None and environ.get("OTEL_SERVICE_NAME", "").strip():
        found["service_name"] = "OTEL_SERVICE_NAME"
    return found


def _bool(name: str, value: Any, true: frozenset[str] = _TRUE, false: frozenset[str] = _FALSE) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in true:
        return True
    if text in false:
        return False
    raise ConfigurationError(f"{name} must be true or false, got {value!r}")


def _capture(name: str, value: Any) -> bool:
    try:
        return _bool(name, value, _CAPTURE_ON, _CAPTURE_OFF)
    except ConfigurationError:
        raise ConfigurationError(
            f"{name} must be true, false, SPAN_ONLY, SPAN_AND_EVENT, EVENT_ONLY or NO_CONTENT, got {value!r}"
        ) from None


def _tag_value_limit(name: str, value: Any) -> int:
    number = 0
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        number = int(value)
    if not 1 <= number <= MAX_TAG_VALUES_LIMIT:
        raise ConfigurationError(
            f"{name} must be an integer from 1 to {MAX_TAG_VALUES_LIMIT} (the OpenTelemetry SDK's "
            f"default cardinality limit per metric), got {value!r}"
        )
    return number


def _items(name: str, value: Any) -> list[str]:
    """A comma-separated string or a collection of strings; blank items are skipped."""
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    if isinstance(value, Iterable) and not isinstance(value, bytes | bytearray | Mapping):
        items = list(value)
        for item in items:
            if not isinstance(item, str):
                raise ConfigurationError(f"{name}: every item must be a string, got {item!r}")
        return [item.strip() for item in items if item.strip()]
    raise ConfigurationError(f"{name} must be a comma-separated string or a list of strings, got {value!r}")


def _tag_keys(name: str, value: Any) -> tuple[str, ...]:
    keys = _items(name, value)
    for key in keys:
        if not TAG_KEY_PATTERN.match(key):
            raise ConfigurationError(
                f"{name}: tag key {key!r} is invalid; use lower-case letters, digits and '_', "
                "starting with a letter, at most 64 characters"
            )
    return tuple(dict.fromkeys(keys))


def _pairs(name: str, value: Any) -> dict[str, str]:
    """``key=value,...`` or a mapping of strings to strings; keys and values are stripped."""
    raw: list[tuple[Any, Any]]
    if isinstance(value, Mapping):
        raw = list(value.items())
        for key, val in raw:
            if not isinstance(key, str) or not isinstance(val, str):
                raise ConfigurationError(f"{name}: keys and values must be strings, got {key!r}: {val!r}")
    else:
        raw = []
        for item in _items(name, value):
            key, sep, val = item.partition("=")
            if not sep:
                raise ConfigurationError(
                    f"{name}: expected key=value pairs separated by commas, got {item!r}"
                )
            raw.append((key, val))
    pairs = {}
    for key, val in raw:
        if not key.strip() or not val.strip():
            raise ConfigurationError(f"{name}: expected a non-empty key and value, got {key!r}={val!r}")
        pairs[key.strip()] = val.strip()
    return pairs


def _default_tags(name: str, value: Any) -> dict[str, str]:
    from otel_tokens._tags import validate_tags

    pairs = _pairs(name, value)
    try:
        validate_tags(pairs)
    except ConfigurationError as error:
        raise ConfigurationError(f"{name}: {error}") from None
    return pairs


def _baggage_prefix(name: str, value: Any) -> str:
    text = _string(name, value).strip()
    if not text or not _BAGGAGE_KEY.match(text):
        # Empty would turn every baggage entry of every system into a tag (and make
        # tags(propagate=True) write bare keys such as "team"); whitespace, '=' or ',' can never
        # be in a baggage key, so such a prefix would silently match nothing.
        raise ConfigurationError(
            f"{name} must be a non-empty W3C baggage key prefix (letters, digits and "
            f"!#$%&'*+-.^_`|~, no spaces), got {value!r}"
        )
    return text


def _provider_hosts(name: str, value: Any) -> dict[str, str]:
    from otel_tokens import semconv

    known = {v for k, v in vars(semconv).items() if k.startswith("PROVIDER_") and isinstance(v, str)}
    hosts: dict[str, str] = {}
    for entry, provider in _pairs(name, value).items():
        host = _host_key(name, entry)
        if not _PROVIDER_NAME.match(provider):
            raise ConfigurationError(
                f"{name}: provider {provider!r} for {entry!r} is not a gen_ai.provider.name; use "
                "lower-case letters, digits, '_', '.' or '-', e.g. vllm or azure.ai.openai"
            )
        if provider not in known:
            # Not an error: gen_ai.provider.name is an open set (tgi, sglang, a library provider
            # id the price data knows, a name priced by an override); but a typo should be seen.
            logger.warning(
                "otel-tokens: %s maps %s to provider %r, which otel-tokens does not know (known: %s); "
                "its calls are reported under that name and priced only by an override or a "
                "genai-prices provider id of that name.",
                name,
                entry,
                provider,
                ", ".join(sorted(known)),
            )
        hosts[host] = provider
    return hosts


def _host_key(name: str, entry: str) -> str:
    """``host``, ``host:port``, ``[ipv6]`` or ``[ipv6]:port``, lower-cased, as instrumentors look
    hosts up (``host:port`` first, then ``host``; an IPv6 address without brackets)."""
    text = entry.lower()
    problem = ""
    if "://" in text or "/" in text:
        problem = "a host, not a URL: drop the scheme and path"
    elif text.startswith("["):
        address, sep, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else None
        if not sep or not address or (rest and port is None) or not _valid_port(port):
            problem = "expected [ipv6] or [ipv6]:port"
        else:
            return address if port is None else f"{address}:{int(port)}"
    elif text.count(":") > 1:
        return text  # a bare IPv6 address: the port cannot be told apart, so none is read
    else:
        host, sep, port_text = text.partition(":")
        if not _HOST.match(host) or (sep and not _valid_port(port_text)):
            problem = "expected host or host:port with a port from 1 to 65535"
        else:
            return host if not sep else f"{host}:{int(port_text)}"
    raise ConfigurationError(f"{name}: {entry!r} is not a host[:port]; {problem}")


def _valid_port(text: str | None) -> bool:
    return text is None or (text.isdigit() and 1 <= int(text) <= 65535)


def _path(name: str, value: Any) -> str:
    if isinstance(value, str | bytes | os.PathLike):
        text = os.fsdecode(os.fspath(value)).strip()
        if text:
            return text
    raise ConfigurationError(
        f"{name} must be a non-empty file system path (str or os.PathLike), got {value!r}"
    )


def _tokenizer_dir(name: str, value: Any) -> str:
    from otel_tokens.tokenize import check_tokenizer_dir

    return check_tokenizer_dir(name, _path(name, value))


def _string(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigurationError(f"{name} must be a string, got {value!r}")
    return value


def _service_name(name: str, value: Any) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise ConfigurationError(f"{name} must be a non-empty string, got {value!r}")
    return text


def _client_names(name: str, value: Any) -> tuple[str, ...]:
    """Client names, as in ``KNOWN_CLIENTS``; ``google-genai`` and ``otel_tokens_openai`` are
    read as ``google_genai`` and ``openai``. An unknown name would leave its client instrumented
    without a word, so it is an error listing the names accepted."""
    names = [item.lower().replace("-", "_").removeprefix("otel_tokens_") for item in _items(name, value)]
    unknown = [item for item in names if item not in KNOWN_CLIENTS]
    if unknown:
        accepted = sorted(set(KNOWN_CLIENTS) | _installed_clients())
        unknown = [item for item in unknown if item not in accepted]
        if unknown:
            raise ConfigurationError(
                f"{name}: unknown client(s) {', '.join(map(repr, unknown))}; accepted: {', '.join(accepted)}"
            )
    return tuple(dict.fromkeys(names))


def _installed_clients() -> set[str]:
    """Clients of installed ``otel_tokens_*`` instrumentor entry points (one a core may not know)."""
    from importlib.metadata import entry_points

    prefix = "otel_tokens_"
    return {
        ep.name.removeprefix(prefix)
        for ep in entry_points(group="opentelemetry_instrumentor")
        if ep.name.startswith(prefix)
    }


def _budgets(name: str, value: Any) -> Policy | None:
    """A policy from a TOML file path, a Policy, or Budget/Breaker/Catalogue objects; None if empty."""
    from otel_tokens.budgets import Policy

    if isinstance(value, (str, os.PathLike)):
        from otel_tokens._policy_file import load_policy

        policy = load_policy(_path(name, value))
    else:
        try:
            policy = Policy.of(value)
        except TypeError:
            raise ConfigurationError(
                f"{name} must be a TOML file path, a Policy, or Budget/Breaker/Catalogue "
                f"objects, got {value!r}"
            ) from None
    return None if policy.empty and policy.source is None else policy


def _budget_store(name: str, value: Any) -> str:
    text = value.strip() if isinstance(value, str) else None
    if text == "memory" or (
        text and text.split("://", 1)[0] in ("redis", "rediss", "unix") and "://" in text
    ):
        return text
    from otel_tokens._redaction import redact_url

    shown = redact_url(value) if isinstance(value, str) else value  # never echo a password
    raise ConfigurationError(
        f"{name} must be 'memory' or a Redis URL (redis://host:port/db, rediss://..., unix://...), "
        f"got {shown!r}"
    )


def _store_timeout(name: str, value: Any) -> int:
    try:
        number = int(str(value).strip()) if not isinstance(value, bool) else None
    except ValueError:
        number = None
    if number is None or not 1 <= number <= 10_000:
        raise ConfigurationError(
            f"{name} must be a whole number of milliseconds from 1 to 10000, got {value!r}"
        )
    return number


def _key_prefix(name: str, value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_.:-]{1,64}", value):
        raise ConfigurationError(
            f"{name} must be 1-64 characters of letters, digits, '_', '.', ':' or '-', got {value!r}"
        )
    return value


_Parser = Callable[[str, Any], Any]

# setting name -> (environment variable, parser)
_PARSERS: dict[str, tuple[str, _Parser]] = {
    "enabled": ("OTEL_TOKENS_ENABLED", _bool),
    "capture_content": (OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT, _capture),
    "metric_tag_keys": ("OTEL_TOKENS_METRIC_TAG_KEYS", _tag_keys),
    "max_tag_values": ("OTEL_TOKENS_MAX_TAG_VALUES", _tag_value_limit),
    "default_tags": ("OTEL_TOKENS_DEFAULT_TAGS", _default_tags),
    "baggage_prefix": ("OTEL_TOKENS_BAGGAGE_PREFIX", _baggage_prefix),
    "price_overrides": ("OTEL_TOKENS_PRICE_OVERRIDES", _path),
    "price_auto_update": ("OTEL_TOKENS_PRICE_AUTO_UPDATE", _bool),
    "tokenizer_dir": ("OTEL_TOKENS_TOKENIZER_DIR", _tokenizer_dir),
    "estimate_usage": ("OTEL_TOKENS_ESTIMATE_USAGE", _bool),
    "stream_include_usage": ("OTEL_TOKENS_STREAM_INCLUDE_USAGE", _bool),
    "provider_hosts": ("OTEL_TOKENS_PROVIDER_HOSTS", _provider_hosts),
    "disabled_instrumentors": ("OTEL_TOKENS_DISABLED_INSTRUMENTORS", _client_names),
    "configure_otel": ("OTEL_TOKENS_CONFIGURE_OTEL", _bool),
    "service_name": ("OTEL_TOKENS_SERVICE_NAME", _service_name),
    "budgets": ("OTEL_TOKENS_BUDGETS", _budgets),
    "budget_store": ("OTEL_TOKENS_BUDGET_STORE", _budget_store),
    "budget_store_timeout_ms": ("OTEL_TOKENS_BUDGET_STORE_TIMEOUT", _store_timeout),
    "budget_key_prefix": ("OTEL_TOKENS_BUDGET_KEY_PREFIX", _key_prefix),
}

ENVIRONMENT_VARIABLES: dict[str, str] = {name: env for name, (env, _) in _PARSERS.items()}
"""Setting name -> environment variable; the README's configuration table is checked against it."""
