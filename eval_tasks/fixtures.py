"""Small generated benchmark sets in each benchmark's real Hub schema and split names, for offline runs.

`write_benchmark_fixtures(data_dir, n_per_benchmark)` writes `data_dir/<benchmark>/data/<split>-00000-of-00001.parquet`
(the layout `push_to_hub` produces, so `load_dataset(data_dir/<benchmark>)` finds the split names). The rows come
from each benchmark file's `fixture_rows`, which produces every answer and option format the real data has (WeMath's
option separators, LogicVista's inline options and letter ranges, MMBench's "nan" cells and circular copies,
DynaMath's three answer types over 10 variants, ...). Images are small PIL drawings that show what the question asks
about, so the gold answers are right for them.
"""

from __future__ import annotations

import random
from pathlib import Path

from datasets import Dataset, Features

from eval_tasks.benchmarks import BENCHMARKS, PAPER_BENCHMARKS


def benchmark_rows(name: str, n: int, seed: int = 0) -> tuple[dict[str, list[dict]], Features]:
    """Rows per split and the features of one benchmark (`n` items, or `n` groups where the benchmark has groups)."""
    return BENCHMARKS[name].fixture_rows(random.Random(f"{name}-{seed}"), n)


def write_benchmark_fixtures(data_dir, n_per_benchmark: int = 4, seed: int = 0, names=None) -> Path:
    """Write the paper's benchmarks (or `names`, e.g. `["synthetic_heldout"]`) under
    `data_dir/<benchmark>/data/<split>-00000-of-00001.parquet`."""
    data_dir = Path(data_dir)
    for name in names or PAPER_BENCHMARKS:
        splits, features = benchmark_rows(name, n_per_benchmark, seed)
        folder = data_dir / name / "data"
        folder.mkdir(parents=True, exist_ok=True)
        for split, rows in splits.items():
            Dataset.from_list(rows, features=features).to_parquet(str(folder / f"{split}-00000-of-00001.parquet"))
    return data_dir
