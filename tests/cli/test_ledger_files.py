"""``otel_tokens_cli._ledger_files``: every format the ledger can be in, every kind of damage
reported where it is, and nothing after the damage lost. Files are written here byte for byte as
the collector's file exporter v0.159.0 writes them (see collector-config/overlays/ledger.yaml)."""

from __future__ import annotations

import gzip
import json
import os
import pathlib
import struct
from pathlib import Path
from typing import Any

import pytest
import zstandard
from otel_tokens_cli._ledger_files import Document, LedgerError, Skipped, iter_documents

ZSTD = zstandard.ZstdCompressor(level=3, write_checksum=True, write_content_size=True)


def doc(index: int, padding: str = "") -> dict[str, Any]:
    span: dict[str, Any] = {"traceId": f"{index:032x}", "spanId": f"{index:016x}", "name": f"chat {index}"}
    if padding:
        span["attributes"] = [{"key": "pad", "value": {"stringValue": padding}}]
    return {"resourceSpans": [{"resource": {}, "scopeSpans": [{"scope": {}, "spans": [span]}]}]}


def line(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


def record(document: Any) -> bytes:
    """One export as the exporter writes it by default: a 4-byte big-endian length, then one
    complete zstd frame of the document's JSON (no newline)."""
    frame = ZSTD.compress(line(document))
    return struct.pack(">I", len(frame)) + frame


def native(document: Any) -> bytes:
    """One export with the exporter's nativeCompression gate and rotation: the JSON and the
    newline after it, each its own frame."""
    return ZSTD.compress(line(document)) + ZSTD.compress(b"\n")


def read(*paths: str | Path) -> list[Document | Skipped]:
    return list(iter_documents(paths))


def summary(items: list[Document | Skipped]) -> list[tuple[Any, ...]]:
    """(unit, number, first span id) for a document, (unit, number, reason) for a skip."""
    return [
        (i.unit, i.number, i.body["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["spanId"])
        if isinstance(i, Document)
        else ("skipped", i.unit, i.number, i.reason)
        for i in items
    ]


def span_id(index: int) -> str:
    return f"{index:016x}"


# --- the exporter's default framing: length-prefixed zstd records ---


def test_length_prefixed_zstd_records_are_one_document_each(tmp_path):
    path = tmp_path / "llm-spans.zst"
    path.write_bytes(b"".join(record(doc(i)) for i in (1, 2, 3)))
    items = read(path)
    assert summary(items) == [("record", n, span_id(n)) for n in (1, 2, 3)]
    assert items[0] == Document(str(path), "record", 1, doc(1))
    assert items[0].where == f"{path} record 1"


def test_a_record_cut_off_at_the_end_is_reported_and_the_ones_before_kept(tmp_path):
    path = tmp_path / "llm-spans.zst"
    last = record(doc(3))
    path.write_bytes(record(doc(1)) + record(doc(2)) + last[:-7])
    items = read(path)
    assert summary(items)[:2] == [("record", 1, span_id(1)), ("record", 2, span_id(2))]
    skipped = items[2]
    assert isinstance(skipped, Skipped) and (skipped.unit, skipped.number) == ("record", 3)
    assert skipped.reason == (
        f"the record at byte {len(record(doc(1))) * 2} says {len(last) - 4} bytes, the file has "
        f"{len(last) - 11} more (still being written, or cut off); nothing readable follows"
    )
    assert str(skipped) == f"{path} record 3: {skipped.reason}"


def test_records_appended_after_a_cut_off_one_are_still_read(tmp_path):
    """A crash mid-write, then a restarted collector appending to the same file."""
    path = tmp_path / "llm-spans.zst"
    cut = record(doc(2))[:30]
    path.write_bytes(record(doc(1)) + cut + record(doc(3)) + record(doc(4)))
    items = read(path)
    assert summary(items)[0] == ("record", 1, span_id(1))
    assert summary(items)[2:] == [("record", 3, span_id(3)), ("record", 4, span_id(4))]
    skipped = items[1]
    assert isinstance(skipped, Skipped) and skipped.number == 2
    assert skipped.reason.endswith(f"; {len(cut)} bytes skipped")


def test_a_corrupt_frame_is_skipped_and_reading_goes_on(tmp_path):
    path = tmp_path / "llm-spans.zst"
    damaged = bytearray(record(doc(2, padding="x" * 300)))
    damaged[-6] ^= 0xFF  # in the checksummed content: the frame decodes wrong
    path.write_bytes(record(doc(1)) + bytes(damaged) + record(doc(3)))
    items = read(path)
    assert summary(items)[0] == ("record", 1, span_id(1))
    assert summary(items)[2] == ("record", 3, span_id(3))
    skipped = items[1]
    assert isinstance(skipped, Skipped) and skipped.number == 2
    assert skipped.reason.startswith(f"corrupt zstd frame at byte {len(record(doc(1))) + 4} (")


def test_a_few_trailing_bytes_are_reported(tmp_path):
    path = tmp_path / "llm-spans.zst"
    path.write_bytes(record(doc(1)) + b"\x00\x00\x01")
    assert summary(read(path)) == [
        ("record", 1, span_id(1)),
        (
            "skipped",
            "record",
            2,
            "the file ends with 3 bytes, too few for a record (still being written, or cut off); "
            "nothing readable follows",
        ),
    ]


def test_a_file_whose_first_record_is_damaged_is_still_recognised(tmp_path):
    path = tmp_path / "llm-spans.zst"
    path.write_bytes(b"\x00\x00\xff\x07\x9c" + record(doc(1)) + record(doc(2)))
    items = read(path)
    assert summary(items) == [
        ("skipped", "record", 1, "no record at byte 0 (a 4-byte length, then a zstd frame); 5 bytes skipped"),
        ("record", 2, span_id(1)),
        ("record", 3, span_id(2)),
    ]


def test_records_are_checked_to_be_trace_documents(tmp_path):
    path = tmp_path / "llm-spans.zst"
    path.write_bytes(
        record({"resourceMetrics": []})
        + record([1, 2])
        + record({"resourceSpans": {}})
        + record(doc(4))
        + struct.pack(">I", len(ZSTD.compress(b"{no")))
        + ZSTD.compress(b"{no")
    )
    items = read(path)
    assert summary(items)[:4] == [
        ("skipped", "record", 1, "an OTLP metrics document, not traces"),
        ("skipped", "record", 2, "a JSON array, not an OTLP trace document"),
        ("skipped", "record", 3, "resourceSpans is a JSON object, not an array"),
        ("record", 4, span_id(4)),
    ]
    assert isinstance(items[4], Skipped) and items[4].reason.startswith("not JSON: ")


def test_a_record_larger_than_a_read_chunk(tmp_path):
    """Frames are fed to the decompressor a megabyte at a time; random content does not compress."""
    padding = os.urandom(1_200_000).hex()
    path = tmp_path / "llm-spans.zst"
    path.write_bytes(record(doc(1, padding)) + record(doc(2)))
    items = read(path)
    assert summary(items) == [("record", 1, span_id(1)), ("record", 2, span_id(2))]
    assert isinstance(items[0], Document)
    assert items[0].body == doc(1, padding)


# --- standard zstd: the nativeCompression gate, or the zstd command ---


def test_native_zstd_frames_hold_json_lines(tmp_path):
    path = tmp_path / "llm-spans.zst"
    path.write_bytes(b"".join(native(doc(i)) for i in (1, 2, 3)))
    assert summary(read(path)) == [("line", n, span_id(n)) for n in (1, 2, 3)]


def test_a_zstd_stream_whose_frames_split_lines_anywhere(tmp_path):
    """Without rotation the gated exporter streams, closing a frame at each flush."""
    text = b"".join(line(doc(i)) + b"\n" for i in range(1, 6))
    path = tmp_path / "spans.jsonl.zst"
    path.write_bytes(b"".join(ZSTD.compress(text[start : start + 37]) for start in range(0, len(text), 37)))
    assert summary(read(path)) == [("line", n, span_id(n)) for n in range(1, 6)]


def test_a_zstd_frame_still_being_written_is_reported(tmp_path):
    path = tmp_path / "llm-spans.zst"
    cut = native(doc(2))[:20]
    path.write_bytes(native(doc(1)) + cut)
    assert summary(read(path)) == [
        ("line", 1, span_id(1)),
        (
            "skipped",
            "line",
            2,
            f"the data ends inside the zstd frame at byte {len(native(doc(1)))}, {len(cut)} bytes in "
            "(still being written, or cut off)",
        ),
    ]


def test_garbage_between_zstd_frames_is_reported_and_skipped(tmp_path):
    path = tmp_path / "llm-spans.zst"
    path.write_bytes(native(doc(1)) + b"garbage!" + native(doc(2)))
    assert summary(read(path)) == [
        ("line", 1, span_id(1)),
        ("skipped", "line", 2, f"8 bytes at byte {len(native(doc(1)))} are not zstd data"),
        ("line", 2, span_id(2)),
    ]


# --- gzip and plain JSON ---


def test_gzip_json_lines_in_one_or_more_members(tmp_path):
    path = tmp_path / "spans.jsonl.gz"
    path.write_bytes(
        gzip.compress(line(doc(1)) + b"\n" + line(doc(2)) + b"\n") + gzip.compress(line(doc(3)) + b"\n")
    )
    assert summary(read(path)) == [("line", n, span_id(n)) for n in (1, 2, 3)]


def test_a_truncated_gzip_keeps_its_complete_lines(tmp_path):
    path = tmp_path / "spans.jsonl.gz"
    text = b"".join(line(doc(i, padding=os.urandom(200).hex())) + b"\n" for i in range(1, 4))
    path.write_bytes(gzip.compress(text)[:-100])  # inside the last line
    items = read(path)
    documents = [i for i in items if isinstance(i, Document)]
    assert [d.number for d in documents] == [1, 2]
    assert [(s.number, s.reason) for s in items if isinstance(s, Skipped)] == [
        (3, "the gzip data ends early (still being written, or cut off); it cut line 3 short")
    ]


def test_a_pretty_printed_json_document(tmp_path):
    path = tmp_path / "export.json"
    path.write_text("\n\n" + json.dumps(doc(7), indent=2) + "\n")
    assert read(path) == [Document(str(path), "line", 3, doc(7))]


def test_json_lines_with_damaged_lines_report_each_one(tmp_path):
    path = tmp_path / "spans.jsonl"
    path.write_bytes(
        b"\n".join(
            [
                line(doc(1)),
                b"",
                b'{"resourceSpans": [',
                b'"a string"',
                b'{"resource": {}}',
                line({"resourceLogs": []}),
                line(doc(7)) + b"\r",
                b"\xff\xfe",
            ]
        )
    )
    items = read(path)
    assert summary(items) == [
        ("line", 1, span_id(1)),
        ("skipped", "line", 3, items[1].reason if isinstance(items[1], Skipped) else ""),
        ("skipped", "line", 4, "a JSON string, not an OTLP trace document"),
        ("skipped", "line", 5, "a JSON object without resourceSpans"),
        ("skipped", "line", 6, "an OTLP logs document, not traces"),
        ("line", 7, span_id(7)),
        ("skipped", "line", 8, items[6].reason if isinstance(items[6], Skipped) else ""),
    ]
    assert isinstance(items[1], Skipped) and items[1].reason.startswith("not JSON: ")
    assert isinstance(items[6], Skipped) and items[6].reason.startswith("not JSON: ")
    assert items[1].where == f"{path}:3"


def test_json_lines_whose_first_line_is_damaged_are_still_json_lines(tmp_path):
    path = tmp_path / "spans.jsonl"
    path.write_bytes(line(doc(1))[:-9] + b"\n" + line(doc(2)) + b"\n" + line(doc(3)) + b"\n")
    items = read(path)
    assert summary(items)[1:] == [("line", 2, span_id(2)), ("line", 3, span_id(3))]
    assert isinstance(items[0], Skipped) and items[0].number == 1


def test_a_file_that_is_not_json_at_all_is_one_skip(tmp_path):
    path = tmp_path / "notes.json"
    path.write_text("these are\nnot spans\n")
    [skipped] = read(path)
    assert isinstance(skipped, Skipped) and (skipped.unit, skipped.number) == ("line", 1)
    assert skipped.reason.startswith("neither JSON lines nor one JSON document: Expecting value")


def test_a_line_longer_than_a_read_chunk(tmp_path):
    path = tmp_path / "spans.jsonl"
    big = doc(1, padding="y" * 2_500_000)
    path.write_bytes(line(big) + b"\n" + line(doc(2)) + b"\n")
    items = read(path)
    assert summary(items) == [("line", 1, span_id(1)), ("line", 2, span_id(2))]
    assert isinstance(items[0], Document) and items[0].body == big


def test_an_empty_file_holds_no_documents(tmp_path):
    path = tmp_path / "llm-spans.zst"
    path.write_bytes(b"")
    assert read(path) == []


# --- paths ---


def test_a_directory_is_its_ledger_files_sorted_backups_first(tmp_path):
    """timberjack's backup names sort before the active file and by rotation time."""
    names = {
        "llm-spans.zst": 3,
        "llm-spans-2026-12-07T15-04-05.000-size.zst": 2,
        "llm-spans-2026-12-07T09-00-00.500-size.zst": 1,
        "older.jsonl.gz": 0,
    }
    for name, index in names.items():
        data = record(doc(index))
        (tmp_path / name).write_bytes(gzip.compress(line(doc(index))) if name.endswith(".gz") else data)
    (tmp_path / "README.md").write_text("not a ledger file")
    (tmp_path / "sub.zst").mkdir()
    items = read(tmp_path)
    assert [(Path(i.source).name, summary([i])[0][2]) for i in items] == [
        ("llm-spans-2026-12-07T09-00-00.500-size.zst", span_id(1)),
        ("llm-spans-2026-12-07T15-04-05.000-size.zst", span_id(2)),
        ("llm-spans.zst", span_id(3)),
        ("older.jsonl.gz", span_id(0)),
    ]


def test_a_file_named_and_in_a_named_directory_is_read_once(tmp_path):
    path = tmp_path / "llm-spans.zst"
    path.write_bytes(record(doc(1)))
    other = tmp_path / "export.json"
    other.write_text(json.dumps(doc(2)))
    assert summary(read(path, tmp_path, str(other))) == [("record", 1, span_id(1)), ("line", 1, span_id(2))]


def test_an_active_file_rotated_after_listing_is_read_under_its_backup_name(tmp_path):
    """The collector renames the active file and starts a new one: the listed content is read
    once, where it now is, and the new file (written after the listing) is not read."""
    active = tmp_path / "llm-spans.zst"
    active.write_bytes(record(doc(1)) + record(doc(2)))
    documents = iter_documents([tmp_path])
    backup = tmp_path / "llm-spans-2026-12-07T15-04-05.000-size.zst"
    active.rename(backup)
    active.write_bytes(record(doc(3)))
    items = list(documents)
    assert [(i.source, i.number) for i in items] == [(str(backup), 1), (str(backup), 2)]


def test_a_file_deleted_after_listing_is_an_error(tmp_path):
    path = tmp_path / "llm-spans-2026-12-07T15-04-05.000-size.zst"
    path.write_bytes(record(doc(1)))
    documents = iter_documents([tmp_path])
    path.unlink()
    with pytest.raises(LedgerError) as raised:
        list(documents)
    assert str(raised.value) == f"{path}: cannot read: No such file or directory"


def test_a_hard_link_to_a_listed_file_is_read_once(tmp_path):
    path = tmp_path / "llm-spans.zst"
    path.write_bytes(record(doc(1)))
    os.link(path, tmp_path / "copy.zst")
    assert summary(read(tmp_path)) == [("record", 1, span_id(1))]


def test_a_named_file_is_read_whatever_its_name(tmp_path):
    path = tmp_path / "ledger.bin"
    path.write_bytes(record(doc(1)))
    assert summary(read(path)) == [("record", 1, span_id(1))]


def test_a_missing_path_is_an_error_before_anything_is_read(tmp_path):
    good = tmp_path / "llm-spans.zst"
    good.write_bytes(record(doc(1)))
    missing = tmp_path / "nope" / "llm-spans.zst"
    with pytest.raises(LedgerError) as raised:
        iter_documents([good, missing])
    assert str(raised.value) == f"{missing}: no such file or directory"


def test_a_directory_without_ledger_files_is_an_error(tmp_path):
    with pytest.raises(LedgerError) as raised:
        iter_documents([tmp_path])
    assert str(raised.value) == (
        f"{tmp_path}: no ledger files (*.json, *.jsonl, *.ndjson, *.gz, *.zst, *.zstd) in this directory"
    )
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(LedgerError, match="no ledger files"):
        iter_documents([tmp_path])


def test_no_path_or_an_empty_one_is_an_error():
    with pytest.raises(LedgerError, match="no ledger file or directory given"):
        iter_documents([])
    with pytest.raises(LedgerError, match="an empty path was given"):
        iter_documents([""])


def test_a_file_that_cannot_be_read_is_an_error_naming_it(tmp_path, monkeypatch):
    path = tmp_path / "llm-spans.zst"
    path.write_bytes(record(doc(1)))

    def refuse(self: Path, *args: Any, **kwargs: Any) -> Any:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(pathlib.Path, "open", refuse)
    documents = iter_documents([path])
    with pytest.raises(LedgerError) as raised:
        next(documents)
    assert str(raised.value) == f"{path}: cannot read: Permission denied"


def test_a_path_that_is_neither_file_nor_directory_is_an_error(tmp_path):
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    with pytest.raises(LedgerError) as raised:
        iter_documents([fifo])
    assert str(raised.value) == f"{fifo}: not a regular file or a directory"
