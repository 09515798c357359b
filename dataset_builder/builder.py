"""`WeThinkBuilder`: the `datasets.GeneratorBasedBuilder` behind `dataset_builder.build` (see its docstring).

Kept in its own module on purpose: `datasets` patches `open`, `Path`, `os.path.*` in a builder's module for streaming
when the builder is instantiated, so this module does no file handling of its own (the caller passes an open file for
rejected records).
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import TextIO

import datasets
import pyarrow.parquet as pq
from PIL import Image

from dataset_builder.records import normalize_record
from dataset_builder.report import BuildReport
from dataset_builder.sources import BadRecordError, ImageStore, RawRecord, iter_raw_records
from dataset_builder.views import CONFIG_NAMES, FEATURES, VIEWS

# Rows per Arrow record batch / Parquet row group: small, since each row carries an image.
WRITER_BATCH_SIZE = 100


def inspect_image(data: bytes) -> tuple[int, int]:
    """Width and height of an encoded image; raises on a corrupt or truncated file.

    Decoding every image would dominate the build, so the checks are the ones that catch real damage cheaply: the
    header must parse, a JPEG must end with its end-of-image marker, a PNG's chunk CRCs must match (`verify`), and
    any other format is decoded in full.
    """
    with Image.open(io.BytesIO(data)) as image:
        width, height = image.size
        if image.format == "JPEG":
            if b"\xff\xd9" not in data[-1024:]:
                raise OSError("truncated JPEG (no end-of-image marker)")
        elif image.format == "PNG":
            image.verify()
        else:
            image.load()
    return width, height


class WeThinkBuilder(datasets.GeneratorBasedBuilder):
    """Writes one config of the WeThink build; see the module docstring."""

    BUILDER_CONFIGS = [datasets.BuilderConfig(name=name) for name in CONFIG_NAMES]
    DEFAULT_CONFIG_NAME = "default"
    DEFAULT_WRITER_BATCH_SIZE = WRITER_BATCH_SIZE

    def __init__(
        self,
        *args,
        record_files: list[Path] = (),
        image_roots: list[Path] = (),
        default_shards: list[Path] = (),
        on_error: str = "raise",
        report: BuildReport | None = None,
        rejected_file: TextIO | None = None,
        **kwargs,
    ):
        self.record_files = list(record_files)
        self.image_roots = list(image_roots)
        self.default_shards = list(default_shards)
        self.on_error = on_error
        self.report = report if report is not None else BuildReport()
        self.rejected_file = rejected_file  # an open text file for on_error="skip"
        super().__init__(*args, **kwargs)

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(
            description="WeThink multimodal reasoning data",
            features=FEATURES[self.config.name],
            license="apache-2.0",
            homepage="https://github.com/yangjie-cv/WeThink",
        )

    def _split_generators(self, dl_manager):
        return [datasets.SplitGenerator(name=datasets.Split.TRAIN)]

    def _generate_examples(self):
        if self.config.name == "default":
            yield from self._generate_default_rows()
            return
        view = VIEWS[self.config.name]
        for shard in self.default_shards:
            for batch in pq.ParquetFile(shard).iter_batches(batch_size=WRITER_BATCH_SIZE):
                for row in batch.to_pylist():
                    yield row["id"], view(row)

    def _generate_default_rows(self):
        seen: dict[str, tuple[str, int]] = {}
        images = ImageStore(self.image_roots)
        try:
            for path in self.record_files:
                for raw in iter_raw_records(path):
                    self.report.rows_in += 1
                    try:
                        row, width, height = self._row(raw, images, seen)
                    except BadRecordError as error:
                        if self.on_error == "raise" or self.rejected_file is None:
                            raise
                        self.report.add_rejected(_reason_key(error))
                        self.rejected_file.write(json.dumps(_rejected_entry(raw, error), ensure_ascii=False) + "\n")
                        continue
                    seen[row["id"]] = (raw.file, raw.line)
                    self.report.add_row(row, width, height)
                    yield row["id"], row
        finally:
            images.close()

    @staticmethod
    def _row(raw: RawRecord, images: ImageStore, seen: dict) -> tuple[dict, int, int]:
        row = normalize_record(raw)
        if row["id"] in seen:
            file, line = seen[row["id"]]
            raise BadRecordError(raw.file, raw.line, "id", f"duplicate id {row['id']!r} (first seen at {file}:{line})")
        try:
            data = images.read(row["image_path"])
        except (FileNotFoundError, OSError) as error:
            raise BadRecordError(raw.file, raw.line, "image_path", f"missing image: {error}") from None
        try:
            width, height = inspect_image(data)
        except Exception as error:  # PIL raises many types for a bad file; all mean the same here
            raise BadRecordError(
                raw.file, raw.line, "image_path", f"corrupt image {row['image_path']!r}: {error}"
            ) from None
        # Bytes are stored as published (no re-encoding); no path, so a same-named local file can never replace them.
        row["image"] = {"bytes": data, "path": None}
        return row, width, height


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
