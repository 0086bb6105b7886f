"""Garbage for the per-client reader property tests (one copy for every client).

Each client's ``test_extract_properties.py`` puts these values anywhere in its own real response
shapes and checks what its readers make of them: never an exception, every count None or an int
in [0, MAX_TOKEN_COUNT], every text field None or short text, and a bad field lost alone. The
shapes and the exact values expected from them stay in the client's own file.

The readers (and :data:`INVALID_COUNTS`' filter) count invalid values on a per-thread tally;
``tests/instrumentors/conftest.py`` empties it around every test, so that a recorded call in a
later test never takes them for its own.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Iterable
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st

from otel_tokens.instrumentation import MAX_TOKEN_COUNT, CallResult, Usage, count

PROPERTY = settings(max_examples=100, deadline=None)

MAX_TEXT = 256
"""The longest model, id, finish reason or service tier a reader may report."""

ABSURD = [
    2**70,
    -(2**70),
    -1,
    1.5,
    float("inf"),
    float("nan"),
    True,
    False,
    "",
    "12",
    " 7 ",
    "-3",
    "1e3",
    "2.5",
    "\u0663",  # ARABIC-INDIC DIGIT THREE: int() takes it, a count must not
    "x" * 300,
    # Real finish reasons and event names of the clients' shapes, where they do not belong.
    "stop",
    "end_turn",
    "COMPLETE",
    "message-end",
]
"""Edge cases drawn far more often than the general strategies would find them."""

_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**60, max_value=2**80),
    st.integers(max_value=-1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(ABSURD),
)
GARBAGE = st.one_of(
    st.recursive(
        _SCALARS,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
        max_leaves=8,
    ),
    st.builds(object),
)
"""Any JSON-ish value: scalars of every type and range, nested lists and objects, and an object()."""

INVALID_COUNTS = st.one_of(
    # Never a token count, by the documented rule (so not by asking count() itself)...
    st.integers(max_value=-1),
    st.integers(min_value=MAX_TOKEN_COUNT + 1),
    st.booleans(),
    st.floats().filter(lambda value: not (value.is_integer() and 0 <= value <= MAX_TOKEN_COUNT)),
    st.text(max_size=12).filter(lambda text: not (text.strip().isascii() and text.strip().isdigit())),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
    st.builds(object),
    # ...and any other garbage count() rejects.
    GARBAGE.filter(lambda value: value is not None and count(value) is None),
)
"""Values that are never a token count: each must be dropped, and only it."""

NOT_TEXT = st.one_of(GARBAGE.filter(lambda value: not isinstance(value, str)), st.just("m" * (MAX_TEXT + 1)))
"""Values that are never a model, id or finish reason."""


def paths(document: Any, *, whole: bool = True) -> list[tuple[Any, ...]]:
    """Every place in ``document`` a value can be replaced: each dict key and list index, at any
    depth, and (with ``whole``) the empty path, the document itself."""
    found: list[tuple[Any, ...]] = [()] if whole else []
    if isinstance(document, dict | list):
        for key, item in document.items() if isinstance(document, dict) else enumerate(document):
            found.append((key,))
            found.extend((key, *path) for path in paths(item, whole=False))
    return found


def replaced(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    """A deep copy of ``document`` with ``value`` at ``path`` (``value`` itself for the empty path)."""
    if not path:
        return value
    copied = copy.deepcopy(document)
    parent = copied
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return copied


@st.composite
def mangled(draw: st.DrawFn, document: Any) -> Any:
    """``document`` with one value anywhere in it (or the whole of it) replaced by garbage."""
    return replaced(document, draw(st.sampled_from(paths(document))), draw(GARBAGE))


def sdk_form(build: Callable[..., Any]) -> Callable[[Any], Any]:
    """The SDK's own object for a document, built by ``build(**document)`` where the SDK accepts
    it; else the document itself (the SDK would have raised to the user, so no reader sees it)."""

    def form(document: Any) -> Any:
        if not isinstance(document, dict):
            return document
        try:
            return build(**copy.deepcopy(document))
        except Exception:  # noqa: BLE001
            return document

    return form


def streamed(observer: Any, items: Iterable[Any]) -> Any:
    """Feed ``items`` to a stream observer, each of them reaching the user unchanged; its result."""
    for item in items:
        assert observer.on_item(item) is None
    return observer.result()


COUNT_FIELDS = tuple(
    field.name for field in dataclasses.fields(Usage) if field.name not in ("estimated", "estimate_method")
)
"""Every count of a Usage (a new field is checked at once, and fails loudly if it is not a count)."""


def assert_counts_valid(usage: Usage | None) -> None:
    """Each count is None or an int in [0, MAX_TOKEN_COUNT]."""
    if usage is None:
        return
    for name in COUNT_FIELDS:
        value = getattr(usage, name)
        assert value is None or (type(value) is int and 0 <= value <= MAX_TOKEN_COUNT), (name, value)


def assert_usage_but(found: Usage | None, expected: Usage, field: str) -> None:
    """``found`` equals ``expected`` in every field but ``field`` (for an SDK's object: the SDK may
    have put a value of its own there before the reader saw it)."""
    assert found is not None
    blank: dict[str, Any] = {field: None}
    assert dataclasses.replace(found, **blank) == dataclasses.replace(expected, **blank)


def assert_readable(result: CallResult) -> None:
    """What any reader may return, whatever it read: valid counts, text fields as short text,
    output texts as text, output messages (when offered) built without raising, as a list."""
    assert_counts_valid(result.usage)
    for text in (result.response_model, result.response_id, result.service_tier):
        assert text is None or (type(text) is str and 0 < len(text) <= MAX_TEXT), text
    assert result.finish_reasons is None or all(
        type(reason) is str and 0 < len(reason) <= MAX_TEXT for reason in result.finish_reasons
    ), result.finish_reasons
    assert result.output_texts is None or all(type(text) is str for text in result.output_texts)
    if result.output_messages is not None:
        assert isinstance(result.output_messages(), list)
