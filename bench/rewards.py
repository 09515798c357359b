"""Throughput and correctness of the hybrid reward against TRL's `accuracy_reward`.

    .venv/bin/python bench/rewards.py [--completions 10000] [--group-size 8] [--seed 0]

Generates a mixed GRPO batch (multiple-choice, numeric and math fill-in-the-blank, yes/no, short text and
descriptive rows; `group_size` rollouts per prompt sharing one gold answer) in which every completion carries a
known true label: its final answer is built from an equivalent form of the gold ("\\dfrac{6}{8}" for "\\frac{3}{4}")
or from a wrong or hedged one ("3 or 4"), in the shapes policies produce (tagged, prefilled <think>, boxed, answer
only inside the reasoning).

Measured: rewards/s of `hybrid` (judge off, so descriptive rows return None at no cost) over the whole batch, and,
on the math subset in the same run, rewards/s of `hybrid` and of `trl.rewards.accuracy_reward` (which re-parses the
gold for every rollout), their ratio, how often they disagree and which one matches the true label. Target: hybrid
at least 2x TRL's throughput on the math subset with at least TRL's agreement with the labels.
"""

from __future__ import annotations

import logging
import random
import sys
import time
from dataclasses import dataclass, field
from math import gcd
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from transformers import HfArgumentParser  # noqa: E402

from reward_funcs import get_reward_funcs, grading, sandbox  # noqa: E402

TARGET_RATIO = 2.0


@dataclass
class Row:
    kind: str  # generator name; "math" rows form the subset TRL's accuracy_reward is compared on
    question_type: str
    reward_method: str
    problem: str
    gold: str
    completions: list[str]
    labels: list[bool | None]  # the true verdict of each completion (None: descriptive, judged by a model)
    shapes: list[str]  # how each completion presents its final answer (see `_wrap`)


# ----------------------------------------------------------------------------------------------------------------
# Gold answers with equivalent and wrong forms
# ----------------------------------------------------------------------------------------------------------------


def _fraction(rng):
    while True:
        a, b = rng.randint(1, 19), rng.randint(2, 20)
        if gcd(a, b) == 1:
            break
    right = [f"\\frac{{{a}}}{{{b}}}", f"\\dfrac{{{a}}}{{{b}}}", f"{a}/{b}", f"\\frac{{{2 * a}}}{{{2 * b}}}"]
    if 1000 % b == 0:
        right.append(f"{a / b:g}")
    wrong = [f"\\frac{{{b}}}{{{a}}}", f"\\frac{{{a + 1}}}{{{b}}}", f"{a / b:.1f}" if 1000 % b else f"{a / b + 0.1:g}"]
    return f"\\frac{{{a}}}{{{b}}}", right, wrong


def _surd(rng):
    k, m = rng.randint(2, 9), rng.choice([2, 3, 5, 6, 7])
    right = [f"{k}\\sqrt{{{m}}}", f"\\sqrt{{{k * k * m}}}", f"{k} \\sqrt {m}", f"${k}\\sqrt{{{m}}}$"]
    wrong = [f"{k + 1}\\sqrt{{{m}}}", f"\\sqrt{{{k * m}}}", f"{m}\\sqrt{{{k}}}" if k != m else f"{k}\\sqrt{{{m + 1}}}"]
    return f"{k}\\sqrt{{{m}}}", right, wrong


def _integer(rng):
    n = rng.choice([rng.randint(2, 60), rng.randint(1000, 99999)])
    right = [str(n), f"{n}.0", f"{n:,}", f"${n}$"]
    wrong = [str(n + 1), str(n - 1), f"{n * 10}"]
    return f"{n:,}" if n >= 1000 and rng.random() < 0.5 else str(n), right, wrong


def _decimal(rng):
    value = rng.randint(11, 999) / 10
    right = [f"{value:g}", f"{value:.2f}", f"\\frac{{{int(value * 10)}}}{{10}}"]
    wrong = [f"{value + 0.1:.1f}", f"{value * 10:g}", f"{value - 1:.1f}"]
    return f"{value:g}", right, wrong


def _angle(rng):
    d = rng.choice([15, 30, 36, 40, 45, 50, 60, 72, 75, 80, 90, 105, 120, 135, 150])
    right = [f"{d}^\\circ", f"{d}°", f"{d}", f"{d}^{{\\circ}}", f"{d} degrees"]
    wrong = [f"{d + 10}^\\circ", f"{180 - d}°" if d != 90 else "45°", f"{d // 2}"]
    return f"{d}^\\circ", right, wrong


