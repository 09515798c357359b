"""The `datasets` builders behind `dataset_builder.build`.

- `WeThinkBuilder` (`GeneratorBasedBuilder`, config `default`): reads release records and their images, validates
  and normalizes each record, and yields one row at a time; `download_and_prepare(file_format="parquet")` writes
  shards as it goes, so memory does not grow with the record count. Images are read and checked in a few forked worker
  processes, a chunk of records at a time, while the main process parses and normalizes records, checks ids for
  duplicates and writes, all in record order. Rows are yielded already in their stored form, so `datasets`' per-row
  encode walk is skipped (`StoredFormFeatures`).
- `WeThinkViewBuilder` (`ArrowBasedBuilder`, configs `rl` and `sft`): streams the written `default` shards one record
  batch at a time and maps the text columns through `views.to_rl` / `views.to_sft`, passing the image column through
  as Arrow data (no per-row copy of image bytes, no re-validation).

Kept in its own module on purpose: `datasets` patches `open`, `Path`, `os.path.*` in a builder's module for streaming
when the builder is instantiated, so this module does no file handling of its own (the caller passes an open file for
rejected records).
"""

from __future__ import annotations

import collections
import gc
import io
import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TextIO

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from dataset_builder.images import AmbiguousImageError, ImageStore
from dataset_builder.records import normalize_record, reason_key
from dataset_builder.report import BuildReport
from dataset_builder.schema import DEFAULT_SPELLINGS, Spellings
from dataset_builder.sources import BadRecordError, RawRecord, iter_raw_records
from dataset_builder.views import FEATURES, VIEWS

# Formats PIL may open (checked in this order): the bundle's JPEGs and PNGs first, then other web formats.
IMAGE_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")
# Images are read and checked by WORKERS processes, CHUNK_SIZE records per task, with up to CHUNKS_AHEAD chunks in
# flight ahead of the writer (this bounds the image bytes held in memory).
WORKERS = min(4, os.cpu_count() or 1)
CHUNK_SIZE = 256
CHUNKS_AHEAD = 2 * WORKERS
# Rows per Arrow record batch / Parquet row group: each costs a fixed ~2 ms to convert, cast and write, and each
# row carries an image, so a few hundred (tens of MB of real photos per row group).
WRITER_BATCH_SIZE = 500


