"""
name:
MATH-Vision

dataset:
MathLLMs/MathVision, split test (3040 items)

abstract:
Competition mathematics problems with visual contexts: multiple choice (options A-E) or a free-form answer, often
LaTeX.

paper:
https://arxiv.org/abs/2402.14804

Scoring: multiple choice by option inference; free-form answers are equal when the stripped lowercase strings match
or the values (LaTeX included, via math_verify in the grading core) agree. The reference asks a judge on every item
unless the raw output is a bare letter/number; the rules decide here, and a judge only extracts answers they
cannot read.
"""

from __future__ import annotations

import string

from datasets import Features, Image, Sequence, Value
from lighteval.tasks.requests import Doc

from eval_tasks.benchmarks import fixture_images as draw
from eval_tasks.benchmarks.base import LETTERS, Benchmark, make_doc, mcq_prompt, task_config
from eval_tasks.scoring import choice_record, free_record, plain_accuracy

KEYS = ("id", "subject")


def item(line: dict) -> dict:
    options = {LETTERS[i]: str(o) for i, o in enumerate(line.get("options") or [])}
    return {"id": str(line["id"]), "subject": line.get("subject"), "answer": str(line["answer"]), "options": options}


def prompt_fn(line: dict, task_name: str = "") -> Doc:
    entry = item(line)
    query = mcq_prompt(line["question"], entry["options"]) if entry["options"] else line["question"]
    return make_doc(task_name, query, [line["decoded_image"]], entry)


def score(completion: str, item: dict) -> dict:
    if item.get("options"):
        return choice_record(completion, item, KEYS)
    return free_record(completion, item, KEYS, question_type="fill-in-the-blank")


def aggregate(records: list[dict]) -> dict[str, float]:
    return plain_accuracy(records, "subject")


LATEX_GOLDS = ("\\frac{{{a}}}{{{b}}}", "\\sqrt{{{a}}}", "{a}\\pi", "{a}")


def fixture_rows(rng, n):
    """Multiple choice with five options, free-form integers, and LaTeX golds (fractions, roots, multiples of pi)."""
    rows = []
    for i in range(n):
        count, color, image = draw.count_item(rng)
        options, answer = [], str(count)
        question = f"<image1>\nHow many {color} squares are there?"
        if i % 3 == 0:
            options, gold = draw.count_options(rng, count, 5)
            answer = string.ascii_uppercase[gold]
        elif i % 3 == 2:
            answer = LATEX_GOLDS[i % len(LATEX_GOLDS)].format(a=count, b=count + 1)
            question = f"<image1>\nWrite the value for the {count} {color} squares in exact form."
        rows.append(
            {
                "id": str(i + 1),
                "question": question,
                "options": options,
                "image": f"images/{i + 1}.jpg",
                "decoded_image": image,
                "answer": answer,
                "solution": None,
                "level": 1 + i % 5,
                "subject": ("counting", "algebra")[i % 2],
            }
        )
    features = Features(
        {
            "id": Value("string"),
            "question": Value("string"),
            "options": Sequence(Value("string")),
            "image": Value("string"),
            "decoded_image": Image(),
            "answer": Value("string"),
            "solution": Value("string"),
            "level": Value("int64"),
            "subject": Value("string"),
        }
    )
    return {"test": rows}, features


BENCHMARK = Benchmark(
    name="mathvision",
    column="MathVision",
    position=2,
    hub_repo="MathLLMs/MathVision",
    hub_subset="default",
    splits=("test",),
    size=3040,
    item=item,
    prompt_fn=prompt_fn,
    score=score,
    aggregate=aggregate,
    fixture_rows=fixture_rows,
    reference={"WeThink-VL-7B": 26.0, "Qwen2.5-VL-7B": 25.4},
    image_columns=("decoded_image",),
)

TASKS_TABLE = [task_config(BENCHMARK)]