def _pi_fraction(rng):
    a, b = rng.choice([(1, 2), (1, 3), (2, 3), (1, 4), (3, 4), (1, 6), (5, 6)])
    num = "\\pi" if a == 1 else f"{a}\\pi"
    right = [f"\\frac{{{num}}}{{{b}}}", f"{num}/{b}", f"\\dfrac{{{num}}}{{{b}}}", f"\\frac{{{a}}}{{{b}}}\\pi"]
    wrong = [f"\\frac{{{num}}}{{{b + 1}}}", f"\\frac{{{b}\\pi}}{{{a}}}" if a != b else "\\pi", f"{a}/{b}"]
    return f"\\frac{{{num}}}{{{b}}}", right, wrong


def _polynomial(rng):
    c, d = rng.randint(1, 9), rng.randint(1, 9)
    right = [f"x^2+{c}x+{d}", f"{d}+{c}x+x^2", f"x^{{2}} + {c}x + {d}", f"x^2+{c}x+{d}"]
    wrong = [f"x^2-{c}x+{d}", f"x^2+{c}x-{d}", f"x^2+{c + 1}x+{d}"]
    return f"x^2+{c}x+{d}", right, wrong


def _point(rng):
    a, b = rng.randint(-9, 9), rng.randint(-9, 9)
    if a == b:
        b += 1
    right = [f"({a}, {b})", f"({a},{b})", f"\\left({a}, {b}\\right)"]
    wrong = [f"({b}, {a})", f"({a}, {b + 1})", f"({-a}, {b})" if a else f"({a}, {b - 1})"]
    return f"({a}, {b})", right, wrong


def _percent(rng):
    p = rng.randint(1, 99)
    right = [f"{p}\\%", f"{p}%", f"{p} percent"]
    wrong = [f"{p + 1}%", f"{p + 5}\\%", f"{100 - p}%" if p != 50 else "25%"]
    return f"{p}\\%", right, wrong


def _line(rng):
    m, c = rng.randint(2, 9), rng.randint(1, 9)
    right = [f"y={m}x+{c}", f"y = {m}x + {c}", f"y={c}+{m}x", f"{m}x+{c}"]
    wrong = [f"y={m}x-{c}", f"y={c}x+{m}" if m != c else f"y={m}x+{c + 1}", f"y=-{m}x+{c}"]
    return f"y={m}x+{c}", right, wrong


def _trig(rng):
    gold, right, wrong = rng.choice(
        [
            (
                "\\frac{\\sqrt{3}}{2}",
                ["\\frac{\\sqrt3}{2}", "\\sin\\frac{\\pi}{3}", "\\cos\\frac{\\pi}{6}"],
                ["\\frac{1}{2}", "\\frac{\\sqrt{2}}{2}"],
            ),
            (
                "\\frac{\\sqrt{2}}{2}",
                ["\\frac{1}{\\sqrt{2}}", "\\sin\\frac{\\pi}{4}", "\\cos\\frac{\\pi}{4}"],
                ["\\frac{\\sqrt{3}}{2}", "\\sqrt{2}"],
            ),
            ("\\sqrt{3}", ["\\tan\\frac{\\pi}{3}", "\\tan(\\pi/3)", "\\sqrt3"], ["\\frac{\\sqrt{3}}{3}", "3"]),
        ]
    )
    return gold, right, wrong


def _interval(rng):
    a = rng.randint(-9, 9)
    right = [f"(-\\infty, {a}]", f"(-\\infty,{a}]", f"\\left(-\\infty, {a}\\right]"]
    wrong = [f"(-\\infty, {a})", f"[{a}, \\infty)", f"(-\\infty, {a + 1}]"]
    return f"(-\\infty, {a}]", right, wrong


def _exponential(rng):
    k = rng.randint(2, 5)
    right = [f"e^{{{k}}}", f"e^{k}", f"\\exp({k})"]
    wrong = [f"{k}e", f"e^{{{k + 1}}}", f"e^{{-{k}}}"]
    return f"e^{{{k}}}", right, wrong


