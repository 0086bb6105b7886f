"""MemoryStore keeps the budget store contract (tests/_store_contract.py)."""

from __future__ import annotations

import pytest

from otel_tokens._budget_store import MemoryStore

from ._store_contract import StoreContract


class TestMemoryStore(StoreContract):
    @pytest.fixture
    def store(self):
        store = MemoryStore()
        yield store
        store.close()
