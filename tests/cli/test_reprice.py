"""``--reprice``: today's price book instead of the recorded prices, on purpose and marked as such."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from otel_tokens_cli._otlp_spans import SpanReader
from otel_tokens_cli._records import CostBasis
from otel_tokens_cli._reprice import reprice

from otel_tokens.pricing import PriceBook

from ._run import otel_tokens


def _records(document: dict[str, Any]) -> list[Any]:
    reader = SpanReader()
    reader.add(document, "demo")
    return reader.records


def test_today_s_prices_match_the_recorded_ones_when_nothing_changed(demo_document: dict[str, Any]) -> None:
    records = _records(demo_document)
    repriced = reprice(records, PriceBook())
    assert len(repriced) == len(records)
    for before, after in zip(records, repriced, strict=True):
        assert after.cost_basis is CostBasis.REPRICED
        if before.unpriced_requests or before.error_requests:
            continue
        assert after.cost == pytest.approx(before.cost, rel=1e-9, abs=1e-15), before.model
        assert after.price_source == PriceBook().data_version or before.price_source == "local-model"


def test_an_override_reprices_and_names_itself(
    tmp_path: Path, demo_ledger: Path, demo_document: dict[str, Any]
) -> None:
    overrides = tmp_path / "prices.toml"
    overrides.write_text(
        '[[price]]\nmodel = "ft:gpt-4o-mini:bookshop::x7"\ninput_per_mtok = 1.0\noutput_per_mtok = 10.0\n'
    )
    [record] = [r for r in _records(demo_document) if r.model.startswith("ft:")]
    [after] = reprice([record], PriceBook(overrides))
    assert after.cost == pytest.approx(700 * 1e-6 + 90 * 10e-6)
    assert (after.unpriced_requests, after.price_source) == (0, "override")
    result = otel_tokens(
        "report", "--ledger", str(demo_ledger), "--last", "1d", "--by", "model", "--format", "json",
        "--reprice", "--overrides", str(overrides),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    groups = {group["key"]["model"]: group for group in json.loads(result.stdout)["groups"]}
    assert groups["ft:gpt-4o-mini:bookshop::x7"]["cost_usd"] == pytest.approx(0.0016)
    assert groups["ft:gpt-4o-mini:bookshop::x7"]["unpriced_requests"] == 0


def test_a_bad_override_file_is_one_clear_line(tmp_path: Path, demo_ledger: Path) -> None:
    overrides = tmp_path / "prices.toml"
    overrides.write_text('[[price]]\nmodel = "x"\ninput_per_mtok = "cheap"\noutput_per_mtok = 1\n')
    result = otel_tokens(
        "report", "--ledger", str(demo_ledger), "--last", "1d", "--reprice", "--overrides", str(overrides)
    )
    assert result.returncode == 1
    assert str(overrides) in result.stderr and "input_per_mtok" in result.stderr
    assert "Traceback" not in result.stderr
