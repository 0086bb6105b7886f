"""Fetches the pinned uv for scripts/uv with nothing but this Python's standard library.

    python3 scripts/_bootstrap_uv.py VERSION DEST             uv VERSION's binary for this machine, to DEST
    python3 scripts/_bootstrap_uv.py --print-digests VERSION  a PINNED entry for VERSION, from the index

Takes uv's wheel for this platform from PyPI, checks its sha256 against PINNED, extracts only the
`uv` binary and moves it to DEST in one rename, so a concurrent run sees either no file or the whole
binary. Prints one line on stderr saying what it fetched and where; on any failure, one line saying
why and exit status 1, leaving nothing behind. Needs no pip, no venv and no write access outside
DEST's folder, so it runs with a stock Debian or Ubuntu python3 (PEP 668 "externally managed").
Runs on Python 3.7 and newer. Proxies come from HTTPS_PROXY/NO_PROXY (urllib's default), CA
certificates from SSL_CERT_FILE/SSL_CERT_DIR (OpenSSL's default).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from typing import BinaryIO

HINT = "install uv (https://docs.astral.sh/uv/) and rerun"

INDEX_ENV = "OTEL_TOKENS_PYPI_URL"
"""Base URL of a PyPI-compatible index serving `/pypi/uv/VERSION/json` or the PEP 691 JSON form of
`/simple/uv/` (default https://pypi.org). The wheel's digest is checked against PINNED whatever
index serves it."""

MANYLINUX_X86_64 = "manylinux_2_17_x86_64.manylinux2014_x86_64"
MUSLLINUX_X86_64 = "musllinux_1_1_x86_64"
LINUX_AARCH64 = "manylinux_2_17_aarch64.manylinux2014_aarch64.musllinux_1_1_aarch64"
MACOS_X86_64 = "macosx_10_12_x86_64"
MACOS_ARM64 = "macosx_11_0_arm64"

# The sha256 of every wheel we accept, by uv version and platform tag. Hard-coded rather than taken
# from the index at fetch time: the index lists digests from the same place the wheel comes from,
# so checking against them only catches a damaged download, while a digest committed here (and
# reviewed in the change that bumps the version) also catches a tampered index, mirror or proxy.
# The index only says where the file is. To bump: `python3 scripts/_bootstrap_uv.py
# --print-digests NEW` prints the entry, then set `version=` in scripts/uv.
PINNED: dict[str, dict[str, str]] = {
    "0.13.9": {
        MANYLINUX_X86_64: "d7f459fe4fd247d830351c75686d3996ace3c6f3f728eb0e85a30b7ada0cef19",
        MUSLLINUX_X86_64: "2c45530751517d6c3bbc69a19473f6effe47cce047bede01ffd8af7ea7b36b25",
        LINUX_AARCH64: "5435c5ce14a56431208ca0996416d310f1598e8c2c8ba707688985a16bb82dbe",
        MACOS_X86_64: "c16ed11e013557536b3e60065f1b912f6407bd6518e041b961e23ef9e6b4fbf5",
        MACOS_ARM64: "66c512266d633bef48384a1f53003f41f2a8e7b36fe6e7fbfd3e0fd52d96fa63",
    },
}


class BootstrapError(Exception):
    """Why uv could not be fetched; main() prints it with HINT."""


def platform_tag(system: str, machine: str, glibc: tuple[int, int] | None) -> str | None:
    """The platform tag of the uv wheel that runs on SYSTEM/MACHINE (platform.system() and
    platform.machine()) with that glibc (None: no glibc), or None when no pinned wheel does."""
    machine = machine.lower()
    if system == "Darwin":
        return {"x86_64": MACOS_X86_64, "arm64": MACOS_ARM64}.get(machine)
    if system != "Linux":
        return None
    if machine in ("x86_64", "amd64"):
        # The glibc build where pip would pick it too; the statically linked musl build otherwise
        # (Alpine, or a glibc older than 2.17).
        return MANYLINUX_X86_64 if glibc is not None and glibc >= (2, 17) else MUSLLINUX_X86_64
    if machine in ("aarch64", "arm64"):
        return LINUX_AARCH64  # statically linked: runs with glibc or musl
    return None


def glibc_version() -> tuple[int, int] | None:
    """The running glibc's (major, minor), or None where the C library is not glibc."""
    try:
        _, version = os.confstr("CS_GNU_LIBC_VERSION").split()  # type: ignore[union-attr]
        major, minor = version.split(".")[:2]
        return int(major), int(minor)
    except (AttributeError, ValueError, OSError):
        return None


def _open(url: str, accept: str) -> BinaryIO:
    request = urllib.request.Request(url, headers={"Accept": accept, "User-Agent": "otel-tokens-scripts-uv"})
    return urllib.request.urlopen(request, timeout=60)  # type: ignore[no-any-return]


def release_files(index: str, version: str) -> dict[str, tuple[str, str]]:
    """filename -> (url, sha256 the index lists) of uv VERSION's files. From the index's JSON API;
    from its PEP 691 simple page where that API is not served (pip's own source: some proxies and
    mirrors serve only that)."""
    url = f"{index}/pypi/uv/{version}/json"
    try:
        with _open(url, "application/json") as response:
            files = json.load(response)["urls"]
        return {f["filename"]: (f["url"], f["digests"]["sha256"]) for f in files}
    except urllib.error.HTTPError as error:
        if error.code != 404:
            raise
    url = f"{index}/simple/uv/"
    with _open(url, "application/vnd.pypi.simple.v1+json") as response:
        files = json.load(response)["files"]
    return {
        f["filename"]: (urllib.parse.urljoin(url, f["url"]), f["hashes"].get("sha256", ""))
        for f in files
        if f["filename"].startswith(f"uv-{version}-")
    }


def _download(url: str, into: BinaryIO) -> str:
    """Writes URL's bytes to INTO; returns their sha256."""
    digest = hashlib.sha256()
    with _open(url, "*/*") as response:
        for chunk in iter(lambda: response.read(1 << 20), b""):
            digest.update(chunk)
            into.write(chunk)
    return digest.hexdigest()


def fetch(version: str, dest: str, index: str) -> str:
    """Puts uv VERSION's binary for this machine at DEST (created or replaced in one rename);
    returns the line that says what was fetched and where."""
    system, machine = platform.system(), platform.machine()
    tag = platform_tag(system, machine, glibc_version())
    if tag is None:
        raise BootstrapError(f"no uv build is pinned for {system} {machine}")
    if version not in PINNED:
        raise BootstrapError(f"scripts/uv asks for uv {version}, which has no digests in {__file__}")
    pinned = PINNED[version][tag]
    filename = f"uv-{version}-py3-none-{tag}.whl"
    files = release_files(index, version)
    if filename not in files:
        raise BootstrapError(f"{index} has no {filename}")
    url, listed = files[filename]
    if listed and listed != pinned:
        raise BootstrapError(f"{index} lists sha256 {listed} for {filename}, pinned is {pinned}")

    folder = os.path.dirname(os.path.abspath(dest))
    os.makedirs(folder, exist_ok=True)
    # Temporary files beside DEST, so that the final os.replace is a rename on one file system.
    temporary: list[str] = []
    try:
        fd, wheel_path = tempfile.mkstemp(dir=folder, prefix=".uv-", suffix=".whl")
        temporary.append(wheel_path)
        with os.fdopen(fd, "w+b") as wheel:
            got = _download(url, wheel)
            if got != pinned:
                raise BootstrapError(f"sha256 mismatch for {url}: got {got}, pinned {pinned}")
            wheel.seek(0)
            fd, binary_path = tempfile.mkstemp(dir=folder, prefix=".uv-")
            temporary.append(binary_path)
            with zipfile.ZipFile(wheel) as archive, os.fdopen(fd, "wb") as binary:
                with archive.open(f"uv-{version}.data/scripts/uv") as member:
                    shutil.copyfileobj(member, binary)
                binary.flush()
                os.fsync(binary.fileno())
        os.chmod(binary_path, 0o755)
        os.replace(binary_path, dest)
    finally:
        for path in temporary:
            if os.path.exists(path):
                os.remove(path)
    host = urllib.parse.urlsplit(url).hostname
    return f"scripts/uv: fetched uv {version} ({filename} from {host}, sha256 verified) into {dest}"


def print_digests(version: str, index: str) -> None:
    """Prints the PINNED entry for uv VERSION, with the digests the index lists."""
    files = release_files(index, version)
    print(f'    "{version}": {{')
    for name in ("MANYLINUX_X86_64", "MUSLLINUX_X86_64", "LINUX_AARCH64", "MACOS_X86_64", "MACOS_ARM64"):
        _, digest = files[f"uv-{version}-py3-none-{globals()[name]}.whl"]
        print(f'        {name}: "{digest}",')
    print("    },")


def main(argv: list[str]) -> int:
    index = os.environ.get(INDEX_ENV, "https://pypi.org").rstrip("/")
    try:
        if len(argv) == 3 and argv[1] == "--print-digests":
            print_digests(argv[2], index)
        elif len(argv) == 3:
            print(fetch(argv[1], argv[2], index), file=sys.stderr)
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except (BootstrapError, OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        # OSError covers urllib's URLError and HTTPError and ssl's errors; ValueError bad JSON.
        print(f"scripts/uv: could not fetch uv: {error}; {HINT}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
