"""lighteval custom tasks for the WeThink evaluation: the paper's 14 columns (MathVista twice) plus MME, and, by name
only, the demo's synthetic held-out split (`synthetic_heldout`, local data: no paper column).

The benchmarks live one per file in `eval_tasks/benchmarks/`; this module builds their lighteval task configs with
the run's options (local data folder, judge, generation budget). With network access it also works as a plain
lighteval custom-tasks file:

    lighteval accelerate "model_name=WeThink/WeThink-Qwen2.5VL-7B,dtype=bfloat16" "wethink_mathvista|0" \
        --custom-tasks eval_tasks/tasks.py --vision-model

(`WETHINK_EVAL_DATA_DIR`, `WETHINK_JUDGE_BASE_URL` and `WETHINK_JUDGE_MODEL` configure it from the environment.)
Its `TASKS_TABLE` holds the paper's columns; the held-out task's own file (`eval_tasks/benchmarks/synthetic_heldout.py`)
is its custom-tasks file.
"""

from __future__ import annotations

from lighteval.tasks.lighteval_task import LightevalTaskConfig

from eval_tasks.benchmarks import BENCHMARKS, PAPER_BENCHMARKS, TASK_PREFIX, Benchmark
from eval_tasks.benchmarks import base as _base
from eval_tasks.benchmarks.base import TaskOptions, options_from_env, task_config
from eval_tasks.benchmarks.dynamath import SPLITS as DYNAMATH_SPLITS

__all__ = [
    "BENCHMARKS",
    "DYNAMATH_SPLITS",
    "PAPER_BENCHMARKS",
    "TASKS_TABLE",
    "TASK_PREFIX",
    "Benchmark",
    "BenchmarkAggregate",
    "TaskOptions",
    "build_task_configs",
    "prompt_with_context",
]


def _benchmark(benchmark: str | Benchmark) -> Benchmark:
    return BENCHMARKS[benchmark] if isinstance(benchmark, str) else benchmark


class BenchmarkAggregate(_base.BenchmarkAggregate):
    """The corpus metric of a benchmark given by name or config."""

    def __init__(self, benchmark: str | Benchmark, judge=None):
        super().__init__(_benchmark(benchmark), judge)


def prompt_with_context(benchmark: str | Benchmark, line: dict, task_name: str = ""):
    return _base.prompt_with_context(_benchmark(benchmark), line, task_name)


def build_task_configs(
    names: list[str] | None = None, options: TaskOptions | None = None
) -> list[LightevalTaskConfig]:
    """Task configs of `names` (default: the paper's columns) with the run's options."""
    names = names or list(PAPER_BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        raise ValueError(f"unknown benchmark(s) {unknown}; choose from {list(BENCHMARKS)}")
    return [task_config(BENCHMARKS[name], options or TaskOptions()) for name in names]


# What `lighteval ... --custom-tasks eval_tasks/tasks.py` reads.
TASKS_TABLE = build_task_configs(options=options_from_env())
