from __future__ import annotations

import sys
import types

from otel_tokens._patching import PatchSpec, apply, remove


def _module():
    module = types.ModuleType("fake_client_mod")

    class Resource:
        def create(self, x):
            return x * 2

    module.Resource = Resource
    sys.modules["fake_client_mod"] = module
    return module


def test_apply_wraps_existing_and_skips_missing_then_remove_restores():
    module = _module()
    original = module.Resource.__dict__["create"]
    calls = []

    def make(context):
        def wrapper(wrapped, instance, args, kwargs):
            calls.append(context)
            return wrapped(*args, **kwargs)

        return wrapper

    specs = [
        PatchSpec("fake_client_mod", "Resource.create", make),
        PatchSpec("fake_client_mod", "Resource.missing", make),
        PatchSpec("not_installed_module_xyz", "Thing.call", make),
    ]
    applied = apply(specs, "ctx")
    assert len(applied) == 1
    assert module.Resource().create(2) == 4
    assert calls == ["ctx"]
    assert apply(specs, "again") == []  # idempotent: never double-wrapped
    remove(applied)
    assert module.Resource.__dict__["create"] is original
