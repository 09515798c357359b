"""
name:
MMMU (validation)

dataset:
lmms-lab-encoder/MMMU (moved from lmms-lab/MMMU, which redirects; MMMU/MMMU holds the same rows per subject),
split validation (900 items)

abstract:
College-level multi-discipline questions with up to 7 images referenced in the text as `<image k>`; multiple
choice (options a Python list literal) or open answers (the gold may be a list literal of accepted answers).

paper:
https://arxiv.org/abs/2311.16502

Scoring: multiple choice by option inference; open questions match any accepted answer (lmms-eval's
parse_open_response rules via the grading core). Images are passed in the order the text first references them.
"""

from __future__ import annotations

import ast
import re
import string

from datasets import Features, Image, Value
from lighteval.tasks.requests import Doc

from eval_tasks.benchmarks import fixture_images as draw
from eval_tasks.benchmarks.base import LETTERS, Benchmark, make_doc, mcq_prompt, task_config
from eval_tasks.scoring import choice_record, free_form_prediction, plain_accuracy, record, unparsed
from reward_funcs.grading import grade

KEYS = ("id", "question_type")
IMAGE_COLUMNS = tuple(f"image_{k}" for k in range(1, 8))


def item(line: dict) -> dict:
    raw_options = ast.literal_eval(line["options"]) if line.get("options") else []
    options = {LETTERS[i]: str(o) for i, o in enumerate(raw_options)} if line["question_type"] != "open" else {}
    answer = str(line["answer"])
    # Every field keeps one type across rows (lighteval stores the items in one Arrow table): the accepted open
    # answers go in their own list, `answer` stays the raw string.
    answers = [str(a) for a in ast.literal_eval(answer)] if not options and answer.startswith("[") else [answer]
    return {
        "id": line["id"],
        "question_type": line["question_type"],
        "answer": answer,
        "answers": answers,
        "options": options,
    }


def prompt_fn(line: dict, task_name: str = "") -> Doc:
    entry = item(line)
    text = line["question"] + " " + " ".join(entry["options"].values())
    order = []
    for number in re.findall(r"<image (\d+)>", text):
        if int(number) not in order:
            order.append(int(number))
    images = [line[f"image_{k}"] for k in order if line.get(f"image_{k}") is not None]
    if not images:  # a few questions never reference their image in the text
        images = [line[c] for c in IMAGE_COLUMNS if line.get(c) is not None]
    if entry["options"]:
        query = mcq_prompt(line["question"], entry["options"])
    else:
        query = f"{line['question']}\nAnswer the question using a single word or phrase."
    return make_doc(task_name, query, images, entry)


def score(completion: str, item: dict) -> dict:
    if item.get("options"):
        return choice_record(completion, item, KEYS)
    prediction = free_form_prediction(completion)
    if prediction is None:
        return unparsed(item, KEYS, completion)
    correct = any(grade(prediction, gold, question_type="fill-in-the-blank") for gold in item["answers"])
    return record(item, KEYS, correct, "rule", prediction)


def aggregate(records: list[dict]) -> dict[str, float]:
    return plain_accuracy(records, "question_type")


def fixture_rows(rng, n):
    """Multiple choice (options as a list literal, images referenced out of order) and open questions with a single
    gold or a list literal of accepted golds."""
    rows = []
    for i in range(n):
        count, color, image = draw.count_item(rng)
        row = {column: None for column in IMAGE_COLUMNS}
        row["image_1"] = image
        if i % 3 == 2:
            row.update(
                question=f"<image 1> How many {color} squares are there?",
                options="[]",
                answer=str(count) if i % 2 else str([str(count), f"{count}.0"]),
                question_type="open",
            )
        else:
            options, gold = draw.count_options(rng, count)
            row["image_2"] = draw.squares(0)
            row.update(
                question=f"Compare <image 2> with <image 1>: how many {color} squares are in <image 1>?",
                options=repr(options),
                answer=string.ascii_uppercase[gold],
                question_type="multiple-choice",
            )
        row.update(
            id=f"validation_Math_{i + 1}",
            explanation="",
            img_type="['Diagrams']",
            topic_difficulty="Easy",
            subfield="Counting",
        )
        rows.append(row)
    features = Features(
        {
            **{k: Value("string") for k in ("id", "question", "options", "explanation")},
            **{column: Image() for column in IMAGE_COLUMNS},
            **{k: Value("string") for k in ("img_type", "answer", "topic_difficulty", "question_type", "subfield")},
        }
    )
    return {"validation": rows}, features


BENCHMARK = Benchmark(
    name="mmmu",
    column="MMMU",
    position=9,
    hub_repo="lmms-lab-encoder/MMMU",
    hub_subset="default",
    splits=("validation",),
    size=900,
    item=item,
    prompt_fn=prompt_fn,
    score=score,
    aggregate=aggregate,
    fixture_rows=fixture_rows,
    reference={"WeThink-VL-7B": 61.0, "Qwen2.5-VL-7B": 58.0},
    moved_from="lmms-lab/MMMU",
    image_columns=IMAGE_COLUMNS,
)

TASKS_TABLE = [task_config(BENCHMARK)]
