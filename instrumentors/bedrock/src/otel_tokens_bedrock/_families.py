"""What a Bedrock response says, in every model family's shape, read by the keys it carries.

One :class:`OutputReader` takes whole documents and stream items alike: a Converse response or
ConverseStream event, an InvokeModel body, or the decoded JSON of one
InvokeModelWithResponseStream chunk. Families are recognised by their keys rather than by the
model id, which an application inference profile's ARN hides:

=====================  ==========================================================================
family                 keys read
=====================  ==========================================================================
Converse, Nova         ``output.message.content``, ``stopReason``, ``usage``; stream events
                       ``contentBlockStart``/``contentBlockDelta``, ``messageStop``, ``metadata``
Anthropic Messages     ``type`` = message / message_start / content_block_* / message_delta
Claude v2 text         ``completion``, ``stop_reason`` (no counts: headers or stream metrics)
Titan text, embed      ``results[]``/``outputText``, ``completionReason``, ``inputTextTokenCount``,
                       ``tokenCount``/``totalOutputTextTokenCount``
Meta Llama             ``generation``, ``prompt_token_count``, ``generation_token_count``, ``stop_reason``
Mistral                ``outputs[]`` (text); chat bodies are OpenAI-style ``choices``
Cohere Command (R)     ``generations[]``, ``text``, ``finish_reason`` (no counts)
AI21 Jurassic          ``completions[].data.text``, ``finishReason.reason`` (no counts)
OpenAI-style           ``choices``, ``usage.prompt_tokens``, ``model``, ``id`` (imported models)
every stream           ``amazon-bedrock-invocationMetrics`` on the last chunk: the billed counts
=====================  ==========================================================================

Counts are kept as Bedrock reports them (:class:`Counts`); the last report of a count wins,
since stream counts are cumulative (Anthropic ``message_delta``, Llama ``generation_token_count``).
Every field is validated where it is read (``count``, ``text_or_none``, ``items``): a field of an
unexpected type or an impossible count is skipped alone, the rest of the document still counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from otel_tokens.instrumentation import CallResult, count, items, text_or_none
from otel_tokens_bedrock._extract import METRICS_KEY, Counts, block_texts, service_tier

_ANTHROPIC_TYPES = frozenset(
    {"message", "message_start", "message_delta", "content_block_start", "content_block_delta"}
)
_EVENT_KEYS = frozenset({"messageStart", "contentBlockStart", "contentBlockDelta", "messageStop", "metadata"})


def usage_counts(usage: Any) -> Counts | None:
    """A ``usage`` block in Converse, Nova, Anthropic or OpenAI spelling."""
    if not isinstance(usage, Mapping):
        return None
    return Counts(
        input=count(_first(usage, "inputTokens", "input_tokens", "prompt_tokens")),
        output=count(_first(usage, "outputTokens", "output_tokens", "completion_tokens")),
        cache_read=count(
            _first(usage, "cacheReadInputTokens", "cacheReadInputTokenCount", "cache_read_input_tokens")
        ),
        cache_write=count(
            _first(usage, "cacheWriteInputTokens", "cacheWriteInputTokenCount", "cache_creation_input_tokens")
        ),
        cache_write_1h=_one_hour_writes(usage),
    )


def _one_hour_writes(usage: Mapping[str, Any]) -> int | None:
    """Cache writes with a 1-hour TTL: Converse ``cacheDetails`` or Anthropic ``cache_creation``."""
    creation = usage.get("cache_creation")
    if isinstance(creation, Mapping):
        return count(creation.get("ephemeral_1h_input_tokens"))
    details = usage.get("cacheDetails")
    if not isinstance(details, list | tuple):
        return None
    hour = [count(d.get("inputTokens")) for d in details if isinstance(d, Mapping) and d.get("ttl") == "1h"]
    # Valid counts, but their sum is checked too: many of them can add up past any real call.
    return count(sum(n for n in hour if n is not None))


def metrics_counts(metrics: Any) -> Counts | None:
    """``amazon-bedrock-invocationMetrics`` of a stream's last chunk."""
    if not isinstance(metrics, Mapping):
        return None
    return Counts(
        input=count(metrics.get("inputTokenCount")),
        output=count(metrics.get("outputTokenCount")),
        cache_read=count(metrics.get("cacheReadInputTokenCount")),
        cache_write=count(metrics.get("cacheWriteInputTokenCount")),
    )


