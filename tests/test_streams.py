from __future__ import annotations

import asyncio
import gc

import pytest

from otel_tokens._streams import SKIP, AsyncStreamProxy, SyncStreamProxy


class Recorder:
    def __init__(self, skip=()):
        self.items: list[object] = []
        self.ends: list[BaseException | None] = []
        self.skip = set(skip)

    def on_item(self, item):
        self.items.append(item)
        return SKIP if item in self.skip else None

    def on_end(self, error):
        self.ends.append(error)


class Source:
    """An SDK-like stream: iterator, context manager, close(), an extra helper attribute."""

    def __init__(self, items, fail_at=None):
        self._items = iter(items)
        self.fail_at = fail_at
        self.seen = 0
        self.closed = False
        self.response = "http-response"

    def __iter__(self):
        return self

    def __next__(self):
        if self.fail_at is not None and self.seen == self.fail_at:
            raise ConnectionError("dropped")
        self.seen += 1
        return next(self._items)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.closed = True


def test_exhaustion_ends_once_and_proxy_is_transparent():
    observer = Recorder()
    source = Source([1, 2, 3])
    proxy = SyncStreamProxy(source, observer)
    assert isinstance(proxy, Source)
    assert proxy.response == "http-response"
    assert list(proxy) == [1, 2, 3]
    with pytest.raises(StopIteration):
        next(proxy)
    assert observer.ends == [None]


def test_error_mid_stream_is_reraised_and_recorded():
    observer = Recorder()
    proxy = SyncStreamProxy(Source([1, 2, 3], fail_at=1), observer)
    with pytest.raises(ConnectionError, match="dropped"):
        list(proxy)
    assert observer.items == [1]
    assert len(observer.ends) == 1 and isinstance(observer.ends[0], ConnectionError)


def test_close_and_context_exit_end_once():
    observer = Recorder()
    source = Source([1, 2, 3])
    with SyncStreamProxy(source, observer) as proxy:
        next(proxy)
    proxy.close()
    assert source.closed
    assert observer.ends == [None]


def test_skipped_items_are_hidden():
    observer = Recorder(skip={2})
    assert list(SyncStreamProxy(Source([1, 2, 3]), observer)) == [1, 3]
    assert observer.items == [1, 2, 3]


def test_garbage_collection_ends_abandoned_stream():
    observer = Recorder()
    proxy = SyncStreamProxy(Source([1, 2, 3]), observer)
    next(proxy)
    del proxy
    gc.collect()
    assert observer.ends == [None]


def test_state_stays_on_the_proxy_not_the_wrapped_object():
    source = Source([1])
    SyncStreamProxy(source, Recorder())
    assert not any(name.startswith("_self_") for name in vars(source))


class AsyncSource:
    def __init__(self, items):
        self._items = list(items)
        self.closed = False

    def __aiter__(self):
        return self

    async def __anext__(self):
        if not self._items:
            raise StopAsyncIteration
        return self._items.pop(0)

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close()

    async def close(self):
        self.closed = True


def test_async_iteration_context_and_close():
    async def main():
        observer = Recorder()
        source = AsyncSource([1, 2])
        async with AsyncStreamProxy(source, observer) as proxy:
            items = [item async for item in proxy]
        await proxy.close()
        return items, observer.ends, source.closed

    assert asyncio.run(main()) == ([1, 2], [None], True)


def test_observer_failure_does_not_reach_the_user():
    from otel_tokens import _safety

    class Broken(Recorder):
        def on_item(self, item):
            raise ValueError("bug in observer")

    _safety.set_strict(False)
    assert list(SyncStreamProxy(Source([1, 2]), Broken())) == [1, 2]


def test_for_loop_keeps_only_the_iterator_and_still_ends_once_with_the_error():
    observer = Recorder()
    with pytest.raises(ConnectionError):
        for _ in SyncStreamProxy(
            Source([1, 2, 3], fail_at=2), observer
        ):  # the proxy itself is dropped at once
            pass
    assert len(observer.ends) == 1 and isinstance(observer.ends[0], ConnectionError)


def test_iterator_collected_before_its_first_item_ends_the_stream():
    observer = Recorder()
    proxy = SyncStreamProxy(Source([1, 2]), observer)
    iterator = iter(proxy)
    del proxy, iterator
    gc.collect()
    assert observer.ends == [None]


def test_early_break_ends_without_error():
    observer = Recorder()
    for _ in SyncStreamProxy(Source([1, 2, 3]), observer):
        break
    gc.collect()
    assert observer.ends == [None]
