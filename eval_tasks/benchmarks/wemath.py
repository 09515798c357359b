"""
name:
We-Math (testmini)

dataset:
We-Math/We-Math, split testmini (1740 items: 525 multi-step problems, each with its sub-problems)

abstract:
Visual mathematical reasoning decomposed into knowledge concepts: every multi-step problem ("2steps_multi",
"3steps_multi") comes with its one-step sub-problems ("2steps_1", ...). Multiple choice, letters A-G.

paper:
https://arxiv.org/abs/2407.01284

Options are one string whose separators vary on the real rows: `A. 300, 400;B. 400, 300;C. …; E. No correct answer`
(`;` with or without a space), a full-width `．` after a letter, a missing `;` (`A. 45° B. 60° ;C. 120°`), a letter
skipped (`C. No.; F. No correct answer`), and point names split off by a stray `;` (`around point ;O.`). The option
parser here reads all 1740 real rows.

Score (Strict), the leaderboard figure, from the 4-D metrics over the multi-step groups: IK (some sub wrong, multi
wrong), IG (all subs right, multi wrong), CM (all right), RM (some sub wrong, multi right):
(N - 0.5 IG - RM - IK) / N, with N the number of complete groups in the data. The reference hard-codes N = 525 (the
testmini count); `score_vlmevalkit` is that figure, equal to `score` on the full set.
"""

from __future__ import annotations

import re
import string
from collections import defaultdict

from datasets import Features, Image, Value
from lighteval.tasks.requests import Doc

from eval_tasks.benchmarks import fixture_images as draw
from eval_tasks.benchmarks.base import Benchmark, make_doc, mcq_prompt, task_config
from eval_tasks.scoring import accuracy, choice_record, counts

KEYS = ("ID", "key")
REFERENCE_GROUPS = 525  # VLMEvalKit's hard-coded group count

_LABEL = re.compile(r"(?:^|(?<=[;；\s]))([A-Z])\s*[.．、]")
_STRAY_SEPARATOR = re.compile(r"\s?[;；](?=[A-Z][.．])")


def parse_options(text: str) -> dict[str, str]:
    """`A. x;B. y; C．z` -> {"A": "x", "B": "y", "C": "z"} (see the module docstring for the real formats)."""
    text = (text or "").strip()
    labels: list[re.Match] = []
    for match in _LABEL.finditer(text):
        letter = match.group(1)
        if not labels:
            if letter == "A" and match.start() == 0:
                labels.append(match)
            continue
        previous = labels[-1].group(1)
        after_separator = text[: match.start()].rstrip().endswith((";", "；"))
        next_in_line = letter == chr(ord(previous) + 1)
        if letter > previous and (next_in_line or after_separator) and _has_text(text, match.end()):
            labels.append(match)
    options = {}
    for index, match in enumerate(labels):
        end = labels[index + 1].start() if index + 1 < len(labels) else len(text)
        option = _STRAY_SEPARATOR.sub(_rejoin, text[match.end() : end]).strip().rstrip(";；").strip()
        options[match.group(1)] = option
    return options


def _rejoin(match: re.Match) -> str:
    return " " if match.group(0)[0].isspace() else ""  # "point ;O." -> "point O.", "∠AB;E." -> "∠ABE."


def _has_text(text: str, start: int) -> bool:
    """Whether a label at `start` is followed by option text (";O.;" after "point" is a point name, not a label)."""
    following = re.split(r"[;；]", text[start:], maxsplit=1)[0]
    return bool(following.strip(" .．"))


def item(line: dict) -> dict:
    options = parse_options(line["option"])
    answer = line["answer"].strip()
    result = {"ID": str(line["ID"]), "key": line["key"], "answer": answer, "options": options}
    if answer not in options:
        result["unwinnable"] = True
    return result


def prompt_fn(line: dict, task_name: str = "") -> Doc:
    entry = item(line)
    return make_doc(task_name, mcq_prompt(line["question"], entry["options"]), [line["image_path"]], entry)


def score(completion: str, item: dict) -> dict:
    return choice_record(completion, item, KEYS)


