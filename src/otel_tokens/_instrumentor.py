"""The base class of every otel-tokens instrumentor: version check, providers, recorder, patch table.

A client's instrumentor only declares its requirement, its patch table and its scope name;
``_instrument`` and ``_uninstrument`` are the same for all. It holds no configuration: settings
come from ``otel_tokens`` (``init()`` keywords or ``OTEL_TOKENS_*`` variables) at instrument time.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from typing import Any, ClassVar

from opentelemetry import metrics, trace
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]

from otel_tokens import _guardrail_gauges, _runtime
from otel_tokens._dependencies import check_client
from otel_tokens._errors import ConfigurationError
from otel_tokens._patching import PatchSet, PatchSpec
from otel_tokens.metrics import create_instruments
from otel_tokens.record import Recorder

logger = logging.getLogger("otel_tokens")


class TokensInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Subclasses set ``requirements``, ``scope_name``, ``scope_version`` and ``patch_specs()``."""

    requirements: ClassVar[tuple[str, ...]] = ()
    scope_name: ClassVar[str] = ""
    scope_version: ClassVar[str] = ""
    _patches: PatchSet | None = None

    def instrumentation_dependencies(self) -> Collection[str]:
        return self.requirements

    @property
    def patches_applied(self) -> bool:
        """True once ``_instrument`` installed this client's patches (False when it is not installed)."""
        return self._patches is not None

    def patch_specs(self) -> Sequence[PatchSpec]:
        raise NotImplementedError

    def _instrument(self, **kwargs: Any) -> None:
        try:
            disabled = _runtime.settings().disabled_instrumentors
        except ConfigurationError as error:
            _log_configuration_error(error)
            return
        client = self.scope_name.removeprefix("otel_tokens_")
        if client in disabled:
            # Also under opentelemetry-instrument, which never calls init().
            logger.debug("otel-tokens: %s is disabled by OTEL_TOKENS_DISABLED_INSTRUMENTORS", client)
            return
        if not all(check_client(requirement) for requirement in self.requirements):
            return
        tracer = trace.get_tracer(
            self.scope_name, self.scope_version, tracer_provider=kwargs.get("tracer_provider")
        )
        meter = metrics.get_meter(
            self.scope_name, self.scope_version, meter_provider=kwargs.get("meter_provider")
        )
        try:
            recorder = Recorder(tracer, create_instruments(meter))
        except ConfigurationError as error:
            _log_configuration_error(error)
            return
        self._patches = PatchSet(self.patch_specs(), recorder)
        _guardrail_gauges.register(kwargs.get("meter_provider"))
        # Load the price data now, so the first LLM call does not wait for it; on this thread,
        # so no import is left half done by a thread of ours when the program forks.
        _runtime.load_prices()

    def _uninstrument(self, **kwargs: Any) -> None:
        if self._patches is not None:
            self._patches.remove()
            self._patches = None


def _log_configuration_error(error: ConfigurationError) -> None:
    """One ERROR per distinct configuration error, not one per client.

    Under ``opentelemetry-instrument`` nothing else reports it, and raising would stop the
    launcher from loading the instrumentations after this one.
    """
    message = str(error)
    reported = _runtime.STATE.reported
    if "config: " + message in reported:
        return
    reported.add("config: " + message)
    logger.error("otel-tokens: invalid configuration, no LLM client is instrumented: %s", message)
