"""The `datasets` builders behind `dataset_builder.build`.

- `WeThinkBuilder` (`GeneratorBasedBuilder`, config `default`): reads release records and their images, validates
  and normalizes each record, and yields one row at a time; `download_and_prepare(file_format="parquet")` writes
  shards as it goes, so memory does not grow with the record count.
- `WeThinkViewBuilder` (`ArrowBasedBuilder`, configs `rl` and `sft`): streams the written `default` shards one record
  batch at a time and maps the text columns through `views.to_rl` / `views.to_sft`, passing the image column through
  as Arrow data (no per-row copy of image bytes, no re-validation).

Kept in its own module on purpose: `datasets` patches `open`, `Path`, `os.path.*` in a builder's module for streaming
when the builder is instantiated, so this module does no file handling of its own (the caller passes an open file for
rejected records).
"""

from __future__ import annotations

import io
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TextIO

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from dataset_builder.records import normalize_record
from dataset_builder.report import BuildReport
from dataset_builder.sources import BadRecordError, ImageStore, RawRecord, iter_raw_records
from dataset_builder.views import FEATURES, VIEWS

# Formats PIL may open (checked in this order): the bundle's JPEGs and PNGs first, then other web formats.
IMAGE_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")
# Images read ahead of the writer, and the threads reading them.
IMAGE_PREFETCH = 64
IMAGE_READ_THREADS = 4
# Rows per Arrow record batch / Parquet row group: small, since each row carries an image.
WRITER_BATCH_SIZE = 100


def inspect_image(data: bytes) -> tuple[int, int]:
    """Width and height of an encoded image; raises on a corrupt or truncated file.

    Decoding every image would dominate the build, so the checks are the ones that catch real damage cheaply: the
    header must parse, a JPEG must end with its end-of-image marker, a PNG's chunk CRCs must match (`verify`), and
    any other format is decoded in full.
    """
    with Image.open(io.BytesIO(data), formats=IMAGE_FORMATS) as image:
        width, height = image.size
        if image.format == "JPEG":
            if b"\xff\xd9" not in data[-1024:]:
                raise OSError("truncated JPEG (no end-of-image marker)")
        elif image.format == "PNG":
            image.verify()
        else:
            image.load()
    return width, height


def _info(config_name: str) -> datasets.DatasetInfo:
    return datasets.DatasetInfo(
        description="WeThink multimodal reasoning data",
        features=FEATURES[config_name],
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
        **kwargs,
    ):
        self.record_files = list(record_files)
        self.image_roots = list(image_roots)
        self.on_error = on_error
        self.report = report if report is not None else BuildReport()
        self.rejected_file = rejected_file  # an open text file for on_error="skip"
        super().__init__(*args, **kwargs)

    def _info(self) -> datasets.DatasetInfo:
        return _info(self.config.name)

    def _split_generators(self, dl_manager):
        return [datasets.SplitGenerator(name=datasets.Split.TRAIN)]

    def _generate_examples(self):
        """Reads records in order; images of the next IMAGE_PREFETCH records are read and checked by a few threads
        meanwhile (file and zip reads release the GIL), then rows are checked and yielded in record order."""
        seen: dict[str, tuple[str, int]] = {}
        images = ImageStore(self.image_roots)
        try:
            with ThreadPoolExecutor(IMAGE_READ_THREADS) as pool:
                for chunk in _chunks(self._raw_records(), IMAGE_PREFETCH):
                    pending = [self._start(raw, images, pool) for raw in chunk]
                    for raw, row, error, image in pending:
                        if error is None and row["id"] in seen:
                            file, line = seen[row["id"]]
                            reason = f"duplicate id {row['id']!r} (first seen at {file}:{line})"
                            error = BadRecordError(raw.file, raw.line, "id", reason)
                        if error is None:
                            try:
                                data, width, height = image.result()
                            except BadRecordError as image_error:
                                error = image_error
                        if error is not None:
                            self._reject(raw, error)
                            continue
                        # Bytes are stored as published (no re-encoding), without a path so that a same-named local
                        # file can never stand in for them.
                        row["image"] = {"bytes": data, "path": None}
                        seen[row["id"]] = (raw.file, raw.line)
                        self.report.add_row(row, width, height)
                        yield row["id"], row
        finally:
            images.close()

    def _raw_records(self):
        for path in self.record_files:
            for raw in iter_raw_records(path):
                self.report.rows_in += 1
                yield raw

    @staticmethod
    def _start(raw: RawRecord, images: ImageStore, pool: ThreadPoolExecutor):
        """Normalizes a record and starts reading its image: (raw, row, error, image future)."""
        try:
            row = normalize_record(raw)
        except BadRecordError as error:
            return raw, None, error, None
        return raw, row, None, pool.submit(_load_image, images, row["image_path"], raw)

    def _reject(self, raw: RawRecord, error: BadRecordError) -> None:
        if self.on_error == "raise" or self.rejected_file is None:
            raise error
        self.report.add_rejected(_reason_key(error))
        self.rejected_file.write(json.dumps(_rejected_entry(raw, error), ensure_ascii=False) + "\n")


def _load_image(images: ImageStore, image_path: str, raw: RawRecord) -> tuple[bytes, int, int]:
    try:
        data = images.read(image_path)
    except OSError as error:  # FileNotFoundError, or a zip member that cannot be read
        raise BadRecordError(raw.file, raw.line, "image_path", f"missing image: {error}") from None
    try:
        width, height = inspect_image(data)
    except Exception as error:  # PIL raises many types for a bad file; all mean the same here
        raise BadRecordError(raw.file, raw.line, "image_path", f"corrupt image {image_path!r}: {error}") from None
    return data, width, height


def _chunks(items, size: int):
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _reason_key(error: BadRecordError) -> str:
    """A short, countable reason: the field and the kind of problem, without record-specific details."""
    reason = error.reason.split(":")[0].split(" (")[0]
    if reason.startswith("duplicate id"):
        reason = "duplicate id"
    if reason.startswith("unknown "):
        reason = " ".join(reason.split()[:3])
    return f"{error.field}: {reason}" if error.field else reason


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
