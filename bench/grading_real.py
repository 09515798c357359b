"""The grading core's answer reading on the benchmarks' real gold answers and on real model responses.

    .venv/bin/python bench/grading_real.py [--data ../shared/benchmarks-real] [--mathvista-results DIR]

1. Perfect answers: for every real gold of MathVista, WeMath, LogicVista, DynaMath (variant 1) and HallusionBench,
   the gold rendered in the shapes models write (tagged `<answer>X</answer>`, a boxed answer, and prose: "Therefore,
   the answer is X.", an explanation naming other letters after the answer, "The answer is (B) <option text>",
   Chinese `答案是B` / `所以选B`, a concluding "so the <quantity> is X."), read the way an evaluation reads an
   untagged output (closed answers: `extract_answer(..., markers=False)`, else the whole text; free-form: `extract_answer(..., prose=True)`) and graded: every winnable gold must
   read as correct. Unwinnable golds (a LogicVista answer that is not an option letter) are counted apart.
2. Real responses (optional, `--mathvista-results`: a folder of MathVista's published `output_*.json` files, e.g.
   `results/` of github.com/lupantech/MathVista): the rules' verdict against the official `true_false` where the
   rules decide, and how many responses the rules leave unparsed.

The last line is `RESULT perfect answers read correctly: <n>/<winnable> (target 100%) PASS|SHORT`.
"""

from __future__ import annotations

import json
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from transformers import HfArgumentParser  # noqa: E402

from reward_funcs.grading import (  # noqa: E402
    extract_answer,
    extract_choice,
    extract_choices,
    extract_yes_no,
    grade,
    number_in_sentence,
    parse_number,
    parse_options,
)

LETTERS = "ABCDEFGHIJ"
_THINK_RE = re.compile(r"<think>.*?(?:</think>|$)", re.DOTALL)


@dataclass
class Args:
    data: str = field(default="../shared/benchmarks-real", metadata={"help": "Folder of the real benchmark rows."})
    mathvista_results: str | None = field(
        default=None, metadata={"help": "Folder of MathVista's published output_*.json (real model responses)."}
    )


@dataclass
class Item:
    benchmark: str
    kind: str  # "choice", "choices", "free", "yes_no"
    gold: str  # the letter(s) or the free-form answer
    options: dict[str, str]
    unit: str = ""


# ----------------------------------------------------------------------------------------------------------------
# Real rows -> items
# ----------------------------------------------------------------------------------------------------------------


def mathvista_items(folder: Path) -> list[Item]:
    items = []
    for row in json.loads((folder / "mathvista_testmini.json").read_text()).values():
        if row["question_type"] == "multi_choice":
            options = dict(zip(LETTERS, row["choices"]))
            gold = LETTERS[row["choices"].index(row["answer"])]
            items.append(Item("MathVista", "choice", gold, options))
        else:
            items.append(Item("MathVista", "free", row["answer"], {}, row.get("unit") or ""))
    return items


def wemath_items(folder: Path) -> list[Item]:
    rows = json.loads((folder / "wemath_testmini.json").read_text())
    return [Item("WeMath", "choice", row["answer"], parse_options(row["option"])) for row in rows]


def logicvista_items(folder: Path) -> list[Item]:
    items = []
    for row in json.loads((folder / "logicvista.json").read_text()).values():
        options = parse_options(row["question"]) or {letter: "" for letter in "ABCDE"}
        golds = re.findall(r"[A-Z0-9]", row["answer"])
        kind = "choices" if len(golds) > 1 else "choice"
        items.append(Item("LogicVista", kind, ", ".join(golds), options))
    return items


def dynamath_items(folder: Path) -> list[Item]:
    items = []
    for row in json.loads((folder / "dynamath" / "variant1.json").read_text()).values():
        if row["answer_type"] == "multiple choice":
            items.append(Item("DynaMath", "choice", row["answer"], parse_options(row["question"])))
        else:
            items.append(Item("DynaMath", "free", row["answer"], {}))
    return items


