"""Reading requests, responses and stream chunks in the OpenAI chat-completions shape.

OpenAI, LiteLLM and the OpenAI-compatible providers all answer in this shape: ``choices``, each
with a ``message`` (a stream's ``delta``, a legacy completion's ``text``) and a ``finish_reason``,
plus ``model``, ``id`` and ``usage``. The readers here serve every instrumentor of such a client,
and live in the core so that no instrumentor distribution depends on another. What differs
between clients is passed in: how usage is read (each reports cache tokens in its own fields, and
LiteLLM may make counts up) and which texts a message carries. Like every extractor they accept
pydantic objects or plain dicts and never raise on odd shapes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from otel_tokens import semconv
from otel_tokens._fields import get, items, text_or_none
from otel_tokens._invocation import CallResult
from otel_tokens.tokenize import Estimate, Tokenizer
from otel_tokens.usage import Usage

UsageReader = Callable[[Any], Usage | None]
"""A response's ``usage`` object (``None`` when absent) -> the conventions' usage, or ``None``."""
TextsReader = Callable[[Any], list[str]]
"""A chat message (``None`` when absent) -> the texts it carries."""


# -- requests ------------------------------------------------------------------------------


def prompt_estimator(model: str | None, texts: list[str], value: Any) -> Callable[[Tokenizer], Estimate]:
    """Counts a legacy ``prompt`` or an embeddings ``input`` locally, for when no usage comes back.

    ``texts`` are the strings the client read from ``value``, counted by the tokenizer; the tokens
    ``value`` gives directly as integer arrays are added as they are.
    """
    arrays = _token_array_length(value)

    def count(tokenizer: Tokenizer) -> Estimate:
        estimate = tokenizer.count_texts(model, texts)
        return Estimate(estimate.tokens + arrays, estimate.method)

    return count


def _token_array_length(value: Any) -> int:
    if isinstance(value, list) and value and isinstance(value[0], int):
        return len(value)
    if isinstance(value, list):
        return sum(len(item) for item in value if isinstance(item, list))
    return 0


# -- responses -----------------------------------------------------------------------------


def finish_reasons(choices: Iterable[Any]) -> tuple[str, ...] | None:
    """The choices' finish reasons, in order; ``None`` when no choice has one."""
    reasons = []
    for choice in items(choices):
        reason = text_or_none(get(choice, "finish_reason"))
        if reason:
            reasons.append(reason)
    return tuple(reasons) or None


def chat_result(response: Any, read_usage: UsageReader, message_texts: TextsReader) -> CallResult:
    """A chat completion: model, id, finish reasons, usage; output text when usage is missing."""
    choices = items(get(response, "choices"))
    usage = read_usage(get(response, "usage"))
    output_texts = None
    if usage is None:
        output_texts = [text for c in choices for text in message_texts(get(c, "message"))]
    # The messages are read again only if content capture asks for them: not on every call.
    return CallResult(
        response_model=text_or_none(get(response, "model")),
        response_id=text_or_none(get(response, "id")),
        finish_reasons=finish_reasons(choices),
        usage=usage,
        output_texts=output_texts,
        output_messages=lambda: [_choice_message(c, message_texts) for c in choices],
    )


def _choice_message(choice: Any, message_texts: TextsReader) -> dict[str, Any]:
    message = get(choice, "message")
    role = text_or_none(get(message, "role")) or "assistant"
    return output_message(role, message_texts(message), get(choice, "finish_reason"))


def text_completion_result(response: Any, read_usage: UsageReader) -> CallResult:
    """A legacy text completion: each choice's ``text`` instead of a message."""
    choices = items(get(response, "choices"))
    texts = [text if isinstance(text := get(choice, "text"), str) else "" for choice in choices]
    usage = read_usage(get(response, "usage"))
    return CallResult(
        response_model=text_or_none(get(response, "model")),
        response_id=text_or_none(get(response, "id")),
        finish_reasons=finish_reasons(choices),
        usage=usage,
        output_texts=None if usage is not None else texts,
        output_messages=lambda: [
            output_message("assistant", [t], get(c, "finish_reason"))
            for t, c in zip(texts, choices, strict=False)
        ],
    )


def embeddings_result(response: Any, read_usage: UsageReader) -> CallResult:
    """An embeddings response: input tokens only, and the vectors' dimension."""
    usage = read_usage(get(response, "usage"))
    if usage is not None:
        usage.output_tokens = None  # embeddings have no output tokens; don't report a 0
    attributes = None
    data = items(get(response, "data"))
    if data:
        vector = get(data[0], "embedding")
        if isinstance(vector, list):
            attributes = {semconv.GEN_AI_EMBEDDINGS_DIMENSION_COUNT: len(vector)}
    return CallResult(response_model=text_or_none(get(response, "model")), usage=usage, attributes=attributes)


# -- content capture (only when the user opted in) ------------------------------------------


def output_message(role: str, texts: list[str], finish_reason: Any) -> dict[str, Any]:
    """One ``gen_ai.output.messages`` entry."""
    message: dict[str, Any] = {"role": role, "parts": [{"type": "text", "content": t} for t in texts]}
    reason = text_or_none(finish_reason)
    if reason:
        message["finish_reason"] = reason
    return message


def input_messages(messages: Any, message_texts: TextsReader) -> list[dict[str, Any]]:
    """Chat ``messages`` (or prompt strings) in the conventions' ``gen_ai.input.messages`` shape."""
    if isinstance(messages, str):
        return [{"role": "user", "parts": [{"type": "text", "content": messages}]}]
    result = []
    for message in items(messages):
        if isinstance(message, str):  # a prompt list
            result.append({"role": "user", "parts": [{"type": "text", "content": message}]})
            continue
        parts: list[dict[str, Any]] = [{"type": "text", "content": text} for text in message_texts(message)]
        result.append({"role": _role(message, "user"), "parts": parts})
    return result


def _role(message: Any, default: str) -> str:
    return text_or_none(get(message, "role")) or default


# -- streams -------------------------------------------------------------------------------


class ChatStreamObserverBase:
    """What an observer of chat-completion (or legacy completion) chunks keeps, and its result.

    A subclass reads each chunk in its own ``on_item``, the per-chunk hot path, written for its
    client's chunk types: it keeps the first chunk naming a model as ``_head`` (it carries the
    response's model and id), the finish reason of each choice by index, the last usage seen as
    sent, and the generated text. Its ``result`` reads that usage its own way and calls
    :meth:`_result`.
    """

    __slots__ = ("_injected", "_head", "_reasons", "_usage", "_texts")

    def __init__(self, injected_usage: bool) -> None:
        self._injected = injected_usage
        self._head: Any = None
        self._reasons: dict[int, str] = {}
        self._usage: Any = None
        self._texts: list[str] = []

    def _result(
        self,
        usage: Usage | None,
        service_tier: str | None = None,
        attributes: dict[str, Any] | None = None,
    ) -> CallResult:
        """What the chunks said; ``usage`` as the subclass read it. The output text is kept for
        an estimate only without usage."""
        head = self._head
        reasons = self._reasons
        texts = self._texts
        return CallResult(
            response_model=text_or_none(get(head, "model")),
            response_id=text_or_none(get(head, "id")),
            finish_reasons=tuple([reasons[index] for index in sorted(reasons)]) if reasons else None,
            usage=usage,
            service_tier=service_tier,
            attributes=attributes,
            output_texts=texts if usage is None else None,
            output_messages=lambda: [output_message("assistant", ["".join(texts)], None)],
        )
