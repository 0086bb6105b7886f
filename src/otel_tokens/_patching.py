"""Typed patch specs, applied and removed idempotently over wrapt.

An instrumentor declares what it wraps as a table of :class:`PatchSpec`; a :class:`PatchSet`
wraps each target that exists in the installed client version (a method missing in an older
release is skipped, not an error) and :meth:`PatchSet.remove` restores exactly what it wrapped.

A module the program has not imported yet is patched when it is imported (a wrapt post-import
hook), never imported by us: SDKs load their resource modules lazily, and importing all of them
up front would cost a chat-only program about 5 MB and 130 ms for APIs it never calls.
"""

from __future__ import annotations

import functools
import logging
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import wrapt

from otel_tokens import _runtime
from otel_tokens._safety import call_guarded

logger = logging.getLogger("otel_tokens")

Wrapper = Callable[[Callable[..., Any], Any, tuple[Any, ...], dict[str, Any]], Any]


@dataclass(frozen=True, slots=True)
class PatchSpec:
    """Wrap ``module.target`` with ``make_wrapper(context)``.

    ``target`` is ``Class.method`` (or ``Class.Inner.method``), or a module-level function's name
    (litellm's ``completion``); a function is patched in its module only, so code that imported it
    by name before instrumentation keeps the unwrapped one.
    """

    module: str
    target: str
    make_wrapper: Callable[[Any], Wrapper]


@dataclass(frozen=True, slots=True)
class Applied:
    owner: Any
    attribute: str


class PatchSet:
    """The patches of one instrumentation: applied now or on import, removed all at once."""

    def __init__(self, specs: Iterable[PatchSpec], context: Any) -> None:
        self._context = context
        self._lock = threading.Lock()
        self._active = True
        self.applied: list[Applied] = []
        self._delegated: list[tuple[int, str]] = []
        self._registered: dict[tuple[int, str], Wrapper] = {}
        by_module: dict[str, list[PatchSpec]] = {}
        for spec in specs:
            by_module.setdefault(spec.module, []).append(spec)
        for module_name, module_specs in by_module.items():
            module = sys.modules.get(module_name)
            if module is not None:
                self._apply(module, module_specs)
            else:
                hook = functools.partial(call_guarded, "patch on import", self._on_import, specs=module_specs)
                wrapt.register_post_import_hook(hook, module_name)

    def _on_import(self, module: ModuleType, specs: list[PatchSpec]) -> None:
        # Hooks cannot be unregistered: one from a removed PatchSet must do nothing.
        if self._active:
            self._apply(module, specs)

    def _apply(self, module: ModuleType, specs: list[PatchSpec]) -> None:
        with self._lock:
            for spec in specs:
                owner, attribute = _resolve(module, spec)
                if owner is None:
                    continue
                key = (id(owner), attribute)
                existing = _ours_in_chain(owner.__dict__.get(attribute))
                if existing is not None and getattr(existing._self_wrapper, _MARK)._active:
                    logger.debug("otel-tokens: %s.%s is already wrapped", spec.module, spec.target)
                    continue
                wrapper = spec.make_wrapper(self._context)
                with _runtime.STATE.live_lock:
                    _runtime.STATE.live_wrappers[key] = self._registered[key] = wrapper
                if existing is not None:
                    # A removed set's wrapper is stuck under another library's: it hands its
                    # calls to this set's wrapper (see _gated), so there is nothing to wrap.
                    self._delegated.append(key)
                    continue
                # Another library's wrapper (OpenTelemetry's botocore instrumentation...) is no
                # reason to skip: ours goes on top of it.
                wrapt.wrap_function_wrapper(owner, attribute, self._gated(wrapper, key))
                self.applied.append(Applied(owner, attribute))

    def _gated(self, wrapper: Wrapper, key: tuple[int, str]) -> Wrapper:
        """``wrapper`` while this set is active; afterwards, the wrapper of whichever set is
        active now for the same method, or a plain pass-through. A wrapper cannot always be
        taken out: a bound method saved earlier, an SDK's cached resource object, or another
        library's wrapper on top still refer to it. Re-instrumenting (``init()`` with new
        settings) then neither loses those calls nor counts them twice."""

        def gated(
            wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
        ) -> Any:
            if self._active:
                return wrapper(wrapped, instance, args, kwargs)
            live = _runtime.STATE.live_wrappers.get(key)
            if live is not None:
                return live(wrapped, instance, args, kwargs)
            return wrapped(*args, **kwargs)

        setattr(gated, _MARK, self)
        return gated

    def remove(self) -> None:
        """Put the original functions back; patches pending on import are cancelled.

        A wrapper of ours with another library's on top stays in place but passes calls through.
        """
        with self._lock:
            self._active = False
            for item in self.applied:
                current = item.owner.__dict__.get(item.attribute)
                self._unregister((id(item.owner), item.attribute))
                if (
                    isinstance(current, wrapt.FunctionWrapper)
                    and getattr(current._self_wrapper, _MARK, None) is self
                ):
                    setattr(item.owner, item.attribute, current.__wrapped__)
            for key in self._delegated:
                self._unregister(key)
            self.applied.clear()
            self._delegated.clear()

    def _unregister(self, key: tuple[int, str]) -> None:
        state = _runtime.STATE
        with state.live_lock:
            mine = self._registered.pop(key, None)
            if mine is not None and state.live_wrappers.get(key) is mine:
                del state.live_wrappers[key]


_MARK = "__otel_tokens_patch_set__"


def _ours_in_chain(value: Any) -> Any:
    """The first wrapper of ours in a chain of wrapt wrappers, or None."""
    while isinstance(value, wrapt.FunctionWrapper):
        if getattr(value._self_wrapper, _MARK, None) is not None:
            return value
        value = value.__wrapped__
    return None


def _resolve(module: ModuleType, spec: PatchSpec) -> tuple[Any, str]:
    owner: Any = module
    *path, attribute = spec.target.split(".")
    for name in path:
        owner = getattr(owner, name, None)
        if owner is None:
            break
    is_owner = isinstance(owner, type) or (not path and isinstance(owner, ModuleType))
    if owner is None or not is_owner or attribute not in owner.__dict__:
        logger.debug("otel-tokens: %s.%s not found in this version; skipping", spec.module, spec.target)
        return None, ""
    return owner, attribute
