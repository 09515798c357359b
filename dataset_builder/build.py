"""Build the WeThink release (plus any JSONL in the same schema) into Hub-ready Parquet.

The builders (dataset_builder/builder.py) run in-process: `download_and_prepare(file_format="parquet")` writes shards
as it goes, so memory does not grow with the record count. The `default` config reads the release records and their
images; `rl` and `sft` are derived from the written `default` shards (records are validated once and images are read
from the bundle once). Output layout (the contract in interfaces.md):

    OUT/{default,rl,sft}/train-0000i-of-0000n.parquet, OUT/README.md, OUT/build_report.{json,md}, OUT/*.png,
    OUT/rejected.jsonl, OUT/sharegpt/{wethink_sft.json,dataset_info.json,images/...}
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from pathlib import Path

import datasets
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from dataset_builder.builder import WRITER_BATCH_SIZE, WeThinkBuilder, WeThinkViewBuilder, iter_shard_batches
from dataset_builder.card import render_dataset_card
from dataset_builder.report import BuildReport, write_charts
from dataset_builder.schema import DEFAULT_SPELLINGS, Spellings
from dataset_builder.sources import BadInputError, BadRecordError, list_record_files
from dataset_builder.views import VIEWS, sharegpt_dataset_info, to_sharegpt

logger = logging.getLogger(__name__)

ON_ERROR_CHOICES = ("raise", "skip")
SHAREGPT_NAME = "wethink_sft"


def _prepare_config(name: str, work_dir: Path, output_dir: Path, max_shard_size, **builder_kwargs) -> list[Path]:
    """Runs the builder for one config and moves its shards to OUT/<name>/train-0000i-of-0000n.parquet."""
    builder_class = WeThinkBuilder if name == "default" else WeThinkViewBuilder
    builder = builder_class(config_name=name, cache_dir=str(work_dir / "cache"), hash="local", **builder_kwargs)
    target = work_dir / name
    try:
        builder.download_and_prepare(
            output_dir=str(target),
            file_format="parquet",
            max_shard_size=max_shard_size,
            download_mode=datasets.DownloadMode.FORCE_REDOWNLOAD,
        )
    except datasets.exceptions.DatasetGenerationError as error:
        # datasets wraps whatever the generator raised; surface a bad record as itself.
        cause = error.__cause__
        if isinstance(cause, BadRecordError | BadInputError):
            raise cause from None
        raise
    shards = sorted(target.glob("*.parquet"))
    config_dir = output_dir / name
    if config_dir.exists():
        shutil.rmtree(config_dir)
    config_dir.mkdir(parents=True)
    moved = []
    for index, shard in enumerate(shards):
        destination = config_dir / f"train-{index:05d}-of-{len(shards):05d}.parquet"
        shutil.move(str(shard), destination)
        moved.append(destination)
    return moved


def export_sharegpt(default_shards: list[Path], output_dir: Path, *, copy_images: bool = False) -> Path:
    """LLaMA-Factory ShareGPT JSON of the SFT view, plus the `dataset_info.json` entry that registers it.

    Image paths are the release's `image_path`s, relative to the unpacked image bundle (pass it as LLaMA-Factory's
    `media_dir`), as the WeThink authors train; copy_images=True writes the images under `sharegpt/images/` instead so
    the export is self-contained (120K small files: keep it out of a Hub upload).
    """
    sharegpt_dir = output_dir / "sharegpt"
    if sharegpt_dir.exists():
        shutil.rmtree(sharegpt_dir)
    sharegpt_dir.mkdir(parents=True)
    json_path = sharegpt_dir / f"{SHAREGPT_NAME}.json"
    columns = ["id", "problem", "answer", "reasoning", "image_path"] + (["image"] if copy_images else [])
    total = sum(pq.ParquetFile(shard).metadata.num_rows for shard in default_shards)
    with open(json_path, "w", encoding="utf-8") as handle, tqdm(total=total, desc="ShareGPT export") as progress:
        handle.write("[")
        first = True
        for shard in default_shards:
            for batch in iter_shard_batches(shard, columns):
                for row in batch.to_pylist():
                    image_file = row["image_path"]
                    if copy_images:
                        image_file = f"images/{image_file}"
                        (sharegpt_dir / image_file).parent.mkdir(parents=True, exist_ok=True)
                        (sharegpt_dir / image_file).write_bytes(row["image"]["bytes"])
                    entry = json.dumps(to_sharegpt(row, image_file), ensure_ascii=False)
                    handle.write(("\n" if first else ",\n") + entry)
                    first = False
                progress.update(batch.num_rows)
        handle.write("\n]\n")
    info = sharegpt_dataset_info(SHAREGPT_NAME, json_path.name)
    (sharegpt_dir / "dataset_info.json").write_text(json.dumps(info, indent=2) + "\n")
    return json_path


def build_dataset(
    sources: list[str | Path] | str | Path,
    images: list[str | Path] | str | Path,
    output_dir: str | Path,
    *,
    on_error: str = "raise",
    max_shard_size: str | int = "500MB",
    repo_id: str | None = None,
    export_sharegpt_json: bool = True,
    sharegpt_copy_images: bool = False,
    writer_batch_size: int = WRITER_BATCH_SIZE,
    spellings: Spellings = DEFAULT_SPELLINGS,
) -> BuildReport:
    """Builds every config into output_dir and returns the report (also written to OUT/build_report.json).

    sources: record files or folders of *.json/*.jsonl; images: image folders, zips, or split zip parts (a part or
    the folder holding them), searched in order. on_error="raise" stops at the first bad record naming file, line and
    field; "skip" writes it with its reason to OUT/rejected.jsonl and goes on. Shards close once past max_shard_size,
    checked every writer_batch_size rows (the Parquet row group size). repo_id is the Hub id the card's loading
    snippet names; upload the folder with `python -m model_cards push --dataset-dir OUT --repo-id ID` (the project's
    one push path). spellings: the accepted `category` / `reward` spellings (Spellings.load(a mapping file)).
    """
    if on_error not in ON_ERROR_CHOICES:
        raise ValueError(f"on_error must be one of {ON_ERROR_CHOICES}, got {on_error!r}")
    sources = [sources] if isinstance(sources, str | Path) else list(sources)
    images = [images] if isinstance(images, str | Path) else list(images)
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    work_dir = output_dir / ".build"
    started = time.perf_counter()
    report = BuildReport(record_files=[str(path) for path in list_record_files(sources)])
    try:
        with open(output_dir / "rejected.jsonl", "w", encoding="utf-8") as rejected_file:
            default_shards = _prepare_config(
                "default",
                work_dir,
                output_dir,
                max_shard_size,
                writer_batch_size=writer_batch_size,
                record_files=[Path(path) for path in report.record_files],
                image_roots=[Path(root) for root in images],
                on_error=on_error,
                report=report,
                rejected_file=rejected_file,
                spellings=spellings,
            )
        if report.rows_in != report.rows_out + report.rows_rejected:  # the invariant every build must keep
            raise RuntimeError(
                f"accounting error: {report.rows_in} in != {report.rows_out} out + {report.rows_rejected}"
            )
        report.stage_seconds["default"] = time.perf_counter() - started
        data_files = {"default": default_shards}
        for name in VIEWS:
            stage_started = time.perf_counter()
            data_files[name] = _prepare_config(
                name,
                work_dir,
                output_dir,
                max_shard_size,
                writer_batch_size=writer_batch_size,
                default_shards=default_shards,
            )
            report.stage_seconds[name] = time.perf_counter() - stage_started
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    if export_sharegpt_json:
        stage_started = time.perf_counter()
        export_sharegpt(default_shards, output_dir, copy_images=sharegpt_copy_images)
        report.stage_seconds["sharegpt"] = time.perf_counter() - stage_started
    report.data_files = {name: [str(p.relative_to(output_dir)) for p in paths] for name, paths in data_files.items()}
    report.num_bytes = {name: sum(p.stat().st_size for p in paths) for name, paths in data_files.items()}
    report.seconds = time.perf_counter() - started
    write_charts(report, output_dir)
    report.write(output_dir)
    render_dataset_card(output_dir, report, repo_id=repo_id)
    logger.info("built %d rows (%d rejected) into %s", report.rows_out, report.rows_rejected, output_dir)
    return report
