"""Recorded real provider exchanges (shared/recorded), read in place for replay tests.

The folder lives outside the repository; tests that need it skip with a clear reason when it is absent.
Set OTEL_TOKENS_RECORDED_DIR to use another copy.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from otel_tokens_fake_providers import RawResponse

RECORDED_DIR = Path(
    os.environ.get("OTEL_TOKENS_RECORDED_DIR")
    or Path(__file__).resolve().parents[1].parent / "shared" / "recorded"
)
_MISSING_REASON = f"recorded exchanges not found at {RECORDED_DIR} (set OTEL_TOKENS_RECORDED_DIR)"

#: Marks a test that reads the recorded exchanges: skipped when the folder is absent.
recorded = pytest.mark.skipif(not (RECORDED_DIR / "index.json").is_file(), reason=_MISSING_REASON)


def load_exchanges(
    providers: Iterable[str] | None = None, clients: Iterable[str] | None = None
) -> list[dict[str, Any]]:
    """The exchanges listed in index.json, filtered by provider and client, in index order.

    Each is the file's JSON plus a "file" key (its path relative to RECORDED_DIR). Returns [] when the
    folder is absent.
    """
    index_path = RECORDED_DIR / "index.json"
    if not index_path.is_file():
        return []
    wanted_providers = set(providers) if providers is not None else None
    wanted_clients = set(clients) if clients is not None else None
    exchanges = []
    for entry in json.loads(index_path.read_text(encoding="utf-8")):
        if wanted_providers is not None and entry["provider"] not in wanted_providers:
            continue
        if wanted_clients is not None and entry["client"] not in wanted_clients:
            continue
        exchange = json.loads((RECORDED_DIR / entry["file"]).read_text(encoding="utf-8"))
        exchange["file"] = entry["file"]
        exchanges.append(exchange)
    return exchanges


def exchange_params(
    providers: Iterable[str] | None = None, clients: Iterable[str] | None = None
) -> list[Any]:
    """`pytest.param`s of the matching exchanges, one id per file; one skipped param if none exist."""
    exchanges = load_exchanges(providers, clients)
    if not exchanges:
        return [pytest.param(None, id="no-recordings", marks=pytest.mark.skip(reason=_MISSING_REASON))]
    return [pytest.param(e, id=e["file"]) for e in exchanges]


def expected_path(exchange: dict[str, Any]) -> str:
    """The recorded request target: path plus "?query" when there was one."""
    path, query = str(exchange["request"]["path"]), str(exchange["request"]["query"])
    return f"{path}?{query}" if query else path


def raw_response(exchange: dict[str, Any]) -> RawResponse:
    """The recorded response as a `RawResponse` that insists on the recorded path and query."""
    response = exchange["response"]
    # Binary bodies (AWS event-stream) are stored as base64; everything else as decoded text.
    body: bytes | str = (
        base64.b64decode(response["body_base64"]) if "body_base64" in response else response["body_text"]
    )
    return RawResponse(
        status=response["status"],
        body=body,
        content_type=response["content_type"],
        headers=response.get("headers") or {},
        expect_path=expected_path(exchange),
    )
