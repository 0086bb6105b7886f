"""The genai-prices models as candidates: a model's family of cheaper-model candidates and each
model's context window, read from the price data the SDK ships (no network)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from otel_tokens import _price_data

if TYPE_CHECKING:
    from genai_prices.types import ModelInfo, Provider

__all__ = ["ModelCatalog"]

# Price keys of token models; a model priced in anything else (audio, images, characters,
# hours) is a specialised one, no candidate for a text feature.
_TEXT_PRICE_KEYS = _price_data._MODELLED_PRICE_KEYS | {"web_searches_kcount", "storage_searches_kcount"}
# Words that mark a specialised model in a name: one is a candidate only for a model that
# carries the same word (an embedding model for an embedding model).
_SPECIALISED = ("audio", "realtime", "transcribe", "tts", "image", "search", "embedding", "computer-use")


class ModelCatalog:
    """The genai-prices models: a model's family of candidates and context windows. Loads the
    price data on first use (as the price book does)."""

    def __init__(self) -> None:
        self._snapshot: Any = None

    def _find(self, provider: str, model: str) -> tuple[Provider, ModelInfo] | None:
        if self._snapshot is None:
            self._snapshot = _price_data.load().data_snapshot.get_snapshot()
        try:
            return _price_data.find_model(self._snapshot, provider, model)
        except LookupError:
            return None

    def context_window(self, provider: str, model: str) -> int | None:
        """The model's context window in tokens, when the price data has one."""
        found = self._find(provider, model)
        return None if found is None else found[1].context_window

    def family(self, provider: str, model: str) -> list[str]:
        """The candidates for ``model``: the other models of the genai-prices provider whose list
        prices it, that are current text models of the same kind. Left out: deprecated models,
        models without a context window in the data (legacy completions, image and speech
        models), models priced in anything but tokens, fine-tunes, models without an output price
        when the current one has one (and the reverse: embeddings stay with embeddings), and
        models named for a speciality (audio, realtime, search...) the current one lacks."""
        found = self._find(provider, model)
        if found is None:
            return []
        owner, current = found
        if not any(info is current for info in owner.models):
            # A model the provider borrows (Azure's OpenAI models): the lender's list.
            lenders = [p for p in self._snapshot.providers if any(info is current for info in p.models)]
            owner = lenders[0] if lenders else owner
        now = datetime.now(UTC)
        current_prices = current.get_prices(now)
        names = []
        for info in owner.models:
            if info is current or info.deprecated or not info.context_window:
                continue
            if info.id.startswith("ft:") or ".ft-" in info.id:
                continue
            prices = info.get_prices(now)
            keys = {
                key for key, value in prices.__dict__.items() if value is not None and not key.startswith("_")
            }
            if not keys <= _TEXT_PRICE_KEYS or "input_mtok" not in keys:
                continue
            if ("output_mtok" in keys) != (current_prices.output_mtok is not None):
                continue
            if any(word in info.id and word not in current.id for word in _SPECIALISED):
                continue
            names.append(info.id)
        return names
