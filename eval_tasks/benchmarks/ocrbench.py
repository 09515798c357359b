"""
name:
OCRBench

dataset:
echo840/OCRBench, split test (1000 items)

abstract:
Text recognition, scene-text VQA, document VQA, key information extraction and handwritten mathematical
expressions; `answer` is a list of accepted answers.

paper:
https://arxiv.org/abs/2305.07895

Scoring (the reference's rule, no judge): correct if any accepted answer is a substring of the prediction after
lowercasing, stripping and newlines -> spaces; for handwritten mathematical expressions case is kept and all spaces
are removed on both sides. Score: the count of correct answers on the 0-1000 scale. No system prompt (the paper's
setting); the paper used `min_pixels=10*10*28*28` here.
"""

from __future__ import annotations

import re

from datasets import Features, Image, Sequence, Value
from lighteval.tasks.requests import Doc

from eval_tasks.benchmarks import fixture_images as draw
from eval_tasks.benchmarks.base import Benchmark, make_doc, task_config
from eval_tasks.scoring import answer_text, by_key, counts, record, unparsed

KEYS = ("id", "question_type")
HANDWRITTEN_MATH = "Handwritten Mathematical Expression Recognition"


def item(line: dict) -> dict:
    answers = line["answer"] if isinstance(line["answer"], list) else [line["answer"]]
    return {
        "id": f"{line.get('dataset', '')}:{line.get('__index', '')}",  # source set : row (no id column)
        "question_type": line["question_type"],
        "answer": [str(a) for a in answers],
    }


def prompt_fn(line: dict, task_name: str = "") -> Doc:
    return make_doc(task_name, line["question"], [line["image"]], item(line), system_prompt=False)


def score(completion: str, item: dict) -> dict:
    text, _ = answer_text(completion)
    if not text:
        return unparsed(item, KEYS, completion)
    if item["question_type"] == HANDWRITTEN_MATH:
        prediction = re.sub(r"\s+", "", text)
        correct = any(re.sub(r"\s+", "", ref) in prediction for ref in item["answer"])
    else:
        prediction = text.lower().strip().replace("\n", " ")
        correct = any(ref.lower().strip().replace("\n", " ") in prediction for ref in item["answer"])
    return record(item, KEYS, correct, "rule", text[:200])


def aggregate(records: list[dict]) -> dict[str, float]:
    """Number of correct items, on the 0-1000 scale of the full set (= the count when all 1000 are scored)."""
    correct = sum(r["correct"] for r in records)
    result = {"score": 1000.0 * correct / len(records) if records else float("nan"), "correct": float(correct)}
    for category, members in sorted(by_key(records, "question_type").items()):
        result[f"question_type/{category}"] = float(sum(r["correct"] for r in members))
    return {**result, **counts(records)}


def fixture_rows(rng, n):
    rows = []
    for i in range(n):
        if i % 4 == 3:
            expression = f"{rng.randint(1, 9)} + {rng.randint(1, 9)}"
            rows.append(
                {
                    "dataset": "HME100k",
                    "question": "Please write out the expression of the formula in the image using LaTeX format.",
                    "question_type": HANDWRITTEN_MATH,
                    "answer": [expression],
                    "image": draw.word(expression),
                }
            )
        else:
            text = rng.choice(draw.WORDS)
            rows.append(
                {
                    "dataset": "IIIT5K",
                    "question": "what is written in the image?",
                    "question_type": "Regular Text Recognition",
                    "answer": [text, text.lower()],
                    "image": draw.word(text),
                }
            )
    features = Features(
        {
            "dataset": Value("string"),
            "question": Value("string"),
            "question_type": Value("string"),
            "answer": Sequence(Value("string")),
            "image": Image(),
        }
    )
    return {"test": rows}, features


BENCHMARK = Benchmark(
    name="ocrbench",
    column="OCRBench",
    position=12,
    hub_repo="echo840/OCRBench",
    hub_subset="default",
    splits=("test",),
    size=1000,
    item=item,
    prompt_fn=prompt_fn,
    score=score,
    aggregate=aggregate,
    fixture_rows=fixture_rows,
    judge_extracts=False,  # the reference never uses a judge here
    metric_name="correct answers (of 1000)",
    reference={"WeThink-VL-7B": 890, "Qwen2.5-VL-7B": 888},
)

TASKS_TABLE = [task_config(BENCHMARK)]