def inspect_image(data: bytes) -> tuple[int, int]:
    """Width and height of an encoded image; raises on a corrupt or truncated file.

    A JPEG is decoded (at 1/8 scale: libjpeg still reads every entropy-coded byte, so a cut-short file fails, while
    bytes after the end marker, common in web images, do not matter); a PNG's chunks and CRCs are checked
    (`verify`); any other format is decoded in full.
    """
    with Image.open(io.BytesIO(data), formats=IMAGE_FORMATS) as image:
        width, height = image.size
        if image.format == "JPEG":
            image.draft("L", (max(1, width // 8), max(1, height // 8)))  # grey: no colour conversion
            image.load()
        elif image.format == "PNG":
            image.verify()
        else:
            image.load()
    return width, height


class StoredFormFeatures(datasets.Features):
    """The `default` features, for rows that `_generate_examples` yields already in their stored form.

    GeneratorBasedBuilder passes every row through `features.encode_example` (`cast_to_python_objects` plus the
    nested encode walk: ~45 us a row, the largest per-row cost of the build). `normalize_record` makes rows of
    plain `str` / `list[str]` and the image is already `{"bytes", "path"}`, which that walk returns unchanged, so it
    is skipped. Arrow still checks every value against the schema when a batch is written.
    """

    def encode_example(self, example: dict) -> dict:
        return example


def _info(config_name: str, features: datasets.Features | None = None) -> datasets.DatasetInfo:
    return datasets.DatasetInfo(
        description="WeThink multimodal reasoning data",
        features=features if features is not None else FEATURES[config_name],
        license="apache-2.0",
        homepage="https://github.com/yangjie-cv/WeThink",
    )


class WeThinkBuilder(datasets.GeneratorBasedBuilder):
    """Writes the `default` config from release records + images; see the module docstring."""

    BUILDER_CONFIGS = [datasets.BuilderConfig(name="default")]
    DEFAULT_CONFIG_NAME = "default"
    DEFAULT_WRITER_BATCH_SIZE = WRITER_BATCH_SIZE

    def __init__(
        self,
        *args,
        record_files: list[Path] = (),
        image_roots: list[Path] = (),
        on_error: str = "raise",
        report: BuildReport | None = None,
        rejected_file: TextIO | None = None,
        workers: int = WORKERS,
        spellings: Spellings = DEFAULT_SPELLINGS,
        **kwargs,
    ):
        self.spellings = spellings
        self.record_files = list(record_files)
        self.image_roots = list(image_roots)
        self.on_error = on_error
        self.report = report if report is not None else BuildReport()
        self.rejected_file = rejected_file  # an open text file for on_error="skip"
        self.workers = workers
        super().__init__(*args, **kwargs)

    def _info(self) -> datasets.DatasetInfo:
        return _info(self.config.name, StoredFormFeatures(FEATURES["default"]))

    def _split_generators(self, dl_manager):
        return [datasets.SplitGenerator(name=datasets.Split.TRAIN)]

    def _generate_examples(self):
        """Reads and normalizes records in order and hands the image paths of each chunk to worker processes, which
        read and check the images (PIL's header parsing is Python code: threads would queue on the GIL); the next
        few chunks are read while this one is checked for duplicate ids and yielded in record order."""
        global _worker_images
        seen: dict[str, tuple[str, int]] = {}
        # Opened once here (a missing root or zip part fails now, with its own error) and inherited by the forked
        # workers: a zip's index is built once and its pages stay shared (pread needs no per-process file position).
        _worker_images = ImageStore(self.image_roots)
        context = multiprocessing.get_context("fork")  # workers inherit the loaded modules: no re-import per build
        pool = ProcessPoolExecutor(self.workers, mp_context=context)
        # The build allocates a few objects per row, and every full garbage collection would rescan all objects the
        # imported libraries hold (~100K); set those aside until the build ends (~5% of the build's time).
        gc.freeze()
        try:
            pending = collections.deque()
            for chunk in _chunks(self._raw_records(), CHUNK_SIZE):
                pending.append(_start_chunk(chunk, pool, self.spellings))
                if len(pending) > CHUNKS_AHEAD:
                    yield from self._finish_chunk(*pending.popleft(), seen)
            while pending:
                yield from self._finish_chunk(*pending.popleft(), seen)
        finally:  # on a bad record, do not read the images of the chunks read ahead of it
            pool.shutdown(cancel_futures=True)
            gc.unfreeze()
            _worker_images.close()
            _worker_images = None

    def _raw_records(self):
        for path in self.record_files:
            for raw in iter_raw_records(path):
                self.report.rows_in += 1
                yield raw

    def _finish_chunk(self, rows: list, images, seen: dict[str, tuple[str, int]]):
        loaded = iter(images.result())
        for raw, row, error in rows:
            if error is None:
                data, width, height, image_error = next(loaded)
                if row["id"] in seen:
                    file, line = seen[row["id"]]
                    reason = f"duplicate id {row['id']!r} (first seen at {file}:{line})"
                    error = BadRecordError(raw.file, raw.line, "id", reason)
                elif image_error is not None:
                    error = BadRecordError(raw.file, raw.line, "image_path", image_error)
            if error is not None:
                self._reject(raw, error)
                continue
            # Bytes are stored as published (no re-encoding), without a path so that a same-named local file can
            # never stand in for them. The row is now in its stored form (see StoredFormFeatures).
            row["image"] = {"bytes": data, "path": None}
            seen[row["id"]] = (raw.file, raw.line)
            self.report.add_row(row, width, height)
            yield row["id"], row

    def _reject(self, raw: RawRecord, error: BadRecordError) -> None:
        if self.on_error == "raise" or self.rejected_file is None:
            raise error
        self.report.add_rejected(reason_key(error))
        self.rejected_file.write(json.dumps(_rejected_entry(raw, error), ensure_ascii=False) + "\n")


# The image store the forked workers read from: opened by the parent before the pool forks them.
_worker_images: ImageStore | None = None


def _start_chunk(chunk: list[RawRecord], pool: ProcessPoolExecutor, spellings: Spellings):
    """Normalizes a chunk of records and starts reading the images of the valid ones: ((raw, row, error) per record,
    future of `load_images`)."""
    rows = []
    for raw in chunk:
        try:
            rows.append((raw, normalize_record(raw, spellings), None))
        except BadRecordError as error:
            rows.append((raw, None, error))
    return rows, pool.submit(load_images, [row["image_path"] for _, row, error in rows if error is None])


def load_images(image_paths: list[str]) -> list[tuple[bytes | None, int, int, str | None]]:
    """(bytes, width, height, None) per image, or (None, 0, 0, reason) for a missing or corrupt one. Runs in a
    worker; only paths go in and bytes come out, since pickling rows through the pipes costs more than normalizing."""
    results = []
    for image_path in image_paths:
        try:
            data = _worker_images.read(image_path)
        except FileNotFoundError as error:
            results.append((None, 0, 0, f"missing image: {error}"))
            continue
        except AmbiguousImageError as error:
            results.append((None, 0, 0, f"ambiguous image: {error}"))
            continue
        except OSError as error:  # a zip entry that cannot be read: a truncated or damaged part
            results.append((None, 0, 0, f"unreadable image: {error}"))
            continue
        try:
            width, height = inspect_image(data)
        except Exception as error:  # PIL raises many types for a bad file; all mean the same here
            results.append((None, 0, 0, f"corrupt image {image_path!r}: {error}"))
            continue
        results.append((data, width, height, None))
    return results


def _chunks(items, size: int):
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _rejected_entry(raw: RawRecord, error: BadRecordError) -> dict:
    entry = {"file": raw.file, "line": raw.line, "field": error.field, "reason": error.reason}
    entry["record"] = raw.record if raw.record is not None else raw.text
    return entry


class WeThinkViewBuilder(datasets.ArrowBasedBuilder):
    """Writes the `rl` or `sft` config from the `default` shards; see the module docstring."""

    BUILDER_CONFIGS = [datasets.BuilderConfig(name=name) for name in VIEWS]
    DEFAULT_WRITER_BATCH_SIZE = WRITER_BATCH_SIZE

    def __init__(self, *args, default_shards: list[Path] = (), **kwargs):
        self.default_shards = list(default_shards)
        super().__init__(*args, **kwargs)

    def _info(self) -> datasets.DatasetInfo:
        return _info(self.config.name)

    def _split_generators(self, dl_manager):
        return [datasets.SplitGenerator(name=datasets.Split.TRAIN)]

    def _generate_tables(self):
        for shard_index, shard in enumerate(self.default_shards):
            for batch_index, batch in enumerate(iter_shard_batches(shard)):
                yield (shard_index, batch_index), view_table(self.config.name, batch)


def iter_shard_batches(shard, columns: list[str] | None = None):
    """Record batches of a written shard with bounded memory: pyarrow's default pre-buffering keeps coalesced reads
    alive, and RSS then grows with the shard size."""
    return pq.ParquetFile(shard, pre_buffer=False).iter_batches(batch_size=WRITER_BATCH_SIZE, columns=columns)


def view_table(name: str, batch: pa.RecordBatch) -> pa.Table:
    """Maps a batch of `default` rows to the `name` view: text through VIEWS[name], images as Arrow data."""
    features = FEATURES[name]
    rows = [VIEWS[name]({**row, "image": None}) for row in batch.drop_columns(["image"]).to_pylist()]
    table = pa.Table.from_pylist(rows, schema=features.arrow_schema)
    images = batch.column("image")
    if "image" in features:
        return table.set_column(table.schema.get_field_index("image"), "image", images)
    offsets = pa.array(range(0, batch.num_rows + 1), type=pa.int32())  # one image per row
    image_lists = pa.ListArray.from_arrays(offsets, images, type=features.arrow_schema.field("images").type)
    return table.set_column(table.schema.get_field_index("images"), "images", image_lists)
