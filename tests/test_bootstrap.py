"""scripts/uv: the README's commands on a machine with no uv and no pip, whose python3 is the
system's "externally managed" one, and the uv it picks where there is one.

The fetch test downloads uv's wheel from PyPI, so it runs only where an install step may reach the
registry: scripts/test-install sets OTEL_TOKENS_FETCH_TESTS=1 and runs it. The others use fakes
and a local index on 127.0.0.1."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAUNCHER = ROOT / "scripts" / "uv"
SYSTEM_PYTHON = Path("/usr/bin/python3")
HINT = "install uv (https://docs.astral.sh/uv/) and rerun"
# What a fetch needs from the environment where a proxy or a private CA stands before PyPI.
PASSED_THROUGH = ("HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy", "SSL_CERT_FILE", "SSL_CERT_DIR")


def _setting(name: str) -> str:
    found = re.search(rf"^{name}=(\S+)", LAUNCHER.read_text(), re.MULTILINE)
    assert found, name
    return found[1]


VERSION = _setting("version")
MIN_VERSION = _setting("min_version")


def _helper() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_bootstrap_uv", ROOT / "scripts" / "_bootstrap_uv.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


helper = _helper()


def _bin(tmp_path: Path, *, python: bool) -> Path:
    """A PATH of one folder: sh, and python3 -> /usr/bin/python3 if asked; no uv, no pyenv shims.
    scripts/uv needs no other program."""
    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "sh").symlink_to("/bin/sh")
    if python:
        (folder / "python3").symlink_to(SYSTEM_PYTHON)
    return folder


def _script(path: Path, body: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


def _cached(cache: Path) -> Path:
    return cache / "otel-tokens" / "uv" / VERSION / "uv"


def _run(args: list[str], path: Path, cache: Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {name: os.environ[name] for name in PASSED_THROUGH if name in os.environ}
    env.update(PATH=str(path), HOME=str(cache.parent / "home"), XDG_CACHE_HOME=str(cache))
    return subprocess.run(
        [str(LAUNCHER), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def pypi() -> None:
    if os.environ.get("OTEL_TOKENS_FETCH_TESTS") != "1":
        pytest.skip("fetches uv from PyPI: run by scripts/test-install (OTEL_TOKENS_FETCH_TESTS=1)")
    if not SYSTEM_PYTHON.exists():
        pytest.skip(f"{SYSTEM_PYTHON} is absent: no system python to fetch uv with")
    try:
        head = urllib.request.Request("https://pypi.org/simple/uv/", method="HEAD")
        urllib.request.urlopen(head, timeout=15)
    except OSError as error:
        pytest.skip(f"PyPI is unreachable from here, so scripts/uv cannot fetch uv: {error}")


def test_fetches_uv_with_the_system_python_alone_then_reuses_it(tmp_path: Path, pypi: None) -> None:
    path, cache = _bin(tmp_path, python=True), tmp_path / "cache"
    binary = _cached(cache)

    binary.parent.mkdir(parents=True)
    binary.write_bytes(b"half")  # not executable, as if a run had died writing it: fetched again
    with binary.open("rb") as reader:  # a run already reading it when the fetch lands
        first = _run(["--version"], path, cache)
        assert reader.read() == b"half"  # replaced by a rename, never written in place
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith(f"uv {VERSION} (")
    [line] = first.stderr.splitlines()
    assert line.startswith(f"scripts/uv: fetched uv {VERSION} (uv-{VERSION}-py3-none-"), line
    assert line.endswith(f"sha256 verified) into {binary}"), line
    assert os.access(binary, os.X_OK)
    assert [p.name for p in binary.parent.iterdir()] == ["uv"]  # no temporary file left behind

    # The commands uv runs find the same uv first on PATH.
    where = _run(["run", "--no-project", "sh", "-c", "command -v uv"], path, cache, cwd=tmp_path)
    assert (where.returncode, where.stdout, where.stderr) == (0, f"{binary}\n", "")

    (path / "python3").unlink()  # the cached uv runs without any python
    second = _run(["--version"], path, cache)
    assert (second.returncode, second.stdout, second.stderr) == (0, first.stdout, "")


def test_prefers_a_uv_on_path(tmp_path: Path) -> None:
    path, cache = _bin(tmp_path, python=False), tmp_path / "cache"
    _script(path / "uv", 'if [ "$1" = --version ]; then echo "uv 99.0.0 (fake)"; else echo "fake uv: $*"; fi')
    done = _run(["run", "pytest", "-k", "a and b"], path, cache)
    assert (done.returncode, done.stdout, done.stderr) == (0, "fake uv: run pytest -k a and b\n", "")
    assert not cache.exists()


def test_passes_over_a_uv_older_than_the_minimum(tmp_path: Path) -> None:
    path, cache = _bin(tmp_path, python=False), tmp_path / "cache"
    _script(path / "uv", 'echo "uv 0.9.30 (old)"')
    _script(_cached(cache), 'echo "pinned uv: $*"')
    done = _run(["sync", "--locked"], path, cache)
    assert (done.returncode, done.stdout) == (0, "pinned uv: sync --locked\n")
    assert done.stderr == (
        f"scripts/uv: {path / 'uv'} is uv 0.9.30, older than {MIN_VERSION}: using uv {VERSION} instead\n"
    )


def test_without_uv_or_python_says_what_to_install(tmp_path: Path) -> None:
    done = _run(["--version"], _bin(tmp_path, python=False), tmp_path / "cache")
    assert done.returncode == 1
    assert done.stderr == f"scripts/uv: no uv, and no python3 (3.7 or newer) to fetch it with: {HINT}\n"


@pytest.mark.parametrize(
    ("system", "machine", "glibc", "tag"),
    [
        ("Linux", "x86_64", (2, 36), helper.MANYLINUX_X86_64),
        ("Linux", "x86_64", (2, 12), helper.MUSLLINUX_X86_64),
        ("Linux", "x86_64", None, helper.MUSLLINUX_X86_64),
        ("Linux", "aarch64", (2, 36), helper.LINUX_AARCH64),
        ("Linux", "aarch64", None, helper.LINUX_AARCH64),
        ("Darwin", "x86_64", None, helper.MACOS_X86_64),
        ("Darwin", "arm64", None, helper.MACOS_ARM64),
        ("Linux", "armv7l", (2, 36), None),
        ("Linux", "riscv64", (2, 36), None),
        ("FreeBSD", "amd64", None, None),
        ("Windows", "AMD64", None, None),
    ],
)
def test_platform_tag(system: str, machine: str, glibc: tuple[int, int] | None, tag: str | None) -> None:
    assert helper.platform_tag(system, machine, glibc) == tag


def test_every_platform_tag_has_a_pinned_digest() -> None:
    tags = {helper.MANYLINUX_X86_64, helper.MUSLLINUX_X86_64, helper.LINUX_AARCH64}
    tags |= {helper.MACOS_X86_64, helper.MACOS_ARM64}
    assert set(helper.PINNED[VERSION]) == tags
    assert all(re.fullmatch("[0-9a-f]{64}", digest) for digest in helper.PINNED[VERSION].values())


def test_unsupported_platform_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(helper.platform, "machine", lambda: "riscv64")
    monkeypatch.setattr(helper.platform, "system", lambda: "Linux")
    assert helper.main(["_bootstrap_uv.py", VERSION, str(tmp_path / "uv")]) == 1
    assert capsys.readouterr().err == (
        f"scripts/uv: could not fetch uv: no uv build is pinned for Linux riscv64; {HINT}\n"
    )
    assert not (tmp_path / "uv").exists()


THIS_TAG = helper.platform_tag(helper.platform.system(), helper.platform.machine(), helper.glibc_version())
JSON_API, WHEEL = "/pypi/uv/{version}/json", "/files/{filename}"
MISMATCH = "sha256 mismatch for {url}/files/{filename}: got "


@contextmanager
def _index(*, json_api: bool, listed: str) -> Iterator[tuple[str, list[str]]]:
    """A PyPI stand-in on 127.0.0.1 listing uv's wheel for this machine with the digest LISTED and
    serving other bytes for it; with `json_api=False` its JSON API answers 404, as some proxies do.
    Yields its URL and the paths requested."""
    filename = f"uv-{VERSION}-py3-none-{THIS_TAG}.whl"
    requests: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append(self.path)
            body, url = b"", f"http://127.0.0.1:{server.server_port}/files/{filename}"
            if self.path == f"/pypi/uv/{VERSION}/json" and json_api:
                listing = {"filename": filename, "url": url, "digests": {"sha256": listed}}
                body = json.dumps({"urls": [listing]}).encode()
            elif self.path == "/simple/uv/":  # a relative URL, as PEP 691 allows
                listing = {"filename": filename, "url": f"../../files/{filename}"}
                listing["hashes"] = {"sha256": listed}
                body = json.dumps({"files": [listing]}).encode()
            elif self.path == f"/files/{filename}":
                body = b"PK not the pinned wheel"
            self.send_response(200 if body else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.parametrize(
    ("json_api", "listed", "requested", "error"),
    [
        (True, "pinned", [JSON_API, WHEEL], MISMATCH),
        (False, "pinned", [JSON_API, "/simple/uv/", WHEEL], MISMATCH),
        (True, "0" * 64, [JSON_API], "{url} lists sha256 {listed} for {filename}, pinned is "),
    ],
    ids=["json-api", "simple-api-fallback", "index-lists-another-digest"],
)
def test_refuses_a_wheel_that_is_not_the_pinned_one(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    json_api: bool,
    listed: str,
    requested: list[str],
    error: str,
) -> None:
    if THIS_TAG is None:
        pytest.skip("no uv build is pinned for this machine")
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    if listed == "pinned":
        listed = helper.PINNED[VERSION][THIS_TAG]
    dest = tmp_path / "cache" / "uv"
    with _index(json_api=json_api, listed=listed) as (url, requests):
        monkeypatch.setenv(helper.INDEX_ENV, url)
        assert helper.main(["_bootstrap_uv.py", VERSION, str(dest)]) == 1
    filename = f"uv-{VERSION}-py3-none-{THIS_TAG}.whl"
    names = {"version": VERSION, "filename": filename, "url": url, "listed": listed}
    assert requests == [path.format(**names) for path in requested]
    err = capsys.readouterr().err
    assert err.startswith(f"scripts/uv: could not fetch uv: {error.format(**names)}"), err
    assert err.endswith(f"; {HINT}\n")
    assert not dest.exists()
    assert not dest.parent.exists() or list(dest.parent.iterdir()) == []  # no temporary file left behind