def hallusion_items(folder: Path) -> list[Item]:
    rows = json.loads((folder / "hallusionbench.json").read_text())
    return [
        Item("HallusionBench", "yes_no", "yes" if row["gt_answer"] == "1" else "no", {})
        for row in rows
        if row["visual_input"] != "0"
    ]


# ----------------------------------------------------------------------------------------------------------------
# Perfect answers in the shapes models write
# ----------------------------------------------------------------------------------------------------------------

REASONING = (
    "Looking at the figure, triangle ABC has a right angle at C and point D lies on AB. "
    "Option A can be ruled out because the lengths do not match, and B is too large as well."
)


def _other_letters(item: Item) -> str:
    others = [letter for letter in item.options if letter not in item.gold][:2] or ["A"]
    return " and ".join(others)


def shapes(item: Item) -> dict[str, str]:
    """The gold answer written the ways a perfect model writes it."""
    if item.kind == "yes_no":
        word = item.gold.capitalize()
        return {
            "tagged": f"<think>{REASONING}</think><answer>{word}</answer>",
            "prose": f"{word}, according to the chart the value shown is {'the' if word == 'Yes' else 'not the'} largest.",
            "prose answer is": f"{REASONING} Therefore, the answer is {word.lower()}.",
        }
    answer = item.gold
    forms = {
        "tagged": f"<think>{REASONING}</think><answer>{answer}</answer>",
        "boxed": f"{REASONING} So the final answer is $\\boxed{{{answer}}}$.",
        "prose answer is": f"{REASONING} Therefore, the answer is {answer}.",
        "chinese": f"{REASONING} 所以答案是{answer}。",
    }
    if item.kind == "choice":
        text = item.options.get(answer, "")
        forms["prose then explanation"] = (
            f"The answer is {answer}. {_other_letters(item)} do not fit, because the pattern changes in each row."
        )
        if text:
            forms["prose letter and text"] = f"{REASONING} The answer is ({answer}) {text}."
        forms["chinese select"] = f"观察图形可知，所以选{answer}"
        forms["chinese colon"] = f"{REASONING}\n答案：{answer}"
    elif item.kind == "free":
        forms["prose conclusion"] = f"{REASONING} So the value asked for is {answer}{item.unit}."
    return forms


def read(completion: str, item: Item) -> bool | None:
    """The verdict an evaluation gives an output (True / False; None when no answer could be read), read the way
    the grading core is meant to be called: closed answers from the tagged answer or else the whole output (the
    readers find answer markers and last sentences themselves), free-form answers via `extract_answer(prose=True)`."""
    tagged = extract_answer(completion, markers=False)
    text = tagged if tagged is not None else _THINK_RE.sub(" ", completion).strip()
    if item.kind == "choice":
        letter = extract_choice(text, item.options)
        return None if letter is None else letter == item.gold
    if item.kind == "choices":
        letters = extract_choices(text, item.options)
        return None if letters is None else ", ".join(letters) == item.gold
    if item.kind == "yes_no":
        verdict = extract_yes_no(text)
        return None if verdict is None else verdict == item.gold
    try:
        extracted = extract_answer(completion, prose=True)
    except TypeError:  # before the prose reading existed
        extracted = tagged
    if extracted is None:
        return None if len(text) > 32 else grade(text, item.gold, question_type="fill-in-the-blank")
    return grade(extracted, item.gold, question_type="fill-in-the-blank")


def winnable(item: Item) -> bool:
    if item.kind in ("choice", "choices"):
        return all(letter in item.options for letter in item.gold.split(", ")) and bool(item.gold)
    return True


# ----------------------------------------------------------------------------------------------------------------
# MathVista's published responses against the official verdicts
# ----------------------------------------------------------------------------------------------------------------


