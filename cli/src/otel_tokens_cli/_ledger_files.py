"""Ledger files to OTLP JSON trace documents, reporting every record that cannot be read.

The gateway's ledger overlay (``collector-config/overlays/ledger.yaml``) writes LLM spans with the
contrib file exporter; other tools write OTLP JSON files too. :func:`iter_documents` turns paths
into the documents they hold and yields a :class:`Skipped` for anything it cannot read, so a total
computed from the documents can say what it is missing. Spans are not looked at here: a document
is any JSON object with a ``resourceSpans`` list.

Formats are told apart by a file's first bytes, never by its name:

- the file exporter's ``compression: zstd``: records of a 4-byte big-endian length followed by one
  zstd frame, whose content is one OTLP JSON document;
- standard zstd (the exporter with ``--feature-gates=exporter.file.nativeCompression``, or the
  ``zstd`` command run on a JSON file): concatenated frames whose content is JSON text;
- gzip, one member or several, of JSON text;
- uncompressed JSON text.

JSON text is JSON lines (one document per line, as the exporter writes without compression) or a
single document spread over lines (pretty-printed, as SDK and ``otel-cli`` file exporters write).
A damaged region of a compressed file (a frame cut off by a crash, corrupt bytes) is reported and
reading resumes at the next zstd frame, so records after the damage are not lost with it.
"""

from __future__ import annotations

import codecs
import contextlib
import itertools
import json
import mmap
import os
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeAlias

import zstandard

__all__ = ["LEDGER_SUFFIXES", "Document", "LedgerError", "Skipped", "iter_documents"]

LEDGER_SUFFIXES = (".json", ".jsonl", ".ndjson", ".gz", ".zst", ".zstd")
"""The file names a directory is read for; a file named explicitly is read whatever its name."""

Unit: TypeAlias = Literal["line", "record"]
"""What a position counts: lines of (decompressed) JSON text, or the exporter's length-prefixed records."""

_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20
_SNIFF = 1 << 16
_OTHER_SIGNALS = {"resourceMetrics": "metrics", "resourceLogs": "logs", "resourceProfiles": "profiles"}

_Data: TypeAlias = bytes | mmap.mmap


class LedgerError(Exception):
    """A path that cannot be read at all; the message names the path and the problem."""


@dataclass(frozen=True)
class Document:
    """One OTLP JSON ``ExportTraceServiceRequest`` (``{"resourceSpans": [...]}``) as parsed, in ``body``.

    ``number`` is 1-based: the line the document starts on in (decompressed) JSON text, or the
    record's index in the exporter's length-prefixed zstd; ``unit`` says which.
    """

    source: str
    unit: Unit
    number: int
    body: dict[str, Any]

    @property
    def where(self) -> str:
        """``"<source>:<line>"`` or ``"<source> record <n>"``, for messages."""
        return _where(self.source, self.unit, self.number)


@dataclass(frozen=True)
class Skipped:
    """A record, line or region that could not be read: where it is and why. None of its content
    is in any :class:`Document`."""

    source: str
    unit: Unit
    number: int
    reason: str

    @property
    def where(self) -> str:
        """``"<source>:<line>"`` or ``"<source> record <n>"``, for messages."""
        return _where(self.source, self.unit, self.number)

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


def _where(source: str, unit: Unit, number: int) -> str:
    return f"{source}:{number}" if unit == "line" else f"{source} record {number}"


def iter_documents(paths: Sequence[str | Path]) -> Iterator[Document | Skipped]:
    """The documents in ``paths``, in order, with a :class:`Skipped` for each unreadable record.

    A path is a file or a directory. A directory stands for its files named ``*.json``, ``*.jsonl``,
    ``*.ndjson``, ``*.gz``, ``*.zst`` or ``*.zstd`` (not its subdirectories) sorted by name, which for
    one ledger is its rotated backups oldest first, then the active file. A file reached twice (named,
    and in a named directory, or through a link) is read once. Empty files hold no documents.

    The files are listed when this is called. A live ledger can be read: a file still being written
    may end in a partial record (reported as skipped), and an active file that the collector
    rotates before it is reached is read under its backup's name, so what it held is neither lost
    nor read twice; what is written after that is not read.

    Raises :class:`LedgerError` at once when no path is given, a path does not exist or a directory
    holds no ledger file, and while iterating when a file cannot be opened or read, or was deleted
    since it was listed.
    """
    files = _files(paths)
    return itertools.chain.from_iterable(_read_file(file) for file in files)


