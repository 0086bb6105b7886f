"""The Google Gemini API (and Vertex AI) wire format for the fake provider server, as pure functions.

Routes, as the google-genai SDK sends them:

* Gemini Developer API: ``/v1beta/models/{model}:generateContent``, ``:streamGenerateContent?alt=sse``
  (server-sent events, each a whole ``GenerateContentResponse``), ``:embedContent``,
  ``:batchEmbedContents``, ``:countTokens`` (also under ``/v1`` and ``/v1alpha``, and for
  ``tunedModels/{id}``);
* Vertex AI: the same methods under ``/v1beta1/projects/{p}/locations/{l}/publishers/google/models/{model}``
  (or ``/v1``; express mode drops ``projects/.../locations/...``), plus ``:predict`` for the text-embedding
  models, whose predictions carry ``statistics.token_count`` and ``metadata.billableCharacterCount``.

``usageMetadata`` is shaped like the recorded responses (``shared/recorded/gcp.gemini``): camelCase counts,
``promptTokensDetails`` by modality, and ``thoughtsTokenCount`` *beside* ``candidatesTokenCount``, so
``totalTokenCount`` = prompt + candidates + thoughts (+ ``toolUsePromptTokenCount`` when given).
Scenario fields in this shape: ``prompt_tokens`` is ``promptTokenCount`` (which includes the cached part),
``completion_tokens`` is ``candidatesTokenCount`` (thoughts NOT included, unlike OpenAI's
``completion_tokens``), ``reasoning_tokens`` is ``thoughtsTokenCount``, ``cached_tokens`` is
``cachedContentTokenCount``; ``usage_fields`` are merged into ``usageMetadata`` verbatim. In a stream every
chunk carries ``usageMetadata`` with counts so far (as the real API does) and the last one the final counts.
``include_usage=False`` drops ``usageMetadata`` everywhere; embeddings on the Gemini API carry none (as the
real ``batchEmbedContents`` does) unless ``include_usage=True``. Errors use Google's
``{"error": {"code", "message", "status"}}`` body.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import TYPE_CHECKING, Any

from ._openai_wire import Reply, dumps, embedding_vector, split_text, stream_reply

if TYPE_CHECKING:
    from ._server import ReceivedRequest, Scenario

JSON = dict[str, Any]
Event = tuple[bytes, bool]
JSON_CONTENT_TYPE = "application/json; charset=UTF-8"
SSE_CONTENT_TYPE = "text/event-stream"

_ROUTE = re.compile(
    r"^/(?P<version>v1|v1beta|v1alpha|v1beta1)/"
    r"(?P<vertex>(?:projects/[^/]+/locations/[^/]+/)?publishers/google/)?"
    r"(?P<model>(?:models|tunedModels)/[^/:]+)"
    r":(?P<op>generateContent|streamGenerateContent|embedContent|batchEmbedContents|predict|countTokens)$"
)
_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
# Scenario finish reasons in OpenAI's words -> Gemini's FinishReason values.
_FINISH = {"stop": "STOP", "length": "MAX_TOKENS", "content_filter": "SAFETY", "tool_calls": "STOP"}


def handles(request: ReceivedRequest) -> bool:
    """Whether this wire format answers `request`: a Gemini API or Vertex AI publisher-model path."""
    return _ROUTE.match(request.path) is not None


def dispatch(request: ReceivedRequest, scenario: Scenario) -> Reply:
    """Answer `request` the way the Gemini API (or Vertex AI, by path) would under `scenario`."""
    match = _ROUTE.match(request.path)
    if request.method != "POST" or match is None:
        return error_reply(404, f"Method not found: {request.method} {request.path}")
    body = request.body
    if not isinstance(body, dict):
        return error_reply(400, "Invalid JSON payload received.")
    if scenario.error_status is not None:
        return error_reply(scenario.error_status, scenario.error_message, scenario.error_type)
    op = match["op"]
    vertex = match["vertex"] is not None
    model = scenario.model or match["model"].split("/", 1)[1]
    if op == "streamGenerateContent":
        events = stream_events(body, scenario, model, vertex)
        if request.query.get("alt") != "sse":
            # Without alt=sse the API answers one JSON array of the same chunks.
            return _json_reply(b"[" + b",".join(_payload(event) for event, _ in events) + b"]", scenario)
        if scenario.malformed:
            first = _payload(events[0][0])
            return Reply(200, SSE_CONTENT_TYPE, events=(b"data: " + first[: len(first) // 2] + b"\r\n\r\n",))
        return stream_reply(events, scenario.fail_after_chunks, SSE_CONTENT_TYPE)
    responders = {
        "generateContent": lambda: generate_content(body, scenario, model, vertex),
        "embedContent": lambda: embed_content(body, scenario, vertex),
        "batchEmbedContents": lambda: batch_embed_contents(body, scenario),
        "predict": lambda: predict_embeddings(body, scenario),
        "countTokens": lambda: {"totalTokens": prompt_tokens(body, scenario)},
    }
    return _json_reply(dumps(responders[op]()), scenario)


def error_reply(status: int, message: str | None = None, status_name: str | None = None) -> Reply:
    """Google's error body: ``{"error": {"code": 400, "message": "...", "status": "INVALID_ARGUMENT"}}``."""
    name = status_name or _STATUS_NAMES.get(status, "INTERNAL" if status >= 500 else "FAILED_PRECONDITION")
    error = {"code": status, "message": message or f"The request failed with status {name}.", "status": name}
    return Reply(status, JSON_CONTENT_TYPE, dumps({"error": error}))


