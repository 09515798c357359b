"""
name:
LogicVista

dataset:
lscpku/LogicVista, split test (448 items)

abstract:
Logical reasoning in visual contexts (inductive, deductive, numerical, spatial, mechanical). Most questions (373
of 448) list their options inline (`Select from A, B, C, and D. (A) 140TWh (B) 190TWh ...`); others draw them in
the image and name the range in the text (`Select from A-E`, `Which of options A to F`, `Select answers from A-I`).
Golds are one letter or several (`A, C`).

paper:
https://arxiv.org/abs/2407.04973

Scoring: correct when the sorted set of letters read from the answer equals the gold's. The letters are the inline
option labels and the range the question names (A-E when it names none). An answer is read by its option labels
first: "(C) Neither set A nor set B" is C, not {A, B, C}; then as letter tokens; then as one option's text. Golds that
are no option letter (one real gold is `3`, with options "1-5" in the image; one row is empty) cannot be won: they
are counted as `n_unwinnable` and stay in the denominator, as in the reference.
"""

from __future__ import annotations

import re
import string

from datasets import Features, Image, Value
from lighteval.tasks.requests import Doc

from eval_tasks.benchmarks import fixture_images as draw
from eval_tasks.benchmarks.base import LETTERS, Benchmark, make_doc, mcq_prompt, task_config
from eval_tasks.scoring import answer_text, plain_accuracy, record, unparsed
from reward_funcs.grading import extract_choice, extract_choices, normalize_text

KEYS = ("id", "skill")
DEFAULT_LETTERS = "ABCDE"

_INLINE_LABEL = re.compile(r"\(([A-Z])\)")
_RANGE = re.compile(r"\b([A-Z])\s*(?:-|–|to)\s*([A-Z])\b")
_LISTED = re.compile(r"\bA((?:\s*,\s*[B-Z]\b)*(?:\s*,?\s*(?:and|or)\s+[B-Z]\b)?)")
_LEADING_LABEL = re.compile(r"^\(?([A-Z])(?:\)|[.:])(?:\s|$)")
_HEDGE = re.compile(r"\bor\b", re.IGNORECASE)


def inline_options(question: str) -> tuple[str, dict[str, str]]:
    """The question stem and its inline options `(A) x (B) y` (consecutive labels from A; texts may be empty when
    the options are drawn in the image)."""
    labels = []
    for match in _INLINE_LABEL.finditer(question):
        if match.group(1) == LETTERS[len(labels)]:
            labels.append(match)
    if len(labels) < 2:
        return question, {}
    options = {}
    for index, match in enumerate(labels):
        end = labels[index + 1].start() if index + 1 < len(labels) else len(question)
        options[match.group(1)] = " ".join(question[match.end() : end].split())
    return question[: labels[0].start()].strip(), options


def named_letters(question: str) -> str:
    """Letters the question names as its choice range ("A-E", "A to F", "A, B, C, or D"), or ""."""
    last = ""
    for start, end in _RANGE.findall(question):
        if start == "A" and end > last:
            last = end
    for match in _LISTED.finditer(question):
        listed = re.findall(r"[B-Z]", match.group(1))
        if listed and listed[-1] > last:
            last = listed[-1]
    return LETTERS[: LETTERS.index(last) + 1] if last else ""


def item(line: dict) -> dict:
    question = line["question"]
    _, options = inline_options(question)
    letters = "".join(options) or named_letters(question) or DEFAULT_LETTERS
    letters = max(letters, named_letters(question), key=len)
    gold = sorted(set(re.findall(r"[A-Z]", str(line["answer"]).upper())))
    result = {
        "id": str(line["id"]),
        "skill": _skill(line.get("skill")),
        "answer": ", ".join(gold) or str(line["answer"]),
        "letters": letters,
        "options": options,
    }
    if not gold or not set(gold) <= set(letters):
        result["unwinnable"] = True
    return result


def _skill(skill) -> str | None:
    return ", ".join(skill) if isinstance(skill, list) else skill


