"""Streaming readers for the builder's release records (JSONL or JSON arrays); the image bundle is in images.py.

Nothing here holds more than one record in memory at a time. A UTF-8 byte order mark is skipped; a line that is not
UTF-8, not JSON, not an object, or cut short at the end of the file becomes a RawRecord with its error, so the build
rejects it naming the file and line (and keeps it aside under --on-error skip) instead of stopping without a place.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


class BadRecordError(ValueError):
    """A record the builder cannot use; names the file, the line and the field at fault."""

    def __init__(self, file: str | Path, line: int | None, field: str | None, reason: str):
        self.file, self.line, self.field, self.reason = str(file), line, field, reason
        where = f"{self.file}:{line}" if line is not None else self.file
        super().__init__(f"{where}: " + (f"field {field!r}: " if field else "") + reason)


class BadInputError(ValueError):
    """An input the whole build cannot go on without (a missing zip part, a JSON array that does not parse)."""


@dataclass(slots=True)  # one per record read: slots make it cheaper to create
class RawRecord:
    file: str
    line: int
    # The parsed record, or None when the line is not valid JSON (then `error` says why and `text` holds the line).
    record: dict | None
    text: str = ""
    error: str | None = None


# ----------------------------------------------------------------------------------------------------------- records
RECORD_SUFFIXES = (".jsonl", ".json")


def list_record_files(sources: list[str | Path]) -> list[Path]:
    """Expands files and folders (their *.json / *.jsonl, sorted) into the list of record files to read."""
    files = []
    for source in sources:
        path = Path(source)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix in RECORD_SUFFIXES and p.is_file())
            if not found:
                raise BadInputError(f"{path}: no *.json or *.jsonl record files in this folder")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise BadInputError(f"{path}: no such record file or folder")
    return files


def iter_raw_records(path: Path) -> Iterator[RawRecord]:
    """Yields the records of one file with their line numbers: JSONL line by line, or a JSON array streamed."""
    with open(path, "rb") as handle:
        head = handle.read(4096)
        start = len(codecs.BOM_UTF8) if head.startswith(codecs.BOM_UTF8) else 0
        if head[start:].lstrip()[:1] == b"[":
            with open(path, encoding="utf-8-sig") as text:
                yield from _iter_json_array(path, text)
            return
        handle.seek(start)
        yield from _iter_jsonl(str(path), handle)


def _iter_jsonl(file: str, handle) -> Iterator[RawRecord]:
    for line_number, line in enumerate(handle, start=1):
        if line.isspace():  # a blank line (every line read but a last empty one ends with "\n")
            continue
        try:
            record = json.loads(line)
        except UnicodeDecodeError as error:
            text = line.decode("utf-8", "replace").rstrip("\n")
            yield RawRecord(file, line_number, None, text, f"not valid UTF-8 (byte {error.start} of the line)")
            continue
        except json.JSONDecodeError as error:
            text = line.decode("utf-8", "replace").rstrip("\n")
            reason = f"malformed JSON: {error.msg}"
            if not line.endswith(b"\n"):  # the last line, cut short (a copy or a write that did not finish)
                reason += " (torn last line: the file ends without a newline in the middle of a record)"
            yield RawRecord(file, line_number, None, text, reason)
            continue
        if not isinstance(record, dict):
            text = line.decode("utf-8", "replace").rstrip("\n")
            yield RawRecord(file, line_number, None, text, "a record must be a JSON object")
            continue
        yield RawRecord(file, line_number, record)


_SEPARATORS = re.compile(r"[\s,]*")


def _iter_json_array(path: Path, handle, chunk_size: int = 1 << 20) -> Iterator[RawRecord]:
    """Decodes `[ {...}, {...} ]` one object at a time with a bounded buffer (json.load would hold it all)."""
    decoder = json.JSONDecoder()
    buffer = handle.read(chunk_size)
    position = buffer.index("[") + 1
    line_number = 1 + buffer.count("\n", 0, position)
    while True:
        # Skip whitespace and the comma between objects, refilling the buffer as needed.
        while True:
            match = _SEPARATORS.match(buffer, position)
            line_number += buffer.count("\n", position, match.end())
            position = match.end()
            if position < len(buffer):
                break
            more = handle.read(chunk_size)
            if not more:
                raise BadInputError(f"{path}:{line_number}: malformed JSON: the array is not closed with ']'")
            buffer, position = more, 0
        if buffer[position] == "]":
            return
        while True:
            try:
                record, end = decoder.raw_decode(buffer, position)
                break
            except json.JSONDecodeError as error:
                more = handle.read(chunk_size)
                if not more:
                    raise BadInputError(f"{path}:{line_number}: malformed JSON: {error.msg}") from None
                buffer, position = buffer[position:] + more, 0
        if not isinstance(record, dict):
            yield RawRecord(str(path), line_number, None, json.dumps(record), "a record must be a JSON object")
        else:
            yield RawRecord(str(path), line_number, record)
        line_number += buffer.count("\n", position, end)
        position = end
        if position > chunk_size:  # drop what was consumed so the buffer stays bounded
            buffer, position = buffer[position:], 0