def _first(source: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        value = source.get(key)
        if value is not None:
            return value
    return None


class OutputReader:
    """Accumulates texts, finish reasons, counts, response model and id from documents."""

    __slots__ = ("texts", "reasons", "counts", "metrics", "model", "response_id", "tier")

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.reasons: list[str] = []
        self.counts = Counts()
        self.metrics: Counts | None = None
        self.model: str | None = None
        self.response_id: str | None = None
        self.tier: str | None = None
        """The service tier that served the call (priority, flex...), for pricing."""

    def billed(self) -> Counts:
        """The counts to record: the stream's invocation metrics over what the body said."""
        counts = Counts()
        counts.update(self.counts)
        counts.update(self.metrics)
        return counts

    def result(self, counts: Counts) -> CallResult:
        """The call's result with ``counts`` (the billed ones: headers or stream metrics first)."""
        usage = counts.usage()
        texts = self.texts
        reasons = tuple(self.reasons) or None

        def output_messages() -> list[dict[str, Any]]:
            message: dict[str, Any] = {
                "role": "assistant",
                "parts": [{"type": "text", "content": "".join(texts)}],
            }
            if reasons:
                message["finish_reason"] = reasons[-1]
            return [message]

        return CallResult(
            response_model=self.model,
            response_id=self.response_id,
            finish_reasons=reasons,
            usage=usage,
            service_tier=self.tier,
            output_texts=texts if usage is None else None,
            output_messages=output_messages,
        )

    def add(self, doc: Any) -> None:
        """Read one document or stream item; anything unrecognised is ignored."""
        if not isinstance(doc, Mapping):
            return
        metrics = doc.get(METRICS_KEY)
        if metrics is not None:
            self.metrics = metrics_counts(metrics)
        kind = doc.get("type")
        if isinstance(kind, str) and kind in _ANTHROPIC_TYPES:
            self._anthropic(kind, doc)
        elif "choices" in doc:
            self._openai(doc)
        elif "output" in doc or "stopReason" in doc:
            self._converse(doc)
        elif not _EVENT_KEYS.isdisjoint(doc):
            self._event(doc)
        else:
            self._other(doc)

    def _reason(self, value: Any) -> None:
        reason = text_or_none(value)
        if reason is not None:
            self.reasons.append(reason)

    def _identity(self, source: Mapping[str, Any]) -> None:
        self.model = text_or_none(source.get("model")) or self.model
        self.response_id = text_or_none(source.get("id")) or self.response_id

    def _anthropic(self, kind: str, doc: Mapping[str, Any]) -> None:
        if kind in ("message", "message_start"):
            message = doc if kind == "message" else doc.get("message")
            if isinstance(message, Mapping):
                self._identity(message)
                self.counts.update(usage_counts(message.get("usage")))
                self.texts.extend(block_texts(message.get("content")))
                self._reason(message.get("stop_reason"))
        elif kind == "message_delta":
            delta = doc.get("delta")
            if isinstance(delta, Mapping):
                self._reason(delta.get("stop_reason"))
            self.counts.update(usage_counts(doc.get("usage")))
        elif kind == "content_block_start":
            self.texts.extend(block_texts([doc.get("content_block")]))
        else:
            delta = doc.get("delta")
            if isinstance(delta, Mapping):
                piece = _first(delta, "text", "partial_json", "thinking")
                if isinstance(piece, str):
                    self.texts.append(piece)

    def _converse(self, doc: Mapping[str, Any]) -> None:
        output = doc.get("output")
        message = output.get("message") if isinstance(output, Mapping) else None
        if isinstance(message, Mapping):
            self.texts.extend(block_texts(message.get("content")))
        self._reason(doc.get("stopReason"))
        self.counts.update(usage_counts(doc.get("usage")))
        self.tier = service_tier(doc.get("serviceTier")) or self.tier

    def _event(self, doc: Mapping[str, Any]) -> None:
        """A ConverseStream event, or a Nova InvokeModel stream chunk (same shapes)."""
        delta = doc.get("contentBlockDelta")
        if isinstance(delta, Mapping):
            inner = delta.get("delta")
            if isinstance(inner, Mapping):
                use = inner.get("toolUse")
                reasoning = inner.get("reasoningContent")
                piece = (
                    inner.get("text")
                    if "text" in inner
                    else use.get("input")
                    if isinstance(use, Mapping)
                    else reasoning.get("text")
                    if isinstance(reasoning, Mapping)
                    else None
                )
                if isinstance(piece, str):
                    self.texts.append(piece)
            return
        start = doc.get("contentBlockStart")
        if isinstance(start, Mapping):
            use = start.get("start", {}).get("toolUse") if isinstance(start.get("start"), Mapping) else None
            if isinstance(use, Mapping) and isinstance(use.get("name"), str):
                self.texts.append(use["name"])
            return
        stop = doc.get("messageStop")
        if isinstance(stop, Mapping):
            self._reason(stop.get("stopReason"))
            return
        metadata = doc.get("metadata")
        if isinstance(metadata, Mapping):
            self.counts.update(usage_counts(metadata.get("usage")))
            self.tier = service_tier(metadata.get("serviceTier")) or self.tier

    def _openai(self, doc: Mapping[str, Any]) -> None:
        self._identity(doc)
        for choice in items(doc.get("choices")):
            if not isinstance(choice, Mapping):
                continue
            message = choice.get("message") or choice.get("delta")
            if isinstance(message, Mapping):
                self.texts.extend(block_texts(message.get("content") or ""))
            elif isinstance(choice.get("text"), str):
                self.texts.append(choice["text"])
            self._reason(choice.get("finish_reason") or choice.get("stop_reason"))
        self.counts.update(usage_counts(doc.get("usage")))

    def _other(self, doc: Mapping[str, Any]) -> None:
        """Titan, Llama, Claude v2 text, Mistral text, Cohere, AI21: disjoint keys, read together."""
        counts = Counts(
            input=count(_first(doc, "inputTextTokenCount", "prompt_token_count")),
            output=count(_first(doc, "totalOutputTextTokenCount", "generation_token_count")),
        )
        self.counts.update(counts)
        for key in ("outputText", "generation", "completion"):
            if isinstance(doc.get(key), str):
                self.texts.append(doc[key])
        if isinstance(doc.get("text"), str):  # Cohere Command streams and Command R
            self.texts.append(doc["text"])
        self._reason(_first(doc, "completionReason", "stop_reason", "finish_reason"))
        for item in _list(doc, "results") + _list(doc, "outputs") + _list(doc, "generations"):
            self.texts.extend(block_texts([{"text": _first(item, "outputText", "text")}]))
            self._reason(_first(item, "completionReason", "stop_reason", "finish_reason"))
            self.counts.update(Counts(output=count(item.get("tokenCount"))))
        if "generations" in doc:
            self.response_id = text_or_none(doc.get("id")) or self.response_id
        for item in _list(doc, "completions"):
            data, finish = item.get("data"), item.get("finishReason")
            if isinstance(data, Mapping):
                self.texts.extend(block_texts([{"text": data.get("text")}]))
            if isinstance(finish, Mapping):
                self._reason(finish.get("reason"))


def _list(doc: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    return [item for item in items(doc.get(key)) if isinstance(item, Mapping)]
