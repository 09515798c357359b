"""The image bundle: unpacked folders, zips, or a zip split into `image.zip.part-aa`, `-ab`, ... read in place.

Lookup is exact first: a record's `image_path` names an entry (or a file under a folder) by its full path. Only when
no root has that exact name is the path also tried under one top folder (bundles differ in whether everything sits in
`LLaVA-CoT-100k/...`), and only when exactly one entry (or file) matches: two candidates are an error naming both,
never a guess. So the entries `extra/coco/1.jpg` and `coco/1.jpg` can never stand in for each other.

A zip's central directory is read into a compact index (a names blob and numpy arrays, no Python object per entry:
~145 MB and ~2 s for the 1.4M entries of the LLaVA-CoT bundle, against ~900 MB and ~7.5 s for `zipfile.ZipFile`),
built once in the parent process and shared with forked workers (bench/dataset_build.py). Entries are read with
`os.pread`, which has no shared file position, so workers can share the open files too. Each read checks the
entry's local header and CRC, so a truncated or damaged part is an error naming the part and the offset.
"""

from __future__ import annotations

import bz2
import os
import re
import struct
import zlib
from pathlib import Path

import numpy as np

from dataset_builder.sources import BadInputError

_PART_PATTERN = re.compile(r"^(?P<stem>.+)\.part-?(?P<suffix>[a-z]{2,})$")


class AmbiguousImageError(LookupError):
    """An image path that matches two entries once a top folder is allowed; names both."""


# ------------------------------------------------------------------------------------------------- split zip parts
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


class ConcatenatedParts:
    """The byte concatenation of one or more files, read at absolute offsets (`read_at`) without a file position."""

    def __init__(self, paths: list[Path]):
        self.paths = [Path(path) for path in paths]
        self.sizes = [os.path.getsize(path) for path in self.paths]
        self.starts = [sum(self.sizes[:index]) for index in range(len(self.sizes))]
        self.size = sum(self.sizes)
        self._fds = [os.open(path, os.O_RDONLY) for path in self.paths]

    def locate(self, offset: int) -> str:
        """`part-name offset N` for an absolute offset, for error messages."""
        index = max(0, int(np.searchsorted(self.starts, offset, side="right")) - 1)
        return f"{self.paths[index].name} offset {offset - self.starts[index]}"

    def read_at(self, offset: int, length: int) -> bytes:
        """Up to `length` bytes from `offset` (fewer only at the end of the last part)."""
        chunks, index = [], max(0, int(np.searchsorted(self.starts, offset, side="right")) - 1)
        while length > 0 and index < len(self._fds):
            within = offset - self.starts[index]
            data = os.pread(self._fds[index], min(length, self.sizes[index] - within), within)
            if not data and within < self.sizes[index]:
                raise OSError(f"{self.paths[index]} is shorter than when the archive was opened")
            chunks.append(data)
            offset, length, index = offset + len(data), length - len(data), index + 1
        return b"".join(chunks)

    def close(self) -> None:
        for fd in self._fds:
            os.close(fd)
        self._fds = []


# ------------------------------------------------------------------------------------------------------ zip index
_EOCD = struct.Struct("<4s4H2LH")  # end of central directory
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")
# Central directory file header (46 bytes), only the fields read: signature, flags, method, CRC, compressed size,
# size, name / extra / comment lengths, local header offset.
_CENTRAL = struct.Struct("<4s4xHH4xIIIHHH8xI")
_LOCAL = struct.Struct("<4s5H3L2H")  # local file header (30 bytes)
_DECOMPRESSORS = {  # method id -> decompress(data, uncompressed size); stored (0) needs none
    8: lambda data, size: zlib.decompress(data, -15, max(size, 1)),
    12: lambda data, size: bz2.decompress(data),
}


# One index entry, packed while the directory is read: name key (_name_key), key of the name without its top folder,
# name length, local header offset, compressed size, size (64-bit for zip64 bundles), CRC, method, flags.
_ENTRY = struct.Struct("<IIHqqqIBH")
_ENTRY_DTYPE = np.dtype(
    [("key", "<u4"), ("stripped", "<u4"), ("length", "<u2"), ("offset", "<i8"), ("compressed", "<i8"),
     ("size", "<i8"), ("crc", "<u4"), ("method", "u1"), ("flags", "<u2")]
)  # fmt: skip
assert _ENTRY_DTYPE.itemsize == _ENTRY.size


