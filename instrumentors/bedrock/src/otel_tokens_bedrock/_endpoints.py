"""Bedrock runtime endpoints: the one ``_make_api_call`` dispatch, the four operations, stream events.

Every AWS call of every botocore client goes through ``BaseClient._make_api_call(operation_name,
params)``. :func:`make_wrapper` looks at the operation name first (one dict look-up), then at the
service name, so an S3 or DynamoDB call costs a look-up and nothing else. The four Bedrock runtime
operations go through the core's sync call shell with a :class:`BedrockEndpoint`; boto3 clients
are sync only (aiobotocore overrides ``_make_api_call`` and is not instrumented).

Results are dicts: the user gets the same dict, with ``stream`` (ConverseStream) or ``body``
(InvokeModelWithResponseStream) replaced by the core's transparent stream proxy, and
InvokeModel's ``body`` observed as it is read (see ``_body``).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Mapping
from typing import Any

from otel_tokens.instrumentation import (
    CallRequest,
    CallResult,
    Endpoint,
    IdentityCache,
    Invocation,
    Prepared,
    Recorder,
    Settings,
    WrapperFn,
    observe_stream,
    semconv,
    sync_wrapper,
    text_or_none,
)
from otel_tokens_bedrock import _extract as ex
from otel_tokens_bedrock._body import observe_body
from otel_tokens_bedrock._families import OutputReader

SERVICE = "bedrock-runtime"


def make_wrapper(recorder: Recorder) -> WrapperFn:
    """The one wrapper of ``BaseClient._make_api_call`` for this recorder.

    A named exception to ``call_patch``: botocore has no method per operation to patch, only
    this one entry point for every AWS call, so the wrapper picks the operation's shell (one
    per Bedrock runtime operation, built once here) or passes the call through untouched.
    """
    shells = {name: sync_wrapper(recorder, BedrockEndpoint(name)) for name in ex.OPERATIONS}

    def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        name = args[0] if args else None
        shell = shells.get(name) if type(name) is str else None
        if shell is None or _service(instance) != SERVICE:
            return wrapped(*args, **kwargs)
        return shell(wrapped, instance, args, kwargs)

    return wrapper


def _service(client: Any) -> str | None:
    model = getattr(client, "_service_model", None)
    return getattr(model, "service_name", None)


# client endpoint URL -> (server.address, server.port). botocore keeps the same string object
# on the client's meta for its lifetime.
_servers: IdentityCache[tuple[str | None, int | None]] = IdentityCache()


def _server_of(client: Any) -> tuple[str | None, int | None]:
    url = client.meta.endpoint_url
    return _servers.get(url, None, lambda: ex.server_of(str(url)))


class BedrockEndpoint(Endpoint):
    """One Bedrock runtime operation: how to describe its call and read its result."""

    def __init__(self, operation: str) -> None:
        self.operation = operation
        self.stream = operation in (ex.CONVERSE_STREAM, ex.INVOKE_STREAM)
        self.invoke = operation in (ex.INVOKE, ex.INVOKE_STREAM)

    def prepare(
        self, settings: Settings, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Prepared:
        params = args[1] if len(args) > 1 else kwargs.get("api_params")
        if not isinstance(params, Mapping):
            params = {}
        model = text_or_none(params.get("modelId"))
        host, port = _server_of(instance)
        source, operation = ex.request_source(params, model, self.invoke)
        request = CallRequest(
            operation=operation,
            provider=semconv.PROVIDER_AWS_BEDROCK,
            request_model=model,
            server_address=host,
            server_port=port,
            attributes=ex.request_attributes(source if self.invoke else params, self.stream),
            input_messages=lambda: ex.input_messages(source),
            estimate_input=lambda tokenizer: ex.estimate_input(model, source, tokenizer),
        )
        return Prepared(request, kwargs, stream=self.stream)

    def with_model(self, prepared: Prepared, model: str) -> bool:
        """Send the call to ``model``: botocore gets a copy of the operation's parameters with
        that ``modelId`` (the user's dict is left as it was)."""
        # Not the base's: botocore takes the model inside the one params dict, args[1] of
        # _make_api_call(operation_name, api_params), not as a keyword argument of its own.
        args = prepared.args
        if len(args) > 1 and isinstance(args[1], Mapping):
            prepared.args = (args[0], {**args[1], "modelId": model}, *args[2:])
            return True
        params = prepared.kwargs.get("api_params")
        if isinstance(params, Mapping):
            prepared.kwargs = {**prepared.kwargs, "api_params": {**params, "modelId": model}}
            return True
        return False

    def read_result(self, result: Any, plan: Any) -> CallResult | None:
        """A Converse response."""
        reader = OutputReader()
        reader.add(result)
        return reader.result(reader.billed())

    def wrap_result(self, invocation: Invocation, result: Any, prepared: Prepared, is_async: bool) -> Any:
        # Overridden: botocore returns a dict, not a stream or a Stainless raw response. The
        # stream (or InvokeModel's body) is a value in it, so the user gets the same dict with
        # that value observed in place.
        if not isinstance(result, dict):
            invocation.end(None)
        elif self.operation == ex.CONVERSE:
            invocation.end(self.read_result(result, None))
        elif self.operation == ex.INVOKE:
            observe_body(invocation, result)
        else:
            key = "stream" if self.operation == ex.CONVERSE_STREAM else "body"
            stream = result.get(key)
            if stream is None:
                invocation.end(None)
            else:
                observer = EventObserver(key == "body", ex.service_tier(result.get("serviceTier")))
                result[key] = observe_stream(invocation, stream, observer)
        return result


class EventObserver:
    """ConverseStream events, or InvokeModelWithResponseStream chunks (decoded JSON, any family)."""

    __slots__ = ("_chunks", "reader")

    def __init__(self, chunks: bool, tier: str | None = None) -> None:
        self._chunks = chunks
        self.reader = OutputReader()
        self.reader.tier = tier

    def on_item(self, event: Any) -> None:
        if not self._chunks:
            self.reader.add(event)
            return
        chunk = event.get("chunk") if isinstance(event, Mapping) else None
        data = chunk.get("bytes") if isinstance(chunk, Mapping) else None
        if isinstance(data, bytes | str):
            with contextlib.suppress(ValueError, RecursionError):  # an odd chunk must not stop the stream
                self.reader.add(json.loads(data))

    def result(self) -> CallResult:
        return self.reader.result(self.reader.billed())
