from __future__ import annotations

import asyncio
import gc

import pytest

from otel_tokens._streams import SKIP, AsyncStreamProxy, SyncStreamProxy


class Invocation:
    """Stands in for the core's invocation: records how it is ended and the first chunk."""

    def __init__(self, observer):
        self.observer = observer
        self.time_to_first_chunk = None
        self.first_chunks = 0

    def first_chunk(self):
        self.first_chunks += 1
        self.time_to_first_chunk = 0.001

    def end(self, result=None, error=None):
        self.observer.ends.append(error)
        self.observer.results.append(result)


class Recorder:
    """An observer that keeps what it saw; its result is the items seen."""

    def __init__(self, skip=()):
        self.items: list[object] = []
        self.ends: list[BaseException | None] = []
        self.results: list[object] = []
        self.skip = set(skip)
        self.invocation = Invocation(self)

    def on_item(self, item):
        self.items.append(item)
        return SKIP if item in self.skip else None

    def result(self):
        return tuple(self.items)


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
    proxy = SyncStreamProxy(source, observer.invocation, observer)
    assert isinstance(proxy, Source)
    assert proxy.response == "http-response"
    assert list(proxy) == [1, 2, 3]
    with pytest.raises(StopIteration):
        next(proxy)
    assert observer.ends == [None]


def test_error_mid_stream_is_reraised_and_recorded():
    observer = Recorder()
    proxy = SyncStreamProxy(Source([1, 2, 3], fail_at=1), observer.invocation, observer)
    with pytest.raises(ConnectionError, match="dropped"):
        list(proxy)
    assert observer.items == [1]
    assert len(observer.ends) == 1 and isinstance(observer.ends[0], ConnectionError)


def test_close_and_context_exit_end_once():
    observer = Recorder()
    source = Source([1, 2, 3])
    with SyncStreamProxy(source, observer.invocation, observer) as proxy:
        next(proxy)
    proxy.close()
    assert source.closed
    assert observer.ends == [None]


def test_skipped_items_are_hidden():
    observer = Recorder(skip={2})
    assert list(SyncStreamProxy(Source([1, 2, 3]), observer.invocation, observer)) == [1, 3]
    assert observer.items == [1, 2, 3]


def test_garbage_collection_ends_abandoned_stream():
    observer = Recorder()
    proxy = SyncStreamProxy(Source([1, 2, 3]), observer.invocation, observer)
    next(proxy)
    del proxy
    gc.collect()
    assert observer.ends == [None]


def test_state_stays_on_the_proxy_not_the_wrapped_object():
    source = Source([1])
    observer = Recorder()
    SyncStreamProxy(source, observer.invocation, observer)
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
        async with AsyncStreamProxy(source, observer.invocation, observer) as proxy:
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
    observer = Broken()
    assert list(SyncStreamProxy(Source([1, 2]), observer.invocation, observer)) == [1, 2]
    assert observer.ends == [None]


def test_for_loop_keeps_only_the_iterator_and_still_ends_once_with_the_error():
    observer = Recorder()
    with pytest.raises(ConnectionError):
        for _ in SyncStreamProxy(
            Source([1, 2, 3], fail_at=2), observer.invocation, observer
        ):  # the proxy itself is dropped at once
            pass
    assert len(observer.ends) == 1 and isinstance(observer.ends[0], ConnectionError)


def test_iterator_collected_before_its_first_item_ends_the_stream():
    observer = Recorder()
    proxy = SyncStreamProxy(Source([1, 2]), observer.invocation, observer)
    iterator = iter(proxy)
    del proxy, iterator
    gc.collect()
    assert observer.ends == [None]


def test_early_break_ends_without_error():
    observer = Recorder()
    for _ in SyncStreamProxy(Source([1, 2, 3]), observer.invocation, observer):
        break
    gc.collect()
    assert observer.ends == [None]


def test_the_first_chunk_is_noted_once_and_the_result_is_what_the_observer_saw():
    observer = Recorder()
    assert list(SyncStreamProxy(Source([1, 2, 3]), observer.invocation, observer)) == [1, 2, 3]
    assert observer.invocation.first_chunks == 1
    assert observer.results == [(1, 2, 3)]


def test_a_stream_failing_before_its_first_item_ends_without_a_result():
    observer = Recorder()
    with pytest.raises(ConnectionError):
        list(SyncStreamProxy(Source([1, 2], fail_at=0), observer.invocation, observer))
    assert observer.invocation.first_chunks == 0
    assert observer.results == [None]
    assert isinstance(observer.ends[0], ConnectionError)


def test_a_stream_closed_unread_ends_with_the_observer_result():
    observer = Recorder()
    SyncStreamProxy(Source([1, 2]), observer.invocation, observer).close()
    assert observer.results == [()]
    assert observer.ends == [None]


