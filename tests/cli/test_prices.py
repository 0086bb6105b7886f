"""``otel-tokens prices``: the rates printed are genai-prices' own (and the overrides'), as the
SDK applies them; an override file is checked with the line of its first problem; every input
problem is one line and a non-zero exit status. Run as a child process, as a user runs it."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import genai_prices
import pytest
from genai_prices import data_snapshot
from genai_prices.types import ModelPrice, TieredPrices

from ._run import otel_tokens, rows

VERSION = f"genai-prices {genai_prices.__version__}"
TITLE = "Rates (USD per million tokens)"


def library_price(provider_id: str, model: str) -> ModelPrice:
    info = data_snapshot.get_snapshot().find_provider_model(model, None, provider_id, None)[1]
    price = info.get_prices(datetime.now(UTC))
    assert isinstance(price, ModelPrice)
    return price


def shown(value: Decimal) -> str:
    """A Decimal of the price data as the table prints it."""
    return f"{value.normalize():f}"


def band(price: ModelPrice, key: str, tier: int | None = None) -> Decimal | None:
    value = getattr(price, key)
    if isinstance(value, TieredPrices):
        return value.base if tier is None else value.tiers[tier].price
    return value


def facts(stdout: str) -> dict[str, str]:
    """The ``Label    value`` lines before the table."""
    found = {}
    for line in stdout.splitlines():
        if line.startswith(TITLE):
            break
        label, _, value = line.partition(" ")
        found[label] = value.strip()
    return found


def one_line_error(completed: subprocess.CompletedProcess[str], status: int = 1) -> str:
    assert completed.returncode == status, completed.stderr
    assert completed.stdout == ""
    assert completed.stderr.count("\n") == 1 and completed.stderr.startswith("Error: "), completed.stderr
    return completed.stderr.removeprefix("Error: ").rstrip("\n")


def test_help_shows_examples_and_the_variable():
    completed = otel_tokens("prices", "--help")
    assert completed.returncode == 0
    assert completed.stdout.startswith("Usage: otel-tokens prices [OPTIONS] [MODEL]\n")
    assert "Examples:\n    otel-tokens prices gpt-4o-mini\n" in completed.stdout
    assert "    otel-tokens prices --check prices.toml\n" in completed.stdout
    assert "[env var: OTEL_TOKENS_PRICE_OVERRIDES]" in " ".join(completed.stdout.split())


# The rates, compared with genai-prices' own data.


def test_gpt_4o_mini_rates_are_the_price_datas():
    completed = otel_tokens("prices", "gpt-4o-mini", "--provider", "openai")
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""
    price = library_price("openai", "gpt-4o-mini")
    assert facts(completed.stdout) == {
        "Model": "gpt-4o-mini",
        "Provider": "openai",
        "Source": f"{VERSION}: openai model gpt-4o-mini",
        "Tier": "standard",
    }
    # No cache-write price in the data: cache writes cost the input rate, as the library bills them.
    assert price.cache_write_mtok is None
    assert rows(completed.stdout, TITLE) == [
        ["input", shown(price.input_mtok)],
        ["cached input (cache read)", shown(price.cache_read_mtok)],
        ["cache write (5 m)", shown(price.input_mtok)],
        ["cache write 1 h", shown(price.input_mtok)],
        ["output", shown(price.output_mtok)],
    ]
    assert [cell.strip() for cell in completed.stdout.splitlines()[6].strip("┃").split("┃")] == [
        "Rate",
        "All calls",
    ]


def test_claude_sonnet_4_5_cache_rates_and_its_long_context_tier():
    completed = otel_tokens("prices", "claude-sonnet-4-5", "--provider", "anthropic")
    assert completed.returncode == 0, completed.stderr
    price = library_price("anthropic", "claude-sonnet-4-5")
    assert isinstance(price.input_mtok, TieredPrices)
    start = price.input_mtok.tiers[0].start
    header = next(line for line in completed.stdout.splitlines() if line.startswith("┃ Rate"))
    assert [cell.strip() for cell in header.strip("┃").split("┃")] == [
        "Rate",
        f"Input <= {start:,}",
        f"Input > {start:,}",
    ]
    keys = ("input_mtok", "cache_read_mtok", "cache_write_mtok", "cache_write_1h_mtok", "output_mtok")
    labels = ("input", "cached input (cache read)", "cache write (5 m)", "cache write 1 h", "output")
    assert rows(completed.stdout, TITLE) == [
        [label, shown(band(price, key)), shown(band(price, key, 0))]  # type: ignore[arg-type]
        for label, key in zip(labels, keys, strict=True)
    ]
    assert rows(completed.stdout, TITLE)[2:4] == [
        ["cache write (5 m)", "3.75", "7.5"],
        ["cache write 1 h", "6", "12"],
    ]


def test_gemini_long_context_tiers_as_json():
    completed = otel_tokens("prices", "gemini-2.5-pro", "--provider", "gcp.gemini", "--json")
    assert completed.returncode == 0, completed.stderr
    document = json.loads(completed.stdout)
    price = library_price("google", "gemini-2.5-pro")
    assert isinstance(price.input_mtok, TieredPrices)
    expected: list[dict[str, Any]] = []
    for tier in (None, 0):
        rates = {
            "input": band(price, "input_mtok", tier),
            "cache_read": band(price, "cache_read_mtok", tier),
            "output": band(price, "output_mtok", tier),
        }
        expected.append(
            {
                "above_input_tokens": None if tier is None else price.input_mtok.tiers[tier].start,
                **{key: float(value) for key, value in rates.items()},  # type: ignore[arg-type]
                "cache_write": float(rates["input"]),  # type: ignore[arg-type]
                "cache_write_5m": float(rates["input"]),  # type: ignore[arg-type]
                "cache_write_1h": float(rates["input"]),  # type: ignore[arg-type]
                "reasoning": float(rates["output"]),  # type: ignore[arg-type]
                "per_request": 0.0,
                "per_search_unit": None,
            }
        )
    assert document == {
        "model": "gemini-2.5-pro",
        "provider": "gcp.gemini",
        "provider_inferred": False,
        "service_tier": None,
        "source": VERSION,
        "price_data": VERSION,
        "overrides": None,
        "override_entry": None,
        "discount": None,
        "priced_as": {"provider": "google", "model": "gemini-2.5-pro", "match": None},
        "priced_tier": None,
        "changes_at": None,
        "unit": "USD per million tokens; per_request USD per call; per_search_unit USD per search unit",
        "bands": expected,
    }


def test_without_a_provider_it_is_inferred_as_for_a_gateway_call():
    by_name = otel_tokens("prices", "claude-sonnet-4-5")
    by_prefix = otel_tokens("prices", "anthropic/claude-sonnet-4-5-20250929")
    assert by_name.returncode == by_prefix.returncode == 0, by_name.stderr + by_prefix.stderr
    assert facts(by_name.stdout)["Provider"] == (
        "anthropic, inferred from the model name as for a call through a gateway "
        "(--provider P prices a direct call)"
    )
    assert facts(by_prefix.stdout)["Provider"].startswith(
        "anthropic, inferred from its provider/model prefix"
    )
    assert facts(by_prefix.stdout)["Source"] == f"{VERSION}: anthropic model claude-sonnet-4-5"
    assert rows(by_name.stdout, TITLE) == rows(by_prefix.stdout, TITLE)


def test_a_service_tier_and_a_tier_without_a_price():
    priority = otel_tokens("prices", "gpt-5", "--provider", "openai", "--tier", "priority")
    flex = otel_tokens("prices", "gpt-4o-mini", "--provider", "openai", "--tier", "flex")
    assert priority.returncode == flex.returncode == 0
    assert facts(priority.stdout)["Tier"] == "priority"
    assert facts(flex.stdout)["Tier"] == (
        "standard (no 'flex' price for this model: its calls cost the standard rate)"
    )
    assert flex.stderr == ""  # the SDK's warning is said by the Tier line instead


def test_per_request_and_reasoning_rows_appear_where_the_model_has_them():
    sonar = rows(otel_tokens("prices", "sonar", "--provider", "perplexity").stdout, TITLE)
    assert sonar[-1] == ["per request (USD per call)", "0.012"]
    deep = rows(otel_tokens("prices", "sonar-deep-research", "--provider", "perplexity").stdout, TITLE)
    assert ["reasoning", "3"] in deep and ["output", "8"] in deep


# Overrides and discounts, from --overrides or OTEL_TOKENS_PRICE_OVERRIDES.

OVERRIDES = """\
# negotiated prices
[[price]]
provider = "openai"
model = "ft:gpt-4o-mini:acme:*"
input_per_mtok = 0.30
output_per_mtok = 1.20
cache_read_per_mtok = 0.15

