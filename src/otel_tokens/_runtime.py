"""The process state: everything otel-tokens holds for the process, in one object with one reset.

:data:`STATE` holds what ``init()`` configured (settings, the price book, the tokenizer, the
metric tag guard, the instrumentors and the providers it created) and the machinery the process
runs (the background worker, once-only reports, export failures). Settings, prices and the
guard are created lazily, so ``opentelemetry-instrument`` (which never calls ``init()``) gets
them from the environment on first use; ``init()`` replaces them as a whole. Recorders read
them once, when a client is instrumented, never per call.

After ``fork()`` the child keeps the configuration and renews everything tied to the parent's
threads or to its telemetry so far (:meth:`ProcessState.after_fork_in_child`): nothing a child
does waits on a lock or a thread of its parent, and its metrics start from zero under its own
``service.instance.id``. Before a fork, the parent waits for the task its worker is running
(:meth:`otel_tokens._worker.Worker.hold_for_fork`), so no import of ours is half done in the
child.

This module imports no other otel-tokens module at import time, ``semconv``'s constants aside
(those it needs are imported when first used), so every module, down to the guard, can reach
the state.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from otel_tokens.semconv import OTEL_TOKENS_TAG_PREFIX

if TYPE_CHECKING:
    from otel_tokens._export import ExportHealth
    from otel_tokens._guardrails import Guardrails
    from otel_tokens._price_data import Library
    from otel_tokens._providers import CreatedProviders
    from otel_tokens._settings import Settings
    from otel_tokens._tags import CardinalityGuard
    from otel_tokens._worker import Worker
    from otel_tokens.pricing import PriceBook
    from otel_tokens.tokenize import Tokenizer


class ProcessState:
    """Everything otel-tokens holds for this process. One instance: :data:`STATE`."""

    lock: threading.RLock
    """Guards changes to the configuration (``init()``, ``instrument()``, lazy creation)."""
    settings: Settings | None
    price_book: PriceBook | None
    tag_guard: CardinalityGuard | None
    tokenizer: Tokenizer | None
    """The process-wide tokenizer (``otel_tokens.tokenize.default_tokenizer()``)."""
    tokenizer_dir: str | None
    """The directory ``tokenizer`` searches first."""
    price_library: Library | None
    """genai-prices, imported and loaded (``otel_tokens._price_data.load()``)."""
    initialised_with: Settings | None
    """The settings of the last ``init()``; None before it, after ``shutdown()``."""
    instrumentors: dict[str, Any]
    """Entry point name -> instrumentor, for every client otel-tokens patched."""
    created: CreatedProviders | None
    """The providers ``init()`` created (and so flushes, shuts down and renews after a fork)."""
    exit_hook_registered: bool
    worker: Worker | None
    """The background worker, started on first use."""
    worker_failures: list[BaseException]
    """Errors raised by background tasks in strict mode (the project's tests assert it is empty)."""
    reported: set[str]
    """What was already logged once: internal errors by place (``otel_tokens._safety.report``),
    configuration errors (``config:`` + message), unsupported client versions (``version:`` +
    the version found)."""
    baggage_prefix: str
    """Baggage keys under this prefix are tags (``otel_tokens._tags``)."""
    default_tags: Mapping[str, str]
    last_tags: tuple[Any, Mapping[str, str], Mapping[str, str], Mapping[str, str]] | None
    """The last context's effective tags: (otel context, explicit tags, defaults, merged)."""
    live_wrappers: dict[tuple[int, str], Callable[..., Any]]
    """(id(owner), attribute) -> the wrapper of the patch set now active for that method; a
    wrapper of a removed set that could not be taken out hands its calls to it
    (``otel_tokens._patching``)."""
    live_lock: threading.Lock
    export: ExportHealth | None
    """Export failures of the providers ``init()`` created: counted, reported once."""
    guardrails: Guardrails | None
    """The budget policy in force, its store and breakers; None without a policy (the call
    shells then skip the guardrails with one attribute read)."""
    gauge_providers: list[Any]
    """Meter providers the guardrail gauges are registered on (``otel_tokens._guardrail_gauges``)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget everything: the state of a process that has not used otel-tokens yet.

        For tests. Tasks already queued on the worker run first (bounded), so nothing of a
        previous test lands in the next one, and the clients instrumented are uninstrumented.
        Providers ``init()`` created are not shut down: ``otel_tokens.shutdown()`` does that.
        """
        worker = getattr(self, "worker", None)
        if worker is not None:
            worker.flush(10.0)
        for instrumentor in getattr(self, "instrumentors", {}).values():
            instrumentor.uninstrument()
        self.lock = threading.RLock()
        self.settings = self.price_book = self.tag_guard = None
        self.tokenizer = self.tokenizer_dir = None
        self.price_library = None
        self.initialised_with = None
        self.instrumentors = {}
        self.created = None
        self.exit_hook_registered = False
        self.worker = None
        self.worker_failures = []
        self.reported = set()
        self.export = None
        self.baggage_prefix = OTEL_TOKENS_TAG_PREFIX
        self.default_tags = MappingProxyType({})
        self.last_tags = None
        self.live_wrappers = {}
        self.live_lock = threading.Lock()
        guardrails = getattr(self, "guardrails", None)
        if guardrails is not None:
            guardrails.store.close()
        self.guardrails = None
        self.gauge_providers = []

    def before_fork(self) -> None:
        """In the parent, before ``fork()``: let the worker finish the task in hand."""
        if self.worker is not None:
            self.worker.hold_for_fork()

    def after_fork_in_parent(self) -> None:
        if self.worker is not None:
            self.worker.release_after_fork()

    def after_fork_in_child(self) -> None:
        """In the child, right after ``fork()``: keep the configuration, renew the rest.

        Renewed: every lock (a thread of the parent may have held one; that thread does not
        exist here), the worker (the parent's queued tasks are the parent's to finish), the
        tokenizers' unfinished loads, the price book's lock, the tag guard's values, the once-
        only reports and export counts. Only modules already imported can hold state, so the
        others are not imported here.
        """
        self.lock = threading.RLock()
        self.live_lock = threading.Lock()
        self.worker = None
        self.worker_failures = []
        self.reported = set()
        tokenize = sys.modules.get("otel_tokens.tokenize")
        if tokenize is not None:
            tokenize._after_fork_in_child()
        if self.price_book is not None:
            self.price_book.after_fork_in_child()
        if self.tag_guard is not None and self.settings is not None:
            # Same object (recorders hold it), empty again: the child's metrics start from zero,
            # so its own tag values must not count against the limit twice.
            self.tag_guard.__init__(self.settings.metric_tag_keys, self.settings.max_tag_values)  # type: ignore[misc]
        if self.export is not None:
            self.export.after_fork_in_child()
        if self.guardrails is not None:
            self.guardrails.after_fork_in_child()
        # The providers init() created are renewed by a hook of their own
        # (otel_tokens._providers.after_fork_in_child), registered after the SDK's hooks of those
        # providers so that it runs after them.


STATE = ProcessState()
"""The one process state."""

if hasattr(os, "register_at_fork"):  # not on Windows
    os.register_at_fork(
        before=STATE.before_fork,
        after_in_parent=STATE.after_fork_in_parent,
        after_in_child=STATE.after_fork_in_child,
    )


def settings() -> Settings:
    """The settings in force; loaded from the environment if ``init()`` has not set them."""
    current = STATE.settings
    if current is None:
        from otel_tokens._settings import Settings

        with STATE.lock:
            if STATE.settings is None:
                _apply(Settings.load())
            current = STATE.settings
    assert current is not None
    return current


def set_settings(new: Settings) -> None:
    """Install new settings; the price book and tag guard are rebuilt from them now, the
    tokenizer on next use when its directory changed."""
    with STATE.lock:
        _apply(new)


def _apply(new: Settings) -> None:
    from otel_tokens import _tags
    from otel_tokens._guardrail_setup import build_guardrails, install_guardrails
    from otel_tokens.pricing import PriceBook

    # Build the price book and the guardrails first: an invalid override file or an unusable
    # budget store must fail before anything changes.
    book = PriceBook(new.price_overrides, auto_update=new.price_auto_update)
    guardrails = build_guardrails(new, book)
    STATE.settings, STATE.price_book = new, book
    STATE.tag_guard = _tags.CardinalityGuard(new.metric_tag_keys, new.max_tag_values)
    _tags.configure(new.baggage_prefix, new.default_tags)
    install_guardrails(guardrails)


def tag_guard() -> CardinalityGuard:
    """The one cardinality guard: the tag value limit holds across every instrumented client."""
    settings()
    assert STATE.tag_guard is not None
    return STATE.tag_guard


def price_book() -> PriceBook:
    settings()
    assert STATE.price_book is not None
    return STATE.price_book


def load_prices() -> None:
    """Load the price data now, on the caller's thread: once per process (40-70 ms where pydantic
    is already imported, as with the openai SDK; a few hundred ms otherwise), then nothing.

    On the caller's thread and not in the background, because loading is mostly importing
    (genai-prices, pydantic, the price data module): a background thread would hold their
    import locks for that long, and a ``fork()`` landing meanwhile (gunicorn ``--preload``,
    uWSGI, a ``multiprocessing`` pool) would leave them held forever in the child.
    """
    price_book().preload()


def tokenizer() -> Tokenizer:
    """The process-wide tokenizer; loaded encodings (tens of MB) are kept unless the source changes."""
    wanted = settings().tokenizer_dir
    current = STATE.tokenizer
    if current is None or STATE.tokenizer_dir != wanted:
        from otel_tokens.tokenize import configure_default

        with STATE.lock:
            if STATE.tokenizer is None or STATE.tokenizer_dir != wanted:
                configure_default(wanted)
            current = STATE.tokenizer
    assert current is not None
    return current


def reset() -> None:
    """Forget all state (for tests): :meth:`ProcessState.reset`."""
    STATE.reset()