# Golds the fast numeric path decides, and golds that need math_verify (equations, trigonometry, infinite intervals,
# Euler's number) so both paths are in the measured mix.
MATH_GENERATORS = (
    _fraction, _surd, _integer, _decimal, _angle, _pi_fraction, _polynomial, _point, _percent,
    _line, _trig, _interval, _exponential,
)  # fmt: skip
ANIMALS = ("cat", "dog", "horse", "rabbit", "bird", "cow", "sheep", "fox", "deer", "bear")
COLORS = ("red", "blue", "green", "yellow", "white", "black", "orange", "purple")


# ----------------------------------------------------------------------------------------------------------------
# Completions
# ----------------------------------------------------------------------------------------------------------------


def _reasoning(rng) -> str:
    a, b = rng.randint(2, 30), rng.randint(2, 30)
    return rng.choice(
        [
            f"The figure shows two segments of length ${a}$ and ${b}$. Combining them step by step.",
            f"From the chart the first bar is {a} and the second is {b}; I compare them carefully.",
            f"Let me set $s = {a}$ and use the relation $h = {b}$ from the diagram.",
            "Looking at the image, I identify the relevant objects and read off the values.",
        ]
    )


SHAPES = ("tagged", "prefilled", "boxed in tag", "boxed", "hedged", "in think only")


def _wrap(rng, answer: str, truth: bool) -> tuple[str, bool, str]:
    """Put a final answer in one of the shapes policies produce; returns (completion, true label, shape)."""
    reasoning = _reasoning(rng)
    shape = rng.random()
    if shape < 0.55:
        return f"<think>{reasoning}</think><answer>{answer}</answer>", truth, "tagged"
    if shape < 0.70:  # the chat template prefilled <think>
        return f"{reasoning}</think>\n<answer>{answer}</answer>", truth, "prefilled"
    if shape < 0.80:
        return f"<think>{reasoning}</think><answer>\\boxed{{{answer}}}</answer>", truth, "boxed in tag"
    if shape < 0.95:
        return f"<think>{reasoning}</think>\nSo the final answer is $\\boxed{{{answer}}}$.", truth, "boxed"
    # The answer only appears inside the reasoning: no final answer was given.
    return f"<think>{reasoning} Therefore the answer is $\\boxed{{{answer}}}$.</think>", False, "in think only"


def _rollouts(rng, right: list[str], wrong: list[str], group_size: int) -> tuple[list[str], list[bool], list[str]]:
    completions, labels, shapes = [], [], []
    for _ in range(group_size):
        draw = rng.random()
        hedged = draw >= 0.85
        if draw < 0.5:
            answer, truth = rng.choice(right), True
        elif not hedged:
            answer, truth = rng.choice(wrong), False
        else:  # hedge between a right and a wrong answer
            pair = [rng.choice(right), rng.choice(wrong)]
            rng.shuffle(pair)
            answer, truth = f"{pair[0]} or {pair[1]}", False
        completion, truth, shape = _wrap(rng, answer, truth)
        completions.append(completion)
        labels.append(truth)
        shapes.append("hedged" if hedged and shape != "in think only" else shape)
    return completions, labels, shapes


def make_row(rng: random.Random, group_size: int) -> Row:
    draw = rng.random()
    if draw < 0.40:
        gold, right, wrong = rng.choice(MATH_GENERATORS)(rng)
        problem = "Based on the figure, compute the requested quantity."
        return Row("math", "fill-in-the-blank", "rule", problem, gold, *_rollouts(rng, right, wrong, group_size))
    if draw < 0.70:
        options = rng.sample(ANIMALS, 4)
        letters = "ABCD"
        index = rng.randrange(4)
        problem = "Which animal is shown in the image?\n" + "\n".join(
            f"{letter}. {name}" for letter, name in zip(letters, options)
        )
        gold = letters[index]
        others = [letter for letter in letters if letter != gold]
        right = [gold, f"({gold})", f"{gold}. {options[index]}", options[index], f"The answer is {gold}"]
        wrong = [*others, *(options[letters.index(o)] for o in others)]
        return Row("choice", "multiple-choice", "rule", problem, gold, *_rollouts(rng, right, wrong, group_size))
    if draw < 0.85:
        if rng.random() < 0.5:
            gold = rng.choice(["Yes", "No"])
            right = [gold, gold.lower(), f"{gold}, it is."]
            wrong = ["No" if gold == "Yes" else "Yes"]
            problem = "Is there a person in the image? Answer yes or no."
        else:
            color = rng.choice(COLORS)
            gold = color
            right = [color, color.capitalize(), f"The {color}"]
            wrong = [c for c in COLORS if c != color][:3]
            problem = "What color is the car?"
        return Row("short", "fill-in-the-blank", "rule", problem, gold, *_rollouts(rng, right, wrong, group_size))
    gold = f"A {rng.choice(COLORS)} {rng.choice(ANIMALS)} stands in a field under a clear sky."
    wrapped = [_wrap(rng, f"I see a {rng.choice(ANIMALS)} in a field.", True) for _ in range(group_size)]
    completions, shapes = [w[0] for w in wrapped], [w[2] for w in wrapped]
    return Row(
        "descriptive", "descriptive", "model", "Describe the image.", gold, completions, [None] * group_size, shapes
    )


