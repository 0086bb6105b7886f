"""The usage dashboard: tokens, prompt-cache use, calls, errors and latency by provider and model."""

from __future__ import annotations

from _panels import RATIO, Board, thresholds
from _promql import (
    DURATION,
    FIRST_CHUNK,
    MODEL,
    PROVIDER,
    TOKEN_DETAIL,
    TOKENS,
    by,
    calls,
    over_range,
    quantile_over_range,
    quantile_rate,
    ratio,
    ratio_by,
)
from grafana_foundation_sdk.builders import dashboard as dashboard_builders


def usage_dashboard() -> dashboard_builders.Dashboard:
    board = Board(
        "otel-tokens: LLM usage",
        "otel-tokens-usage",
        "LLM tokens, prompt-cache use, calls, errors and latency by provider and model.",
    )
    tokens = calls(TOKENS + "_sum")
    detail = calls(TOKEN_DETAIL)
    input_tokens = calls(TOKENS + "_sum", 'gen_ai_token_type="input"')
    cache_read = calls(TOKEN_DETAIL, 'otel_tokens_token_type="cache_read"')
    pair = (PROVIDER, MODEL)
    pair_legend = f"{{{{{PROVIDER}}}}} {{{{{MODEL}}}}}"

    board.row("Tokens")
    board.graph(
        "Tokens per second by type",
        "How many input, output, cache-read, cache-write and reasoning tokens per second? (Cache tokens "
        "are part of input, reasoning part of output.)",
        [
            (f"sum by (gen_ai_token_type) (rate({tokens}[$__rate_interval]))", "{{gen_ai_token_type}}"),
            (
                f"sum by (otel_tokens_token_type) (rate({detail}[$__rate_interval]))",
                "{{otel_tokens_token_type}}",
            ),
        ],
        "short",
        axis="tokens/s",
    )
    board.bars(
        "Tokens over the range by type",
        "How many tokens of each type were used over the range?",
        [
            (f"sum by (gen_ai_token_type) ({over_range(tokens)})", "{{gen_ai_token_type}}"),
            (f"sum by (otel_tokens_token_type) ({over_range(detail)})", "{{otel_tokens_token_type}}"),
        ],
        "short",
        (6, 8),
    )
    board.stat(
        "Cache hit ratio",
        "What share of input tokens was read from the provider's prompt cache?",
        ratio(f"sum({over_range(cache_read)})", f"sum({over_range(input_tokens)})"),
        RATIO,
        (6, 8),
    )
    board.graph(
        "Cache hit ratio by provider and model",
        "Which models reuse their prompt cache, and is it holding up over time?",
        [
            (
                ratio_by(
                    pair, f"rate({cache_read}[$__rate_interval])", f"rate({input_tokens}[$__rate_interval])"
                ),
                pair_legend,
            )
        ],
        RATIO,
        (18, 8),
    )
    estimated = calls(TOKENS + "_sum", 'otel_tokens_usage_estimated="true"')
    board.stat(
        "Tokens counted locally",
        "What share of tokens was estimated by otel-tokens because the response reported no usage?",
        ratio(f"sum({over_range(estimated)})", f"sum({over_range(tokens)})"),
        RATIO,
        (6, 8),
        thresholds((None, "green"), (0.1, "orange")),
    )

    board.row("Calls and errors")
    count = calls(DURATION + "_count")
    failed = calls(DURATION + "_count", 'error_type!=""')
    board.graph(
        "Calls per second by provider and model",
        "How much traffic goes to each provider and model?",
        [(f"sum by ({by(pair)}) (rate({count}[$__rate_interval]))", pair_legend)],
        "reqps",
    )
    board.graph(
        "Error ratio by provider",
        "Which providers are failing calls, as a share of their calls (0 when none failed)?",
        [
            (
                ratio_by(
                    (PROVIDER,), f"rate({failed}[$__rate_interval])", f"rate({count}[$__rate_interval])"
                ),
                f"{{{{{PROVIDER}}}}}",
            )
        ],
        RATIO,
    )

    board.row("Latency")
    provider = (PROVIDER,)
    for title, question, metric in (
        (
            "Call duration by provider (p50, p95)",
            "How long do calls take end to end, per provider?",
            DURATION,
        ),
        (
            "Time to first token by provider (p50, p95)",
            "How long do streamed calls wait for their first chunk, per provider?",
            FIRST_CHUNK,
        ),
    ):
        board.graph(
            title,
            question,
            [
                (quantile_rate(0.5, metric, provider), f"p50 {{{{{PROVIDER}}}}}"),
                (quantile_rate(0.95, metric, provider), f"p95 {{{{{PROVIDER}}}}}"),
            ],
            "s",
        )
    board.table(
        "Latency by model over the range",
        "Which models are slow: p50 and p95 call duration, p95 time to first token (streams only)?",
        [
            quantile_over_range(0.5, DURATION, pair),
            quantile_over_range(0.95, DURATION, pair),
            quantile_over_range(0.95, FIRST_CHUNK, pair),
        ],
        "s",
        {
            PROVIDER: "Provider",
            MODEL: "Model",
            "Value #A": "p50 duration",
            "Value #B": "p95 duration",
            "Value #C": "p95 time to first token",
        },
        "p95 duration",
    )
    return board.builder
