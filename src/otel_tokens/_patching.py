"""Typed patch specs, applied and removed idempotently over wrapt.

An instrumentor declares what it wraps as a table of :class:`PatchSpec`; :func:`apply`
wraps each target that exists in the installed client version (a method missing in an older
release is skipped, not an error) and :func:`remove` restores exactly what was wrapped.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import wrapt

logger = logging.getLogger("otel_tokens")

Wrapper = Callable[[Callable[..., Any], Any, tuple[Any, ...], dict[str, Any]], Any]


@dataclass(frozen=True, slots=True)
class PatchSpec:
    """Wrap ``module.target`` (``target`` is ``Class.method``) with ``make_wrapper(context)``."""

    module: str
    target: str
    make_wrapper: Callable[[Any], Wrapper]


@dataclass(frozen=True, slots=True)
class Applied:
    owner: Any
    attribute: str


def apply(specs: Iterable[PatchSpec], context: Any) -> list[Applied]:
    """Wrap every target that exists; returns what was wrapped, for :func:`remove`."""
    applied: list[Applied] = []
    for spec in specs:
        owner, attribute = _resolve(spec)
        if owner is None:
            continue
        current = (
            owner.__dict__.get(attribute) if isinstance(owner, type) else getattr(owner, attribute, None)
        )
        if isinstance(current, wrapt.FunctionWrapper):
            logger.debug("otel-tokens: %s.%s is already wrapped", spec.module, spec.target)
            continue
        wrapt.wrap_function_wrapper(owner, attribute, spec.make_wrapper(context))
        applied.append(Applied(owner, attribute))
    return applied


def remove(applied: Iterable[Applied]) -> None:
    """Undo :func:`apply`: put the original functions back."""
    for item in applied:
        current = item.owner.__dict__.get(item.attribute)
        if isinstance(current, wrapt.FunctionWrapper):
            setattr(item.owner, item.attribute, current.__wrapped__)


def _resolve(spec: PatchSpec) -> tuple[Any, str]:
    try:
        owner: Any = importlib.import_module(spec.module)
    except ImportError:
        logger.debug("otel-tokens: module %s not found; skipping %s", spec.module, spec.target)
        return None, ""
    *path, attribute = spec.target.split(".")
    for name in path:
        owner = getattr(owner, name, None)
        if owner is None:
            logger.debug("otel-tokens: %s.%s not found; skipping", spec.module, spec.target)
            return None, ""
    if not hasattr(owner, attribute):
        logger.debug("otel-tokens: %s.%s not found; skipping", spec.module, spec.target)
        return None, ""
    return owner, attribute