@dataclass(frozen=True)
class _Listed:
    path: Path
    identity: tuple[int, int]
    """(device, inode) when listed: the file's content, whatever name it has by the time it is read."""


def _identity(status: os.stat_result) -> tuple[int, int]:
    return status.st_dev, status.st_ino


def _files(paths: Sequence[str | Path]) -> list[_Listed]:
    if not paths:
        raise LedgerError("no ledger file or directory given")
    found: list[_Listed] = []
    seen: set[tuple[int, int]] = set()
    for given in paths:
        if not str(given):
            raise LedgerError("an empty path was given")  # Path("") would be the working directory
        path = Path(given)
        if path.is_dir():
            try:
                members = sorted(
                    p for p in path.iterdir() if p.name.endswith(LEDGER_SUFFIXES) and p.is_file()
                )
            except OSError as error:
                raise LedgerError(f"{path}: cannot list the directory: {error.strerror or error}") from None
            if not members:
                names = ", ".join(f"*{suffix}" for suffix in LEDGER_SUFFIXES)
                raise LedgerError(f"{path}: no ledger files ({names}) in this directory")
        elif path.is_file():
            members = [path]
        elif path.exists():
            raise LedgerError(f"{path}: not a regular file or a directory")
        else:
            raise LedgerError(f"{path}: no such file or directory")
        for member in members:
            try:
                identity = _identity(member.stat())
            except OSError as error:
                raise LedgerError(f"{member}: cannot read: {error.strerror or error}") from None
            if identity not in seen:
                seen.add(identity)
                found.append(_Listed(member, identity))
    return found


def _read_file(listed: _Listed) -> Iterator[Document | Skipped]:
    path = listed.path
    try:
        file = path.open("rb")
        if _identity(os.fstat(file.fileno())) != listed.identity:
            file.close()  # rotated since it was listed: what it held is now under a backup's name
            path = _renamed(listed)
            file = path.open("rb")
        with file:
            status = os.fstat(file.fileno())
            if _identity(status) != listed.identity:
                raise LedgerError(f"{listed.path}: deleted while the ledger was being read")
            if status.st_size == 0:
                return
            # Mapped, not read: backups are up to the rotation size, and finding the next frame after
            # damaged bytes needs random access. Slices of the map are copies, so it closes cleanly.
            with mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
                yield from _records(str(path), data)
    except OSError as error:
        raise LedgerError(f"{path}: cannot read: {error.strerror or error}") from None


def _renamed(listed: _Listed) -> Path:
    """Where the listed file's content is now: the collector renames the active file to a backup
    (and starts a new one under the old name) when it rotates."""
    for candidate in sorted(listed.path.parent.iterdir()):
        with contextlib.suppress(OSError):
            if candidate.is_file() and _identity(candidate.stat()) == listed.identity:
                return candidate
    raise LedgerError(f"{listed.path}: deleted while the ledger was being read")


def _records(source: str, data: _Data) -> Iterator[Document | Skipped]:
    head = data[:8]
    if head.startswith(_GZIP_MAGIC):
        return _text_documents(source, _lines(_gunzip(data)))
    if head.startswith(_ZSTD_MAGIC):
        return _text_documents(source, _lines(_zstd_stream(data)))
    if head[4:8] == _ZSTD_MAGIC:
        return _prefixed_records(source, data)
    first = data.find(_ZSTD_MAGIC, 0, _SNIFF)
    if first >= 0 and _is_binary(data[:_SNIFF]):
        # The first record was cut off (a crash) and later ones were appended after it: the readers
        # skip the damaged start. A frame preceded by a length that fits is the exporter's framing.
        if first >= 4 and int.from_bytes(data[first - 4 : first], "big") <= len(data) - first:
            return _prefixed_records(source, data)
        return _text_documents(source, _lines(_zstd_stream(data)))
    return _text_documents(source, _lines(data[pos : pos + _CHUNK] for pos in range(0, len(data), _CHUNK)))


