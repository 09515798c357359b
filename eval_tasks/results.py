"""Evaluation results: results.json entries, the markdown table beside the paper's reference rows, Hub model-index.

`results` (what `python -m eval_tasks run` and `score` write to results.json) looks like:

    {"model": "...", "max_samples": null, "benchmarks": {"mathvista": {"column": "MathVista", "score": 71.6,
     "status": "scored", "comparable": true, "n": 1000, "n_rule": 990, "n_judge": 0, "n_unparsed": 10, ...,
     "metrics": {...all aggregate keys...}}, ...}}

`status` is "scored", "partial" (evaluated on part of the set: not comparable with the paper), or "needs judge"
(a benchmark only a judge can score, run without one: no score is reported). `comparable` is false where the data is
not what the reference numbers were measured on (MMBench v1.0 from the Hub: the leaderboard reports v1.1), and
`score_vlmevalkit` is present where a deliberate choice here differs from the reference toolkit's rule (the
figure that rule gives, for comparison with the OpenCompass leaderboard).
"""

from __future__ import annotations

import math

from eval_tasks.benchmarks import BENCHMARKS, PAPER_BENCHMARKS
from eval_tasks.benchmarks.base import REFERENCE_MODELS

COUNT_KEYS = ("n", "n_rule", "n_judge", "n_unparsed", "n_needs_judge", "n_judge_failed", "n_unwinnable")
NOT_COMPARABLE = "n/c"


def _finite(value) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def benchmark_result(name: str, aggregated: dict[str, float], *, partial: bool) -> dict:
    """One benchmark's entry in results.json from the benchmark's aggregate."""
    benchmark = BENCHMARKS[name]
    score = _finite(aggregated.get("score"))
    if aggregated.get("needs_judge") or (benchmark.needs_judge and score is None):
        status = "needs judge"
    else:
        status = "partial" if partial else "scored"
    column, comparable = benchmark.column_label(aggregated)
    entry = {"column": column, "score": score, "status": status, "comparable": comparable}
    if benchmark.reference_rule_metric:
        entry["score_vlmevalkit"] = _finite(aggregated.get(benchmark.reference_rule_metric))
    entry.update({key: int(aggregated.get(key, 0)) for key in COUNT_KEYS})
    entry["metrics"] = {k: _finite(v) for k, v in aggregated.items() if k not in COUNT_KEYS}
    return entry


def _cell(name: str, value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}" if name in ("ocrbench", "mme") else f"{value:.1f}"


def _reference_cell(name: str, model: str, entry: dict | None) -> str:
    if entry is not None and not entry.get("comparable", True):
        return NOT_COMPARABLE
    return _cell(name, BENCHMARKS[name].reference.get(model))


def markdown_table(results: dict) -> str:
    """Paper column order, the model's row then the two reference rows, then per-benchmark scoring counts; tasks
    that are no paper column (the synthetic held-out split) in a table of their own below."""
    entries = results["benchmarks"]
    names = [n for n in PAPER_BENCHMARKS if n in entries]
    others = [n for n in BENCHMARKS if n in entries and n not in PAPER_BENCHMARKS]
    lines = _paper_tables(results, names) if names or not others else []
    if others:
        lines += ([""] if lines else []) + _other_tables(entries, others)
    notes = _notes(names + others, entries)
    if results.get("max_samples"):
        notes.append(
            f"Evaluated on about {results['max_samples']} items per benchmark (whole groups): not comparable "
            "with the paper."
        )
    return "\n".join(lines + ([""] + notes if notes else [])) + "\n"


def _paper_tables(results: dict, names: list[str]) -> list[str]:
    entries = results["benchmarks"]
    header = "| Model | " + " | ".join(entries.get(n, {}).get("column", BENCHMARKS[n].column) for n in names) + " |"
    lines = [header, "|---" * (len(names) + 1) + "|"]
    row = []
    for name in names:
        entry = entries[name]
        row.append("needs judge" if entry["status"] == "needs judge" else _cell(name, entry["score"]))
    lines.append(f"| {results['model']} | " + " | ".join(row) + " |")
    for model in REFERENCE_MODELS:
        cells = [_reference_cell(n, model, entries.get(n)) for n in names]
        lines.append(f"| {model} (reference) | " + " | ".join(cells) + " |")
    lines += [
        "",
        "| Benchmark | Metric | Items | Rule-scored | Judge-scored | Unparsed (counted wrong) | Needs judge | Status |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in names:
        e = entries[name]
        judged = e.get("n_judge", 0) + e.get("n_judge_failed", 0)
        lines.append(
            f"| {e['column']} | {BENCHMARKS[name].metric_name} | {e.get('n', 0)} | {e.get('n_rule', 0)} | {judged} | "
            f"{e.get('n_unparsed', 0)} | {e.get('n_needs_judge', 0)} | {e['status']} |"
        )
    return lines


def _other_tables(entries: dict, names: list[str]) -> list[str]:
    """Tasks that are no paper column: score, format and chance where the aggregate has them (no reference rows)."""
    lines = [
        "| Task (not a paper column) | Score | Format | Chance | Items | Rule-scored | Unparsed (counted wrong) | Status |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in names:
        e = entries[name]
        metrics = e.get("metrics") or {}
        cells = [_cell(name, e.get("score")), _cell(name, metrics.get("format")), _cell(name, metrics.get("chance"))]
        lines.append(
            f"| {e['column']} | " + " | ".join(cells) + f" | {e.get('n', 0)} | {e.get('n_rule', 0)} | "
            f"{e.get('n_unparsed', 0)} | {e['status']} |"
        )
    return lines


def _notes(names: list[str], entries: dict) -> list[str]:
    notes = []
    for name in names:
        entry = entries[name]
        if not entry.get("comparable", True):
            notes.append(f"{entry['column']}: not the data the reference numbers were measured on ({NOT_COMPARABLE}).")
        if entry.get("score_vlmevalkit") is not None:
            notes.append(f"{entry['column']}: {_cell(name, entry['score_vlmevalkit'])} by VLMEvalKit's rule.")
        if entry.get("n_unwinnable"):
            notes.append(f"{entry['column']}: {entry['n_unwinnable']} items whose gold no answer can match.")
    return notes


def model_index(results: dict, model_name: str) -> list[dict]:
    """The `model-index` block of a Hub model card (paper columns that have a complete score only).

    `huggingface_hub.repocard_data.model_index_to_eval_results` turns it into `EvalResult`s for `ModelCardData`.
    """
    entries = []
    for name, entry in results["benchmarks"].items():
        if name not in PAPER_BENCHMARKS or entry["status"] != "scored" or entry["score"] is None:
            continue  # a task that is no paper column (the synthetic held-out split) never reaches a model card
        benchmark = BENCHMARKS[name]
        entries.append(
            {
                "task": {"type": "image-text-to-text", "name": "Visual reasoning"},
                "dataset": {
                    "name": entry.get("column", benchmark.column),
                    "type": benchmark.hub_repo,
                    "config": benchmark.hub_subset,
                    "split": benchmark.splits[0] if len(benchmark.splits) == 1 else "+".join(benchmark.splits),
                },
                "metrics": [
                    {
                        "type": "accuracy" if benchmark.metric_name == "accuracy" else name,
                        "value": round(entry["score"], 2),
                        "name": benchmark.metric_name,
                    }
                ],
                "source": {
                    "name": "wethink-recipes eval_tasks (lighteval)",
                    "url": "https://github.com/huggingface/lighteval",
                },
            }
        )
    return [{"name": model_name, "results": entries}]


def finite_json(value):
    """`value` with NaN/inf floats as None (JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite_json(v) for v in value]
    return value
