"""``python -m otel_tokens_cli``: the ``otel-tokens`` command without its console script."""

from __future__ import annotations

from otel_tokens_cli import main

if __name__ == "__main__":
    main(prog_name="otel-tokens")