def _is_binary(head: bytes) -> bool:
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return True
    return b"\x00" in head


@dataclass(frozen=True)
class _Damage:
    """Bytes that could not be decoded, in a stream of decoded chunks."""

    reason: str


_Line: TypeAlias = tuple[int, bytes | _Damage]


class _FrameError(Exception):
    def __init__(self, reason: str, at_end: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.at_end = at_end


def _frame(decompressor: zstandard.ZstdDecompressor, data: _Data, start: int, end: int) -> tuple[bytes, int]:
    """The content of the zstd frame at ``start`` (its checksum verified) and the frame's length."""
    # One frame at a time (stated: a later zstandard may default to reading across frames).
    frame = decompressor.decompressobj(read_across_frames=False)
    content: list[bytes] = []
    fed = start
    try:
        while fed < end:
            chunk = data[fed : min(fed + _CHUNK, end)]
            content.append(frame.decompress(chunk))
            fed += len(chunk)
            if frame.eof:
                return b"".join(content), fed - len(frame.unused_data) - start
    except zstandard.ZstdError as error:
        raise _FrameError(f"corrupt zstd frame at byte {start} ({error})", at_end=False) from None
    raise _FrameError(
        f"the data ends inside the zstd frame at byte {start}, {end - start} bytes in "
        "(still being written, or cut off)",
        at_end=end == len(data),
    )


def _zstd_stream(data: _Data) -> Iterator[bytes | _Damage]:
    """The content of concatenated zstd frames; damage is reported and skipped to the next frame."""
    decompressor = zstandard.ZstdDecompressor()
    pos = 0
    while pos < len(data):
        if data[pos : pos + 4] != _ZSTD_MAGIC:
            resume = data.find(_ZSTD_MAGIC, pos + 1)
            end = resume if resume >= 0 else len(data)
            yield _Damage(f"{end - pos} bytes at byte {pos} are not zstd data")
            pos = end
            continue
        try:
            content, length = _frame(decompressor, data, pos, len(data))
        except _FrameError as error:
            yield _Damage(error.reason)
            if error.at_end:
                return
            resume = data.find(_ZSTD_MAGIC, pos + 1)
            pos = resume if resume >= 0 else len(data)
            continue
        yield content
        pos += length


def _prefixed_records(source: str, data: _Data) -> Iterator[Document | Skipped]:
    """The exporter's records: a 4-byte big-endian length, then one zstd frame of one document."""
    decompressor = zstandard.ZstdDecompressor()
    pos, number, size = 0, 0, len(data)
    while pos < size:
        number += 1
        length = int.from_bytes(data[pos : pos + 4], "big")
        if size - pos < 8:
            problem = (
                f"the file ends with {size - pos} bytes, too few for a record "
                "(still being written, or cut off)"
            )
        elif data[pos + 4 : pos + 8] != _ZSTD_MAGIC:
            problem = f"no record at byte {pos} (a 4-byte length, then a zstd frame)"
        elif pos + 4 + length > size:
            problem = (
                f"the record at byte {pos} says {length} bytes, the file has {size - pos - 4} more "
                "(still being written, or cut off)"
            )
        else:
            try:
                content, frame_length = _frame(decompressor, data, pos + 4, pos + 4 + length)
            except _FrameError as error:
                problem = error.reason
            else:
                yield _document(source, "record", number, content)
                pos += 4 + frame_length
                continue
        # Resume at the next frame that could start a record: one cut off by a crash may be followed
        # by records appended after a restart.
        resume = data.find(_ZSTD_MAGIC, pos + 5) if size - pos >= 8 else -1
        if resume < 0:
            yield Skipped(source, "record", number, f"{problem}; nothing readable follows")
            return
        yield Skipped(source, "record", number, f"{problem}; {resume - 4 - pos} bytes skipped")
        pos = resume - 4


def _gunzip(data: _Data) -> Iterator[bytes | _Damage]:
    """The content of one or more gzip members; a truncated or corrupt stream ends with damage."""
    member = zlib.decompressobj(wbits=31)
    fed = False
    for pos in range(0, len(data), _CHUNK):
        chunk = data[pos : pos + _CHUNK]
        while chunk:
            fed = True
            try:
                content = member.decompress(chunk)
            except zlib.error as error:
                yield _Damage(f"corrupt gzip data ({error}); the rest of the file cannot be read")
                return
            if content:
                yield content
            if not member.eof:
                break
            chunk, fed = member.unused_data, False
            member = zlib.decompressobj(wbits=31)
    if fed and not member.eof:
        yield member.flush()
        yield _Damage("the gzip data ends early (still being written, or cut off)")


def _lines(chunks: Iterable[bytes | _Damage]) -> Iterator[_Line]:
    """Numbered lines (1-based, newline removed) of decoded chunks. Damage takes the number of the
    line it interrupts; the part of that line decoded before the damage is lost with it."""
    number = 1
    parts: list[bytes] = []
    for chunk in chunks:
        if not chunk:
            continue
        if isinstance(chunk, _Damage):
            if parts:
                chunk = _Damage(f"{chunk.reason}; it cut line {number} short")
                parts = []
            yield number, chunk
            continue
        pieces = chunk.split(b"\n")
        if len(pieces) == 1:
            parts.append(chunk)
            continue
        yield number, b"".join([*parts, pieces[0]])
        number += 1
        for piece in pieces[1:-1]:
            yield number, piece
            number += 1
        parts = [pieces[-1]] if pieces[-1] else []
    if parts:
        yield number, b"".join(parts)


def _text_documents(source: str, lines: Iterable[_Line]) -> Iterator[Document | Skipped]:
    """JSON lines, or one document over many lines when the first line is not JSON on its own."""
    lines = iter(lines)
    head: list[_Line] = []
    first: tuple[int, bytes] | None = None
    for number, line in lines:
        head.append((number, line))
        if isinstance(line, bytes) and line.strip():
            first = (number, line)
            break
    if first is None or _loads(first[1]) is not None:
        yield from _json_lines(source, itertools.chain(head, lines))
        return
    # A pretty-printed document, read whole (such files are small: one export each).
    everything = head + list(lines)
    text = b"\n".join(line for _, line in everything if isinstance(line, bytes))
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as error:
        if any(isinstance(_loads(line), dict) for _, line in everything if isinstance(line, bytes)):
            yield from _json_lines(source, everything)  # JSON lines whose first line is damaged
            return
        yield Skipped(source, "line", first[0], f"neither JSON lines nor one JSON document: {error}")
    else:
        yield _checked(source, "line", first[0], value)
    for number, line in everything:
        if isinstance(line, _Damage):
            yield Skipped(source, "line", number, line.reason)


def _json_lines(source: str, lines: Iterable[_Line]) -> Iterator[Document | Skipped]:
    for number, line in lines:
        if isinstance(line, _Damage):
            yield Skipped(source, "line", number, line.reason)
        elif line.strip():
            yield _document(source, "line", number, line)


def _loads(raw: bytes) -> object | None:
    """The JSON value of ``raw``, or None when it is not JSON (null itself is not a document)."""
    try:
        value: object = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return value


def _document(source: str, unit: Unit, number: int, raw: bytes) -> Document | Skipped:
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError) as error:
        return Skipped(source, unit, number, f"not JSON: {error}")
    return _checked(source, unit, number, value)


def _checked(source: str, unit: Unit, number: int, value: object) -> Document | Skipped:
    if not isinstance(value, dict):
        return Skipped(source, unit, number, f"a JSON {_kind(value)}, not an OTLP trace document")
    spans = value.get("resourceSpans")
    if spans is None:
        signal = next((name for key, name in _OTHER_SIGNALS.items() if key in value), None)
        reason = f"an OTLP {signal} document, not traces" if signal else "a JSON object without resourceSpans"
        return Skipped(source, unit, number, reason)
    if not isinstance(spans, list):
        return Skipped(source, unit, number, f"resourceSpans is a JSON {_kind(spans)}, not an array")
    return Document(source, unit, number, value)


def _kind(value: object) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    return "null" if value is None else "number"