def group_key(item: dict):
    return str(item["key"]).split("steps")[0], item["ID"]


def aggregate(records: list[dict]) -> dict[str, float]:
    groups = defaultdict(lambda: {"subs": [], "multi": None})
    for entry in records:
        group = groups[group_key(entry)]
        if str(entry["key"]).endswith("multi"):
            group["multi"] = entry["correct"]
        else:
            group["subs"].append(entry["correct"])
    complete = [g for g in groups.values() if g["multi"] is not None and g["subs"]]
    ik = sum(1 for g in complete if not all(g["subs"]) and not g["multi"])
    ig = sum(1 for g in complete if all(g["subs"]) and not g["multi"])
    cm = sum(1 for g in complete if all(g["subs"]) and g["multi"])
    rm = sum(1 for g in complete if not all(g["subs"]) and g["multi"])
    n = len(complete)
    penalty = 0.5 * ig + rm + ik
    return {
        "score": 100.0 * (n - penalty) / n if n else float("nan"),
        "score_vlmevalkit": 100.0 * (REFERENCE_GROUPS - penalty) / REFERENCE_GROUPS,
        "IK": float(ik),
        "IG": float(ig),
        "CM": float(cm),
        "RM": float(rm),
        "n_groups": float(n),
        "n_incomplete_groups": float(len(groups) - n),
        "accuracy": accuracy(records),
        **counts(records),
    }


# Option strings in every separator style of the real rows.
OPTION_STYLES = (
    lambda opts: ";".join(opts),
    lambda opts: "; ".join(opts),
    lambda opts: ";".join(opts[:-1]) + "; " + opts[-1],
    lambda opts: ";".join(o.replace(". ", "．", 1) if i == 1 else o for i, o in enumerate(opts)),
    lambda opts: " ".join(opts[:2]) + " ;" + "; ".join(opts[2:]),
)


def fixture_rows(rng, n):
    rows = []
    for group in range(1, n + 1):
        steps = 2 + group % 2
        keys = [f"{steps}steps_{i}" for i in range(1, steps + 1)] + [f"{steps}steps_multi"]
        for key in keys:
            count, color, image = draw.count_item(rng)
            options, gold = draw.count_options(rng, count, 3 + len(rows) % 3)
            labelled = [f"{string.ascii_uppercase[j]}. {o}" for j, o in enumerate(options)]
            labelled.append(f"{string.ascii_uppercase[len(options)]}. No correct answer")
            rows.append(
                {
                    "ID": f"{steps}steps_{group}",
                    "split": "testmini",
                    "knowledge concept": "Counting",
                    "question": f"How many {color} squares are there?",
                    "option": OPTION_STYLES[len(rows) % len(OPTION_STYLES)](labelled),
                    "answer": string.ascii_uppercase[gold],
                    "image_path": image,
                    "key": key,
                    "question number": len(rows) + 1,
                    "knowledge concept description": "Count objects of one colour.",
                }
            )
    features = Features(
        {
            "ID": Value("string"),
            "split": Value("string"),
            "knowledge concept": Value("string"),
            "question": Value("string"),
            "option": Value("string"),
            "answer": Value("string"),
            "image_path": Image(),
            "key": Value("string"),
            "question number": Value("int64"),
            "knowledge concept description": Value("string"),
        }
    )
    return {"testmini": rows}, features


BENCHMARK = Benchmark(
    name="wemath",
    column="WeMath",
    position=5,
    hub_repo="We-Math/We-Math",
    hub_subset="default",
    splits=("testmini",),
    size=1740,
    item=item,
    prompt_fn=prompt_fn,
    score=score,
    aggregate=aggregate,
    fixture_rows=fixture_rows,
    group_key=group_key,
    metric_name="Score (Strict)",
    reference={"WeThink-VL-7B": 48.0, "Qwen2.5-VL-7B": 36.2},
    reference_rule_metric="score_vlmevalkit",
    image_columns=("image_path",),
)

TASKS_TABLE = [task_config(BENCHMARK)]
