"""A small cache keyed by an object's identity, for per-client facts read on every call.

An SDK client's base URL (or similar object) rarely changes, and the SDK replaces the object
when it does; parsing it into ``(provider, host, port)`` on every call costs microseconds. The
cache keeps the key object alive beside its value, so its id cannot be reused by another
object while the entry exists, and it is bounded: past ``max_entries`` it starts over.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")


class IdentityCache(Generic[V]):
    """``get(key, context, compute)``: ``compute()`` once per (key object, context) pair.

    ``context`` is anything else that decides the value (the host overrides in force, the
    client's type...); compared by identity first, then by equality (a tuple built per call
    compares its items by identity first, so that stays cheap).
    """

    __slots__ = ("_entries", "_max")

    def __init__(self, max_entries: int = 256) -> None:
        self._entries: dict[int, tuple[object, object, V]] = {}
        self._max = max_entries

    def get(self, key: object, context: object, compute: Callable[[], V]) -> V:
        found = self._entries.get(id(key))
        if found is not None and found[0] is key and (found[1] is context or found[1] == context):
            return found[2]
        value = compute()
        if len(self._entries) >= self._max:
            self._entries.clear()
        self._entries[id(key)] = (key, context, value)
        return value

    def clear(self) -> None:
        self._entries.clear()
