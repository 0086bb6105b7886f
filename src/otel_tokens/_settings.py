"""Frozen settings, read once from ``init()`` keyword arguments and ``OTEL_TOKENS_*`` variables.

This is the only module that reads ``os.environ``. Keyword arguments beat environment
variables. Every invalid value raises :class:`ConfigurationError` naming the setting, the
value and what is accepted, so a typo fails ``init()`` at once instead of silently turning
a feature off.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from otel_tokens._errors import ConfigurationError

ENV_PREFIX = "OTEL_TOKENS_"

OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
"""Standard opt-in for recording prompt and completion text on spans (off by default)."""

TAG_KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
DEFAULT_METRIC_TAG_KEYS = ("team", "project", "feature", "cost_center")

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off", ""})
# Values the GenAI instrumentations accept for the content-capture variable.
_CAPTURE_ON = _TRUE | {"span_only", "span_and_event"}
_CAPTURE_OFF = _FALSE | {"no_content", "event_only"}


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything otel-tokens can be told. See the README's configuration table."""

    enabled: bool = True
    capture_content: bool = False
    metric_tag_keys: tuple[str, ...] = DEFAULT_METRIC_TAG_KEYS
    max_tag_values: int = 100
    default_tags: Mapping[str, str] = field(default_factory=dict)
    baggage_prefix: str = "otel_tokens.tag."
    price_overrides: str | None = None
    price_auto_update: bool = False
    tokenizer_dir: str | None = None
    estimate_usage: bool = True
    stream_include_usage: bool = False
    provider_hosts: Mapping[str, str] = field(default_factory=dict)
    disabled_instrumentors: tuple[str, ...] = ()
    configure_otel: bool = True
    service_name: str | None = None

    @classmethod
    def load(
        cls, overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
    ) -> Settings:
        """Build settings from keyword overrides first, then the environment, then defaults."""
        overrides = dict(overrides or {})
        environ = os.environ if environ is None else environ
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ConfigurationError(
                f"unknown setting(s) {', '.join(unknown)}; accepted: {', '.join(sorted(known))}"
            )
        values: dict[str, Any] = {}
        for name, (env_name, parse) in _PARSERS.items():
            if name in overrides and overrides[name] is not None:
                values[name] = parse(name, overrides[name])
            elif env_name in environ:
                values[name] = parse(env_name, environ[env_name])
        if "service_name" not in values and "OTEL_SERVICE_NAME" in environ:
            values["service_name"] = environ["OTEL_SERVICE_NAME"] or None
        return cls(**values)


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


def _positive_int(name: str, value: Any) -> int:
    try:
        number = int(str(value).strip()) if not isinstance(value, int) or isinstance(value, bool) else value
    except ValueError:
        number = 0
    if isinstance(value, bool) or number < 1:
        raise ConfigurationError(f"{name} must be a positive integer, got {value!r}")
    return number


def _items(name: str, value: Any) -> list[str]:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    if isinstance(value, (list, tuple, set, frozenset)):
        return [str(item).strip() for item in value]
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
    if isinstance(value, Mapping):
        pairs = {str(k).strip(): str(v).strip() for k, v in value.items()}
    else:
        pairs = {}
        for item in _items(name, value):
            key, sep, val = item.partition("=")
            if not sep or not key.strip() or not val.strip():
                raise ConfigurationError(
                    f"{name}: expected key=value pairs separated by commas, got {item!r}"
                )
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


def _provider_hosts(name: str, value: Any) -> dict[str, str]:
    return {host.lower(): provider for host, provider in _pairs(name, value).items()}


def _path(name: str, value: Any) -> str | None:
    text = os.fspath(value).strip() if value is not None else ""
    if not text:
        return None
    return text


def _string(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigurationError(f"{name} must be a string, got {value!r}")
    return value


def _optional_string(name: str, value: Any) -> str | None:
    return _string(name, value) or None


def _names(name: str, value: Any) -> tuple[str, ...]:
    return tuple(item.lower() for item in _items(name, value))


_Parser = Callable[[str, Any], Any]

# setting name -> (environment variable, parser)
_PARSERS: dict[str, tuple[str, _Parser]] = {
    "enabled": ("OTEL_TOKENS_ENABLED", _bool),
    "capture_content": (OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT, _capture),
    "metric_tag_keys": ("OTEL_TOKENS_METRIC_TAG_KEYS", _tag_keys),
    "max_tag_values": ("OTEL_TOKENS_MAX_TAG_VALUES", _positive_int),
    "default_tags": ("OTEL_TOKENS_DEFAULT_TAGS", _default_tags),
    "baggage_prefix": ("OTEL_TOKENS_BAGGAGE_PREFIX", _string),
    "price_overrides": ("OTEL_TOKENS_PRICE_OVERRIDES", _path),
    "price_auto_update": ("OTEL_TOKENS_PRICE_AUTO_UPDATE", _bool),
    "tokenizer_dir": ("OTEL_TOKENS_TOKENIZER_DIR", _path),
    "estimate_usage": ("OTEL_TOKENS_ESTIMATE_USAGE", _bool),
    "stream_include_usage": ("OTEL_TOKENS_STREAM_INCLUDE_USAGE", _bool),
    "provider_hosts": ("OTEL_TOKENS_PROVIDER_HOSTS", _provider_hosts),
    "disabled_instrumentors": ("OTEL_TOKENS_DISABLED_INSTRUMENTORS", _names),
    "configure_otel": ("OTEL_TOKENS_CONFIGURE_OTEL", _bool),
    "service_name": ("OTEL_TOKENS_SERVICE_NAME", _optional_string),
}

ENVIRONMENT_VARIABLES: dict[str, str] = {name: env for name, (env, _) in _PARSERS.items()}
"""Setting name -> environment variable; the README's configuration table is checked against it."""
