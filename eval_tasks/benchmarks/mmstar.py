"""
name:
MMStar

dataset:
Lin-Chen/MMStar, config val, split val (1500 items)

abstract:
Vision-indispensable multiple-choice questions; the options are part of the question text
(`Options: A: cat, B: dog, ...`).

paper:
https://arxiv.org/abs/2403.20330

Scoring: plain multiple-choice accuracy by option inference (letter or option text), per category. VLMEvalKit's
`MMStar.tsv` (options also in columns A-D) is read too.
"""

from __future__ import annotations

import string

from datasets import Features, Image, Value
from lighteval.tasks.requests import Doc

from eval_tasks.benchmarks import fixture_images as draw
from eval_tasks.benchmarks.base import MCQ_INSTRUCTION, Benchmark, make_doc, mcq_prompt, task_config
from eval_tasks.scoring import choice_record, letter_columns, plain_accuracy
from reward_funcs.grading import parse_options

KEYS = ("index", "category")


def item(line: dict) -> dict:
    options = letter_columns(line) or parse_options(line["question"].rpartition("Options:")[2])
    return {"index": str(line["index"]), "category": line["category"], "answer": line["answer"], "options": options}


def prompt_fn(line: dict, task_name: str = "") -> Doc:
    entry = item(line)
    if "Options:" in line["question"]:
        query = f"{line['question']}\n{MCQ_INSTRUCTION}"
    else:  # the TSV keeps the options in their own columns
        query = mcq_prompt(line["question"], entry["options"])
    return make_doc(task_name, query, [line["image"]], entry)


def score(completion: str, item: dict) -> dict:
    return choice_record(completion, item, KEYS)


def aggregate(records: list[dict]) -> dict[str, float]:
    return plain_accuracy(records, "category")


def fixture_rows(rng, n):
    rows = []
    for i in range(n):
        count, color, image = draw.count_item(rng)
        options, gold = draw.count_options(rng, count)
        question = f"How many {color} squares are there?\nOptions: " + ", ".join(
            f"{string.ascii_uppercase[j]}: {o}" for j, o in enumerate(options)
        )
        rows.append(
            {
                "index": i,
                "question": question,
                "image": image,
                "answer": string.ascii_uppercase[gold],
                "category": ("coarse perception", "math")[i % 2],
                "l2_category": "counting",
                "meta_info": {"source": "fixture", "split": "val", "image_path": f"images/{i}.jpg"},
            }
        )
    features = Features(
        {
            "index": Value("int64"),
            "question": Value("string"),
            "image": Image(),
            "answer": Value("string"),
            "category": Value("string"),
            "l2_category": Value("string"),
            "meta_info": {"source": Value("string"), "split": Value("string"), "image_path": Value("string")},
        }
    )
    return {"val": rows}, features


BENCHMARK = Benchmark(
    name="mmstar",
    column="MMStar",
    position=8,
    hub_repo="Lin-Chen/MMStar",
    hub_subset="val",
    splits=("val",),
    size=1500,
    item=item,
    prompt_fn=prompt_fn,
    score=score,
    aggregate=aggregate,
    fixture_rows=fixture_rows,
    reference={"WeThink-VL-7B": 64.2, "Qwen2.5-VL-7B": 64.1},
)

TASKS_TABLE = [task_config(BENCHMARK)]
