"""Process-wide state shared by all instrumentors: settings, the price book, the tokenizer and
the metric tag cardinality guard.

Created lazily so ``opentelemetry-instrument`` (which never calls ``init()``) gets settings
from the environment on first use, and replaced as a whole when ``init()`` is called again.
"""

from __future__ import annotations

import importlib
import importlib.util
import threading

from otel_tokens import _tags
from otel_tokens._settings import Settings
from otel_tokens.pricing import PriceBook
from otel_tokens.tokenize import Tokenizer, configure_default, default_tokenizer

_lock = threading.Lock()
_settings: Settings | None = None
_price_book: PriceBook | None = None
_tokenizer: Tokenizer | None = None
_tokenizer_dir: str | None = None
_tag_guard: _tags.CardinalityGuard | None = None


def settings() -> Settings:
    """The settings in force; loaded from the environment if ``init()`` has not set them."""
    global _settings
    if _settings is None:
        with _lock:
            if _settings is None:
                _apply(Settings.load())
    assert _settings is not None
    return _settings


def set_settings(new: Settings) -> None:
    """Install new settings; the price book and tokenizer are rebuilt from them on next use."""
    with _lock:
        _apply(new)


def _apply(new: Settings) -> None:
    global _settings, _price_book, _tag_guard
    # Build the price book first: an invalid override file must fail before anything changes.
    book = PriceBook(new.price_overrides, auto_update=new.price_auto_update)
    _settings, _price_book = new, book
    _tag_guard = _tags.CardinalityGuard(new.metric_tag_keys, new.max_tag_values)
    _tags.configure(new.baggage_prefix, new.default_tags)


def tag_guard() -> _tags.CardinalityGuard:
    """The one cardinality guard: the tag value limit holds across every instrumented client."""
    settings()
    assert _tag_guard is not None
    return _tag_guard


def price_book() -> PriceBook:
    settings()
    assert _price_book is not None
    return _price_book


_preloading: PriceBook | None = None


def preload_prices() -> None:
    """Load the price data in a background thread, once per price book, off the call path."""
    global _preloading
    book = price_book()
    with _lock:
        if _preloading is book:
            return
        _preloading = book
    # genai-prices imports httpx2, and openai 2.x reads sys.modules["httpx2"] when a client is
    # built: a module still half-imported by our thread there breaks the user's OpenAI(). So that
    # import (~15 ms) happens here, on the caller's thread; the rest (~70 ms) in the background.
    if importlib.util.find_spec("httpx2") is not None:
        importlib.import_module("httpx2")
    threading.Thread(target=book.preload, name="otel-tokens-prices", daemon=True).start()


def tokenizer() -> Tokenizer:
    """The process-wide tokenizer; loaded encodings (tens of MB) are kept unless the source changes."""
    global _tokenizer, _tokenizer_dir
    wanted = settings().tokenizer_dir
    if _tokenizer is None or _tokenizer_dir != wanted:
        with _lock:
            if _tokenizer is None or _tokenizer_dir != wanted:
                configure_default(wanted)
                _tokenizer, _tokenizer_dir = default_tokenizer(), wanted
    return _tokenizer


def reset() -> None:
    """Forget all state (for tests)."""
    global _settings, _price_book, _tokenizer, _tag_guard
    with _lock:
        _settings = _price_book = _tag_guard = None
        _tags.configure("otel_tokens.tag.", {})