def mathvista_rule_verdict(row: dict) -> bool | None:
    """MathVista's rules (spec: MC by option reading; integer: int equality; float: equality at the stated
    precision; list/text: the grading core) on a raw response; None when unparsed."""
    response = row.get("response") or ""
    if row["question_type"] == "multi_choice":  # compared by text: a few questions list the gold twice
        options = dict(zip(LETTERS, row["choices"]))
        tagged = extract_answer(response, markers=False)
        letter = extract_choice(tagged if tagged is not None else _THINK_RE.sub(" ", response), options)
        return None if letter is None else options[letter] == row["answer"]
    try:
        extracted = extract_answer(response, prose=True)
    except TypeError:
        extracted = extract_answer(response)
    if extracted is None:
        return None if len(response) > 32 else grade(response, row["answer"])
    if row["answer_type"] in ("integer", "float"):
        number = parse_number(extracted)
        value = number.value if number else number_in_sentence(extracted)
        if value is None:
            return None
        digits = int(row.get("precision") or 0) if row["answer_type"] == "float" else 0
        return round(value, digits) == round(float(row["answer"]), digits)
    return grade(extracted, row["answer"])


def mathvista_responses(folder: Path) -> None:
    print("\nMathVista published responses vs the official verdict (true_false):")
    print("| model | responses | rules decide | agree with official | unparsed |")
    print("|---|---:|---:|---:|---:|")
    totals = [0, 0, 0]
    for path in sorted(folder.glob("**/output_*.json")):
        rows = json.loads(path.read_text())
        if not isinstance(rows, dict) or not all("true_false" in row for row in rows.values()):
            continue
        verdicts = [(mathvista_rule_verdict(row), row["true_false"] in (True, "True")) for row in rows.values()]
        decided = [(ours, official) for ours, official in verdicts if ours is not None]
        agree = sum(ours == official for ours, official in decided)
        share = f"{agree / len(decided):.1%}" if decided else "n/a"
        print(f"| {path.stem} | {len(verdicts)} | {len(decided)} | {share} | {len(verdicts) - len(decided)} |")
        totals = [totals[0] + len(verdicts), totals[1] + len(decided), totals[2] + agree]
    if totals[1]:
        share = f"{totals[2] / totals[1]:.1%}"
        print(f"| all | {totals[0]} | {totals[1]} | {share} ({totals[2]}) | {totals[0] - totals[1]} |")


def main() -> None:
    (args,) = HfArgumentParser(Args).parse_args_into_dataclasses()
    folder = Path(args.data)
    items = (
        mathvista_items(folder)
        + wemath_items(folder)
        + logicvista_items(folder)
        + dynamath_items(folder)
        + hallusion_items(folder)
    )
    table: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # right, wrong, unparsed, total
    unwinnable = defaultdict(int)
    failures: dict[str, list[str]] = defaultdict(list)
    for item in items:
        if not winnable(item):
            unwinnable[item.benchmark] += 1
            continue
        for shape, completion in shapes(item).items():
            verdict = read(completion, item)
            cell = table[(item.benchmark, shape)]
            cell[3] += 1
            cell[0 if verdict else 1 if verdict is False else 2] += 1
            if not verdict and len(failures[shape]) < 3:
                failures[shape].append(f"{item.benchmark} gold {item.gold!r}: ...{completion[-90:]!r} -> {verdict}")
    print("| benchmark | shape | answers | read correct | read wrong | unparsed |")
    print("|---|---|---:|---:|---:|---:|")
    for (benchmark, shape), (right, wrong, unparsed, total) in table.items():
        print(f"| {benchmark} | {shape} | {total} | {right} | {wrong} | {unparsed} |")
    print(
        "\nunwinnable golds (not an option letter), not counted: "
        + (", ".join(f"{k} {v}" for k, v in unwinnable.items()) or "none")
    )
    for shape, examples in failures.items():
        print(f"\nnot read correct [{shape}]:")
        for example in examples:
            print(f"  {example}")
    if args.mathvista_results:
        mathvista_responses(Path(args.mathvista_results))
    right = sum(cell[0] for cell in table.values())
    total = sum(cell[3] for cell in table.values())
    print(
        f"\nRESULT perfect answers read correctly: {right}/{total} ({right / total:.1%}) (target 100%) "
        f"{'PASS' if right == total else 'SHORT'}"
    )


if __name__ == "__main__":
    main()
