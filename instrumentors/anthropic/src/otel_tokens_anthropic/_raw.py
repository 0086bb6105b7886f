"""``with_raw_response`` and ``with_streaming_response``: the usage is in what ``parse()`` returns.

The user gets the SDK's response object behind a transparent proxy; the call's telemetry ends
when the user parses it (a message is read at once, a stream is observed to its end), or, if
it is never parsed, when it is closed or dropped.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import wrapt

from otel_tokens._safety import report
from otel_tokens.record import Invocation

RAW_RESPONSE_TYPES = frozenset({"LegacyAPIResponse", "APIResponse", "AsyncAPIResponse"})

Observe = Callable[[Invocation, Any], Any]
"""Finishes the invocation from a parsed body (or wraps a parsed stream) and returns what the user gets."""


def wrap_raw(invocation: Invocation, raw: Any, stream: bool, observe: Observe) -> Any:
    """The proxy for a raw response; a legacy non-stream response (body already read) is read now."""
    kind = type(raw).__name__
    if kind == "LegacyAPIResponse" and not stream:
        # The SDK caches the parsed object, so the user's own parse() returns it at no extra cost.
        observe(invocation, raw.parse())
        return raw
    proxy = AsyncRawResponseProxy if kind == "AsyncAPIResponse" else RawResponseProxy
    return proxy(raw, invocation, observe)


class _RawProxyBase(wrapt.ObjectProxy):  # type: ignore[misc]
    def __init__(self, wrapped: Any, invocation: Invocation, observe: Observe) -> None:
        super().__init__(wrapped)
        self._self_invocation = invocation
        self._self_observe_fn = observe
        self._self_parsed: dict[int, Any] = {}

    def _self_observe(self, parsed: Any) -> Any:
        seen = self._self_parsed.get(id(parsed))
        if seen is not None:
            return seen[1]
        try:
            observed = self._self_observe_fn(self._self_invocation, parsed)
        except Exception as error:  # noqa: BLE001
            report("anthropic raw response", error)
            observed = parsed
        # Keep the parsed object alive with its id, so the id cannot be reused by another object.
        self._self_parsed[id(parsed)] = (parsed, observed)
        return observed

    def _self_unparsed_end(self) -> None:
        if not self._self_parsed:
            self._self_invocation.finish(None)

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # nothing may escape a finaliser
            self._self_unparsed_end()


class RawResponseProxy(_RawProxyBase):
    def parse(self, *args: Any, **kwargs: Any) -> Any:
        return self._self_observe(self.__wrapped__.parse(*args, **kwargs))

    def close(self) -> Any:
        try:
            return self.__wrapped__.close()
        finally:
            self._self_unparsed_end()


class AsyncRawResponseProxy(_RawProxyBase):
    async def parse(self, *args: Any, **kwargs: Any) -> Any:
        return self._self_observe(await self.__wrapped__.parse(*args, **kwargs))

    async def close(self) -> Any:
        try:
            return await self.__wrapped__.close()
        finally:
            self._self_unparsed_end()
