"""
name:
MME

dataset:
lmms-lab-encoder/MME (moved from lmms-lab/MME, which redirects), split test (2374 items)

abstract:
Yes/no questions in 14 perception and cognition categories; every image has one "Yes" and one "No" question.

paper:
https://arxiv.org/abs/2306.13394

Scoring: yes/no extraction (lowercase, punctuation stripped, "yes" without "no" -> yes and the reverse, else
unparsed); per category acc (questions) x100 + acc+ (images with both questions right) x100; perception sums 10
categories (max 2000), cognition 4 (max 800); the score is their sum (max 2800). Not a paper column: the usual extra
(Qwen2.5-VL-7B tech report: 2347).
"""

from __future__ import annotations

from datasets import Features, Image, Value
from lighteval.tasks.requests import Doc

from eval_tasks.benchmarks import fixture_images as draw
from eval_tasks.benchmarks.base import Benchmark, make_doc, task_config
from eval_tasks.scoring import accuracy, by_key, counts, yes_no_record

KEYS = ("question_id", "category")
PERCEPTION = ("existence", "count", "position", "color", "posters", "celebrity", "scene", "landmark", "artwork", "OCR")
COGNITION = ("commonsense_reasoning", "numerical_calculation", "text_translation", "code_reasoning")


def item(line: dict) -> dict:
    gold = str(line["answer"]).strip().lower()
    return {"question_id": str(line["question_id"]), "category": line["category"], "answer": gold}


def prompt_fn(line: dict, task_name: str = "") -> Doc:
    return make_doc(task_name, line["question"], [line["image"]], item(line))


def score(completion: str, item: dict) -> dict:
    return yes_no_record(completion, item, KEYS)


def group_key(item: dict):
    return item["question_id"]


def aggregate(records: list[dict]) -> dict[str, float]:
    result = {}
    for category, members in by_key(records, "category").items():
        images = by_key(members, "question_id")
        acc_plus = 100.0 * sum(all(r["correct"] for r in m) for m in images.values()) / len(images)
        result[f"category/{category}"] = accuracy(members) + acc_plus
    perception = sum(v for k, v in result.items() if k.split("/", 1)[1] in PERCEPTION)
    cognition = sum(v for k, v in result.items() if k.split("/", 1)[1] in COGNITION)
    return {"score": perception + cognition, "perception": perception, "cognition": cognition, **result,
            **counts(records)}  # fmt: skip


def fixture_rows(rng, n):
    rows = []
    categories = ("existence", "count", "color", "code_reasoning")
    for i in range(n):
        count, color, image = draw.count_item(rng)
        category = categories[i % len(categories)]
        for asked in (count, count + 2):
            rows.append(
                {
                    "question_id": f"{category}/{i:04d}.png",
                    "question": f"Are there {asked} {color} squares in the image? Please answer yes or no.",
                    "answer": "Yes" if asked == count else "No",
                    "category": category,
                    "image": image,
                }
            )
    features = Features(
        {
            "question_id": Value("string"),
            "question": Value("string"),
            "answer": Value("string"),
            "category": Value("string"),
            "image": Image(),
        }
    )
    return {"test": rows}, features


BENCHMARK = Benchmark(
    name="mme",
    column="MME",
    position=14,
    hub_repo="lmms-lab-encoder/MME",
    hub_subset="default",
    splits=("test",),
    size=2374,
    item=item,
    prompt_fn=prompt_fn,
    score=score,
    aggregate=aggregate,
    fixture_rows=fixture_rows,
    group_key=group_key,
    metric_name="sum of acc and acc+ (max 2800)",
    reference={"Qwen2.5-VL-7B": 2347},
    moved_from="lmms-lab/MME",
)

TASKS_TABLE = [task_config(BENCHMARK)]