def _json_reply(encoded: bytes, scenario: Scenario) -> Reply:
    if scenario.malformed:
        encoded = encoded[: len(encoded) // 2]
    return Reply(200, JSON_CONTENT_TYPE, encoded)


def _payload(event: bytes) -> bytes:
    return event[len(b"data: ") :].rstrip(b"\r\n")


# --- request text ------------------------------------------------------------------------------------


def request_texts(body: JSON) -> list[str]:
    """Text parts of a request's ``contents``, ``systemInstruction`` and embedding inputs."""
    texts: list[str] = []
    contents = body.get("contents") or []
    instruction = body.get("systemInstruction")
    for content in [*contents, instruction, body.get("content")]:
        if isinstance(content, dict):
            texts.extend(_part_texts(content.get("parts")))
    for item in body.get("requests") or []:  # batchEmbedContents
        if isinstance(item, dict) and isinstance(item.get("content"), dict):
            texts.extend(_part_texts(item["content"].get("parts")))
    for instance in body.get("instances") or []:  # Vertex predict
        if isinstance(instance, dict) and isinstance(instance.get("content"), str):
            texts.append(instance["content"])
    return texts


def _part_texts(parts: Any) -> list[str]:
    texts = []
    for part in parts if isinstance(parts, list) else []:
        if isinstance(part, dict):
            if isinstance(part.get("text"), str):
                texts.append(part["text"])
            for key in ("functionCall", "functionResponse"):
                if isinstance(part.get(key), dict):
                    texts.append(json.dumps(part[key]))
    return texts


def prompt_tokens(body: JSON, scenario: Scenario) -> int:
    """``scenario.prompt_tokens``, else max(1, characters // 4) over the request's text."""
    if scenario.prompt_tokens is not None:
        return scenario.prompt_tokens
    return max(1, sum(len(text) for text in request_texts(body)) // 4)


def _tool_name(body: JSON, scenario: Scenario) -> str | None:
    """The first function the request declares, when the scenario asks for a function call."""
    if not scenario.tool_call:
        return None
    for tool in body.get("tools") or []:
        declarations = tool.get("functionDeclarations") if isinstance(tool, dict) else None
        for declaration in declarations or []:
            if isinstance(declaration, dict) and isinstance(declaration.get("name"), str):
                return str(declaration["name"])
    return None


# --- generateContent ---------------------------------------------------------------------------------


def _usage(prompt: int, candidates: int | None, scenario: Scenario, vertex: bool) -> JSON:
    usage: JSON = {"promptTokenCount": prompt}
    if candidates is not None:
        usage["candidatesTokenCount"] = candidates
    total = prompt + (candidates or 0) + scenario.reasoning_tokens
    extra = {**scenario.usage_fields}
    tool_use = extra.get("toolUsePromptTokenCount")
    if isinstance(tool_use, int):
        total += tool_use
    usage["totalTokenCount"] = total
    if scenario.cached_tokens:
        usage["cachedContentTokenCount"] = scenario.cached_tokens
    usage["promptTokensDetails"] = [{"modality": "TEXT", "tokenCount": prompt}]
    if scenario.cached_tokens:
        usage["cacheTokensDetails"] = [{"modality": "TEXT", "tokenCount": scenario.cached_tokens}]
    if candidates is not None and vertex:
        usage["candidatesTokensDetails"] = [{"modality": "TEXT", "tokenCount": candidates}]
    if scenario.reasoning_tokens:
        usage["thoughtsTokenCount"] = scenario.reasoning_tokens
    if vertex:
        usage["trafficType"] = "ON_DEMAND"
    usage.update(extra)
    return usage


def _candidate_count(body: JSON) -> int:
    config = body.get("generationConfig")
    count = config.get("candidateCount") if isinstance(config, dict) else None
    return count if isinstance(count, int) and not isinstance(count, bool) and count > 0 else 1


def _output(body: JSON, scenario: Scenario) -> tuple[list[JSON], str, str]:
    """The parts of one candidate, the text they amount to, and the finish reason."""
    tool = _tool_name(body, scenario)
    if tool is not None:
        try:
            args = json.loads(scenario.tool_arguments)
        except ValueError:
            args = {}
        return [{"functionCall": {"name": tool, "args": args}}], scenario.tool_arguments, "STOP"
    finish = _FINISH.get(scenario.finish_reason, scenario.finish_reason.upper())
    return [{"text": scenario.text}], scenario.text, finish


def _head(model: str, vertex: bool) -> JSON:
    head: JSON = {"modelVersion": model, "responseId": uuid.uuid4().hex[:22]}
    if vertex:
        head["createTime"] = "2026-01-01T00:00:00.000000Z"
    return head


def generate_content(body: JSON, scenario: Scenario, model: str, vertex: bool = False) -> JSON:
    """A ``GenerateContentResponse``: candidates (text or one function call) and usage per the scenario."""
    parts, output, finish = _output(body, scenario)
    count = _candidate_count(body)
    candidates = [
        {"content": {"parts": parts, "role": "model"}, "finishReason": finish, "index": i}
        for i in range(count)
    ]
    response: JSON = {"candidates": candidates}
    if scenario.include_usage is not False:
        completion = scenario.completion_tokens
        if completion is None:
            completion = (max(1, len(output) // 4) if output else 0) * count
        response["usageMetadata"] = _usage(prompt_tokens(body, scenario), completion, scenario, vertex)
    response.update(_head(model, vertex))
    return response


def stream_events(body: JSON, scenario: Scenario, model: str, vertex: bool = False) -> list[Event]:
    """``GenerateContentResponse`` chunks as SSE events; the last has the finish reason and final usage."""
    parts, output, finish = _output(body, scenario)
    head = _head(model, vertex)
    prompt = prompt_tokens(body, scenario)
    completion = scenario.completion_tokens
    if completion is None:
        completion = max(1, len(output) // 4) if output else 0
    pieces: list[list[JSON]] = (
        [[{"text": piece}] for piece in split_text(output, scenario.chunks)]
        if "text" in parts[0]
        else [parts]
    ) or [[{"text": ""}]]
    events: list[Event] = []
    for number, piece in enumerate(pieces, start=1):
        last = number == len(pieces)
        candidate: JSON = {"content": {"parts": piece, "role": "model"}, "index": 0}
        if last:
            candidate["finishReason"] = finish
        chunk: JSON = {"candidates": [candidate]}
        if scenario.include_usage is not False:
            so_far = completion if last else completion * number // len(pieces)
            chunk["usageMetadata"] = _usage(prompt, so_far, scenario, vertex)
        chunk.update(head)
        events.append((b"data: " + dumps(chunk) + b"\r\n\r\n", True))
    return events


# --- embeddings --------------------------------------------------------------------------------------


def _dimensions(value: Any, scenario: Scenario) -> int:
    return (
        value
        if isinstance(value, int) and not isinstance(value, bool) and value > 0
        else scenario.embedding_dims
    )


def _embedding_usage(tokens: int) -> JSON:
    return {
        "promptTokenCount": tokens,
        "totalTokenCount": tokens,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": tokens}],
    }


def embed_content(body: JSON, scenario: Scenario, vertex: bool) -> JSON:
    """``embedContent``: one embedding; Vertex adds ``usageMetadata`` (and so may the scenario)."""
    text = " ".join(request_texts(body))
    config = body.get("embedContentConfig")
    requested = body.get("outputDimensionality") or (
        config.get("outputDimensionality") if isinstance(config, dict) else None
    )
    response: JSON = {"embedding": {"values": embedding_vector(text, _dimensions(requested, scenario))}}
    if (vertex and scenario.include_usage is not False) or scenario.include_usage:
        response["usageMetadata"] = _embedding_usage(prompt_tokens(body, scenario))
    if vertex:
        response["truncated"] = False
    return response


def batch_embed_contents(body: JSON, scenario: Scenario) -> JSON:
    """``batchEmbedContents`` (Gemini API): one embedding per request, no usage unless asked for."""
    requests = [item for item in body.get("requests") or [] if isinstance(item, dict)]
    embeddings = []
    for item in requests:
        content = item.get("content")
        text = " ".join(_part_texts(content.get("parts"))) if isinstance(content, dict) else ""
        dims = _dimensions(item.get("outputDimensionality"), scenario)
        embeddings.append({"values": embedding_vector(text, dims)})
    response: JSON = {"embeddings": embeddings}
    if scenario.include_usage:
        response["usageMetadata"] = _embedding_usage(prompt_tokens(body, scenario))
    return response


def predict_embeddings(body: JSON, scenario: Scenario) -> JSON:
    """Vertex ``:predict`` for text-embedding models: per-instance token counts and billable characters."""
    texts = [
        str(instance.get("content") or "")
        for instance in body.get("instances") or []
        if isinstance(instance, dict)
    ]
    parameters = body.get("parameters")
    dims = _dimensions(
        parameters.get("outputDimensionality") if isinstance(parameters, dict) else None, scenario
    )
    counts = [max(1, len(text) // 4) for text in texts]
    if scenario.prompt_tokens is not None and counts:
        share, rest = divmod(scenario.prompt_tokens, len(counts))
        counts = [share + (rest if i == 0 else 0) for i in range(len(counts))]
    predictions = [
        {
            "embeddings": {
                "values": embedding_vector(text, dims),
                "statistics": {"truncated": False, "token_count": n},
            }
        }
        for text, n in zip(texts, counts, strict=True)
    ]
    billable = sum(len("".join(text.split())) for text in texts)
    return {"predictions": predictions, "metadata": {"billableCharacterCount": billable}}