def test_an_observer_may_replace_an_item_it_caused():
    class Replacing(Recorder):
        def on_item(self, item):
            super().on_item(item)
            return item * 10 if item == 2 else None

    observer = Replacing()
    assert list(SyncStreamProxy(Source([1, 2, 3]), observer.invocation, observer)) == [1, 20, 3]
    assert observer.results == [(1, 2, 3)]


def test_async_stream_failing_before_its_first_item_ends_without_a_result():
    class Failing(AsyncSource):
        async def __anext__(self):
            raise ConnectionError("reset")

    async def main():
        observer = Recorder()
        with pytest.raises(ConnectionError):
            async for _ in AsyncStreamProxy(Failing([1]), observer.invocation, observer):
                pass
        return observer

    observer = asyncio.run(main())
    assert observer.results == [None] and isinstance(observer.ends[0], ConnectionError)


def test_an_interrupted_end_is_completed_by_the_next_close():
    """A KeyboardInterrupt while the stream's telemetry is written must not lose the end."""

    class Interrupted(Recorder):
        calls = 0

        def result(self):
            Interrupted.calls += 1
            if Interrupted.calls == 1:
                raise KeyboardInterrupt
            return super().result()

    observer = Interrupted()
    proxy = SyncStreamProxy(Source([1, 2]), observer.invocation, observer)
    with pytest.raises(KeyboardInterrupt):
        list(proxy)
    assert observer.ends == []  # not ended yet...
    proxy.close()
    assert observer.results == [(1, 2)]  # ...until the next close, exactly once
    proxy.close()
    assert len(observer.ends) == 1


def test_a_stream_driven_by_next_sees_skips_and_ends_once():
    observer = Recorder(skip={2})
    proxy = SyncStreamProxy(Source([1, 2, 3]), observer.invocation, observer)
    assert [next(proxy), next(proxy)] == [1, 3]
    with pytest.raises(StopIteration):
        next(proxy)
    assert list(proxy) == []
    assert observer.items == [1, 2, 3]
    assert observer.invocation.first_chunks == 1
    assert observer.ends == [None]


def test_an_async_stream_driven_by_anext_sees_skips_and_ends_once():
    async def main():
        observer = Recorder(skip={2})
        proxy = AsyncStreamProxy(AsyncSource([1, 2, 3]), observer.invocation, observer)
        step = proxy.__anext__()
        assert asyncio.iscoroutine(step)  # as the SDK's own: create_task() accepts it
        items = [await step, await proxy.__anext__()]
        with pytest.raises(StopAsyncIteration):
            await proxy.__anext__()
        return items, observer

    items, observer = asyncio.run(main())
    assert items == [1, 3]
    assert observer.items == [1, 2, 3]
    assert observer.invocation.first_chunks == 1
    assert observer.ends == [None]


def test_an_async_observer_may_skip_replace_and_fail_on_any_item():
    from otel_tokens import _safety

    class Odd(Recorder):
        def on_item(self, item):
            super().on_item(item)
            if item == 3:
                raise ValueError("bug in observer")
            return SKIP if item == 2 else item * 10 if item == 4 else None

    async def main():
        observer = Odd()
        proxy = AsyncStreamProxy(AsyncSource([1, 2, 3, 4, 5]), observer.invocation, observer)
        items = [item async for item in proxy]
        return items, observer

    _safety.set_strict(False)
    items, observer = asyncio.run(main())
    assert items == [1, 3, 40, 5]
    assert observer.results == [(1, 2, 3, 4, 5)]
    assert observer.ends == [None]


def test_an_observer_failing_on_a_later_item_passes_it_on_and_later_items_are_still_seen():
    from otel_tokens import _safety

    class FailsOnce(Recorder):
        def on_item(self, item):
            super().on_item(item)
            if item == 2:
                raise ValueError("bug in observer")
            return None

    _safety.set_strict(False)
    observer = FailsOnce()
    assert list(SyncStreamProxy(Source([1, 2, 3]), observer.invocation, observer)) == [1, 2, 3]
    assert observer.results == [(1, 2, 3)]
    assert observer.ends == [None]


def test_in_strict_mode_an_observer_failure_ends_the_stream_with_it():
    class Broken(Recorder):
        def on_item(self, item):
            super().on_item(item)
            if item == 2:
                raise ValueError("bug in observer")
            return None

    observer = Broken()
    with pytest.raises(ValueError, match="bug in observer"):
        list(SyncStreamProxy(Source([1, 2, 3]), observer.invocation, observer))
    assert len(observer.ends) == 1 and isinstance(observer.ends[0], ValueError)
