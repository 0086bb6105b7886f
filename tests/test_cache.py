from __future__ import annotations

from otel_tokens._cache import IdentityCache


class URL:
    pass


def test_computed_once_per_key_object_and_context():
    cache: IdentityCache[int] = IdentityCache()
    calls: list[int] = []
    url = URL()

    def compute() -> int:
        calls.append(1)
        return len(calls)

    overrides = {"h": "p"}
    assert cache.get(url, (overrides, str), compute) == 1
    assert cache.get(url, (overrides, str), compute) == 1  # a new but equal context tuple
    assert cache.get(url, ({"h": "q"}, str), compute) == 2  # other overrides: recomputed
    assert cache.get(URL(), (overrides, str), compute) == 3  # other key object


def test_bounded():
    cache: IdentityCache[int] = IdentityCache(max_entries=3)
    keys = [URL() for _ in range(10)]
    for index, key in enumerate(keys):
        cache.get(key, None, lambda index=index: index)
    assert len(cache._entries) <= 3