def _name_key(name: bytes) -> int:
    """A 32-bit key of an entry name (deterministic across processes, unlike hash()). Keys collide (a few hundred
    pairs among 1.4M names): lookups compare the names of every entry with the key."""
    return zlib.crc32(name)


class ZipIndex:
    """The entries of one zip (a file or split parts): exact and top-folder-stripped lookup, checked reads."""

    def __init__(self, name: str, parts: ConcatenatedParts):
        self.name, self.parts = name, parts
        cd_offset, _, entries = self._find_directory()
        names, packed = self._read_directory(cd_offset, entries)
        table = np.frombuffer(packed, dtype=_ENTRY_DTYPE)
        self.names = names
        self.starts = np.concatenate(([0], np.cumsum(table["length"], dtype=np.int64)))
        for column in ("offset", "compressed", "size", "crc", "method", "flags"):
            setattr(self, column, table[column].copy())
        self._exact = _sorted_keys(table["key"].copy())
        self._stripped = _sorted_keys(table["stripped"].copy())

    def _read_directory(self, cd_offset: int, entries: int, chunk_size: int = 16 << 20) -> tuple[bytes, bytearray]:
        """The names of the file entries, concatenated, and one packed `_ENTRY` per entry; reads the directory a
        chunk at a time. This loop runs once per entry (1.4M times for the LLaVA-CoT bundle): it does the least it
        can per entry, and numpy splits the packed entries into columns afterwards."""
        names, packed = bytearray(), bytearray()
        add_name, add_entry, pack, crc32 = names.extend, packed.extend, _ENTRY.pack, zlib.crc32
        unpack, header_size, parts = _CENTRAL.unpack_from, _CENTRAL.size, self.parts
        buffer_start, buffer, consumed = cd_offset, b"", 0  # buffer holds the directory from buffer_start on
        for _ in range(entries):
            if len(buffer) - consumed < header_size + 0xFFFF * 3:  # room for the largest header: refill
                more = parts.read_at(buffer_start + len(buffer), chunk_size)
                buffer_start, buffer, consumed = buffer_start + consumed, buffer[consumed:] + more, 0
            if len(buffer) - consumed < header_size or buffer[consumed : consumed + 4] != b"PK\x01\x02":
                where = parts.locate(buffer_start + consumed)
                raise BadInputError(f"{self.name}: damaged central directory at {where}")
            _, flags, method, crc, compressed, size, name_len, extra_len, comment_len, offset = unpack(
                buffer, consumed
            )
            start = consumed + header_size
            entry_name = buffer[start : start + name_len]
            if compressed == 0xFFFFFFFF or size == 0xFFFFFFFF or offset == 0xFFFFFFFF:
                extra = buffer[start + name_len : start + name_len + extra_len]
                size, compressed, offset = _zip64_values(extra, size, compressed, offset)
            consumed = start + name_len + extra_len + comment_len
            if entry_name[-1:] == b"/":  # a folder entry
                continue
            if not (flags & 0x800 or entry_name.isascii()):
                entry_name = entry_name.decode("cp437").encode()
            add_name(entry_name)
            stripped_key = crc32(entry_name.partition(b"/")[2])
            add_entry(
                pack(crc32(entry_name), stripped_key, len(entry_name), offset, compressed, size, crc, method, flags)
            )
        return bytes(names), packed

    def __len__(self) -> int:
        return len(self.offset)

    def _find_directory(self) -> tuple[int, int, int]:
        """(central directory offset, size, entry count), from the end records; explains a shorter archive."""
        tail_start = max(0, self.parts.size - (_EOCD.size + 0xFFFF + _ZIP64_LOCATOR.size))
        tail = self.parts.read_at(tail_start, self.parts.size - tail_start)
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or len(tail) - at < _EOCD.size:
            raise BadInputError(
                f"{self.name}: not a readable zip archive (no end-of-directory record); "
                "if it is split, is the last part missing or truncated?"
            )
        _, _, _, _, entries, cd_size, cd_offset, _ = _EOCD.unpack_from(tail, at)
        eocd_position = tail_start + at
        locator_at = at - _ZIP64_LOCATOR.size
        if locator_at >= 0 and tail[locator_at : locator_at + 4] == b"PK\x06\x07":
            recorded = _ZIP64_LOCATOR.unpack_from(tail, locator_at)[2]
            # Where the locator says, else right before it (when bytes are missing earlier in the archive).
            for record_position in (recorded, eocd_position - _ZIP64_LOCATOR.size - _ZIP64_EOCD.size):
                record = _ZIP64_EOCD.unpack(self.parts.read_at(max(0, record_position), _ZIP64_EOCD.size).ljust(56))
                if record[0] == b"PK\x06\x06":
                    break
            else:
                raise BadInputError(f"{self.name}: damaged zip64 end record at {self.parts.locate(recorded)}")
            entries, cd_size, cd_offset = record[7], record[8], record[9]
            eocd_position, shortfall = record_position, recorded - record_position
        else:
            shortfall = cd_offset + cd_size - eocd_position
        # shortfall > 0: bytes are missing before the directory. Read it where it really is; entries past the damage
        # fail one by one, naming their part and offset (their local headers are not where the directory says).
        # shortfall < 0: bytes precede the archive (a self-extracting stub): every offset moves by that much.
        self.shortfall = max(0, shortfall)
        self.base = max(0, -shortfall)
        return eocd_position - cd_size, cd_size, entries

    def _damage_hint(self) -> str:
        if not self.shortfall:
            return ""
        sizes = self.parts.sizes
        short = [p.name for p, s in zip(self.parts.paths[:-1], sizes[:-1]) if s != sizes[0]]
        return f"; the archive is {self.shortfall} bytes shorter than its directory says" + (
            f" ({', '.join(short)} differs in size from the first part: truncated?)" if short else ""
        )

    def _entry(self, position: int) -> str:
        return self.names[self.starts[position] : self.starts[position + 1]].decode()

    def _matches(self, table: tuple[np.ndarray, np.ndarray], name: bytes, strip: bool) -> list[int]:
        keys, order = table
        key = _name_key(name)
        found, at = [], int(keys.searchsorted(np.uint32(key)))
        while at < len(keys) and keys[at] == key:  # every entry with this key (names compared: keys can collide)
            position = int(order[at])
            full = self.names[self.starts[position] : self.starts[position + 1]]
            if (full.partition(b"/")[2] if strip else full) == name:
                found.append(position)
            at += 1
        return found

    def find(self, image_path: str, *, strip: bool) -> int | None:
        """The entry named image_path (strip=False), or under one top folder (strip=True); raises
        AmbiguousImageError when two entries match."""
        found = self._matches(self._stripped if strip else self._exact, image_path.encode(), strip)
        if len(found) > 1:
            raise AmbiguousImageError(
                f"image {image_path!r} matches {self._entry(found[0])!r} and {self._entry(found[1])!r} "
                f"in {self.name}" + ("" if strip else " (two entries with one name)")
            )
        return found[0] if found else None

    def read(self, position: int) -> bytes:
        """The entry's bytes; checks its local header and CRC (a truncated part shows up here)."""
        offset, compressed = int(self.offset[position]) + self.base, int(self.compressed[position])
        size = int(self.size[position])
        name, method = self._entry(position), int(self.method[position])
        where = self.parts.locate(offset)
        if self.flags[position] & 0x1:
            raise OSError(f"{self.name}: entry {name!r} is encrypted")
        header = self.parts.read_at(offset, _LOCAL.size)
        if len(header) < _LOCAL.size or header[:4] != b"PK\x03\x04":
            raise OSError(f"{self.name}: no entry header for {name!r} at {where}{self._damage_hint()}")
        name_len, extra_len = _LOCAL.unpack(header)[9:11]
        data = self.parts.read_at(offset + _LOCAL.size + name_len + extra_len, compressed)
        if len(data) < compressed:
            raise OSError(f"{self.name}: entry {name!r} at {where} is cut short{self._damage_hint()}")
        if method != 0:
            if method not in _DECOMPRESSORS:
                raise OSError(f"{self.name}: entry {name!r} uses unsupported compression method {method}")
            try:
                data = _DECOMPRESSORS[method](data, size)
            except (zlib.error, OSError, ValueError) as error:
                raise OSError(f"{self.name}: entry {name!r} at {where} does not decompress: {error}") from None
        if len(data) != size or zlib.crc32(data) != int(self.crc[position]):
            raise OSError(f"{self.name}: entry {name!r} at {where} fails its CRC check{self._damage_hint()}")
        return data


