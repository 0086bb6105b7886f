from __future__ import annotations

from collections import UserDict
from types import SimpleNamespace

from otel_tokens._fields import get


def test_reads_attributes_dicts_and_other_mappings_alike():
    assert get(SimpleNamespace(model="m"), "model") == "m"
    assert get({"model": "m"}, "model") == "m"
    assert get(UserDict(model="m"), "model") == "m"  # a Mapping that is not a dict
    assert get(UserDict(model="m"), "model") == "m"  # and again, once its type is known


def test_absent_fields_and_none_read_as_none():
    assert get(None, "model") is None
    assert get({}, "model") is None
    assert get(SimpleNamespace(), "model") is None
    assert get(42, "model") is None
