"""Fixtures: the OpenAI instrumentor, and real openai clients of the fake server (../conftest.py)."""

from __future__ import annotations

import openai
import pytest
from otel_tokens_openai import OpenAIInstrumentor


@pytest.fixture
def instrumentor_class():
    return OpenAIInstrumentor


@pytest.fixture
def client(server):
    return openai.OpenAI(base_url=server.url + "/v1", api_key="sk-test-secret", max_retries=0)


@pytest.fixture
def async_client(server):
    return openai.AsyncOpenAI(base_url=server.url + "/v1", api_key="sk-test-secret", max_retries=0)
