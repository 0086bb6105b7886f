"""Fixtures: the google-genai instrumentor, and google-genai clients of the fake server (../conftest.py)."""

from __future__ import annotations

import pytest
from google import genai
from google.genai import types
from otel_tokens_fake_providers import FakeProviderServer
from otel_tokens_google_genai import GoogleGenAIInstrumentor

API_KEY = "gemini-test-secret"
VERTEX_TOKEN = "vertex-test-token"


@pytest.fixture
def instrumentor_class():
    return GoogleGenAIInstrumentor


def gemini_client(server: FakeProviderServer) -> genai.Client:
    """The Gemini Developer API client, pointed at the fake server (the SDK does not retry by default)."""
    return genai.Client(
        api_key=API_KEY, http_options=types.HttpOptions(base_url=server.url, api_version="v1beta")
    )


def vertex_client(server: FakeProviderServer) -> genai.Client:
    """A Vertex AI mode client with a fixed OAuth token (no Google auth round trip)."""
    from google.oauth2.credentials import Credentials

    return genai.Client(
        vertexai=True,
        project="test-project",
        location="us-central1",
        credentials=Credentials(token=VERTEX_TOKEN),
        http_options=types.HttpOptions(base_url=server.url, api_version="v1beta1"),
    )


@pytest.fixture
def client(server):
    return gemini_client(server)


@pytest.fixture
def vertex(server):
    return vertex_client(server)
