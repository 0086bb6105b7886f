"""Fixtures: the LiteLLM instrumentor, and the real litellm sending to the fake server (../conftest.py).

LiteLLM fetches its model cost map and Anthropic beta-header table from the internet unless told
to use its bundled copies: the variables are set before litellm is imported, and every test runs
with non-loopback connections and DNS look-ups refused, so nothing here can reach the network.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket

for _name in (
    "LITELLM_LOCAL_MODEL_COST_MAP",
    "LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS",
    "LITELLM_LOCAL_BLOG_POSTS",
):
    os.environ.setdefault(_name, "True")

import litellm  # noqa: E402
import pytest  # noqa: E402
from otel_tokens_litellm import LiteLLMInstrumentor  # noqa: E402

litellm.suppress_debug_info = True
litellm.telemetry = False  # older releases only; a no-op attribute on newer ones


def _is_loopback(host: object) -> bool:
    if host in (None, "localhost", b"localhost"):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch):
    """Fail any attempt to resolve or connect to a non-loopback address."""
    real_connect, real_connect_ex, real_getaddrinfo = (
        socket.socket.connect,
        socket.socket.connect_ex,
        socket.getaddrinfo,
    )

    def check(address: object) -> None:
        if isinstance(address, tuple) and not _is_loopback(address[0]):
            raise OSError(f"test tried to reach the network: {address!r}")

    def connect(self, address):
        check(address)
        return real_connect(self, address)

    def connect_ex(self, address):
        check(address)
        return real_connect_ex(self, address)

    def getaddrinfo(host, *args, **kwargs):
        if not _is_loopback(host.decode() if isinstance(host, bytes) else host):
            raise socket.gaierror(f"test tried to resolve {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield


@pytest.fixture(autouse=True)
def _fresh_sdk_clients():
    """Drop the SDK clients litellm caches between calls.

    An openai client keeps ``chat.completions.with_raw_response`` (which litellm calls) as a cached
    property holding the ``create`` it saw first: a client cached in an earlier test would keep that
    test's instrumentation after it was removed.
    """
    cache = getattr(litellm, "in_memory_llm_clients_cache", None)
    if cache is not None:
        cache.flush_cache()
    yield


@pytest.fixture(autouse=True)
async def _close_async_clients():
    """Close the aiohttp sessions litellm opened, on the loop that opened them.

    litellm keeps an async test's sessions in its client cache; flushed without closing, each one
    ends the run with an "Unclosed client session" line on stderr.
    """
    yield
    import asyncio

    try:
        from litellm.llms.custom_httpx.async_client_cleanup import close_litellm_async_clients
    except ImportError:  # a release without it
        return
    # Bounded: on some releases closing a cached client waits on a connection that never ends.
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(close_litellm_async_clients(), 5)


@pytest.fixture
def instrumentor_class():
    return LiteLLMInstrumentor


@pytest.fixture
def openai_api(server):
    """Keyword arguments that send an OpenAI-provider call to the fake server."""
    # max_retries=0: the openai SDK underneath would retry 429/5xx answers on its own.
    return {"api_base": server.url + "/v1", "api_key": "sk-test-secret", "max_retries": 0}
