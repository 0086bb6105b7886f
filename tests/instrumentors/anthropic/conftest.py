"""Fixtures: the Anthropic instrumentor, and anthropic clients of the fake server (../conftest.py)."""

from __future__ import annotations

import anthropic
import pytest
from otel_tokens_anthropic import AnthropicInstrumentor

API_KEY = "sk-ant-test-secret"


@pytest.fixture
def instrumentor_class():
    return AnthropicInstrumentor


@pytest.fixture
def client(server):
    return anthropic.Anthropic(base_url=server.url, api_key=API_KEY, max_retries=0)


@pytest.fixture
def async_client(server):
    return anthropic.AsyncAnthropic(base_url=server.url, api_key=API_KEY, max_retries=0)