# ----------------------------------------------------------------------------------------------------------------
# Measurement
# ----------------------------------------------------------------------------------------------------------------


def conversational(completions: list[str]) -> list[list[dict]]:
    return [[{"role": "assistant", "content": text}] for text in completions]


def run_hybrid(hybrid, rows: list[Row]) -> tuple[list[float | None], float]:
    scores: list[float | None] = []
    started = time.perf_counter()
    for row in rows:
        n = len(row.completions)
        scores += hybrid(
            conversational(row.completions),
            solution=[row.gold] * n,
            question_type=[row.question_type] * n,
            reward_method=[row.reward_method] * n,
            problem=[row.problem] * n,
        )
    return scores, time.perf_counter() - started


def run_trl(trl_accuracy, rows: list[Row]) -> tuple[list[float | None], float]:
    scores: list[float | None] = []
    started = time.perf_counter()
    for row in rows:
        scores += trl_accuracy(conversational(row.completions), solution=[row.gold] * len(row.completions))
    return scores, time.perf_counter() - started


def start_cold(hybrid, warm_rows: list[Row]) -> None:
    """A fresh sandbox worker (sympy caches what it computed, so a reused worker would be warm on the measured
    expressions), warmed on the warm-up rows, then this process's gold and option caches emptied."""
    sandbox.shutdown()
    run_hybrid(hybrid, warm_rows)
    grading.clear_caches()


def agreement(scores: list[float | None], labels: list[bool]) -> float:
    return sum((score == 1.0) == label for score, label in zip(scores, labels)) / len(labels)


@dataclass
class Args:
    completions: int = field(default=10_000, metadata={"help": "Total completions."})
    group_size: int = field(default=8, metadata={"help": "Rollouts per prompt."})
    seed: int = field(default=0, metadata={"help": "Seed of the generated batch."})
    warmup: int = field(default=2000, metadata={"help": "Warm-up completions graded by both sides first."})
    examples: int = field(default=4, metadata={"help": "Disagreement examples shown per direction."})


