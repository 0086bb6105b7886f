"""Anthropic endpoints, the ``messages.stream()`` helper, and the switch that keeps the SDK's own
call span out of the calls we record.

The core (``otel_tokens.instrumentation``) runs the call: suppression, span, stream proxy,
``with_raw_response`` proxy, ending exactly once. An :class:`AnthropicEndpoint` only describes
``messages.create``/``parse`` or legacy ``completions.create`` and reads the result.

Two patches are named exceptions to the core's call shells, each for a reason of its own:
``messages.stream()`` only builds a manager and the HTTP request is sent when the manager is
entered, so the call is started there (:class:`StreamManagerProxy`); anthropic 2.x's
``start_api_call_span`` is not a call at all (:func:`sdk_span_switch`).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

import wrapt

from otel_tokens.instrumentation import (
    CallRequest,
    CallResult,
    CallScope,
    Endpoint,
    IdentityCache,
    Invocation,
    Prepared,
    Recorder,
    Settings,
    WrapperFn,
    admit_call,
    call_guarded,
    in_instrumented_call,
    is_raw_response,
    observe_raw_response,
    release_call,
    report,
    semconv,
    should_record,
    text_or_none,
)
from otel_tokens_anthropic import _extract as ex
from otel_tokens_anthropic._extract import COMPLETION, MESSAGES
from otel_tokens_anthropic._stream import observe_stream

logger = logging.getLogger("otel_tokens")

_OPERATIONS = {MESSAGES: semconv.OPERATION_CHAT, COMPLETION: semconv.OPERATION_TEXT_COMPLETION}
_RESULTS: dict[str, Callable[[Any], CallResult]] = {
    MESSAGES: ex.message_result,
    COMPLETION: ex.completion_result,
}


class AnthropicEndpoint(Endpoint):
    """``messages.create``/``parse`` (stable and beta) or legacy ``completions.create``."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def prepare(
        self, settings: Settings, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Prepared:
        stream = kwargs.get("stream") is True
        return Prepared(describe(settings, instance, kwargs, self.kind, stream), kwargs, stream, stream)

    def read_result(self, result: Any, plan: Any) -> CallResult:
        return _RESULTS[self.kind](result)

    def wrap_result(self, invocation: Invocation, result: Any, prepared: Prepared, is_async: bool) -> Any:
        if not prepared.stream:
            return super().wrap_result(invocation, result, prepared, is_async)
        # A stream (also one parsed from a raw response) goes to _stream.observe_stream rather
        # than straight to the core's proxy: anthropic 0.x's Stream classes reject proxies in
        # isinstance, so there it is observed in place.
        if is_raw_response(result):
            return observe_raw_response(invocation, result, True, observe_stream)
        return observe_stream(invocation, result)


def describe(
    settings: Settings, instance: Any, kwargs: Mapping[str, Any], kind: str, stream: bool
) -> CallRequest:
    """The :class:`CallRequest` of a call on a resource (``instance``) of an Anthropic client."""
    provider, host, port = _client_provider(instance._client, settings.provider_hosts)
    model = text_or_none(kwargs.get("model"))
    input_messages = estimate = None
    if settings.capture_content or settings.estimate_usage:  # else neither would ever be called
        input_messages, estimate = ex.request_inputs(kind, model, kwargs)
    return CallRequest(
        operation=_OPERATIONS[kind],
        provider=provider,
        request_model=model,
        server_address=host,
        server_port=port,
        attributes=ex.request_attributes(kwargs, stream),
        input_messages=input_messages if settings.capture_content else None,
        estimate_input=estimate if settings.estimate_usage else None,
    )


# client base-URL object -> (provider, host, port). Keyed by the URL object, which the SDK
# replaces when the base URL changes: parsing it on every call is wasted.
_providers: IdentityCache[tuple[str, str | None, int | None]] = IdentityCache()


def _client_provider(client: Any, host_overrides: Mapping[str, str]) -> tuple[str, str | None, int | None]:
    url = getattr(client, "_base_url", None)
    if url is None:
        url = client.base_url
    kind = type(client)
    return _providers.get(
        url, (host_overrides, kind), lambda: ex.provider_for(kind.__name__, str(url), host_overrides)
    )


# -- messages.stream() ------------------------------------------------------------------------

_STREAM_HELPER = AnthropicEndpoint(MESSAGES)
"""How ``stream()``'s arguments are rewritten for a downgrade: as ``messages.create``'s."""


