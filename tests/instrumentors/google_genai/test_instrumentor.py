"""The instrumentor itself: a no-op without the client, patches on import, uninstrument restores."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from importlib.metadata import PackageNotFoundError

import wrapt
from otel_tokens_google_genai import GoogleGenAIInstrumentor


def test_no_op_when_the_client_is_not_installed(monkeypatch):
    from google.genai import models

    from otel_tokens import _dependencies

    real_version = _dependencies.version

    def version(name: str) -> str:
        if name == "google-genai":
            raise PackageNotFoundError(name)
        return real_version(name)

    monkeypatch.setattr(_dependencies, "version", version)
    instrumentor = GoogleGenAIInstrumentor()
    instrumentor.instrument(skip_dep_check=True)
    try:
        assert not instrumentor.patches_applied
        assert not isinstance(models.Models.__dict__["_generate_content"], wrapt.FunctionWrapper)
    finally:
        instrumentor.uninstrument()


def test_importing_the_instrumentor_does_not_import_the_client():
    # The client is patched when the program imports it, never imported by us: a program without
    # google-genai (or that never uses it) pays nothing.
    script = textwrap.dedent(
        """
        import sys
        from otel_tokens_google_genai import GoogleGenAIInstrumentor
        GoogleGenAIInstrumentor().instrument()
        assert "google.genai.models" not in sys.modules, "imported too early"
        from google import genai
        import wrapt
        assert isinstance(genai.models.Models.__dict__["_generate_content"], wrapt.FunctionWrapper)
        assert isinstance(genai.models.AsyncModels.__dict__["embed_content"], wrapt.FunctionWrapper)
        GoogleGenAIInstrumentor().uninstrument()
        assert not isinstance(genai.models.Models.__dict__["_generate_content"], wrapt.FunctionWrapper)
        print("ok")
        """
    )
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert completed.stdout.strip() == "ok", completed.stderr


def test_patch_table_covers_every_operation():
    targets = sorted(spec.target for spec in GoogleGenAIInstrumentor().patch_specs())
    assert targets == [
        "AsyncModels._generate_content",
        "AsyncModels._generate_content_stream",
        "AsyncModels.embed_content",
        "AsyncModels.generate_content_stream",
        "Models._generate_content",
        "Models._generate_content_stream",
        "Models.embed_content",
        "Models.generate_content_stream",
    ]
    assert {spec.module for spec in GoogleGenAIInstrumentor().patch_specs()} == {"google.genai.models"}
