from __future__ import annotations

import sys
import types

from otel_tokens._patching import PatchSet, PatchSpec


def _module(name):
    module = types.ModuleType(name)

    class Resource:
        def create(self, x):
            return x * 2

    module.Resource = Resource
    return module


def _maker(calls):
    def make(context):
        def wrapper(wrapped, instance, args, kwargs):
            calls.append(context)
            return wrapped(*args, **kwargs)

        return wrapper

    return make


def test_wraps_existing_skips_missing_and_remove_restores():
    module = _module("fake_client_mod")
    sys.modules["fake_client_mod"] = module
    original = module.Resource.__dict__["create"]
    calls = []
    specs = [
        PatchSpec("fake_client_mod", "Resource.create", _maker(calls)),
        PatchSpec("fake_client_mod", "Resource.missing", _maker(calls)),
        PatchSpec("fake_client_mod", "Missing.create", _maker(calls)),
    ]
    patches = PatchSet(specs, "ctx")
    assert len(patches.applied) == 1
    assert module.Resource().create(2) == 4
    assert calls == ["ctx"]
    assert PatchSet(specs, "again").applied == []  # idempotent: never double-wrapped
    patches.remove()
    assert module.Resource.__dict__["create"] is original


def test_module_imported_later_is_patched_on_import_and_never_imported_by_us(tmp_path, monkeypatch):
    (tmp_path / "late_client_mod.py").write_text(
        "class Resource:\n    def create(self, x):\n        return x + 1\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    calls = []
    patches = PatchSet([PatchSpec("late_client_mod", "Resource.create", _maker(calls))], "late")
    assert "late_client_mod" not in sys.modules
    import late_client_mod

    assert late_client_mod.Resource().create(1) == 2
    assert calls == ["late"]
    patches.remove()
    late_client_mod.Resource().create(1)
    assert calls == ["late"]


def test_removed_patch_set_does_not_patch_on_later_import(tmp_path, monkeypatch):
    (tmp_path / "later_client_mod.py").write_text(
        "class Resource:\n    def create(self):\n        return 1\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    calls = []
    PatchSet([PatchSpec("later_client_mod", "Resource.create", _maker(calls))], "x").remove()
    import later_client_mod

    later_client_mod.Resource().create()
    assert calls == []


def test_module_level_function_is_wrapped_and_restored():
    module = types.ModuleType("fake_function_mod")

    def completion(x):
        return x * 3

    module.completion = completion
    module.not_a_function_owner = 5
    sys.modules["fake_function_mod"] = module
    calls = []
    patches = PatchSet(
        [
            PatchSpec("fake_function_mod", "completion", _maker(calls)),
            PatchSpec("fake_function_mod", "missing", _maker(calls)),
            PatchSpec("fake_function_mod", "not_a_function_owner.real", _maker(calls)),
        ],
        "fn",
    )
    assert len(patches.applied) == 1
    assert module.completion(2) == 6
    assert calls == ["fn"]
    patches.remove()
    assert module.completion is completion


def test_another_librarys_wrapper_is_wrapped_over_and_kept_on_remove():
    import wrapt

    module = _module("fake_shared_mod")
    sys.modules["fake_shared_mod"] = module
    theirs = []
    wrapt.wrap_function_wrapper(
        module.Resource,
        "create",
        lambda wrapped, instance, args, kwargs: theirs.append(1) or wrapped(*args, **kwargs),
    )
    their_wrapper = module.Resource.__dict__["create"]
    calls = []
    patches = PatchSet([PatchSpec("fake_shared_mod", "Resource.create", _maker(calls))], "ours")
    assert len(patches.applied) == 1  # not skipped because someone else wrapped it first
    assert module.Resource().create(2) == 4
    assert (calls, theirs) == (["ours"], [1])
    patches.remove()
    assert module.Resource.__dict__["create"] is their_wrapper  # theirs is left alone


def test_wrapper_under_another_librarys_stops_recording_on_remove():
    import wrapt

    module = _module("fake_under_mod")
    sys.modules["fake_under_mod"] = module
    calls = []
    patches = PatchSet([PatchSpec("fake_under_mod", "Resource.create", _maker(calls))], "ours")
    wrapt.wrap_function_wrapper(
        module.Resource, "create", lambda wrapped, instance, args, kwargs: wrapped(*args, **kwargs)
    )
    assert PatchSet([PatchSpec("fake_under_mod", "Resource.create", _maker(calls))], "again").applied == []
    patches.remove()
    assert module.Resource().create(3) == 6
    assert calls == []  # ours is still in the chain but passes the call through


def test_saved_bound_method_records_through_the_set_active_now():
    module = _module("fake_saved_mod")
    sys.modules["fake_saved_mod"] = module
    calls = []
    specs = [PatchSpec("fake_saved_mod", "Resource.create", _maker(calls))]
    first = PatchSet(specs, "first")
    saved = module.Resource().create  # e.g. a client that stored its bound methods at construction
    first.remove()
    assert saved(1) == 2 and calls == []  # nothing active: straight through
    second = PatchSet(specs, "second")  # init() again with new settings
    assert saved(1) == 2 and module.Resource().create(1) == 2
    assert calls == ["second", "second"]  # each call once, by the set active now
    second.remove()
    assert saved(1) == 2 and calls == ["second", "second"]


def test_new_set_records_through_a_removed_wrapper_stuck_under_another_librarys():
    import wrapt

    module = _module("fake_stuck_mod")
    sys.modules["fake_stuck_mod"] = module
    calls = []
    specs = [PatchSpec("fake_stuck_mod", "Resource.create", _maker(calls))]
    first = PatchSet(specs, "first")
    wrapt.wrap_function_wrapper(
        module.Resource, "create", lambda wrapped, instance, args, kwargs: wrapped(*args, **kwargs)
    )
    first.remove()
    second = PatchSet(specs, "second")
    assert module.Resource().create(2) == 4
    assert calls == ["second"]  # once: the stuck wrapper hands the call on, nothing wrapped twice
    second.remove()
    module.Resource().create(2)
    assert calls == ["second"]
