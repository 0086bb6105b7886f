"""OTLP JSON trace documents -> usage records, one per LLM span.

The documents are ``ExportTraceServiceRequest`` objects in the OTLP JSON encoding, as the
collector's file exporter (the ledger overlay) and the SDKs' file exporters write them. In that
encoding 64-bit integers (times, ``intValue``) arrive as strings and ids as hex; both are parsed
accordingly. A span is an LLM call when it carries ``gen_ai.operation.name`` or
``gen_ai.provider.name``; others are ignored. Each call is priced as recorded on its span
(``gen_ai.usage.cost.amount`` and the ``otel_tokens.cost.*`` parts, with the price source and
data version), never priced again here.

Nothing is dropped silently: a span that cannot be read (no times, a malformed value) and a span
seen twice (the same trace and span id in two files) are counted in :class:`Skips` by reason.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from otel_tokens import semconv
from otel_tokens_cli._records import CostBasis, Skips, TokenClass, UsageRecord

__all__ = ["SpanReader"]

_TAG_PREFIX = semconv.OTEL_TOKENS_TAG_PREFIX
_STATUS_ERROR = (2, "STATUS_CODE_ERROR")


class _Malformed(ValueError):
    """One span's value that cannot be read: the span is skipped with this reason."""


def _value(any_value: Any) -> Any:
    """An OTLP JSON ``AnyValue`` as a Python value (int64 as int, arrays as lists)."""
    if not isinstance(any_value, Mapping):
        raise _Malformed("an attribute value is not an object")
    if "stringValue" in any_value:
        return any_value["stringValue"]
    if "intValue" in any_value:
        try:
            return int(any_value["intValue"])
        except (TypeError, ValueError):
            raise _Malformed(f"intValue {any_value['intValue']!r} is not an integer") from None
    if "doubleValue" in any_value:
        value = any_value["doubleValue"]
        # JSON has no NaN/Infinity: OTLP JSON writes them as strings.
        try:
            return float(value)
        except (TypeError, ValueError):
            raise _Malformed(f"doubleValue {value!r} is not a number") from None
    if "boolValue" in any_value:
        return bool(any_value["boolValue"])
    if "arrayValue" in any_value:
        return [_value(item) for item in any_value["arrayValue"].get("values", [])]
    return None


def _attributes(items: Any) -> dict[str, Any]:
    if items is None:
        return {}
    if not isinstance(items, list):
        raise _Malformed("attributes is not a list")
    found = {}
    for item in items:
        if not isinstance(item, Mapping) or not isinstance(item.get("key"), str):
            raise _Malformed("an attribute has no key")
        found[item["key"]] = _value(item.get("value", {}))
    return found


def _time(span: Mapping[str, Any], field: str) -> datetime:
    raw = span.get(field)
    if raw is None:
        raise _Malformed(f"{field} is missing")
    try:
        nanos = int(raw)  # a string in OTLP JSON; a number from some writers
    except (TypeError, ValueError):
        raise _Malformed(f"{field} {raw!r} is not a time in nanoseconds") from None
    if nanos <= 0:
        raise _Malformed(f"{field} is missing")
    return datetime.fromtimestamp(nanos // 1_000_000_000, UTC).replace(
        microsecond=nanos % 1_000_000_000 // 1000
    )


