"""
name:
MathVista (testmini)

dataset:
AI4Math/MathVista, split testmini (1000 items)

abstract:
Mathematical reasoning in visual contexts: multiple choice (2-8 options) and free-form integer, float (1 or 2
decimals) and list answers. The prompt is the dataset's own `query` (hint, question, choices).

paper:
https://arxiv.org/abs/2310.02255

Scoring (VLMEvalKit rules, two reference bugs fixed): multiple choice by option inference against the gold's letter
(every letter whose choice text equals the gold counts: one real item lists "18" twice); integer answers must equal
the gold (the reference's `int()` truncates "1.5" to 1, scoring it right for gold 1); float answers are compared at
the precision the question states; list/text answers are compared with the grading core (the reference never matches
them).
"""

from __future__ import annotations

import math
import string

from datasets import Features, Image, Sequence, Value
from lighteval.tasks.requests import Doc

from eval_tasks.benchmarks import fixture_images as draw
from eval_tasks.benchmarks.base import LETTERS, Benchmark, make_doc, task_config
from eval_tasks.scoring import choice_record, free_form_prediction, number_value, plain_accuracy, record, unparsed
from reward_funcs.grading import grade

KEYS = ("pid", "question_type", "answer_type")


def item(line: dict) -> dict:
    choices = [str(c) for c in (line.get("choices") or [])]
    options = {LETTERS[i]: c for i, c in enumerate(choices)}
    answer = str(line["answer"])
    result = {
        "pid": str(line["pid"]),
        "question_type": line["question_type"],
        "answer_type": line["answer_type"],
        "precision": line.get("precision"),
        "answer": answer,
        "options": options,
    }
    if line["question_type"] == "multi_choice":
        letters = [letter for letter, text in options.items() if text.strip() == answer.strip()]
        if not letters:
            raise ValueError(f"answer {answer!r} is not one of the choices {choices}")
        result.update(answer=letters[0], answers=letters)
    return result


def prompt_fn(line: dict, task_name: str = "") -> Doc:
    return make_doc(task_name, line["query"], [line["decoded_image"]], item(line))


def score(completion: str, item: dict) -> dict:
    if item["question_type"] == "multi_choice":
        return choice_record(completion, item, KEYS)
    prediction = free_form_prediction(completion)
    if prediction is None:
        return unparsed(item, KEYS, completion)
    if item["answer_type"] in ("integer", "float"):
        value = number_value(prediction)
        if value is None or not math.isfinite(value):
            return unparsed(item, KEYS, completion)
        gold = float(item["answer"])
        if item["answer_type"] == "integer":
            correct = abs(value - gold) < 1e-9
        else:
            digits = int(item.get("precision") or 0)
            correct = round(value, digits) == round(gold, digits)
        return record(item, KEYS, correct, "rule", f"{value:g}")
    return record(item, KEYS, grade(prediction, item["answer"]), "rule", prediction)


def aggregate(records: list[dict]) -> dict[str, float]:
    return plain_accuracy(records, "answer_type")


MC_HINT = "Please answer the question and provide the correct option letter, e.g., A, B, C, D, at the end."
FREE_HINTS = {
    "integer": "Please answer the question requiring an integer answer and provide the final value, e.g., 1, 2, 3, "
    "at the end.",
    "float1": "Please answer the question requiring a floating-point number with one decimal place and provide the "
    "final value, e.g., 1.2, 1.3, 1.4, at the end.",
    "float2": "Please answer the question requiring a floating-point number with two decimal places and provide the "
    "final value, e.g., 1.23, 1.34, 1.45, at the end.",
    "list": "Please answer the question requiring a Python list as an answer and provide the final list, e.g., "
    "[1, 2, 3], [1.2, 1.3, 1.4], at the end.",
}


def fixture_rows(rng, n):
    """Every real answer format: MC with 2 to 8 choices (one with a duplicated choice text), integer, float with
    one and two decimals, list answers."""
    rows = []
    kinds = ("multi_choice", "integer", "float1", "multi_choice", "float2", "list")
    for i in range(n):
        count, color, image = draw.count_item(rng)
        kind = kinds[i % len(kinds)]
        question = f"How many {color} squares are in the image?"
        choices, precision, answer, unit = None, None, str(count), None
        if kind == "multi_choice":
            choices, gold = draw.count_options(rng, count, 2 + (i // len(kinds)) % 7)
            if i % 12 == 3:
                choices.append(choices[gold])  # a duplicated choice text, as in pid 781
            answer = choices[gold]
            query = f"Hint: {MC_HINT}\nQuestion: {question}\nChoices:\n" + "".join(
                f"({string.ascii_uppercase[j]}) {c}\n" for j, c in enumerate(choices)
            )
        else:
            if kind.startswith("float"):
                precision = float(kind[-1])
                answer = f"{count / 4:.{kind[-1]}f}"
                question = f"What is a quarter of the number of {color} squares?"
            elif kind == "list":
                answer = str([count, count + 1])
                question = f"Which two consecutive counts start at the number of {color} squares?"
            query = f"Hint: {FREE_HINTS[kind]}\nQuestion: {question}"
        rows.append(
            {
                "pid": str(i + 1),
                "question": question,
                "image": f"images/{i + 1}.jpg",
                "decoded_image": image,
                "choices": choices,
                "unit": unit,
                "precision": precision,
                "answer": answer,
                "question_type": "multi_choice" if kind == "multi_choice" else "free_form",
                "answer_type": "text" if kind == "multi_choice" else kind.rstrip("12"),
                "metadata": {
                    "category": "math-targeted-vqa",
                    "context": "synthetic scene",
                    "grade": "elementary",
                    "img_height": 48,
                    "img_width": 48,
                    "language": "english",
                    "skills": ["arithmetic reasoning"],
                    "source": "fixture",
                    "split": "testmini",
                    "task": "figure question answering",
                },
                "query": query,
            }
        )
    features = Features(
        {
            "pid": Value("string"),
            "question": Value("string"),
            "image": Value("string"),
            "decoded_image": Image(),
            "choices": Sequence(Value("string")),
            "unit": Value("string"),
            "precision": Value("float64"),
            "answer": Value("string"),
            "question_type": Value("string"),
            "answer_type": Value("string"),
            "metadata": {
                "category": Value("string"),
                "context": Value("string"),
                "grade": Value("string"),
                "img_height": Value("int64"),
                "img_width": Value("int64"),
                "language": Value("string"),
                "skills": Sequence(Value("string")),
                "source": Value("string"),
                "split": Value("string"),
                "task": Value("string"),
            },
            "query": Value("string"),
        }
    )
    return {"testmini": rows}, features


BENCHMARK = Benchmark(
    name="mathvista",
    column="MathVista",
    position=1,
    hub_repo="AI4Math/MathVista",
    hub_subset="default",
    splits=("testmini",),
    size=1000,
    item=item,
    prompt_fn=prompt_fn,
    score=score,
    aggregate=aggregate,
    fixture_rows=fixture_rows,
    reference={"WeThink-VL-7B": 71.6, "Qwen2.5-VL-7B": 68.1},
    image_columns=("decoded_image",),
)

TASKS_TABLE = [task_config(BENCHMARK)]
