"""Synthesis statistics for the dataset card: per-stage counts, agreement and re-evaluation rates, rejection reasons,
tokens per role (over every run that built OUT) and this run's throughput and CPU cost."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from dataset_builder.synthesis.config import ROLES

STAGE_ORDER = (
    "coarse_caption",
    "refine_caption",
    "formulate",
    "prefilter",
    "filter",
    "answer",
    "judge",
    "refine_cot",
)
# Stages whose rejections are booked under a finer name than the stage that counts passes.
REJECTION_STAGE = {
    "refine_ask": "refine_caption",
    "refine_answer": "refine_caption",
    "merge_caption": "refine_caption",
    "answer_reasoner": "answer",
    "answer_vlm": "answer",
}


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def build_stats(
    image_counters: Iterable[dict], run: dict, this_run: Iterable[dict], partial: Iterable[dict] = ()
) -> dict:
    """image_counters: one per finished image; partial: images that failed in this run, whose records and
    rejections are written and so counted (but not the image itself, which a rerun finishes)."""
    totals: Counter = Counter()
    images = 0
    for counters in image_counters:
        totals.update(counters)
        images += 1
    for counters in partial:
        totals.update(counters)
    reasons: Counter = Counter()
    rejected_at: Counter = Counter()
    for key, count in totals.items():
        if key.startswith("rejected."):
            _, stage, reason = key.split(".", 2)
            reasons[f"{stage}: {reason}"] += count
            rejected_at[REJECTION_STAGE.get(stage, stage)] += count
    stages = {stage: {"passed": totals[f"passed.{stage}"], "rejected": rejected_at[stage]} for stage in STAGE_ORDER}
    agree, disagree = totals["agreement.agree"], totals["agreement.disagree"]
    judged_incorrect = totals["rejected.judge.judged_incorrect"]
    roles = {
        role: {
            "requests": totals[f"role.{role}.requests"],
            "prompt_tokens": totals[f"role.{role}.prompt_tokens"],
            "completion_tokens": totals[f"role.{role}.completion_tokens"],
        }
        for role in ROLES
    }
    new = Counter()
    for counters in this_run:
        new.update(counters)
    wall = run["wall_s"]
    return {
        "images": images,
        "records": totals["records"],
        "stages": stages,
        "agreement_rate": _rate(agree, agree + disagree),
        "reevaluation_acceptance_rate": _rate(totals["passed.judge"], totals["passed.judge"] + judged_incorrect),
        "rejection_reasons": dict(reasons.most_common()),
        "tokens_per_role": roles,
        "run": {
            **{k: v for k, v in run.items() if k != "client"},
            "requests_sent": new["requests.sent"],
            "requests_replayed": new["requests.replayed"],
            "requests_per_s": round(new["requests.sent"] / wall, 2) if wall else None,
            "cpu_ms_per_record": round(1000 * run["cpu_s"] / new["records"], 3) if new["records"] else None,
            "cpu_ms_per_image": round(1000 * run["cpu_s"] / run["images_processed"], 3)
            if run["images_processed"]
            else None,
            "client": run["client"],
        },
    }


def render_markdown(stats: dict) -> str:
    def pct(value):
        return "n/a" if value is None else f"{100 * value:.1f}%"

    run = stats["run"]
    lines = [
        "# Synthesis statistics",
        "",
        f"{stats['records']} records from {stats['images']} images. "
        f"VLM-reasoner agreement rate: {pct(stats['agreement_rate'])}; "
        f"judge re-evaluation acceptance rate: {pct(stats['reevaluation_acceptance_rate'])}.",
        "",
        "| stage | passed | rejected |",
        "|---|---:|---:|",
        *(f"| {stage} | {c['passed']} | {c['rejected']} |" for stage, c in stats["stages"].items()),
        "",
        "| rejection reason | count |",
        "|---|---:|",
        *(f"| {reason} | {count} |" for reason, count in stats["rejection_reasons"].items()),
        "",
        "| role | requests | prompt tokens | completion tokens |",
        "|---|---:|---:|---:|",
        *(
            f"| {role} | {t['requests']} | {t['prompt_tokens']} | {t['completion_tokens']} |"
            for role, t in stats["tokens_per_role"].items()
        ),
        "",
        "## Last run",
        "",
        f"- images: {run['images_processed']} processed, {run['images_done_before']} done by earlier runs, "
        f"{run['images_failed']} failed (listed in failed.jsonl; rerun to retry)",
        f"- requests: {run['requests_sent']} sent, {run['requests_replayed']} replayed from the journal; "
        f"{run['requests_per_s']} requests/s over {run['wall_s']:.1f} s wall",
        f"- pipeline CPU: {run['cpu_ms_per_record']} ms per record, {run['cpu_ms_per_image']} ms per image",
        "",
    ]
    return "\n".join(lines)


def write_stats(stats: dict, output_dir: str | Path) -> None:
    output_dir = Path(output_dir)
    (output_dir / "stats.json").write_text(json.dumps(stats, indent=2) + "\n", encoding="utf-8")
    (output_dir / "stats.md").write_text(render_markdown(stats), encoding="utf-8")
