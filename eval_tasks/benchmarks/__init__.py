"""The benchmarks, one file each (`eval_tasks/benchmarks/<name>.py`, lighteval style): adding a benchmark is adding
a file that defines `BENCHMARK = Benchmark(...)` (see `base.py`). `BENCHMARKS` holds every task, selectable by name,
in the paper's column order (reasoning leaderboard, then general; MME last) and then the tasks that are no paper
column (the demo's synthetic held-out split); `PAPER_BENCHMARKS` holds the paper's columns only (`paper_column`):
what `--tasks all`, the fixtures, the results table and the model-index cover."""

from __future__ import annotations

import importlib
import pkgutil
from collections import defaultdict

from eval_tasks.benchmarks.base import TASK_PREFIX, Benchmark, RowError

__all__ = ["BENCHMARKS", "PAPER_BENCHMARKS", "TASK_PREFIX", "Benchmark", "RowError", "resolve_names", "whole_groups"]


def _discover() -> dict[str, Benchmark]:
    found = []
    for module_info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        if isinstance(getattr(module, "BENCHMARK", None), Benchmark):
            found.append(module.BENCHMARK)
    return {benchmark.name: benchmark for benchmark in sorted(found, key=lambda b: b.position)}


BENCHMARKS: dict[str, Benchmark] = _discover()
PAPER_BENCHMARKS: dict[str, Benchmark] = {name: b for name, b in BENCHMARKS.items() if b.paper_column}


def resolve_names(tasks: str) -> list[str]:
    """`all` (the paper's columns), benchmark names, or both comma-separated (`all,synthetic_heldout`); the
    `wethink_` prefix is optional; each name once, in the order given."""
    names = []
    for token in (t.strip().removeprefix(TASK_PREFIX) for t in tasks.split(",")):
        names += list(PAPER_BENCHMARKS) if token == "all" else [token] if token else []
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        raise ValueError(f"unknown benchmark(s) {unknown}; choose from {['all', *BENCHMARKS]}")
    return list(dict.fromkeys(names))


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
