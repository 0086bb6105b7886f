"""Fixtures: the Mistral AI instrumentor, and a real mistralai client of the fake server (../conftest.py)."""

from __future__ import annotations

import pytest
from otel_tokens_mistralai import MistralAIInstrumentor

from .sdk import Mistral

API_KEY = "mistral-test-secret"


@pytest.fixture
def instrumentor_class():
    return MistralAIInstrumentor


@pytest.fixture
def client(server):
    # The SDK retries only when given a retry config; none here, so an error is one request.
    return Mistral(api_key=API_KEY, server_url=server.url)
