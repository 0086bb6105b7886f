"""The otel-tokens Grafana dashboards as code, built with grafana-foundation-sdk.

``uv run python dashboards/generate.py`` rewrites ``dashboards/otel-tokens-*.json``; the committed JSON
must equal what this writes (``tests/stack/test_dashboards.py`` fails on stale files).

The dashboards live in sibling modules, imported by their top-level names (this directory is on
``sys.path`` when the script runs): ``_promql`` (series and queries), ``_panels`` (board, panels and
variables), ``_spend`` and ``_usage`` (one dashboard each), ``_guardrails`` (the spend dashboard's
budget and breaker rows).
"""

from __future__ import annotations

import json
from pathlib import Path

from _spend import spend_dashboard
from _usage import usage_dashboard
from grafana_foundation_sdk.cog.encoder import JSONEncoder

HERE = Path(__file__).resolve().parent
SPEND_FILE = "otel-tokens-spend.json"
USAGE_FILE = "otel-tokens-usage.json"


def render() -> dict[str, str]:
    """File name -> JSON text of every dashboard, exactly as written to ``dashboards/``."""
    boards = {SPEND_FILE: spend_dashboard(), USAGE_FILE: usage_dashboard()}
    return {
        name: json.dumps(board.build(), cls=JSONEncoder, indent=2, sort_keys=True) + "\n"
        for name, board in boards.items()
    }


def main() -> None:
    for name, text in render().items():
        (HERE / name).write_text(text, encoding="utf-8")
        print(f"wrote {HERE / name}")


if __name__ == "__main__":
    main()
