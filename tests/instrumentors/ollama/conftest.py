"""Fixtures: the Ollama instrumentor, and real ollama clients of the fake server (../conftest.py)."""

from __future__ import annotations

import ollama
import pytest
from otel_tokens_ollama import OllamaInstrumentor


@pytest.fixture
def instrumentor_class():
    return OllamaInstrumentor


@pytest.fixture
def client(server):
    return ollama.Client(host=server.url)


@pytest.fixture
def async_client(server):
    return ollama.AsyncClient(host=server.url)


@pytest.fixture
def default_client(server):
    """The default Client behind ``ollama.chat`` & co., pointed at the fake server for one test."""
    http = ollama._client._client  # the package's `_client` attribute is its default Client
    original = http.base_url
    http.base_url = server.url
    yield
    http.base_url = original
