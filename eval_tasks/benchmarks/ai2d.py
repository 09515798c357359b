"""
name:
AI2D (test)

dataset:
lmms-lab-encoder/ai2d (moved from lmms-lab/ai2d, which redirects), split test (3088 items)

abstract:
Diagram question answering (grade-school science diagrams): multiple choice, `answer` the 0-based option index.

paper:
https://arxiv.org/abs/1603.07396

Scoring: plain multiple-choice accuracy by option inference. No system prompt (the paper's setting for AI2D).
The Hub rows have no id column: the item is named by its row. VLMEvalKit's `AI2D_TEST.tsv` (options in columns
A-D, the gold a letter) is read too.
"""

from __future__ import annotations

from datasets import Features, Image, Sequence, Value
from lighteval.tasks.requests import Doc

from eval_tasks.benchmarks import fixture_images as draw
from eval_tasks.benchmarks.base import LETTERS, Benchmark, make_doc, mcq_prompt, task_config
from eval_tasks.scoring import choice_record, letter_columns, plain_accuracy


def item(line: dict) -> dict:
    if "options" not in line and letter_columns(line):  # VLMEvalKit's AI2D_TEST.tsv: columns A-D, a letter gold
        options, answer = letter_columns(line), str(line["answer"]).strip()
    else:
        options = {LETTERS[i]: str(o) for i, o in enumerate(line["options"])}
        answer = LETTERS[int(line["answer"])]
    return {"index": str(line.get("index", line.get("__index", ""))), "answer": answer, "options": options}


def prompt_fn(line: dict, task_name: str = "") -> Doc:
    entry = item(line)
    query = mcq_prompt(line["question"], entry["options"])
    return make_doc(task_name, query, [line["image"]], entry, system_prompt=False)


def score(completion: str, item: dict) -> dict:
    return choice_record(completion, item, ("index",))


def aggregate(records: list[dict]) -> dict[str, float]:
    return plain_accuracy(records)


def fixture_rows(rng, n):
    rows = []
    for _ in range(n):
        count, color, image = draw.count_item(rng)
        options, gold = draw.count_options(rng, count)
        rows.append(
            {
                "question": f"How many {color} squares does the diagram show?",
                "options": options,
                "answer": str(gold),
                "image": image,
            }
        )
    features = Features(
        {
            "question": Value("string"),
            "options": Sequence(Value("string")),
            "answer": Value("string"),
            "image": Image(),
        }
    )
    return {"test": rows}, features


BENCHMARK = Benchmark(
    name="ai2d",
    column="AI2D",
    position=11,
    hub_repo="lmms-lab-encoder/ai2d",
    hub_subset="default",
    splits=("test",),
    size=3088,
    item=item,
    prompt_fn=prompt_fn,
    score=score,
    aggregate=aggregate,
    fixture_rows=fixture_rows,
    reference={"WeThink-VL-7B": 84.0, "Qwen2.5-VL-7B": 84.3},
    moved_from="lmms-lab/ai2d",
)

TASKS_TABLE = [task_config(BENCHMARK)]
