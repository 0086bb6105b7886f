"""Fixtures: the Cohere instrumentor, and cohere v1 and v2 clients of the fake server (../conftest.py)."""

from __future__ import annotations

import inspect
from typing import Any

import cohere
import pytest
from otel_tokens_cohere import CohereInstrumentor

API_KEY = "co-test-secret"


def make_client(cls: Any, url: str) -> Any:
    """A cohere client of class ``cls`` talking to ``url`` that never retries, in every release: 7.x takes
    ``max_retries``; 6.x retries twice by default with no parameter for it; 5.x retries only when asked."""
    kwargs: dict[str, Any] = {"api_key": API_KEY, "base_url": url}
    if "max_retries" in inspect.signature(cls.__init__).parameters:
        kwargs["max_retries"] = 0
    client = cls(**kwargs)
    http = client._client_wrapper.httpx_client
    if hasattr(http, "base_max_retries"):
        http.base_max_retries = 0
    return client


@pytest.fixture
def instrumentor_class():
    return CohereInstrumentor


# Clients are created after `telemetry`: Client.__init__ binds chat/chat_stream onto the instance.
@pytest.fixture
def v1(server, telemetry):
    return make_client(cohere.Client, server.url)


@pytest.fixture
def v2(server, telemetry):
    return make_client(cohere.ClientV2, server.url)


@pytest.fixture
def async_v1(server, telemetry):
    return make_client(cohere.AsyncClient, server.url)


@pytest.fixture
def async_v2(server, telemetry):
    return make_client(cohere.AsyncClientV2, server.url)