def main() -> None:
    (args,) = HfArgumentParser(Args).parse_args_into_dataclasses()
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("reward_funcs.rewards").setLevel(logging.ERROR)  # descriptive rows: "no judge" notice

    from trl.rewards import accuracy_reward as trl_accuracy

    rng = random.Random(args.seed)
    rows = [make_row(rng, args.group_size) for _ in range(args.completions // args.group_size)]
    math_rows = [row for row in rows if row.kind == "math"]
    [hybrid] = get_reward_funcs(["hybrid"])

    # Steady state, as in a long training run: both sides first grade the same warm-up batch (another seed), so
    # imports, regex compilation and the LaTeX parser's prediction caches are warm on both. Then TRL, in this
    # process; then hybrid, math subset and whole batch, each with its gold caches cleared and a fresh, warmed
    # sandbox worker, so neither side reuses answers the other (or an earlier run) already computed.
    warm_rng = random.Random(args.seed + 1)
    warm_rows = [make_row(warm_rng, args.group_size) for _ in range(args.warmup // args.group_size)]
    warm_math = [row for row in warm_rows if row.kind == "math"]
    run_trl(trl_accuracy, warm_math)
    trl, trl_seconds = run_trl(trl_accuracy, math_rows)
    start_cold(hybrid, warm_rows)
    ours, ours_seconds = run_hybrid(hybrid, math_rows)
    start_cold(hybrid, warm_rows)
    all_scores, all_seconds = run_hybrid(hybrid, rows)

    labels = [label for row in math_rows for label in row.labels]
    shapes = [shape for row in math_rows for shape in row.shapes]
    completions = [(row.gold, text) for row in math_rows for text in row.completions]
    n_all = sum(len(row.completions) for row in rows)
    n_math = len(labels)
    ours_rate, trl_rate = n_math / ours_seconds, n_math / trl_seconds
    ratio = ours_rate / trl_rate
    ours_agree, trl_agree = agreement(ours, labels), agreement(trl, labels)
    trl_skipped = sum(score is None for score in trl)
    # TRL returns None (skip) when math_verify finds nothing in a bare gold such as "y=5x+4": compare both on the
    # rows TRL scored too, so skipping is not counted against it.
    scored = [i for i in range(n_math) if trl[i] is not None]
    ours_agree_scored = agreement([ours[i] for i in scored], [labels[i] for i in scored])
    trl_agree_scored = agreement([trl[i] for i in scored], [labels[i] for i in scored])

    print(f"{n_all} completions in groups of {args.group_size} ({len(rows)} prompts); math subset {n_math}")
    print(f"sandbox (math_verify in a worker process): {sandbox.stats.calls} calls, {sandbox.stats.timeouts} timeouts")
    print()
    print("| run | completions | seconds | rewards/s | agrees with true label | None (skipped) |")
    print("|---|---:|---:|---:|---:|---:|")
    descriptive = sum(score is None for score in all_scores)
    print(
        f"| hybrid (judge off), whole batch | {n_all} | {all_seconds:.2f} | {n_all / all_seconds:,.0f} | | {descriptive} |"
    )
    print(f"| hybrid, math subset | {n_math} | {ours_seconds:.2f} | {ours_rate:,.0f} | {ours_agree:.1%} | 0 |")
    print(
        f"| trl accuracy_reward, math subset | {n_math} | {trl_seconds:.2f} | {trl_rate:,.0f} | {trl_agree:.1%} "
        f"| {trl_skipped} |"
    )
    print(
        f"On the {len(scored)} math completions TRL scored (not None): hybrid agrees with the true label on "
        f"{ours_agree_scored:.1%}, TRL on {trl_agree_scored:.1%}."
    )
    print()
    print("Math subset by answer shape (None counts as not correct):")
    print("| shape | completions | hybrid agrees | TRL agrees | TRL None |")
    print("|---|---:|---:|---:|---:|")
    for shape in SHAPES:
        index = [i for i in range(n_math) if shapes[i] == shape]
        if index:
            ours_shape = agreement([ours[i] for i in index], [labels[i] for i in index])
            trl_shape = agreement([trl[i] for i in index], [labels[i] for i in index])
            skipped = sum(trl[i] is None for i in index)
            print(f"| {shape} | {len(index)} | {ours_shape:.1%} | {trl_shape:.1%} | {skipped} |")
    print()
    disagree = [i for i in range(n_math) if trl[i] is not None and (ours[i] == 1.0) != (trl[i] == 1.0)]
    print(f"disagreements where TRL gave a verdict: {len(disagree)}/{n_math} ({len(disagree) / n_math:.1%})")
    for direction, ours_value in (("hybrid 1, TRL 0", 1.0), ("hybrid 0, TRL 1", 0.0)):
        cases = [i for i in disagree if (ours[i] == 1.0) == (ours_value == 1.0)]
        right = sum((ours[i] == 1.0) == labels[i] for i in cases)
        print(
            f"\n{direction}: {len(cases)} cases; the true label sides with hybrid in {right}, TRL in {len(cases) - right}"
        )
        shown = {}  # one example per shape first, so the examples show the different causes
        for i in cases:
            if len(shown) < args.examples and shapes[i] not in {shapes[j] for j in shown}:
                shown[i] = True
        for i in cases:
            if len(shown) < args.examples:
                shown.setdefault(i, True)
        for i in shown:
            gold, text = completions[i]
            side = "hybrid" if (ours[i] == 1.0) == labels[i] else "TRL"
            print(
                f"  [{shapes[i]}] gold {gold!r} | ...{text[-80:]!r} | truly {'right' if labels[i] else 'wrong'}"
                f" -> {side} is right"
            )
    print()
    ok = ratio >= TARGET_RATIO and ours_agree_scored >= trl_agree_scored
    print(
        f"RESULT hybrid vs trl accuracy_reward rewards/s on the math subset: {ratio:.1f}x, label agreement on rows "
        f"TRL scored {ours_agree_scored:.1%} vs {trl_agree_scored:.1%} (target >= {TARGET_RATIO:.0f}x and >= TRL) "
        f"{'PASS' if ok else 'SHORT'}"
    )


if __name__ == "__main__":
    main()