def stream_helper_wrapper(recorder: Recorder) -> WrapperFn:
    """Wraps ``messages.stream()`` (sync and async clients alike: the method itself is sync).

    A named exception to the core's call shells: ``stream()`` only builds a manager, and the
    request is sent when the manager is entered (or never), so the call starts there. The
    guardrails run here, though: a block raises from ``stream()`` itself, and a downgrade must
    change the ``model`` the manager's request is built with.
    """

    def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if not recorder.settings.enabled or not should_record():
            return wrapped(*args, **kwargs)
        request = call_guarded(
            "anthropic messages.stream", describe, recorder.settings, instance, kwargs, MESSAGES, True
        )
        if request is None:
            return wrapped(*args, **kwargs)
        # Raises a GuardrailError to block; a downgrade rewrites a copy of the arguments.
        prepared = Prepared(request, kwargs, args=args)
        admission = admit_call(recorder, _STREAM_HELPER, prepared)
        try:
            manager = wrapped(*prepared.args, **prepared.kwargs)
        except BaseException as error:
            # As in the core's shells, a call the SDK refuses is recorded as failed; ending it
            # also frees what the guardrails hold for it.
            recorder.start(request, admission).end(None, error)
            raise
        proxy = AsyncStreamManagerProxy if hasattr(manager, "__aenter__") else StreamManagerProxy
        return proxy(manager, recorder, request, admission)

    return wrapper


class _ManagerProxyBase(wrapt.ObjectProxy):  # type: ignore[misc]
    def __init__(self, wrapped: Any, recorder: Recorder, request: CallRequest, admission: Any) -> None:
        super().__init__(wrapped)
        self._self_recorder = recorder
        self._self_request = request
        self._self_admission = admission
        """The guardrails' decision made at ``stream()`` time (None: no policy), until entered."""

    def _self_take_admission(self) -> Any:
        """The admission, handed over once: to the call that entering starts (which settles it)."""
        admission, self._self_admission = self._self_admission, None
        if admission is not None and not should_record():
            release_call(admission)  # the call goes unrecorded, so it is not counted either
            return None
        return admission

    def __del__(self) -> None:
        # A manager never entered never sends its request: free what the guardrails hold for it
        # now rather than when the hold expires.
        with contextlib.suppress(BaseException):  # nothing may escape a finaliser
            release_call(self._self_admission)

    def _self_entered(self, invocation: Invocation, stream: Any) -> None:
        """Observe the raw event stream the ``MessageStream`` reads from (its helpers bypass a proxy)."""
        raw = getattr(stream, "_raw_stream", None)
        if raw is None:
            logger.debug("otel-tokens: this anthropic version's MessageStream has no raw stream; no usage")
            invocation.end(None)
            return
        try:
            stream._raw_stream = observe_stream(invocation, raw)
        except Exception as error:  # noqa: BLE001
            report("anthropic stream helper", error)
            invocation.end(None)


class StreamManagerProxy(_ManagerProxyBase):
    """A ``MessageStreamManager``: entering it sends the request, inside our call."""

    def __enter__(self) -> Any:
        admission = self._self_take_admission()
        if not should_record():
            return self.__wrapped__.__enter__()
        invocation = self._self_recorder.start(self._self_request, admission)
        with CallScope(invocation):
            stream = self.__wrapped__.__enter__()
        self._self_entered(invocation, stream)
        return stream

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> Any:
        return self.__wrapped__.__exit__(exc_type, exc, tb)


class AsyncStreamManagerProxy(_ManagerProxyBase):
    """An ``AsyncMessageStreamManager``: entering it sends the request, inside our call."""

    async def __aenter__(self) -> Any:
        admission = self._self_take_admission()
        if not should_record():
            return await self.__wrapped__.__aenter__()
        invocation = self._self_recorder.start(self._self_request, admission)
        with CallScope(invocation):
            stream = await self.__wrapped__.__aenter__()
        self._self_entered(invocation, stream)
        return stream

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> Any:
        return await self.__wrapped__.__aexit__(exc_type, exc, tb)


# -- the SDK's own tracing ----------------------------------------------------------------------


def sdk_span_switch(recorder: Recorder) -> WrapperFn:
    """Wraps anthropic 2.x's ``_base_client.start_api_call_span``: no SDK span inside a call we record.

    A named exception to the core's call shells (it is not a call). The SDK documents that
    ``None`` means "no span, the call goes on without one". Outside our calls
    (``count_tokens``, models, files, batches, or with otel-tokens disabled) the SDK's span is
    started as usual.
    """

    def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if in_instrumented_call():
            return None
        return wrapped(*args, **kwargs)

    return wrapper
