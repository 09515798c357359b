"""Benchmark rows from local files: Hub-schema `.jsonl` / `.json` / `.parquet`, or an OpenCompass/VLMEvalKit `.tsv`.

`read_rows(path)` returns the rows as dicts (every row gets `__source`, the file name, so a benchmark can tell
which release it reads: MMBench v1.1 is VLMEvalKit's `MMBench_DEV_EN_V11.tsv`). A TSV keeps its columns (VLMEvalKit's
MMBench TSVs share the Hub's column names; `l2-category` is read case-insensitively), its cells as strings, empty
cells as None, and its base64 `image` column as text (scoring needs no image). `local_dataset` turns such a file into
the Parquet folder lighteval loads, with the images decoded, so `run --data-dir` reads it too.
"""

from __future__ import annotations

import base64
import csv
import json
import sys
from pathlib import Path

import pyarrow.parquet as pq

SUPPORTED = (".jsonl", ".json", ".parquet", ".tsv")
CONVERTED_DIR = ".converted"  # under --data-dir: TSVs turned into Parquet folders for lighteval


class DataFileError(ValueError):
    """A data file that cannot be read; the message names the file (and the line where there is one)."""


def read_rows(path: str | Path) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"{path}: no such data file")
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        rows = _read_jsonl(path)
    elif suffix == ".json":
        rows = json.loads(path.read_text())
        if isinstance(rows, dict):  # {id: row} as some benchmarks' own repositories ship them
            rows = [{"id": key, **row} if "id" not in row else row for key, row in rows.items()]
    elif suffix == ".parquet":
        rows = pq.read_table(path).to_pylist()
    elif suffix == ".tsv":
        rows = _read_tsv(path)
    else:
        raise DataFileError(f"{path}: unsupported data file type (use one of {', '.join(SUPPORTED)})")
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise DataFileError(f"{path}: expected a list of row objects")
    for row in rows:
        row["__source"] = path.name
    return rows


def _read_jsonl(path: Path) -> list[dict]:
    rows = []
    with path.open() as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise DataFileError(f"{path}: line {number}: not JSON ({error.msg})") from error
    return rows


def _read_tsv(path: Path) -> list[dict]:
    csv.field_size_limit(sys.maxsize)  # base64 images are far longer than csv's default field limit
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        rows = []
        for row in reader:
            rows.append({_column(key): (value if value != "" else None) for key, value in row.items()})
    return rows


def _column(name: str) -> str:
    return "l2-category" if name.lower() == "l2-category" else name


def row_splits(rows: list[dict], splits: tuple[str, ...], where: str) -> list[str]:
    """The split of each row: its `split` column when the benchmark has several (DynaMath's sample_variant1..10 in
    one file), else the benchmark's single split."""
    if len(splits) == 1:
        return [splits[0]] * len(rows)
    result = []
    for index, row in enumerate(rows):
        split = row.get("split")
        if split not in splits:
            raise DataFileError(f"{where}: row {index}: column 'split' is {split!r}, expected one of {list(splits)}")
        result.append(split)
    return result


def decode_tsv_image(value: str | None, images_by_index: dict[str, str]) -> bytes | None:
    """VLMEvalKit TSV image cell: base64 bytes, or the index of the row whose image it reuses."""
    if not value:
        return None
    if len(value) < 64 and value.strip().isdigit():
        value = images_by_index.get(value.strip())
        if not value:
            return None
    return base64.b64decode(value)


def local_dataset(benchmark, data_dir: Path) -> Path:
    """The folder lighteval loads for `benchmark` under `--data-dir`: `DIR/<name>/` (Parquet in the Hub schema) as
    is, or `DIR/<name>.tsv` / a VLMEvalKit TSV named in `TSV_FILES` converted to Parquet under `DIR/.converted/`."""
    folder = data_dir / benchmark.name
    if folder.is_dir():
        return folder
    candidates = [data_dir / f"{benchmark.name}.tsv", *(data_dir / name for name in TSV_FILES.get(benchmark.name, ()))]
    tsv = next((path for path in candidates if path.is_file()), None)
    if tsv is None:
        raise FileNotFoundError(
            f"{benchmark.name}: no local data under {data_dir} (expected {folder}/ or one of "
            f"{[path.name for path in candidates]})"
        )
    return convert_tsv(benchmark, tsv, data_dir / CONVERTED_DIR / benchmark.name)


# VLMEvalKit TSV file names `--data-dir` looks for, best first (v1.1 is what the OpenCompass leaderboard reports).
TSV_FILES = {
    "mmbench": ("MMBench_DEV_EN_V11.tsv", "MMBench_DEV_EN.tsv"),
    "mmstar": ("MMStar.tsv",),
    "ai2d": ("AI2D_TEST.tsv",),
}


def convert_tsv(benchmark, tsv: Path, folder: Path) -> Path:
    """Write the TSV's rows as `folder/data/<split>-00000-of-00001.parquet` (the layout `load_dataset` reads), with
    base64 images decoded into an Image column; rebuilt only when the TSV is newer."""
    from datasets import Dataset, Features, Image, Value

    marker = folder / "data" / ".source"
    if marker.is_file() and marker.read_text() == f"{tsv.resolve()}:{tsv.stat().st_mtime_ns}":
        return folder
    rows = read_rows(tsv)
    images_by_index = {str(row.get("index")): row.get("image") for row in rows if row.get("image")}
    splits = row_splits(rows, benchmark.splits, str(tsv))
    columns = [key for key in rows[0] if key != "image"] if rows else []
    features = Features({**{key: Value("string") for key in columns}, "image": Image()})
    (folder / "data").mkdir(parents=True, exist_ok=True)
    for split in dict.fromkeys(splits):
        split_rows = [
            {
                **{key: None if row.get(key) is None else str(row[key]) for key in columns},
                "image": {"bytes": decode_tsv_image(row.get("image"), images_by_index), "path": None},
            }
            for row, row_split in zip(rows, splits)
            if row_split == split
        ]
        dataset = Dataset.from_list(split_rows, features=features)
        dataset.to_parquet(str(folder / "data" / f"{split}-00000-of-00001.parquet"))
    marker.write_text(f"{tsv.resolve()}:{tsv.stat().st_mtime_ns}")
    return folder
