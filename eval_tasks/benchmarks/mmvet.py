"""
name:
MM-Vet

dataset:
lmms-lab-encoder/MMVet (moved from lmms-lab/MMVet, which redirects), split test (218 items)

abstract:
Open-ended questions over integrated capabilities (rec, ocr, know, gen, spat, math); golds may combine answers
with `<AND>` / `<OR>`.

paper:
https://arxiv.org/abs/2308.02490

Scoring needs a judge model: it fills MM-Vet's own few-shot grading table with 0.0-1.0 per item
(`eval_tasks.judge`); score = 100 x mean, overall and per capability. Without a judge the benchmark reports
"needs judge" and no score.
"""

from __future__ import annotations

from datasets import Features, Image, Sequence, Value
from lighteval.tasks.requests import Doc

from eval_tasks.benchmarks import fixture_images as draw
from eval_tasks.benchmarks.base import Benchmark, make_doc, task_config
from eval_tasks.scoring import answer_text, counts, record

CAPABILITIES = ("rec", "ocr", "know", "gen", "spat", "math")
KEYS = ("question_id", "capability", "question", "answer")


def item(line: dict) -> dict:
    capability = line.get("capability") or []
    if isinstance(capability, str):
        capability = [c.strip() for c in capability.split(",") if c.strip()]
    return {
        "question_id": str(line["question_id"]),
        "capability": list(capability),
        "question": line["question"],
        "answer": line["answer"],
    }


def prompt_fn(line: dict, task_name: str = "") -> Doc:
    return make_doc(task_name, line["question"], [line["image"]], item(line))


def score(completion: str, item: dict) -> dict:
    """Only a judge can score open-ended answers: the record carries what the judge needs."""
    text, _ = answer_text(completion)
    result = record(item, KEYS, False, "needs_judge", None)
    result.update(prediction=text, judge_score=None)
    return result


def aggregate(records: list[dict]) -> dict[str, float]:
    """100 x mean judge score, overall and per capability; NaN (reported as "needs judge") when items lack scores."""
    result = counts(records)
    if any(r.get("judge_score") is None for r in records):
        return {"score": float("nan"), "needs_judge": 1.0, **result}
    result["score"] = 100.0 * sum(r["judge_score"] for r in records) / len(records) if records else float("nan")
    for capability in CAPABILITIES:
        members = [r for r in records if capability in (r.get("capability") or [])]
        if members:
            result[f"capability/{capability}"] = 100.0 * sum(r["judge_score"] for r in members) / len(members)
    return result


def fixture_rows(rng, n):
    rows = []
    for i in range(n):
        count, color, image = draw.count_item(rng)
        rows.append(
            {
                "question_id": f"v1_{i}",
                "image": image,
                "question": f"How many {color} squares are there?",
                "answer": f"{count}<OR>{count} squares" if i % 2 else f"{count}<AND>{color}",
                "image_source": "fixture",
                "capability": ["rec", "math"],
            }
        )
    features = Features(
        {
            "question_id": Value("string"),
            "image": Image(),
            "question": Value("string"),
            "answer": Value("string"),
            "image_source": Value("string"),
            "capability": Sequence(Value("string")),
        }
    )
    return {"test": rows}, features


BENCHMARK = Benchmark(
    name="mmvet",
    column="MMVet",
    position=13,
    hub_repo="lmms-lab-encoder/MMVet",
    hub_subset="default",
    splits=("test",),
    size=218,
    item=item,
    prompt_fn=prompt_fn,
    score=score,
    aggregate=aggregate,
    fixture_rows=fixture_rows,
    needs_judge=True,
    judge_extracts=False,
    metric_name="judge score x100",
    reference={"WeThink-VL-7B": 73.2, "Qwen2.5-VL-7B": 69.7},
    moved_from="lmms-lab/MMVet",
)

TASKS_TABLE = [task_config(BENCHMARK)]