[[price]]
provider = "cohere"
model = "rerank-*"
input_per_mtok = 0
output_per_mtok = 0
per_search_unit = 0.002

[[discount]]
provider = "azure.ai.openai"
model = "*"
multiplier = 0.8
"""


def overrides_file(tmp_path: Path, text: str = OVERRIDES) -> str:
    path = tmp_path / "prices.toml"
    path.write_text(text)
    return str(path)


def test_an_override_names_its_entry_and_file(tmp_path):
    path = overrides_file(tmp_path)
    completed = otel_tokens(
        "prices", "ft:gpt-4o-mini:acme:support", "--provider", "openai", "--overrides", path
    )
    assert completed.returncode == 0, completed.stderr
    assert facts(completed.stdout)["Source"] == f"override price[0] in {path}"
    assert rows(completed.stdout, TITLE) == [
        ["input", "0.3"],
        ["cached input (cache read)", "0.15"],
        ["cache write (5 m)", "0.3"],
        ["cache write 1 h", "0.3"],
        ["output", "1.2"],
    ]
    rerank = otel_tokens(
        "prices", "rerank-v3.5", "--provider", "cohere", env={"OTEL_TOKENS_PRICE_OVERRIDES": path}
    )
    assert facts(rerank.stdout)["Source"] == f"override price[1] in {path}"
    assert rows(rerank.stdout, TITLE)[-1] == ["per search unit (USD)", "0.002"]


def test_a_discount_scales_the_price_datas_rates(tmp_path):
    path = overrides_file(tmp_path)
    completed = otel_tokens(
        "prices", "gpt-4o-mini", "--provider", "azure.ai.openai", "--overrides", path, "--json"
    )
    assert completed.returncode == 0, completed.stderr
    document = json.loads(completed.stdout)
    price = library_price("openai", "gpt-4o-mini")  # Azure borrows OpenAI's price
    assert (document["source"], document["discount"], document["overrides"]) == (
        f"{VERSION}+discount",
        0.8,
        path,
    )
    assert document["bands"][0]["input"] == float(price.input_mtok * Decimal("0.8"))  # type: ignore[operator]
    assert document["bands"][0]["output"] == float(price.output_mtok * Decimal("0.8"))  # type: ignore[operator]
    text = otel_tokens("prices", "gpt-4o-mini", "--provider", "azure.ai.openai", "--overrides", path)
    assert facts(text.stdout)["Source"] == f"{VERSION}: azure model gpt-4o-mini, discount x0.8 from {path}"


def test_an_invalid_override_file_names_the_line_when_pricing(tmp_path):
    path = overrides_file(tmp_path, OVERRIDES.replace("output_per_mtok = 1.20", "output_per_mtok = -1"))
    message = one_line_error(otel_tokens("prices", "gpt-4o-mini", "--overrides", path))
    assert message == (
        f"{path}:6: price[0] (model 'ft:gpt-4o-mini:acme:*'): field 'output_per_mtok' must be a number >= 0 "
        "(USD per million tokens), got -1"
    )


# Unknown models: one line naming the model, with similar names.


def test_an_unknown_model_is_named_with_similar_names():
    message = one_line_error(otel_tokens("prices", "gpt-4o-mni", "--provider", "openai"))
    head, similar = message.split("; similar names: ")
    assert head == f"no price for model 'gpt-4o-mni' of provider 'openai' in {VERSION}"
    assert similar.split(", ")[0] == "gpt-4o-mini"


def test_an_unknown_model_without_similar_names(tmp_path):
    path = overrides_file(tmp_path)
    message = one_line_error(otel_tokens("prices", "zzqqxx-internal", "--overrides", path))
    assert message == (
        f"no price for model 'zzqqxx-internal' in {VERSION} or the overrides in {path}; "
        "add a [[price]] override to price it"
    )


def test_no_model_is_a_usage_error():
    assert one_line_error(otel_tokens("prices"), status=2) == (
        "no model: give MODEL (for example gpt-4o-mini) or --check FILE"
    )


# --check FILE.


def test_check_counts_the_entries(tmp_path):
    completed = otel_tokens("prices", "--check", overrides_file(tmp_path))
    assert (completed.returncode, completed.stdout, completed.stderr) == (0, "ok: 2 prices, 1 discount\n", "")


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (
            OVERRIDES.replace("per_search_unit = 0.002", "per_search_unit = '0.002'"),
            14,
            "price[1] (model 'rerank-*'): field 'per_search_unit' must be a number >= 0 (USD per rerank "
            "search unit), got '0.002'",
        ),
        (
            OVERRIDES.replace('model = "rerank-*"\n', ""),
            9,  # a missing field: the table's header
            "price[1]: missing field 'model' (an exact model name or a glob such as 'gpt-4o*')",
        ),
        (
            OVERRIDES.replace("multiplier = 0.8", "mutliplier = 0.8"),
            19,
            "discount[0]: unknown field 'mutliplier'; accepted: model, multiplier, provider",
        ),
        (
            OVERRIDES + "\n[[prices]]\nmodel = 'x'\n",
            21,
            "unknown top-level key 'prices'; accepted: [[price]] and [[discount]] tables",
        ),
    ],
)
def test_check_points_at_the_line_of_the_problem(tmp_path, text, line, message):
    path = overrides_file(tmp_path, text)
    assert one_line_error(otel_tokens("prices", "--check", path)) == f"{path}:{line}: {message}"


def test_check_of_invalid_toml_gives_the_parsers_line(tmp_path):
    path = overrides_file(tmp_path, OVERRIDES.replace("[[discount]]", "[[discount]"))
    message = one_line_error(otel_tokens("prices", "--check", path))
    assert message.startswith(f"{path}:16: not valid TOML: ")


def test_check_of_a_missing_file(tmp_path):
    path = tmp_path / "nowhere.toml"
    assert one_line_error(otel_tokens("prices", "--check", str(path))) == (
        f"{path}: cannot read the file: No such file or directory"
    )


def test_check_shows_a_warning_at_its_line_and_passes(tmp_path):
    path = overrides_file(tmp_path, OVERRIDES.replace('provider = "azure.ai.openai"', 'provider = "azure"'))
    completed = otel_tokens("prices", "--check", path)
    assert (completed.returncode, completed.stdout) == (0, "ok: 2 prices, 1 discount\n")
    [warning] = completed.stderr.splitlines()
    assert warning.startswith(
        f"{path}:17: warning: discount[0] (model '*'): provider 'azure' is not a gen_ai.provider.name"
    )


def test_check_and_a_model_together_are_a_usage_error(tmp_path):
    message = one_line_error(
        otel_tokens("prices", "gpt-4o-mini", "--check", overrides_file(tmp_path)), status=2
    )
    assert message == "give either MODEL or --check FILE, not both"
