"""Run the fake provider by hand: `python -m otel_tokens_fake_providers --port 8089`.

Serves on 127.0.0.1 until interrupted; point an OpenAI client at the printed base URL.
"""

from __future__ import annotations

import argparse
import contextlib
import threading

from ._server import FakeProviderServer, Scenario


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, serve until Ctrl-C, and return the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m otel_tokens_fake_providers",
        description="A fake OpenAI-compatible provider on 127.0.0.1.",
    )
    parser.add_argument("--port", type=int, default=8089, help="port to bind (0 picks a free one)")
    parser.add_argument("--text", default=Scenario.text, help="completion text of every answer")
    parser.add_argument("--chunks", type=int, default=Scenario.chunks, help="content events per stream")
    parser.add_argument("--chunk-delay", type=float, default=0.0, help="seconds between stream events")
    parser.add_argument("--model", default=None, help="response model (default: echo the request's)")
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port must be from 0 to 65535, got {args.port}")
    try:
        scenario = Scenario(
            text=args.text, chunks=args.chunks, chunk_delay=args.chunk_delay, model=args.model
        )
    except ValueError as error:  # the scenario names the value it refuses
        parser.error(str(error).replace("chunks", "--chunks").replace("delays", "--chunk-delay"))
    try:
        server = FakeProviderServer(scenario, port=args.port).start()
    except OSError as error:
        parser.exit(1, f"{parser.prog}: cannot listen on 127.0.0.1:{args.port}: {error.strerror or error}\n")
    try:
        print(
            f"fake provider listening on {server.url} (OpenAI base_url: {server.url}/v1); Ctrl-C stops",
            flush=True,
        )
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
