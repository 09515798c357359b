"""Scoring speed of the evaluation tasks on full-size synthetic prediction sets (the real sets' sizes, ~25K items).

For every benchmark it generates rows in the benchmark's Hub schema (each benchmark file's `fixture_rows`) up to the
real set's size, turns them into the items the tasks store (`Benchmark.read_item`), and writes one synthetic model
output per item: a reasoning block then the right answer, a wrong answer, a \\boxed{} answer, a closing "Therefore,
the answer is X." or an unparseable ramble. It then times the per-item scorer plus the dataset-level rule
(`Benchmark.score_corpus`: CircularEval, worst case, WeMath 4-D, ...) as `run` and `score` call them, in this one
process.

    .venv/bin/python bench/eval_scoring.py            # full sizes (target: all benchmarks in under 60 s, one core)
    .venv/bin/python bench/eval_scoring.py --quick    # a tenth of each set
"""

from __future__ import annotations

import json
import math
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dataclasses import dataclass, field  # noqa: E402

from transformers import HfArgumentParser  # noqa: E402

from eval_tasks.benchmarks import PAPER_BENCHMARKS as BENCHMARKS  # noqa: E402  (the paper's columns)
from eval_tasks.fixtures import benchmark_rows  # noqa: E402
from eval_tasks.scoring import number_value  # noqa: E402

TARGET_SECONDS = 60.0
# Groups (or items) to generate so the set reaches the real size: (groups, rows per group on average).
ROWS_PER_GROUP = {"dynamath": 10, "wemath": 3.5, "mmbench": 3, "hallusionbench": 4, "mme": 2}
REASONING = (
    "Let me look at the figure carefully. I first identify every object and its colour, then I count them one by "
    "one and check the count twice, because overlapping shapes are easy to miss. The question asks for a single "
    "value, so after counting I compare my result with the options and rule out the ones that cannot be right. "
) * 4


MATH_BENCHMARKS = ("mathvision", "mathverse", "mmmu")


def math_answer(rng: random.Random) -> tuple[str, str]:
    """A LaTeX gold answer and an equivalent prediction written differently (what makes math_verify run)."""
    a, b = rng.randint(1, 400), rng.randint(2, 97)
    return rng.choice(
        [
            (f"\\frac{{{a}}}{{{b}}}", f"{a}/{b}"),
            (f"\\sqrt{{{a}}}", f"{a}^{{1/2}}"),
            (f"{a}\\pi", f"\\pi \\cdot {a}"),
            (f"x^2+{a}x", f"x({a}+x)"),
            (f"{a}.{b}", f"{a}.{b}0"),
        ]
    )


def diversify(name: str, item: dict, rng: random.Random) -> dict:
    """The fixtures ask counting questions; real free-form math answers are expressions, so use those here."""
    if name in MATH_BENCHMARKS and not item.get("options") and item.get("question_type") != "multi-choice":
        gold, equivalent = math_answer(rng)
        item = {**item, "answer": gold, "equivalent": equivalent}
    return item


def gold_text(name: str, item: dict) -> str:
    if "equivalent" in item:
        return item["equivalent"]
    if name == "dynamath":
        return json.dumps({"solution": "counted", "short answer": item["answer"]})
    if name == "ocrbench":
        return f"The text in the image reads {item['answer'][0]}."
    if name == "mmvet":
        return item["answer"].split("<OR>")[0]
    answer = item.get("answers") or item["answer"]  # MMMU: the accepted open answers
    return answer[0] if isinstance(answer, list) else str(answer)


def wrong_text(name: str, item: dict) -> str:
    if name == "dynamath":
        return json.dumps({"solution": "counted", "short answer": "Z" if item["answer_type"] != "float" else "99.5"})
    if item.get("options"):
        letters = [letter for letter in item["options"] if letter != item["answer"]]
        return letters[0]
    if name in ("mme", "hallusionbench"):
        return "no" if item["answer"] == "yes" else "yes"
    value = number_value(str(item["answer"]))
    return f"{value + 1:g}" if value is not None else "a completely different answer"


def completion(name: str, item: dict, rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.6:
        return f"<think>{REASONING}</think><answer>{gold_text(name, item)}</answer>"
    if roll < 0.85:
        return f"<think>{REASONING}</think><answer>{wrong_text(name, item)}</answer>"
    if roll < 0.90:
        return f"{REASONING} So the final result is \\boxed{{{gold_text(name, item)}}}."
    if roll < 0.95:
        return f"{REASONING} Therefore, the answer is {gold_text(name, item)}."
    return REASONING + " I am not sure what the image shows."


def prediction_set(name: str, scale: float, seed: int = 0) -> list[tuple[str, dict]]:
    benchmark = BENCHMARKS[name]
    target = max(1, round(benchmark.size * scale))
    groups = math.ceil(target / ROWS_PER_GROUP.get(name, 1))
    if name == "mathverse":
        groups = target  # two versions per problem are generated; the task keeps "Vision Only"
    splits, _ = benchmark_rows(name, groups, seed)
    rng = random.Random(seed)
    items = []
    for split in benchmark.splits:
        for row in splits[split]:
            if benchmark.row_filter is None or benchmark.row_filter(row):
                item = diversify(name, benchmark.read_item(row), rng)
                items.append((completion(name, item, rng), item))
    return items


@dataclass
class Arguments:
    quick: bool = field(default=False, metadata={"help": "Score a tenth of every set."})


def main() -> int:
    (args,) = HfArgumentParser(Arguments, description=__doc__).parse_args_into_dataclasses()
    scale = 0.1 if args.quick else 1.0

    print("generating prediction sets ...", flush=True)
    sets = {name: prediction_set(name, scale) for name in BENCHMARKS}
    print(f"{'benchmark':15s} {'items':>7s} {'seconds':>8s} {'items/s':>9s} {'score':>8s} {'unparsed':>8s}")
    total_items, total_seconds = 0, 0.0
    for name, items in sets.items():
        benchmark = BENCHMARKS[name]
        start = time.perf_counter()
        records = [benchmark.score(text, item) for text, item in items]
        result = benchmark.score_corpus(records)
        seconds = time.perf_counter() - start
        total_items += len(items)
        total_seconds += seconds
        print(
            f"{name:15s} {len(items):7d} {seconds:8.2f} {len(items) / seconds:9.0f} "
            f"{result['score']:8.1f} {int(result['n_unparsed']):8d}"
        )
    print(f"{'total':15s} {total_items:7d} {total_seconds:8.2f} {total_items / total_seconds:9.0f}")
    target = TARGET_SECONDS * scale
    verdict = "PASS" if total_seconds < target else "SHORT"
    print(
        f"RESULT eval scoring of {total_items} items (all benchmarks, one process): {total_seconds:.1f} s "
        f"(target < {target:.0f} s) {verdict}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
