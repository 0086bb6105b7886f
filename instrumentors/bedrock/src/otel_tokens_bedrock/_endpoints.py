"""The ``BaseClient._make_api_call`` wrapper: Bedrock runtime calls go to an endpoint, all else passes.

Every AWS call of every botocore client goes through ``_make_api_call(operation_name, params)``.
The wrapper looks at the operation name first (one dict look-up), then at the service name, so an
S3 or DynamoDB call costs a look-up and nothing else. The four Bedrock runtime operations go
through the shared sync shell (``otel_tokens._wrapping``) with a :class:`BedrockEndpoint`; boto3
clients are sync only (aiobotocore overrides ``_make_api_call`` and is not instrumented).

Results are dicts: the user gets the same dict, with ``stream`` (ConverseStream) or ``body``
(InvokeModelWithResponseStream) replaced by a transparent stream proxy, and InvokeModel's
``body`` observed as it is read (see ``_body``).
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Callable, Mapping
from typing import Any

from otel_tokens import semconv
from otel_tokens._streams import SyncStreamProxy
from otel_tokens._wrapping import WrapperFn, sync_wrapper
from otel_tokens.record import CallRequest, Invocation, Recorder
from otel_tokens_bedrock import _extract as ex
from otel_tokens_bedrock._body import observe_body
from otel_tokens_bedrock._families import OutputReader

SERVICE = "bedrock-runtime"


def make_wrapper(recorder: Recorder) -> WrapperFn:
    """The one wrapper of ``BaseClient._make_api_call`` for this recorder."""
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


class BedrockEndpoint:
    """One Bedrock runtime operation: how to describe its call and observe its result."""

    def __init__(self, operation: str) -> None:
        self.operation = operation
        self.stream = operation in (ex.CONVERSE_STREAM, ex.INVOKE_STREAM)
        self.invoke = operation in (ex.INVOKE, ex.INVOKE_STREAM)

    def prepare(
        self, recorder: Recorder, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[CallRequest, dict[str, Any], None]:
        params = args[1] if len(args) > 1 else kwargs.get("api_params")
        if not isinstance(params, Mapping):
            params = {}
        model = params.get("modelId")
        model = model if isinstance(model, str) else None
        host, port = ex.server_of(instance.meta.endpoint_url)
        source: Mapping[str, Any]
        if self.invoke:
            body = ex.invoke_body(params)  # parsed by us: nobody else holds it
            source = body if body is not None else {}
            operation = ex.invoke_operation(model, body)
        else:
            # Copied now, read later (only for content capture or an estimate): programs often
            # append the reply to the same message list right after the call.
            source = {"system": params.get("system"), "messages": list(params.get("messages") or ())}
            operation = semconv.OPERATION_CHAT
        request = CallRequest(
            operation=operation,
            provider=semconv.PROVIDER_AWS_BEDROCK,
            request_model=model,
            server_address=host,
            server_port=port,
            attributes=ex.request_attributes(source if self.invoke else params, self.stream),
            input_messages=lambda: ex.input_messages(source),
            estimate_input=functools.partial(ex.estimate_input, model, source),
        )
        return request, kwargs, None

    def wrap_result(self, invocation: Invocation, result: Any, plan: None, is_async: bool) -> Any:
        if not isinstance(result, dict):
            invocation.finish(None)
            return result
        if self.operation == ex.CONVERSE:
            reader = OutputReader()
            reader.add(result)
            invocation.finish(reader.result(reader.billed()))
        elif self.operation == ex.INVOKE:
            observe_body(invocation, result, ex.header_counts(result), ex.content_length(result))
        else:
            key = "stream" if self.operation == ex.CONVERSE_STREAM else "body"
            stream = result.get(key)
            if stream is None:
                invocation.finish(None)
            else:
                observer = EventObserver(invocation, key == "body")
                observer.reader.tier = ex.service_tier(result.get("serviceTier"))
                result[key] = SyncStreamProxy(stream, observer)
        return result


class EventObserver:
    """ConverseStream events, or InvokeModelWithResponseStream chunks (decoded JSON, any family)."""

    __slots__ = ("_inv", "_chunks", "_first", "reader")

    def __init__(self, invocation: Invocation, chunks: bool) -> None:
        self._inv = invocation
        self._chunks = chunks
        self._first = True
        self.reader = OutputReader()

    def on_item(self, event: Any) -> None:
        if self._first:
            self._first = False
            self._inv.first_chunk()
        if not self._chunks:
            self.reader.add(event)
            return
        chunk = event.get("chunk") if isinstance(event, Mapping) else None
        data = chunk.get("bytes") if isinstance(chunk, Mapping) else None
        if isinstance(data, bytes | str):
            with contextlib.suppress(ValueError):  # a model's odd chunk must not stop the stream
                self.reader.add(json.loads(data))

    def on_end(self, error: BaseException | None) -> None:
        result = self.reader.result(self.reader.billed())
        if error is None:
            self._inv.finish(result)
        else:
            self._inv.fail(error, result)
