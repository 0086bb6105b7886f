"""Fixtures: the Bedrock instrumentor, and a real boto3 client of the fake server (../conftest.py)."""

from __future__ import annotations

import boto3
import pytest
from botocore.config import Config
from otel_tokens_bedrock import BedrockInstrumentor

# No retries: an error scenario must reach the caller after exactly one request. botocore's
# `max_attempts` counts retries after the first attempt; `total_max_attempts` counts them all.
NO_RETRIES = Config(retries={"total_max_attempts": 1})


@pytest.fixture
def instrumentor_class():
    return BedrockInstrumentor


def make_client(url: str):
    return boto3.client(
        "bedrock-runtime",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="AKIDTESTSECRETKEY",
        aws_secret_access_key="test-secret-access-key",
        config=NO_RETRIES,
    )


@pytest.fixture
def client(server):
    return make_client(server.url)
