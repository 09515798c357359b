"""
name:
MathVerse (testmini, Vision Only)

dataset:
AI4Math/MathVerse, config testmini, split testmini, the "Vision Only" rows (788 items)

abstract:
Visual math problems in five versions that move information from the text into the figure; the Vision Only
version draws the whole question (and any options) in the image. Multiple choice (a letter) or free-form.

paper:
https://arxiv.org/abs/2403.14624

Scoring: the options are in the image, so a multiple-choice answer is compared as a letter; free-form answers by the
grading core's equivalence. The reference asks an LLM judge on every item; the rules decide here.
"""

from __future__ import annotations

from datasets import Features, Image, Value
from lighteval.tasks.requests import Doc

from eval_tasks.benchmarks import fixture_images as draw
from eval_tasks.benchmarks.base import Benchmark, make_doc, task_config
from eval_tasks.scoring import free_record, plain_accuracy

KEYS = ("sample_index", "question_type")
VERSIONS = ("Text Dominant", "Text Lite", "Vision Intensive", "Vision Dominant", "Vision Only")


def vision_only(line: dict) -> bool:
    return line["problem_version"] == "Vision Only"


def item(line: dict) -> dict:
    return {
        "sample_index": str(line["sample_index"]),
        "question_type": line["question_type"],
        "answer": str(line["answer"]),
    }


def prompt_fn(line: dict, task_name: str = "") -> Doc:
    return make_doc(task_name, line["query_wo"], [line["image"]], item(line))


def score(completion: str, item: dict) -> dict:
    question_type = "multiple-choice" if item["question_type"] == "multi-choice" else "fill-in-the-blank"
    return free_record(completion, item, KEYS, question_type=question_type)


def aggregate(records: list[dict]) -> dict[str, float]:
    return plain_accuracy(records, "question_type")


def fixture_rows(rng, n):
    """Every problem in all five versions (the task keeps Vision Only), multiple choice and free-form."""
    rows = []
    for i in range(n):
        count, color, image = draw.count_item(rng)
        mc = i % 2 == 0
        for version in VERSIONS:
            answer = "ABCD"[count % 4] if mc else str(count)
            instruction = (
                "According to the question shown in the image, please directly answer the question and provide the "
                "correct option letter, e.g., A, B, C, D."
                if mc
                else "According to the question shown in the image, please directly answer the question and provide "
                "the final value, e.g., 1, 2.5, 300."
            )
            rows.append(
                {
                    "sample_index": str(len(rows) + 1),
                    "problem_index": str(i + 1),
                    "problem_version": version,
                    "question": "" if version == "Vision Only" else f"How many {color} squares are there?",
                    "image": image,
                    "answer": answer,
                    "question_type": "multi-choice" if mc else "free-form",
                    "metadata": {"split": "testmini", "source": "fixture", "subject": "counting", "subfield": "count"},
                    "query_wo": instruction,
                    "query_cot": instruction.replace("directly answer", "first conduct reasoning, and then answer"),
                    "question_for_eval": f"How many {color} squares are there?",
                }
            )
    features = Features(
        {
            "sample_index": Value("string"),
            "problem_index": Value("string"),
            "problem_version": Value("string"),
            "question": Value("string"),
            "image": Image(),
            "answer": Value("string"),
            "question_type": Value("string"),
            "metadata": {
                "split": Value("string"),
                "source": Value("string"),
                "subject": Value("string"),
                "subfield": Value("string"),
            },
            "query_wo": Value("string"),
            "query_cot": Value("string"),
            "question_for_eval": Value("string"),
        }
    )
    return {"testmini": rows}, features


BENCHMARK = Benchmark(
    name="mathverse",
    column="MathVerse",
    position=3,
    hub_repo="AI4Math/MathVerse",
    hub_subset="testmini",
    splits=("testmini",),
    size=788,
    item=item,
    prompt_fn=prompt_fn,
    score=score,
    aggregate=aggregate,
    fixture_rows=fixture_rows,
    row_filter=vision_only,
    reference={"WeThink-VL-7B": 44.2, "Qwen2.5-VL-7B": 41.1},
    question_column="question_for_eval",
)

TASKS_TABLE = [task_config(BENCHMARK)]
