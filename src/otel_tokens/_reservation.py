"""What a call may cost at worst, before it is sent: the amount a budget reserves for it.

Input tokens are counted offline from the request (the tokenizer, else the heuristic); output
tokens are the request's own maximum (``gen_ai.request.max_tokens``), else the policy's default
for the model family (``otel_tokens.budgets.DEFAULT_MAX_OUTPUT_TOKENS``). The worst case is
then priced like any call, by the price book, so overrides, tiers and gateways apply.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase

from otel_tokens import _runtime, semconv
from otel_tokens._invocation import CallRequest
from otel_tokens._safety import report
from otel_tokens.budgets import DEFAULT_MAX_OUTPUT_TOKENS
from otel_tokens.pricing import Cost, PriceBook
from otel_tokens.usage import Usage

_NO_OUTPUT = frozenset({semconv.OPERATION_EMBEDDINGS, semconv.OPERATION_RERANK})


@dataclass(frozen=True, slots=True)
class WorstCase:
    """A call's worst case: tokens, and USD when the model has a price (else ``cost`` is None)."""

    input_tokens: int
    output_tokens: int
    cost: Cost | None

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens


def max_output_tokens(request: CallRequest, defaults: Mapping[str, int], model: str | None = None) -> int:
    """The output the call may produce: its own maximum, else the first default matching
    ``model`` (the model it will be sent to; default: the one asked for)."""
    if request.operation in _NO_OUTPUT:
        return 0
    asked = request.attributes.get(semconv.GEN_AI_REQUEST_MAX_TOKENS)
    if isinstance(asked, int) and not isinstance(asked, bool) and asked >= 0:
        return asked
    name = (model or request.request_model or "").lower().rsplit("/", 1)[-1]
    for table in (defaults, DEFAULT_MAX_OUTPUT_TOKENS):
        for pattern, tokens in table.items():
            if fnmatchcase(name, pattern.lower()):
                return tokens
    return DEFAULT_MAX_OUTPUT_TOKENS["*"]


def input_tokens(request: CallRequest) -> int:
    """Input tokens counted offline; 0 when the client gave no way to count them."""
    if request.estimate_input is None:
        return 0
    try:
        return request.estimate_input(_runtime.tokenizer()).tokens
    except Exception as error:  # noqa: BLE001
        report("reservation input count", error)
        return 0


def worst_case(
    request: CallRequest, model: str | None, prices: PriceBook, defaults: Mapping[str, int], counted: int
) -> WorstCase:
    """The worst case of ``request`` sent to ``model`` (``counted`` input tokens)."""
    output = max_output_tokens(request, defaults, model)
    cost = None
    if model:
        usage = Usage(input_tokens=counted, output_tokens=output)
        cost = prices.cost(request.provider, model, usage, None, request.request_model, request.gateway)
    return WorstCase(counted, output, cost)


def output_price_per_million(request: CallRequest, model: str, prices: PriceBook) -> float | None:
    """USD per million output tokens of ``model``; None when it has no price."""
    usage = Usage(input_tokens=0, output_tokens=1_000_000)
    cost = prices.cost(request.provider, model, usage, None, request.request_model, request.gateway)
    return None if cost is None else cost.output
