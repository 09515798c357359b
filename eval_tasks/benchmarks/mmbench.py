"""
name:
MMBench (English dev)

dataset:
OpenCompass's VLMEvalKit TSV `MMBench_DEV_EN_V11.tsv` (v1.1, md5 30c05be8f2f347a50be25aa067248184: what the
leaderboard's MMB1.1 column reports), or by default the Hub's lmms-lab-encoder/MMBench (moved from
lmms-lab/MMBench, which redirects), config en, split dev: that is MMBench **v1.0** (4329 rows; the Hub has no v1.1).

abstract:
Multiple-choice perception and reasoning questions with CircularEval: every question comes with its options
rotated (copies at index + k x 1,000,000), and a question counts only if every rotation is answered right.

paper:
https://arxiv.org/abs/2307.06281

The v1.1 TSV is read with `--data-dir DIR` (DIR/MMBench_DEV_EN_V11.tsv) or `score --data`; its base64 `image`
column is decoded for generation and not needed for scoring. The MMB1.1 column is filled only from v1.1 data (a
file whose name says V11); results on v1.0 are labelled "MMBench v1.0 dev" and the reference cells beside them are
marked not comparable. Missing hints and options are None in the TSV and the string "nan" on the Hub; both are left
out of the prompt. The L2 column is `L2-category` on the Hub and `l2-category` in the TSVs.
"""

from __future__ import annotations

import re
import string

from datasets import Features, Image, Value
from lighteval.tasks.requests import Doc

from eval_tasks.benchmarks import fixture_images as draw
from eval_tasks.benchmarks.base import Benchmark, make_doc, mcq_prompt, task_config
from eval_tasks.scoring import choice_record, counts, letter_columns, present

KEYS = ("index", "g_index", "l2_category", "version")
V11_FILE = re.compile(r"v1\.?1", re.IGNORECASE)
V10_LABEL = "MMBench v1.0 dev"
HUB_V10_ROWS = 4329


def item(line: dict) -> dict:
    options = letter_columns(line)
    index = int(float(line["index"]))
    category = next((line[k] for k in ("L2-category", "l2-category") if present(line.get(k))), None)
    return {
        "index": index,
        "g_index": index % 1_000_000,
        "l2_category": category or line.get("category"),
        "version": "1.1" if V11_FILE.search(str(line.get("__source") or "")) else "1.0",
        "answer": str(line["answer"]).strip(),
        "options": options,
    }


def prompt_fn(line: dict, task_name: str = "") -> Doc:
    entry = item(line)
    hint = str(line["hint"]) if present(line.get("hint")) else None
    return make_doc(task_name, mcq_prompt(line["question"], entry["options"], hint), [line["image"]], entry)


def score(completion: str, item: dict) -> dict:
    return choice_record(completion, item, KEYS)


def group_key(item: dict):
    return item["g_index"]


def aggregate(records: list[dict]) -> dict[str, float]:
    """A question (all rotations sharing g_index = index % 1e6) scores only if every rotation is right."""
    groups: dict[int, list[dict]] = {}
    for entry in records:
        groups.setdefault(entry["g_index"], []).append(entry)
    passed = {g: all(r["correct"] for r in members) for g, members in groups.items()}
    result = {"score": 100.0 * sum(passed.values()) / len(passed) if passed else float("nan"), **counts(records)}
    result["n_groups"] = float(len(groups))
    result["v1_1"] = float(bool(records) and all(r.get("version") == "1.1" for r in records))
    by_category: dict[str, list[bool]] = {}
    for g, members in groups.items():
        by_category.setdefault(str(members[0]["l2_category"]), []).append(passed[g])
    for category, flags in sorted(by_category.items()):
        result[f"l2_category/{category}"] = 100.0 * sum(flags) / len(flags)
    return result


def label(metrics: dict) -> tuple[str, bool]:
    return ("MMB1.1", True) if metrics.get("v1_1") else (V10_LABEL, False)


def size_of(metrics: dict) -> int | None:
    return None if metrics.get("v1_1") else HUB_V10_ROWS  # the v1.1 TSV's row count is not checked


def fixture_rows(rng, n):
    """Circular copies of 2- to 4-option questions; absent hints and options are the string "nan" (as on the Hub);
    the L2 column is spelled `L2-category`."""
    rows = []
    for question_id in range(n):
        count, color, image = draw.count_item(rng)
        options, gold = draw.count_options(rng, count, 2 + question_id % 3)
        for rotation in range(len(options)):
            rotated = options[rotation:] + options[:rotation]
            cells = {letter: (rotated[j] if j < len(rotated) else "nan") for j, letter in enumerate("ABCD")}
            rows.append(
                {
                    "index": question_id + rotation * 1_000_000,
                    "question": f"How many {color} squares are in the image?",
                    "hint": "nan" if question_id % 2 else "Count carefully.",
                    "answer": string.ascii_uppercase[rotated.index(options[gold])],
                    **cells,
                    "category": "object_localization",
                    "image": image,
                    "source": "fixture",
                    "L2-category": ("fine-grained_perception", "logic_reasoning")[question_id % 2],
                    "comment": "nan",
                    "split": "dev",
                }
            )
    features = Features(
        {k: (Image() if k == "image" else Value("int64") if k == "index" else Value("string")) for k in rows[0]}
    )
    return {"dev": rows}, features


BENCHMARK = Benchmark(
    name="mmbench",
    column="MMB1.1",
    position=7,
    hub_repo="lmms-lab-encoder/MMBench",
    hub_subset="en",
    splits=("dev",),
    size=HUB_V10_ROWS,
    item=item,
    prompt_fn=prompt_fn,
    score=score,
    aggregate=aggregate,
    fixture_rows=fixture_rows,
    group_key=group_key,
    metric_name="CircularEval accuracy",
    reference={"WeThink-VL-7B": 81.8, "Qwen2.5-VL-7B": 82.2},
    label=label,
    size_of=size_of,
    moved_from="lmms-lab/MMBench",
)

TASKS_TABLE = [task_config(BENCHMARK)]
