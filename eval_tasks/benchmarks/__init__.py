"""The benchmarks, one file each (`eval_tasks/benchmarks/<name>.py`, lighteval style): adding a benchmark is adding
a file that defines `BENCHMARK = Benchmark(...)` (see `base.py`). `BENCHMARKS` holds them in the paper's column
order (reasoning leaderboard, then general; MME last)."""

from __future__ import annotations

import importlib
import pkgutil
from collections import defaultdict

from eval_tasks.benchmarks.base import TASK_PREFIX, Benchmark, RowError

__all__ = ["BENCHMARKS", "TASK_PREFIX", "Benchmark", "RowError", "whole_groups"]


def _discover() -> dict[str, Benchmark]:
    found = []
    for module_info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        if isinstance(getattr(module, "BENCHMARK", None), Benchmark):
            found.append(module.BENCHMARK)
    return {benchmark.name: benchmark for benchmark in sorted(found, key=lambda b: b.position)}


BENCHMARKS: dict[str, Benchmark] = _discover()


def whole_groups(name: str, items: list, max_items: int, specific=lambda x: x) -> list:
    """Whole groups (the benchmark's `group_key`), in the order their first item appears, until at least `max_items`
    items are chosen; `specific` maps an element to its item dict (lighteval Docs: `lambda doc: doc.specific`)."""
    key = BENCHMARKS[name].group_key
    if key is None:
        return items[:max_items]
    members = defaultdict(list)
    for element in items:
        members[key(specific(element))].append(element)
    chosen = []
    for element in items:
        if len(chosen) >= max_items:
            break
        group = members.pop(key(specific(element)), None)
        if group is not None:
            chosen.extend(group)
    return chosen
