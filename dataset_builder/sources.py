"""Streaming readers for the builder's inputs: release records (JSONL or JSON arrays) and image bundles (an unpacked
folder, a zip, or a zip split into `image.zip.part-aa`, `-ab`, ... read in place without unpacking).

Nothing here holds more than one record or one image in memory at a time.
"""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
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
    with open(path, encoding="utf-8") as handle:
        first = handle.read(1)
        while first.isspace():
            first = handle.read(1)
        handle.seek(0)
        if first == "[":
            yield from _iter_json_array(path, handle)
            return
        file = str(path)
        for line_number, line in enumerate(handle, start=1):
            if line.isspace():  # a blank line (every line read but a last empty one ends with "\n")
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                yield RawRecord(file, line_number, None, line.rstrip("\n"), f"malformed JSON: {error.msg}")
                continue
            if not isinstance(record, dict):
                yield RawRecord(file, line_number, None, line.rstrip("\n"), "a record must be a JSON object")
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


# ------------------------------------------------------------------------------------------------------------ images
_PART_PATTERN = re.compile(r"^(?P<stem>.+)\.part-?(?P<suffix>[a-z]{2,})$")


class MultiPartFile(io.RawIOBase):
    """The byte concatenation of several files as one seekable, read-only file (for `zipfile.ZipFile`)."""

    def __init__(self, paths: list[Path]):
        super().__init__()
        self.paths = list(paths)
        self.sizes = [os.path.getsize(path) for path in self.paths]
        self.starts = [sum(self.sizes[:index]) for index in range(len(self.sizes))]
        self.size = sum(self.sizes)
        self.position = 0
        self._handles: dict[int, io.BufferedReader] = {}

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = max(0, base + offset)
        return self.position

    def readinto(self, buffer) -> int:
        view, written = memoryview(buffer).cast("B"), 0
        while written < len(view) and self.position < self.size:
            index = self._part_at(self.position)
            handle = self._handles.get(index) or self._open(index)
            handle.seek(self.position - self.starts[index])
            wanted = min(len(view) - written, self.starts[index] + self.sizes[index] - self.position)
            count = handle.readinto(view[written : written + wanted])
            if not count:
                raise OSError(f"{self.paths[index]} is shorter than when the archive was opened")
            written += count
            self.position += count
        return written

    def _part_at(self, position: int) -> int:
        for index in range(len(self.starts) - 1, -1, -1):
            if position >= self.starts[index]:
                return index
        return 0

    def _open(self, index: int) -> io.BufferedReader:
        self._handles[index] = open(self.paths[index], "rb")
        return self._handles[index]

    def close(self) -> None:
        for handle in self._handles.values():
            handle.close()
        self._handles.clear()
        super().close()


def _suffix_number(suffix: str) -> int:
    number = 0
    for char in suffix:
        number = number * 26 + (ord(char) - ord("a"))
    return number


def find_zip_parts(path: Path) -> list[Path]:
    """Returns the ordered parts of a split zip given one part or their folder; raises if one is missing."""
    folder = path if path.is_dir() else path.parent
    stem = None if path.is_dir() else _PART_PATTERN.match(path.name)["stem"]
    groups: dict[str, list[tuple[str, Path]]] = {}
    for candidate in folder.iterdir():
        match = _PART_PATTERN.match(candidate.name)
        if match and (stem is None or match["stem"] == stem):
            groups.setdefault(match["stem"], []).append((match["suffix"], candidate))
    if len(groups) != 1:
        raise BadInputError(f"{folder}: expected the parts of one split zip, found {sorted(groups) or 'none'}")
    ((stem, parts),) = groups.items()
    parts.sort(key=lambda item: (len(item[0]), item[0]))
    for expected, (suffix, _) in enumerate(parts):
        if _suffix_number(suffix) != expected:
            missing = parts[0][0][:-2] + chr(ord("a") + expected // 26) + chr(ord("a") + expected % 26)
            raise BadInputError(
                f"{folder}: zip part {stem}.part-{missing} is missing from the sequence "
                f"(found {', '.join(s for s, _ in parts)}); the archive cannot be read without it"
            )
    return [part for _, part in parts]


class ImageStore:
    """Looks up release `image_path`s in one or more roots: unpacked folders, zips, or split zip parts."""

    def __init__(self, roots: list[str | Path]):
        self.folders: list[Path] = []
        self.archives: list[tuple[str, zipfile.ZipFile, dict[str, zipfile.ZipInfo]]] = []
        self._files: list = []  # what the archives read from; ZipFile does not close a file it was handed
        for root in roots:
            self._add(Path(root))

    def _add(self, root: Path) -> None:
        if not root.exists():
            raise BadInputError(f"{root}: no such image folder, zip or zip part")
        if _PART_PATTERN.match(root.name) or (
            root.is_dir() and any(_PART_PATTERN.match(p.name) for p in root.iterdir())
        ):
            parts = find_zip_parts(root)
            self._open_zip(
                f"{parts[0].parent}/{_PART_PATTERN.match(parts[0].name)['stem']}.part-*", MultiPartFile(parts)
            )
        elif root.is_file() and zipfile.is_zipfile(root):
            self._open_zip(str(root), open(root, "rb"))
        elif root.is_dir():
            self.folders.append(root)
        else:
            raise BadInputError(f"{root}: not an image folder, a zip or a split zip part")

    def _open_zip(self, name: str, file) -> None:
        self._files.append(file)
        try:
            archive = zipfile.ZipFile(file)
        except zipfile.BadZipFile as error:
            raise BadInputError(
                f"{name}: not a readable zip archive ({error}); if it is split, is the last part missing?"
            ) from None
        # Index entries by their path and by their path without the archive's top folder, since bundles differ in
        # whether they wrap everything in one folder.
        index: dict[str, zipfile.ZipInfo] = {}
        for info in archive.infolist():
            if info.is_dir():
                continue
            index.setdefault(info.filename, info)
            if "/" in info.filename:
                index.setdefault(info.filename.split("/", 1)[1], info)
        self.archives.append((name, archive, index))

    def read(self, image_path: str) -> bytes:
        """The stored bytes of an image; raises FileNotFoundError naming every root searched."""
        relative = image_path.lstrip("/")
        for folder in self.folders:
            try:  # one open() instead of a stat() then an open(): this runs once per image
                with open(os.path.join(folder, relative), "rb") as handle:
                    return handle.read()
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                continue
        for _, archive, index in self.archives:
            info = index.get(relative)
            if info is not None:
                return archive.read(info)
        roots = [str(folder) for folder in self.folders] + [name for name, _, _ in self.archives]
        raise FileNotFoundError(f"image {image_path!r} not found in {', '.join(roots)}")

    def close(self) -> None:
        for _, archive, _ in self.archives:
            archive.close()
        for file in self._files:
            file.close()
