"""Every shipped collector config passes the real collector's `validate`, and the slim build has
exactly the components those configs use."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from .conftest import ROOT, require_program

CONFIG_DIR = ROOT / "collector-config"
MANIFEST = CONFIG_DIR / "builder-config.yaml"
TARGETS = sorted((CONFIG_DIR / "targets").glob("*.env"))
OVERLAYS = sorted((CONFIG_DIR / "overlays").glob("*.yaml"))
SECTIONS = ("receivers", "processors", "exporters", "extensions", "connectors")

BACKEND_ENV = {"OTEL_TOKENS_BACKEND_ENDPOINT": "https://otlp.example.com"}
AGENT_ENV = {"OTEL_TOKENS_GATEWAY_ENDPOINT": "gateway.example.com:4317"}


def validate(collector: str, configs: list[Path], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    argv = [collector, "validate", *(f"--config={c}" for c in configs)]
    # Only the variables given: nothing from the developer's shell leaks into what is validated.
    return subprocess.run(
        argv, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", **env}, timeout=60
    )


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines as `set -a; . file` reads them (single quotes are shell quoting)."""
    values = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip().removeprefix("'").removesuffix("'")
    return values


def test_gateway_validates(collector_bin):
    result = validate(collector_bin, [CONFIG_DIR / "gateway.yaml"], BACKEND_ENV)
    assert result.returncode == 0, result.stderr


def test_gateway_refuses_to_start_without_a_backend_endpoint(collector_bin):
    result = validate(collector_bin, [CONFIG_DIR / "gateway.yaml"], {})
    assert result.returncode != 0
    assert "otlp_http/backend" in result.stderr and "endpoint" in result.stderr


def test_gateway_takes_backend_headers_as_a_map_from_the_environment(collector_bin):
    env = {
        **BACKEND_ENV,
        "OTEL_TOKENS_BACKEND_HEADERS": '{"x-honeycomb-team": "k", "x-honeycomb-dataset": "d"}',
    }
    assert validate(collector_bin, [CONFIG_DIR / "gateway.yaml"], env).returncode == 0
    # A value that is not a map is refused, not sent as a garbled header.
    bad = validate(
        collector_bin, [CONFIG_DIR / "gateway.yaml"], {**BACKEND_ENV, "OTEL_TOKENS_BACKEND_HEADERS": "k=v"}
    )
    assert bad.returncode != 0
    assert "headers" in bad.stderr


@pytest.mark.parametrize("overlay", OVERLAYS, ids=lambda p: p.stem)
def test_gateway_with_each_overlay_validates(collector_bin, overlay):
    env = {} if overlay.stem == "local-debug" else BACKEND_ENV
    result = validate(collector_bin, [CONFIG_DIR / "gateway.yaml", overlay], env)
    assert result.returncode == 0, result.stderr


def test_ledger_overlay_takes_its_settings_from_the_environment(collector_bin):
    configs = [CONFIG_DIR / "gateway.yaml", CONFIG_DIR / "overlays" / "ledger.yaml"]
    env = {
        **BACKEND_ENV,
        "OTEL_TOKENS_LEDGER_PATH": "/var/lib/otel-tokens/ledger/llm-spans.zst",
        "OTEL_TOKENS_LEDGER_MAX_MEGABYTES": "50",
        "OTEL_TOKENS_LEDGER_MAX_DAYS": "400",
        "OTEL_TOKENS_LEDGER_MAX_BACKUPS": "1000",
    }
    assert validate(collector_bin, configs, env).returncode == 0
    bad = validate(collector_bin, configs, {**BACKEND_ENV, "OTEL_TOKENS_LEDGER_MAX_MEGABYTES": "lots"})
    assert bad.returncode != 0
    assert "max_megabytes" in bad.stderr


def test_ledger_writes_llm_spans_after_content_removal_and_credential_masking():
    """The ledger reuses the gateway's own processors (not copies that could drift), after the
    filter that keeps LLM spans, and writes compressed OTLP JSON with rotation."""
    gateway = yaml.safe_load((CONFIG_DIR / "gateway.yaml").read_text())
    ledger = yaml.safe_load((CONFIG_DIR / "overlays" / "ledger.yaml").read_text())
    pipeline = ledger["service"]["pipelines"]["traces/ledger"]
    assert pipeline["receivers"] == ["otlp"]
    assert pipeline["processors"] == [
        "memory_limiter",
        "filter/llm_spans",
        "attributes/drop_genai_content",
        "redaction/credentials",
        "batch",
    ]
    assert pipeline["exporters"] == ["file/ledger"]
    assert set(ledger["processors"]) == {"filter/llm_spans"}
    assert {"attributes/drop_genai_content", "redaction/credentials"} <= set(gateway["processors"])
    assert ledger["processors"]["filter/llm_spans"]["trace_conditions"] == [
        'span.attributes["gen_ai.operation.name"] == nil and span.attributes["gen_ai.provider.name"] == nil'
    ]
    exporter = ledger["exporters"]["file/ledger"]
    assert (exporter["format"], exporter["compression"]) == ("json", "zstd")
    assert set(exporter["rotation"]) == {"max_megabytes", "max_days", "max_backups"}
    # The gateway's pipelines are untouched: only the ledger's is added.
    assert set(ledger["service"]["pipelines"]) == {"traces/ledger"}


