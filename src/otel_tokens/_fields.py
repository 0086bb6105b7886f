"""Reading a field from an SDK object or its plain-dict form, for every instrumentor's extractors.

SDKs return pydantic models, dataclasses, TypedDicts or dicts depending on the version and the
call (``with_raw_response``, recorded JSON...); extractors read them all the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_NOT_MAPPINGS: set[type] = set()


def get(obj: Any, name: str) -> Any:
    """``obj.name`` or ``obj[name]``; ``None`` when absent. Never raises."""
    if obj is None:
        return None
    kind = type(obj)
    if kind is dict:
        return obj.get(name)
    value = getattr(obj, name, None)
    # The abstract Mapping check costs 6x a getattr: asked once per type, not once per field.
    if value is None and kind not in _NOT_MAPPINGS:
        if isinstance(obj, Mapping):
            return obj.get(name)
        _NOT_MAPPINGS.add(kind)
    return value


MAX_TEXT_FIELD_LENGTH = 256
"""Longest model name, response id or finish reason kept: longer ones are not what they claim."""


def text_or_none(value: Any) -> str | None:
    """A short text field (model, id, finish reason): ``value`` if it is a non-empty string no
    longer than :data:`MAX_TEXT_FIELD_LENGTH`, else ``None`` (that field alone is lost)."""
    if type(value) is str and value and len(value) <= MAX_TEXT_FIELD_LENGTH:
        return value
    if isinstance(value, str) and value and len(value) <= MAX_TEXT_FIELD_LENGTH:
        return str(value)  # a str subclass or enum member: plain text for the SDK's attribute check
    return None


def items(value: Any) -> list[Any] | tuple[Any, ...]:
    """A list field (``choices``, ``content``, ``tool_calls``...): the list or tuple, else empty."""
    if type(value) is list or type(value) is tuple:
        return value  # type: ignore[no-any-return]
    if isinstance(value, list | tuple):
        return value
    return ()
