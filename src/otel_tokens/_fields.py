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
