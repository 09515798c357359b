"""
name:
Synthetic held-out (the demo's held-out split)

dataset:
No Hub id: the held-out split of the project's synthetic generator (`dataset_builder.synthetic`), written by
`write_heldout_split(out_dir, n, seed=..., train_n=..., train_seed=...)` as `out_dir/data/test-00000-of-00001.parquet`
(split test; as many items as `n`; none of them in the training release of the same seed). Columns: `id, image,
question, answer, question_type, reward_method, kind, answer_space`.

abstract:
Small drawn scenes (a 2x2 grid of coloured shapes) with multiple-choice (options inside the question text),
fill-in-the-blank and descriptive questions about colour, shape, count and position: the demo's measure of what
training taught, on items it never saw. Not a paper column: `--tasks all`, the results table beside the paper's
reference rows and the model-index leave it out; it runs when named (`--tasks synthetic_heldout`, or
`--tasks all,synthetic_heldout`).

Data: `--data-dir DIR` reads `DIR/synthetic_heldout/`, the layout of every benchmark; `write_heldout_split(DIR /
"synthetic_heldout", n)` writes it there directly (or link an existing held-out folder to that name). There is no
Hub default: without `--data-dir` the runner refuses the task. As a lighteval custom-tasks file this module needs
`WETHINK_EVAL_DATA_DIR` (its `TASKS_TABLE` is empty without it).

Prompt: exactly what training sees (the training views and `recipes.demo_heldout`): the WeThink system prompt, the
image, then the question text unchanged (a multiple-choice question already lists its options).

Scoring: the project's own rules, the ones training is rewarded with: correctness is `reward_funcs.accuracy_reward`
(the rule path of the hybrid reward; the descriptive answers come from a closed set of 12, so the text rule decides
them too, and no judge is asked) and the format is `reward_funcs.answer_format.is_well_formatted` (the
`format_reward` check). The aggregate (x100, as every benchmark's): `score` = `accuracy`, `format`, `chance` (the mean
over items of 1 / len(answer_space), what a uniform guess scores) and `accuracy/<question_type>/<kind>` with its
`chance/...`. `summary(records)` gives the same figures as fractions with per-group counts (`recipes.demo_heldout`'s
JSON).
"""

from __future__ import annotations

import random
import tempfile
from collections import defaultdict
from pathlib import Path

import pyarrow.parquet as pq
from datasets import Dataset
from datasets.table import InMemoryTable
from lighteval.tasks.requests import Doc

from dataset_builder.synthetic import write_heldout_split
from eval_tasks.benchmarks.base import Benchmark, make_doc, options_from_env, task_config
from eval_tasks.scoring import counts, record
from reward_funcs import accuracy_reward
from reward_funcs.answer_format import is_well_formatted

NAME = "synthetic_heldout"
SPLIT = "test"
KEYS = ("id", "question_type", "kind")


def item(line: dict) -> dict:
    answer_space = list(line["answer_space"] or [])
    if not answer_space:
        raise ValueError("column 'answer_space' is empty (the chance figure needs the answers a guess chooses from)")
    return {
        "id": str(line["id"]),
        "question": line["question"],
        "answer": str(line["answer"]),
        "question_type": line["question_type"],
        "kind": line["kind"],
        "reward_method": line["reward_method"],
        "n_answers": len(answer_space),
    }


def chance(item: dict) -> float:
    """What a uniform guess over the item's answers scores."""
    return 1.0 / item["n_answers"]


def prompt_fn(line: dict, task_name: str = "") -> Doc:
    return make_doc(task_name, line["question"], [line["image"]], item(line))


def score(completion: str, item: dict) -> dict:
    """The training reward's rule verdict and format check for one completion, with the item's chance."""
    completion = completion or ""
    extracted: list[str] = []
    (correct,) = accuracy_reward(
        [completion],
        solution=[item["answer"]],
        question_type=[item["question_type"]],
        problem=[item["question"]],
        log_extra=lambda _name, values: extracted.extend(values),
    )
    answer = extracted[0] if extracted else ""
    result = record(item, KEYS, bool(correct), "rule" if answer else "unparsed", answer or None, completion)
    result["formatted"] = is_well_formatted(completion)
    result["chance"] = chance(item)
    return result


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def summary(records: list[dict]) -> dict:
    """The held-out figures as fractions: n, format, accuracy, chance and by_type (`question_type/kind` -> n,
    accuracy, chance), the keys `recipes.demo_heldout` writes."""
    groups = defaultdict(list)
    for entry in records:
        groups[f"{entry['question_type']}/{entry['kind']}"].append(entry)

    def figures(members: list[dict]) -> dict:
        return {
            "n": len(members),
            "accuracy": _mean([float(m["correct"]) for m in members]),
            "chance": _mean([m["chance"] for m in members]),
        }

    overall = figures(records)
    return {
        "n": overall["n"],
        "format": _mean([float(m["formatted"]) for m in records]),
        "accuracy": overall["accuracy"],
        "chance": overall["chance"],
        "by_type": {key: figures(members) for key, members in sorted(groups.items())},
    }


def aggregate(records: list[dict]) -> dict[str, float]:
    figures = summary(records)
    result = {
        "score": 100.0 * figures["accuracy"],
        "accuracy": 100.0 * figures["accuracy"],
        "format": 100.0 * figures["format"],
        "chance": 100.0 * figures["chance"],
        **counts(records),
    }
    for key, group in figures["by_type"].items():
        result[f"accuracy/{key}"] = 100.0 * group["accuracy"]
        result[f"chance/{key}"] = 100.0 * group["chance"]
    return result


def size_of(metrics: dict) -> int | None:
    return None  # the split has as many items as write_heldout_split was asked for


def fixture_rows(rng: random.Random, n: int):
    """`n` held-out rows from the generator itself (`write_heldout_split`), so the schema is the demo's exactly."""
    with tempfile.TemporaryDirectory() as folder:
        write_heldout_split(folder, n, seed=rng.randrange(10**6))
        table = pq.read_table(Path(folder) / "data" / f"{SPLIT}-00000-of-00001.parquet")
    dataset = Dataset(InMemoryTable(table))  # the features (Image, Sequence) come from the file's metadata
    rows = list(dataset)
    return {SPLIT: rows}, dataset.features


BENCHMARK = Benchmark(
    name=NAME,
    column="Synthetic held-out",
    position=100,  # after every paper column
    hub_repo="",  # local data only (write_heldout_split)
    hub_subset="default",
    splits=(SPLIT,),
    size=0,
    item=item,
    prompt_fn=prompt_fn,
    score=score,
    aggregate=aggregate,
    fixture_rows=fixture_rows,
    judge_extracts=False,  # graded as training rewards it: rules only, an unreadable answer is wrong
    size_of=size_of,
    paper_column=False,
)

TASKS_TABLE = [task_config(BENCHMARK, options_from_env())] if options_from_env().data_dir else []
