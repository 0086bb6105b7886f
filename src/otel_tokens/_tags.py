"""Business tags: who spent the tokens (team, project, feature, user, cost center...).

Tags live in a :mod:`contextvars` variable, so they follow the code that set them: nested
``with tags(...)`` blocks merge (inner wins), asyncio tasks inherit the tags of the code
that created them, and another thread never sees them. Tags also arrive through W3C
baggage (keys under a configurable prefix, ``otel_tokens.tag.`` by default) so they cross
service boundaries; explicit ``tags()`` beat baggage, which beats configured defaults.

Spans carry every tag. Metric points carry only allow-listed keys, and each key only a
bounded number of distinct values: the :class:`CardinalityGuard` folds new values beyond the
limit into ``__overflow__`` and counts the folds, so one unbounded tag (a user id) cannot
blow up a metrics backend.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import threading
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType, TracebackType
from typing import Any, TypeVar

from opentelemetry import baggage, context

from otel_tokens import _runtime, semconv
from otel_tokens._errors import ConfigurationError
from otel_tokens._settings import TAG_KEY_PATTERN

F = TypeVar("F", bound=Callable[..., Any])

MAX_TAG_VALUE_LENGTH = 256
_EMPTY: Mapping[str, str] = MappingProxyType({})
_current: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar(
    "otel_tokens_tags", default=_EMPTY
)


def validate_tags(values: Mapping[str, Any]) -> None:
    """Raise :class:`ConfigurationError` for a key or value that cannot be a tag."""
    for key, value in values.items():
        if not isinstance(key, str) or not TAG_KEY_PATTERN.match(key):
            raise ConfigurationError(
                f"tag key {key!r} is invalid; use lower-case letters, digits and '_', "
                "starting with a letter, at most 64 characters"
            )
        if not isinstance(value, str) or not value or len(value) > MAX_TAG_VALUE_LENGTH:
            raise ConfigurationError(
                f"tag {key}={value!r} is invalid; values are non-empty strings of at most "
                f"{MAX_TAG_VALUE_LENGTH} characters"
            )


class tags:  # noqa: N801 - used like a function: `with tags(team="search"):`
    """Attach business tags to every LLM call made inside.

    Use as a context manager (``with tags(team="search"):``, also ``async with``) or a
    decorator on sync or async functions. Invalid keys or values raise
    :class:`ConfigurationError` at once. ``propagate=True`` also writes the tags into W3C
    baggage, so instrumented outgoing requests carry them to other services (off by default,
    because baggage is sent to every downstream host, LLM providers included).
    """

    __slots__ = ("_tags", "_propagate", "_tokens")

    def __init__(self, *, propagate: bool = False, **values: str) -> None:
        validate_tags(values)
        self._tags = values
        self._propagate = propagate
        self._tokens: list[tuple[contextvars.Token[Mapping[str, str]], object | None]] = []

    def __enter__(self) -> tags:
        merged = MappingProxyType({**_current.get(), **self._tags})
        token = _current.set(merged)
        otel_token = None
        if self._propagate:
            ctx = context.get_current()
            for key, value in self._tags.items():
                ctx = baggage.set_baggage(_runtime.STATE.baggage_prefix + key, value, ctx)
            otel_token = context.attach(ctx)
        self._tokens.append((token, otel_token))
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        token, otel_token = self._tokens.pop()
        if otel_token is not None:
            context.detach(otel_token)  # type: ignore[arg-type]
        _current.reset(token)

    async def __aenter__(self) -> tags:
        return self.__enter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    def __call__(self, func: F) -> F:
        values, propagate = self._tags, self._propagate

        if inspect.iscoroutinefunction(func) or asyncio.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with tags(propagate=propagate, **values):
                    return await func(*args, **kwargs)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with tags(propagate=propagate, **values):
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


def current_tags() -> Mapping[str, str]:
    """The tags set by enclosing ``tags()`` blocks (not baggage or defaults)."""
    return _current.get()


def configure(baggage_prefix: str, default_tags: Mapping[str, str]) -> None:
    """Set the baggage key prefix and the default tags (called when settings are applied)."""
    state = _runtime.STATE
    state.baggage_prefix = baggage_prefix
    state.default_tags = MappingProxyType(dict(default_tags))


MAX_SPAN_TAGS = 32
"""Most business tags one span carries: the span's 128-attribute limit must keep the conventions'
own attributes, whatever the propagated baggage holds."""


def effective_tags() -> Mapping[str, str]:
    """Defaults, overlaid by baggage, overlaid by ``tags()``: what the next call is tagged with.

    The last context's result is kept (``STATE.last_tags``): baggage may hold thousands of
    entries (up to the W3C header limit), and a context's are read once.
    """
    state = _runtime.STATE
    explicit = _current.get()
    ctx = context.get_current()
    defaults = state.default_tags
    last = state.last_tags
    if last is not None and last[0] is ctx and last[1] is explicit and last[2] is defaults:
        return last[3]
    entries = baggage.get_all(ctx)
    if not entries and not defaults:
        merged: Mapping[str, str] = explicit
    else:
        values = dict(defaults)
        if entries:
            prefix = state.baggage_prefix
            cut = len(prefix)
            for key, value in entries.items():
                if key.startswith(prefix) and isinstance(value, str) and value:
                    tag = key[cut:]
                    if TAG_KEY_PATTERN.match(tag):
                        values[tag] = value[:MAX_TAG_VALUE_LENGTH]
        values.update(explicit)
        merged = values
    state.last_tags = (ctx, explicit, defaults, merged)
    return merged


def span_attributes(values: Mapping[str, str], first: Iterable[str] = ()) -> tuple[dict[str, str], int]:
    """Tags as span attributes, at most :data:`MAX_SPAN_TAGS` of them, and how many were left out.

    Over the limit, the ``first`` keys (those allowed on metrics) and the ones set by ``tags()``
    are kept before baggage and defaults.
    """
    if len(values) <= MAX_SPAN_TAGS:
        return {semconv.OTEL_TOKENS_TAG_PREFIX + key: value for key, value in values.items()}, 0
    explicit = _current.get()
    order = [key for key in first if key in values]
    order += [key for key in explicit if key in values and key not in order]
    chosen = set(order)
    order += [key for key in values if key not in chosen]
    kept = order[:MAX_SPAN_TAGS]
    return {semconv.OTEL_TOKENS_TAG_PREFIX + key: values[key] for key in kept}, len(values) - len(kept)


class CardinalityGuard:
    """Keeps metric tag values bounded: per allowed key, at most ``max_values`` distinct values.

    Values seen first keep their own series; later new values fold into ``__overflow__``.
    ``on_fold(key)`` is called for every folded value so the folds can
    be counted. One guard serves the whole process (``_runtime.tag_guard()``), so the limit holds
    across all instrumented clients together.
    """

    __slots__ = ("_keys", "_max", "_seen", "_lock", "_attribute_names")

    def __init__(self, keys: Iterable[str], max_values: int):
        self._keys = tuple(keys)
        self._attribute_names = {key: semconv.OTEL_TOKENS_TAG_PREFIX + key for key in self._keys}
        self._max = max_values
        self._seen: dict[str, set[str]] = {key: set() for key in self._keys}
        self._lock = threading.Lock()

    @property
    def keys(self) -> tuple[str, ...]:
        return self._keys

    def metric_attributes(
        self, values: Mapping[str, str], on_fold: Callable[[str], None] | None = None
    ) -> dict[str, str]:
        """Allowed tags as metric attributes, with values beyond the limit folded."""
        if not values:
            return {}
        result: dict[str, str] = {}
        for key in self._keys:
            value = values.get(key)
            if value is None:
                continue
            seen = self._seen[key]
            if value not in seen:
                with self._lock:
                    if value not in seen and len(seen) >= self._max:
                        value = semconv.TAG_OVERFLOW_VALUE
                        if on_fold is not None:
                            on_fold(key)
                    else:
                        seen.add(value)
            result[self._attribute_names[key]] = value
        return result