def test_agent_validates(collector_bin):
    result = validate(collector_bin, [CONFIG_DIR / "agent.yaml"], AGENT_ENV)
    assert result.returncode == 0, result.stderr
    assert validate(collector_bin, [CONFIG_DIR / "agent.yaml"], {}).returncode != 0


@pytest.mark.parametrize("target", TARGETS, ids=lambda p: p.stem)
def test_each_backend_target_validates_with_the_overlay_it_names(collector_bin, target):
    text = target.read_text()
    configs = [CONFIG_DIR / "gateway.yaml"]
    configs += [CONFIG_DIR / name for name in re.findall(r"--config (overlays/[\w-]+\.yaml)", text)]
    env = read_env_file(target)
    assert env["OTEL_TOKENS_BACKEND_ENDPOINT"].startswith(("http://", "https://"))
    result = validate(collector_bin, configs, env)
    assert result.returncode == 0, result.stderr


def _components_used() -> dict[str, set[str]]:
    used: dict[str, set[str]] = {section: set() for section in SECTIONS}
    for path in [CONFIG_DIR / "gateway.yaml", CONFIG_DIR / "agent.yaml", *OVERLAYS]:
        config = yaml.safe_load(path.read_text())
        for section in SECTIONS:
            used[section] |= {name.split("/")[0] for name in config.get(section) or {}}
    return used


def _components_built(collector: str) -> dict[str, set[str]]:
    listing = yaml.safe_load(subprocess.run([collector, "components"], capture_output=True, text=True).stdout)
    return {section: {c["name"] for c in listing.get(section) or []} for section in SECTIONS}


def test_the_slim_build_has_exactly_the_components_the_configs_use(collector_bin):
    assert _components_built(collector_bin) == _components_used()


def test_manifest_pins_one_collector_release_and_leaves_out_the_prometheus_server():
    manifest = yaml.safe_load(MANIFEST.read_text())
    modules = [
        entry["gomod"] for section in (*SECTIONS, "providers") for entry in manifest.get(section) or []
    ]
    versions = {module.split()[1] for module in modules if "/confmap/provider/" not in module}
    assert versions == {"v0.159.0"}
    providers = {entry["gomod"].split()[1] for entry in manifest["providers"]}
    assert providers == {"v1.65.0"}
    # These two compile much of the Prometheus server (scrape, discovery) into the binary.
    assert not any("prometheusreceiver" in m or "exporter/prometheusexporter" in m for m in modules)
    # The ledger overlay's two, from contrib.
    contrib = "github.com/open-telemetry/opentelemetry-collector-contrib"
    assert f"{contrib}/exporter/fileexporter v0.159.0" in modules
    assert f"{contrib}/processor/filterprocessor v0.159.0" in modules


def _cache_key(manifest: Path, home: Path) -> str:
    script = CONFIG_DIR.parent / "scripts" / "build-collector"
    env = {"PATH": os.environ["PATH"], "HOME": str(home)}  # go writes its own files under HOME
    env["OTEL_TOKENS_COLLECTOR_MANIFEST"] = str(manifest)
    done = subprocess.run([script, "--print-key"], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_build_cache_is_keyed_by_what_the_manifest_builds(tmp_path):
    """A comment edit reuses the cached binary; a changed component version builds anew."""
    require_program("go")
    text = MANIFEST.read_text()
    variants = {
        "same": text,
        "commented": "# a note about the build\n\n" + text.replace("\ndist:", "\n  # indented note\ndist:"),
        "bumped": text.replace("otlpreceiver v0.159.0", "otlpreceiver v0.160.0"),
    }
    keys = {}
    for name, content in variants.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(content)
        keys[name] = _cache_key(path, tmp_path)
    assert keys["same"] == _cache_key(MANIFEST, tmp_path)
    assert keys["commented"] == keys["same"]
    assert keys["bumped"] != keys["same"]