def prompt_fn(line: dict, task_name: str = "") -> Doc:
    entry = item(line)
    stem, options = inline_options(line["question"])
    query = mcq_prompt(stem, options) if options and all(options.values()) else line["question"]
    return make_doc(task_name, query, [line["image"]], entry)


def read_letters(text: str, letters: str, options: dict[str, str]) -> list[str] | None:
    """The letters an answer picks: its option labels, else one option's whole text, else letter tokens, else the
    one option whose text it contains."""
    labelled = [letter for letter in _INLINE_LABEL.findall(text) if letter in letters]
    if labelled:
        return None if len(set(labelled)) > 1 and _HEDGE.search(text) else sorted(set(labelled))
    leading = _LEADING_LABEL.match(text.strip())
    if leading and leading.group(1) in letters:
        return [leading.group(1)]
    exact = [letter for letter, option in options.items() if option and normalize_text(option) == normalize_text(text)]
    if len(exact) == 1:  # the answer is one option's text ("Neither set A nor set B")
        return exact
    found = extract_choices(text, letters)
    if found:
        return sorted(set(found))
    with_text = {letter: option for letter, option in options.items() if option}
    letter = extract_choice(text, with_text) if with_text else None
    return [letter] if letter else None


def score(completion: str, item: dict) -> dict:
    text, _ = answer_text(completion)
    letters = read_letters(text, item["letters"], item.get("options") or {}) if text else None
    if not letters:
        return unparsed(item, KEYS, completion)
    gold = sorted(set(re.findall(r"[A-Z]", item["answer"])))
    return record(item, KEYS, letters == gold, "rule", ", ".join(letters))


def aggregate(records: list[dict]) -> dict[str, float]:
    return plain_accuracy(records, "skill")


def fixture_rows(rng, n):
    """Inline options with text, inline labels without text, a named range (`Select from A-E`), letters beyond E
    (`Select answers from A-I`), multi-letter golds, and an unwinnable numeric gold."""
    rows = []
    for i in range(n):
        count, color, image = draw.count_item(rng)
        kind = i % 5
        options, gold = draw.count_options(rng, count, 4)
        letters = [string.ascii_uppercase[gold]]
        question = f"How many {color} squares are there?"
        if kind == 0:
            question += " Select from A, B, C, and D. " + " ".join(
                f"({string.ascii_uppercase[j]}) {o}" for j, o in enumerate(options)
            )
        elif kind == 1:  # two right options: "none of A-D is wrong" style
            options.append(str(count))
            question = f"Which options give the number of {color} squares? Select from A, B, C, D, and E. " + " ".join(
                f"({string.ascii_uppercase[j]}) {o}" for j, o in enumerate(options)
            )
            letters.append("E")
        elif kind == 2:
            question += " Select from A-D. (A) (B) (C) (D)"
        elif kind == 3:
            letters = [string.ascii_uppercase[4 + count % 5]]  # E..I, the options drawn in the image
            question = f"Which box shows {count} {color} squares? Select answers from A-I"
        else:
            letters = [str(count)]
            question = f"Which of the boxes holds {count} squares? Select from 1-9"
        rows.append(
            {
                "question": question,
                "answer": ", ".join(sorted(letters)),
                "reasoning": "Count the squares.",
                "image": image,
                "skill": "numerical",
                "broad_capability": "reasoning",
                "specific_capability": "counting",
                "imagesource": "fixture",
                "sourcelink": "",
                "liscenced": "yes",
                "id": f"v1_{i}",
            }
        )
    features = Features({k: Image() if k == "image" else Value("string") for k in rows[0]})
    return {"test": rows}, features


BENCHMARK = Benchmark(
    name="logicvista",
    column="LogicVista",
    position=6,
    hub_repo="lscpku/LogicVista",
    hub_subset="default",
    splits=("test",),
    size=448,
    item=item,
    prompt_fn=prompt_fn,
    score=score,
    aggregate=aggregate,
    fixture_rows=fixture_rows,
    reference={"WeThink-VL-7B": 51.2, "Qwen2.5-VL-7B": 47.9},
)

TASKS_TABLE = [task_config(BENCHMARK)]