def _zip64_values(extra: bytes, size: int, compressed: int, offset: int) -> tuple[int, int, int]:
    """The 64-bit values of a zip64 extra field, for those of size / compressed / offset that are 0xFFFFFFFF."""
    at = 0
    while at + 4 <= len(extra):
        tag, length = struct.unpack_from("<2H", extra, at)
        if tag == 0x0001:
            values = iter(struct.unpack_from(f"<{length // 8}Q", extra, at + 4))
            size = next(values) if size == 0xFFFFFFFF else size
            compressed = next(values) if compressed == 0xFFFFFFFF else compressed
            offset = next(values) if offset == 0xFFFFFFFF else offset
            break
        at += 4 + length
    return size, compressed, offset


def _sorted_keys(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(keys, kind="stable").astype(np.int64)
    return keys[order], order


# ----------------------------------------------------------------------------------------------------- the store
class ImageStore:
    """Looks up release `image_path`s in one or more roots: unpacked folders, zips, or split zip parts."""

    def __init__(self, roots: list[str | Path]):
        self.folders: list[tuple[Path, list[str]]] = []  # (folder, its subfolders for the top-folder fallback)
        self.archives: list[ZipIndex] = []
        for root in roots:
            self._add(Path(root))

    def _add(self, root: Path) -> None:
        if not root.exists():
            raise BadInputError(f"{root}: no such image folder, zip or zip part")
        if _PART_PATTERN.match(root.name) or (
            root.is_dir() and any(_PART_PATTERN.match(p.name) for p in root.iterdir())
        ):
            parts = find_zip_parts(root)
            name = f"{parts[0].parent}/{_PART_PATTERN.match(parts[0].name)['stem']}.part-*"
            self._open_zip(name, parts)
        elif root.is_file() and root.suffix.lower() == ".zip":
            self._open_zip(str(root), [root])
        elif root.is_dir():
            self.folders.append((root, sorted(p.name for p in root.iterdir() if p.is_dir())))
        else:
            raise BadInputError(f"{root}: not an image folder, a zip or a split zip part")

    def _open_zip(self, name: str, paths: list[Path]) -> None:
        parts = ConcatenatedParts(paths)
        try:
            self.archives.append(ZipIndex(name, parts))
        except BaseException:
            parts.close()
            raise

    def read(self, image_path: str) -> bytes:
        """The stored bytes of an image; raises FileNotFoundError naming every root searched, AmbiguousImageError
        when only the top-folder fallback matches and it matches twice, OSError for a damaged entry."""
        for folder, _ in self.folders:
            try:  # one open() instead of a stat() then an open(): this runs once per image
                with open(os.path.join(folder, image_path), "rb") as handle:
                    return handle.read()
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                continue
        for archive in self.archives:
            position = archive.find(image_path, strip=False)
            if position is not None:
                return archive.read(position)
        found = self._find_under_top_folder(image_path)
        if found is None:
            raise FileNotFoundError(f"image {image_path!r} not found in {', '.join(self.root_names())}")
        return found()

    def contains(self, image_path: str) -> bool:
        """Whether read() would find the image (without reading it); raises AmbiguousImageError like read()."""
        if any(os.path.isfile(os.path.join(folder, image_path)) for folder, _ in self.folders):
            return True
        if any(archive.find(image_path, strip=False) is not None for archive in self.archives):
            return True
        return self._find_under_top_folder(image_path) is not None

    def _find_under_top_folder(self, image_path: str):
        """A reader of the one file or entry that is image_path under a top folder, or None."""
        candidates = []
        for folder, subfolders in self.folders:
            for sub in subfolders:
                path = os.path.join(folder, sub, image_path)
                if os.path.isfile(path):
                    candidates.append((path, lambda path=path: Path(path).read_bytes()))
        for archive in self.archives:
            position = archive.find(image_path, strip=True)
            if position is not None:
                candidates.append(
                    (f"{archive.name}:{archive._entry(position)}", lambda a=archive, p=position: a.read(p))
                )
        if len(candidates) > 1:
            raise AmbiguousImageError(
                f"image {image_path!r} is not in any root as named, and matches both {candidates[0][0]} and "
                f"{candidates[1][0]} under a top folder: name the bundle folder itself in --images"
            )
        return candidates[0][1] if candidates else None

    def root_names(self) -> list[str]:
        return [str(folder) for folder, _ in self.folders] + [archive.name for archive in self.archives]

    def close(self) -> None:
        for archive in self.archives:
            archive.parts.close()
