"""A filtered copy of a built dataset (e.g. `decontaminate --write-clean`) that is a complete dataset in its own right.

Every config is written again without the dropped ids, and the build report, charts, ShareGPT export (when the source
has one) and card are regenerated from the rows kept, so `load_dataset(copy, config)` finds the row counts its
`dataset_info` states. The report says what was removed, per group (e.g. benchmark) and test.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from PIL import Image

from dataset_builder.build import export_sharegpt
from dataset_builder.builder import iter_shard_batches
from dataset_builder.card import load_report, render_dataset_card
from dataset_builder.report import BuildReport, write_charts
from dataset_builder.views import CONFIG_NAMES

REPORT_COLUMNS = ["question_type", "reward_method", "source", "abilities", "image"]


def write_filtered_copy(
    dataset_dir: str | Path,
    output_dir: str | Path,
    drop_ids: set[str],
    *,
    removed: dict[str, dict[str, int]],
    removal_note: str = "",
    repo_id: str | None = None,
) -> BuildReport:
    """Writes dataset_dir without the rows whose id is in drop_ids to output_dir; returns the new report.

    removed: per group (e.g. benchmark) the rows each test matched, for the report's "Removed rows" table.
    """
    dataset_dir, output_dir = Path(dataset_dir), Path(output_dir)
    if output_dir.resolve() == dataset_dir.resolve():
        raise ValueError("the filtered copy must go to a new folder, not the dataset itself")
    source = load_report(dataset_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    drop = pa.array(sorted(drop_ids), type=pa.string())
    kept = {name: _filter_config(dataset_dir / name, output_dir / name, drop) for name in CONFIG_NAMES}
    if len(set(kept.values())) != 1:
        raise ValueError(f"{dataset_dir}: the configs hold different rows after filtering ({kept})")
    report = _report_of_rows(output_dir / "default")
    report.record_files = source.record_files  # where the synthesis statistics, if any, are found
    report.derived_from = str(dataset_dir)
    report.rows_in = source.rows_out
    report.removed_total = source.rows_out - report.rows_out
    report.removed, report.removal_note = removed, removal_note
    shards = {name: sorted((output_dir / name).glob("*.parquet")) for name in CONFIG_NAMES}
    report.data_files = {name: [p.relative_to(output_dir).as_posix() for p in paths] for name, paths in shards.items()}
    report.num_bytes = {name: sum(p.stat().st_size for p in paths) for name, paths in shards.items()}
    if (dataset_dir / "sharegpt").is_dir():
        copy_images = (dataset_dir / "sharegpt" / "images").is_dir()
        export_sharegpt(shards["default"], output_dir, copy_images=copy_images)
    write_charts(report, output_dir)
    report.write(output_dir)
    render_dataset_card(output_dir, report, repo_id=repo_id)
    return report


def _filter_config(source_dir: Path, target_dir: Path, drop: pa.Array) -> int:
    """Copies every shard of one config without the dropped ids (same shard names); returns the rows kept."""
    shards = sorted(source_dir.glob("*.parquet"))
    if not shards:
        raise FileNotFoundError(f"{source_dir}: no *.parquet shards (expected a dataset_builder output folder)")
    if target_dir.exists():
        shutil.rmtree(target_dir)
    target_dir.mkdir(parents=True)
    kept = 0
    for shard in shards:
        schema = pq.ParquetFile(shard).schema_arrow  # keeps the `datasets` features in its metadata
        if "id" not in schema.names:
            raise ValueError(f"{shard}: no `id` column, cannot drop rows by id")
        with pq.ParquetWriter(target_dir / shard.name, schema) as writer:
            for batch in iter_shard_batches(shard):
                batch = batch.filter(pc.invert(pc.is_in(batch.column("id"), value_set=drop)))
                writer.write_table(pa.Table.from_batches([batch], schema=schema))
                kept += batch.num_rows
    return kept


def _report_of_rows(default_dir: Path) -> BuildReport:
    """The report's counts and image statistics recomputed from the `default` rows (image headers only)."""
    report = BuildReport()
    for shard in sorted(default_dir.glob("*.parquet")):
        for batch in iter_shard_batches(shard, REPORT_COLUMNS):
            for row in batch.to_pylist():
                with Image.open(io.BytesIO(row["image"]["bytes"])) as image:
                    width, height = image.size
                report.add_row(row, width, height)
    report.rows_in = report.rows_out
    return report
