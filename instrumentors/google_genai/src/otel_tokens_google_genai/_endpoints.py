"""google-genai endpoints: what each request method's request, response and stream say.

One span per HTTP request. ``Models.generate_content`` may send several requests for one call:
automatic function calling (AFC) sends one request per round of Python tool calls, and newer
releases' automatic continuation one per continuation token; the response it returns carries only the
last request's ``usage_metadata``. So the per-request methods are wrapped (``_generate_content``,
``_generate_content_stream``), each billed request is counted exactly once, and each is priced on
its own: Gemini's long-context price tier depends on one request's input, never on a sum.
``embed_content`` sends exactly one request and is wrapped as the public method.

The core (``otel_tokens.instrumentation``) runs the call: suppression, span, stream proxy,
ending exactly once. A :class:`GenAIEndpoint` only describes the request and reads the result;
the stream observer only reads chunks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from otel_tokens.instrumentation import (
    CallRequest,
    CallResult,
    Endpoint,
    IdentityCache,
    Prepared,
    Settings,
    items,
    semconv,
    text_or_none,
)
from otel_tokens_google_genai import _extract as ex

GENERATE = "generate"
STREAM = "stream"
EMBED = "embed"


class GenAIEndpoint(Endpoint):
    """One google-genai request method: generate (plain or streamed) or embed."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.embed = kind == EMBED
        self.operation = semconv.OPERATION_EMBEDDINGS if self.embed else semconv.OPERATION_GENERATE_CONTENT

    def prepare(
        self, settings: Settings, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Prepared:
        config = kwargs.get("config")
        provider, host, port = _client_provider(instance._api_client, config, settings.provider_hosts)
        model = ex.model_name(kwargs.get("model"))
        contents = ex.request_contents(kwargs)
        stream = self.kind == STREAM
        request = CallRequest(
            operation=self.operation,
            provider=provider,
            request_model=model,
            server_address=host,
            server_port=port,
            attributes=ex.embed_request_attributes(config)
            if self.embed
            else ex.generate_request_attributes(config, stream),
            input_messages=ex.input_messages_builder(self.embed, contents, config),
            estimate_input=ex.input_estimator(self.embed, model, contents, config),
        )
        return Prepared(request, kwargs, stream=stream)

    def read_result(self, result: Any, plan: None) -> CallResult:
        return ex.embed_result(result) if self.embed else ex.generate_result(result)

    def stream_observer(self, result: Any, plan: None) -> GenerateStreamObserver | None:
        return GenerateStreamObserver() if self.kind == STREAM else None


# base URL -> (provider, host, port), per Vertex mode and host overrides. Keyed by the URL string
# the client (or the call's http_options) holds: parsing it costs microseconds on every request.
_providers: IdentityCache[tuple[str, str | None, int | None]] = IdentityCache()


def _client_provider(
    client: Any, config: Any, host_overrides: Mapping[str, str]
) -> tuple[str, str | None, int | None]:
    url = ex.base_url(client, config)
    vertex = bool(getattr(client, "vertexai", False))
    return _providers.get(url, (vertex, host_overrides), lambda: ex.provider_for(url, vertex, host_overrides))


class GenerateStreamObserver:
    """``GenerateContentResponse`` chunks of one streamed request.

    Every chunk may carry ``usage_metadata`` with the counts so far; the last one seen holds the
    final counts, so it replaces the earlier ones (summing chunks would count tokens many times).
    It is read once, when the stream ends.
    """

    __slots__ = ("_usage", "_model", "_id", "_reasons", "_texts")

    def __init__(self) -> None:
        self._usage: Any = None
        self._model: str | None = None
        self._id: str | None = None
        self._reasons: dict[int, str] = {}
        self._texts: list[str] = []

    def on_item(self, chunk: Any) -> None:
        metadata = ex.field(chunk, "usage_metadata", "usageMetadata")
        if metadata is not None:
            self._usage = metadata
        self._model = text_or_none(ex.field(chunk, "model_version", "modelVersion")) or self._model
        self._id = text_or_none(ex.field(chunk, "response_id", "responseId")) or self._id
        for candidate in items(ex.get(chunk, "candidates")):
            reason = ex.finish_reason(candidate)
            if reason:
                self._reasons[ex.candidate_index(candidate)] = reason
            self._texts.extend(ex.candidate_texts(candidate))

    def result(self) -> CallResult:
        usage = ex.usage_from_metadata(self._usage)
        reasons = tuple(self._reasons[index] for index in sorted(self._reasons))
        texts = self._texts
        return CallResult(
            response_model=self._model,
            response_id=self._id,
            finish_reasons=reasons or None,
            usage=usage,
            output_texts=texts if usage is None else None,
            output_messages=lambda: [
                {"role": "assistant", "parts": [{"type": "text", "content": "".join(texts)}]}
                | ({"finish_reason": reasons[0]} if reasons else {})
            ],
        )