def _count(attributes: Mapping[str, Any], key: str) -> int:
    value = attributes.get(key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0 or not math.isfinite(value):
        raise _Malformed(f"{key} = {value!r} is not a token count")
    return int(value)


def _usd(attributes: Mapping[str, Any], key: str) -> float | None:
    value = attributes.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise _Malformed(f"{key} = {value!r} is not an amount in USD")
    return float(value)


def _service(resource: Mapping[str, Any]) -> str:
    return str(_attributes(resource.get("attributes")).get("service.name", ""))


class SpanReader:
    """Collects usage records from OTLP JSON documents, skipping and counting what it cannot read.

    Feed documents with :meth:`add`; :attr:`records` and :attr:`skips` hold the result. Spans are
    de-duplicated by (trace id, span id) across every document added.
    """

    def __init__(self) -> None:
        self.records: list[UsageRecord] = []
        self.skips = Skips()
        self._seen: set[tuple[str, str]] = set()

    def add(self, document: Mapping[str, Any], where: str) -> None:
        """Read every LLM span of one ``ExportTraceServiceRequest`` document found at ``where``."""
        resource_spans = document.get("resourceSpans")
        if not isinstance(resource_spans, list):
            self.skips.add("not an OTLP JSON trace document (no resourceSpans)", where)
            return
        for resource_span in resource_spans:
            if not isinstance(resource_span, Mapping):
                self.skips.add("malformed resourceSpans entry", where)
                continue
            try:
                service = _service(resource_span.get("resource") or {})
            except _Malformed as error:
                self.skips.add(f"malformed resource: {error}", where)
                continue
            for scope_span in resource_span.get("scopeSpans") or []:
                spans = scope_span.get("spans") if isinstance(scope_span, Mapping) else None
                for span in spans if isinstance(spans, list) else []:
                    self._add_span(span, service, where)

    def _add_span(self, span: Any, service: str, where: str) -> None:
        if not isinstance(span, Mapping):
            self.skips.add("malformed span", where)
            return
        raw = span.get("attributes")
        keys = (
            {item.get("key") for item in raw if isinstance(item, Mapping)} if isinstance(raw, list) else set()
        )
        if semconv.GEN_AI_OPERATION_NAME not in keys and semconv.GEN_AI_PROVIDER_NAME not in keys:
            return
        identity = (str(span.get("traceId", "")).lower(), str(span.get("spanId", "")).lower())
        if all(identity) and identity in self._seen:
            self.skips.add("duplicate span (same trace and span id)", where)
            return
        try:
            record = _record(span, _attributes(raw), service)
        except _Malformed as error:
            self.skips.add(f"malformed LLM span: {error}", where)
            return
        if all(identity):
            self._seen.add(identity)
        self.records.append(record)


def _record(span: Mapping[str, Any], attributes: Mapping[str, Any], service: str) -> UsageRecord:
    input_tokens = _count(attributes, semconv.GEN_AI_USAGE_INPUT_TOKENS)
    cache_read = _count(attributes, semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS)
    cache_write = _count(attributes, semconv.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS)
    write_1h = min(_count(attributes, semconv.OTEL_TOKENS_USAGE_CACHE_CREATION_1H), cache_write)
    tokens = {
        TokenClass.INPUT: max(0, input_tokens - cache_read - cache_write),
        TokenClass.CACHE_READ: cache_read,
        TokenClass.CACHE_WRITE_5M: cache_write - write_1h,
        TokenClass.CACHE_WRITE_1H: write_1h,
        TokenClass.OUTPUT: _count(attributes, semconv.GEN_AI_USAGE_OUTPUT_TOKENS),
        TokenClass.SEARCH_UNITS: _count(attributes, semconv.OTEL_TOKENS_USAGE_SEARCH_UNITS),
    }
    cost = _usd(attributes, semconv.GEN_AI_USAGE_COST_AMOUNT)
    priced = cost is not None
    class_costs: dict[TokenClass, float] = {}
    if priced:
        parts = {
            TokenClass.INPUT: semconv.OTEL_TOKENS_COST_INPUT,
            TokenClass.CACHE_READ: semconv.OTEL_TOKENS_COST_CACHE_READ,
            TokenClass.OUTPUT: semconv.OTEL_TOKENS_COST_OUTPUT,
        }
        for kind, key in parts.items():
            part = _usd(attributes, key)
            if part is not None:
                class_costs[kind] = part
        writes = _usd(attributes, semconv.OTEL_TOKENS_COST_CACHE_CREATION)
        # The span records one cost for all cache writes: it is the 5-minute class's only when
        # there were no 1-hour writes; otherwise the split is left to the price book's rates.
        if writes is not None and write_1h == 0:
            class_costs[TokenClass.CACHE_WRITE_5M] = writes
    status = span.get("status") or {}
    failed = status.get("code") in _STATUS_ERROR if isinstance(status, Mapping) else False
    model = (
        attributes.get(semconv.GEN_AI_RESPONSE_MODEL) or attributes.get(semconv.GEN_AI_REQUEST_MODEL) or ""
    )
    tags = sorted(
        (key[len(_TAG_PREFIX) :], str(value))
        for key, value in attributes.items()
        if key.startswith(_TAG_PREFIX)
    )
    estimated = attributes.get(semconv.OTEL_TOKENS_USAGE_ESTIMATED) is True
    return UsageRecord(
        start=_time(span, "startTimeUnixNano"),
        end=_time(span, "endTimeUnixNano"),
        service=service,
        provider=str(attributes.get(semconv.GEN_AI_PROVIDER_NAME, "")),
        host=str(attributes.get(semconv.SERVER_ADDRESS, "")),
        model=str(model),
        operation=str(attributes.get(semconv.GEN_AI_OPERATION_NAME, "")),
        tags=tuple(tags),
        requests=1,
        tokens=tokens,
        reasoning_tokens=_count(attributes, semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS),
        cost=cost or 0.0,
        class_costs=class_costs,
        cost_basis=CostBasis.RECORDED,
        price_source=str(attributes.get(semconv.OTEL_TOKENS_PRICE_SOURCE, "")),
        service_tier=str(attributes.get(semconv.OTEL_TOKENS_PRICE_TIER, "")),
        # Our spans say so; another instrumentation's span with tokens and no cost is unpriced too.
        unpriced_requests=0
        if priced
        else int(attributes.get(semconv.OTEL_TOKENS_PRICE_MISSING) is True or _has_usage(tokens)),
        estimated_requests=1 if estimated else 0,
        error_requests=1 if failed or semconv.ERROR_TYPE in attributes else 0,
        input_sizes=((input_tokens, 1),) if input_tokens else (),
    )


def _has_usage(tokens: Mapping[TokenClass, int]) -> bool:
    return any(tokens.values())
