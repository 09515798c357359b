"""Evaluation results: results.json, the markdown table beside the paper's reference rows, and Hub model-index.

`results` (what `python -m eval_tasks run` writes to results.json) looks like:

    {"model": "...", "max_samples": null, "benchmarks": {"mathvista": {"column": "MathVista", "score": 71.6,
     "status": "scored", "n": 1000, "n_rule": 990, "n_judge": 0, "n_unparsed": 10, "n_needs_judge": 0, ...,
     "metrics": {...all aggregate keys...}}, ...}}

`status` is "scored", "partial" (evaluated on --max-samples items: not comparable with the paper), or "needs judge"
(a benchmark only a judge can score, run without one: no score is reported).
"""

from __future__ import annotations

import math

from eval_tasks.tasks import BENCHMARKS

# OpenCompass leaderboards, 2025-05-30 (paper Table 1); MME: Qwen2.5-VL-7B tech report.
REFERENCE_ROWS: dict[str, dict[str, float]] = {
    "WeThink-VL-7B": {
        "mathvista": 71.6,
        "mathvision": 26.0,
        "mathverse": 44.2,
        "dynamath": 24.8,
        "wemath": 48.0,
        "logicvista": 51.2,
        "mmbench": 81.8,
        "mmstar": 64.2,
        "mmmu": 61.0,
        "hallusionbench": 55.3,
        "ai2d": 84.0,
        "ocrbench": 890,
        "mmvet": 73.2,
    },
    "Qwen2.5-VL-7B": {
        "mathvista": 68.1,
        "mathvision": 25.4,
        "mathverse": 41.1,
        "dynamath": 21.8,
        "wemath": 36.2,
        "logicvista": 47.9,
        "mmbench": 82.2,
        "mmstar": 64.1,
        "mmmu": 58.0,
        "hallusionbench": 51.9,
        "ai2d": 84.3,
        "ocrbench": 888,
        "mmvet": 69.7,
        "mme": 2347,
    },
}

METRIC_NAMES = {
    "dynamath": "worst-case accuracy",
    "wemath": "Score (Strict)",
    "mmbench": "CircularEval accuracy",
    "mme": "sum of acc and acc+ (max 2800)",
    "hallusionbench": "mean of aAcc, fAcc, qAcc",
    "ocrbench": "correct answers (of 1000)",
    "mmvet": "judge score x100",
}
COUNT_KEYS = ("n", "n_rule", "n_judge", "n_unparsed", "n_needs_judge", "n_judge_failed")


def _finite(value) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def benchmark_result(name: str, aggregated: dict[str, float], *, partial: bool) -> dict:
    """One benchmark's entry in results.json from the aggregate lighteval returned for its task."""
    score = _finite(aggregated.get("score"))
    if aggregated.get("needs_judge") or (BENCHMARKS[name].needs_judge and score is None):
        status = "needs judge"
    else:
        status = "partial" if partial else "scored"
    entry = {"column": BENCHMARKS[name].column, "score": score, "status": status}
    entry.update({key: int(aggregated.get(key, 0)) for key in COUNT_KEYS})
    entry["metrics"] = {k: _finite(v) for k, v in aggregated.items() if k not in COUNT_KEYS}
    return entry


def _cell(name: str, value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}" if name in ("ocrbench", "mme") else f"{value:.1f}"


def markdown_table(results: dict) -> str:
    """Paper column order, the model's row then the two reference rows, then per-benchmark scoring counts."""
    names = [n for n in BENCHMARKS if n in results["benchmarks"]] or list(BENCHMARKS)
    header = "| Model | " + " | ".join(BENCHMARKS[n].column for n in names) + " |"
    lines = [header, "|---" * (len(names) + 1) + "|"]
    row = []
    for name in names:
        entry = results["benchmarks"][name]
        row.append("needs judge" if entry["status"] == "needs judge" else _cell(name, entry["score"]))
    lines.append(f"| {results['model']} | " + " | ".join(row) + " |")
    for model, scores in REFERENCE_ROWS.items():
        lines.append(f"| {model} (reference) | " + " | ".join(_cell(n, scores.get(n)) for n in names) + " |")
    lines += [
        "",
        "| Benchmark | Metric | Items | Rule-scored | Judge-scored | Unparsed (counted wrong) | Needs judge | Status |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in names:
        e = results["benchmarks"][name]
        judged = e["n_judge"] + e["n_judge_failed"]
        lines.append(
            f"| {e['column']} | {METRIC_NAMES.get(name, 'accuracy')} | {e['n']} | {e['n_rule']} | {judged} | "
            f"{e['n_unparsed']} | {e['n_needs_judge']} | {e['status']} |"
        )
    if results.get("max_samples"):
        lines += [
            "",
            f"Evaluated on about {results['max_samples']} items per benchmark (whole groups): not comparable "
            "with the paper.",
        ]
    return "\n".join(lines) + "\n"


def model_index(results: dict, model_name: str) -> list[dict]:
    """The `model-index` block of a Hub model card (benchmarks that have a complete score only).

    `huggingface_hub.repocard_data.model_index_to_eval_results` turns it into `EvalResult`s for `ModelCardData`.
    """
    entries = []
    for name, entry in results["benchmarks"].items():
        if entry["status"] != "scored" or entry["score"] is None:
            continue
        benchmark = BENCHMARKS[name]
        entries.append(
            {
                "task": {"type": "image-text-to-text", "name": "Visual reasoning"},
                "dataset": {
                    "name": benchmark.column,
                    "type": benchmark.hub_repo,
                    "config": benchmark.hub_subset,
                    "split": benchmark.splits[0] if len(benchmark.splits) == 1 else "+".join(benchmark.splits),
                },
                "metrics": [
                    {
                        "type": "accuracy" if name not in METRIC_NAMES else name,
                        "value": round(entry["score"], 2),
                        "name": METRIC_NAMES.get(name, "accuracy"),
                    }
                ],
                "source": {
                    "name": "wethink-recipes eval_tasks (lighteval)",
                    "url": "https://github.com/huggingface/lighteval",
                },
            }
        )
    return [{"name": model_name, "results": entries}]
