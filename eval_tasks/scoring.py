"""What every benchmark's scorer shares: reading the answer out of a completion, the per-item record, the counts.

The benchmark files (`eval_tasks/benchmarks/<name>.py`) build their per-item scorers and aggregates from these.
"Is this answer right" is decided by `reward_funcs.grading` (answer extraction, option inference, yes/no, answer
equivalence), the same code that rewards training; only rules that belong to one benchmark live in its file.

A record is a flat dict: the item's group keys, `correct` (bool), `status` and `extracted` (the answer read, as a
string). Statuses: "rule" (decided by rules), "unparsed" (no answer could be read: counted wrong and reported, never
guessed), "judge" (the judge extracted or graded it), "needs_judge" (only a judge can decide and none was
configured), "judge_failed" (the judge never gave a usable reply: scored 0, as in the reference). An item whose gold
no answer can match (a LogicVista gold "3" with options A-E) carries `unwinnable: true` and is counted apart.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from collections.abc import Iterable

from reward_funcs.grading import extract_answer, extract_choice, extract_yes_no, grade
from reward_funcs.grading import parse_number as _grading_number

# A bare answer with no <answer>/\boxed{}/"the answer is" is taken as-is only when it is this short (a letter, a number,
# a word); longer free text is what the reference toolkit hands to its judge, so here it counts as unparsed.
MAX_BARE_ANSWER_CHARS = 32
MAX_COMPLETION_CHARS = 20_000  # generation is capped at 2048 tokens; anything longer is not a model answer
MAX_RETRY_CHARS = 4000  # the tail of an unparsed output kept for the judge

STATUSES = ("rule", "judge", "unparsed", "needs_judge", "judge_failed")

_THINK_BLOCK = re.compile(r"<think>.*?(</think>|$)", re.DOTALL | re.IGNORECASE)


def present(value) -> bool:
    """A real value: not None, not NaN, not empty, and not the string "nan" that pandas-made datasets carry for a
    missing hint or option (lmms-lab/MMBench)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return False
    text = str(value).strip()
    return text != "" and text.lower() != "nan"


def letter_columns(line: dict) -> dict[str, str]:
    """Options held in columns named by their letters (VLMEvalKit TSVs, MMBench on the Hub); "nan" cells left out."""
    return {letter: str(line[letter]).strip() for letter in "ABCDEFGHI" if present(line.get(letter))}


def answer_text(completion: str, *, prose: bool = False) -> tuple[str, bool]:
    """The part of a completion that holds the answer, and whether it was explicitly marked as the answer.

    Reasoning outputs carry it in <answer>...</answer> (or a last \\boxed{}, or a closing "the answer is X"; with
    `prose`, also the value a closing statement gives: "so the perimeter is 40"); other outputs are read whole, with
    any <think> block removed so that letters inside the reasoning are not taken (option and yes/no reading work on
    the whole text, as the reference does).
    """
    completion = (completion or "")[-MAX_COMPLETION_CHARS:]
    extracted = extract_answer(completion, prose=prose)
    if extracted is not None:
        return extracted.strip(), True
    return _THINK_BLOCK.sub(" ", completion).strip(), False


def free_form_prediction(completion: str) -> str | None:
    """The answer of a free-form item, or None when the output states none (long text with no marked answer)."""
    text, explicit = answer_text(completion, prose=True)
    if explicit or (text and len(text) <= MAX_BARE_ANSWER_CHARS):
        return text
    return None


def record(item: dict, keys: Iterable[str], correct: bool, status: str, extracted, completion: str = "") -> dict:
    result = {key: item.get(key) for key in keys}
    result.update(correct=bool(correct), status=status, extracted=None if extracted is None else str(extracted))
    if item.get("unwinnable"):
        result["unwinnable"] = True
    # What a judge needs to extract an answer the rules could not read (JSON text: one flat column in the details).
    result["retry"] = (
        json.dumps({"item": item, "raw": completion[-MAX_RETRY_CHARS:]}) if status == "unparsed" else None
    )
    return result


def unparsed(item: dict, keys: Iterable[str], completion: str) -> dict:
    return record(item, keys, False, "unparsed", None, completion)


def choice_record(completion: str, item: dict, keys: Iterable[str]) -> dict:
    """Single-answer multiple choice: VLMEvalKit can_infer semantics via the grading core; unparsed is wrong.
    `item["answers"]` (when present) lists every letter that counts as right (duplicate option texts)."""
    text, _ = answer_text(completion)
    letter = extract_choice(text, item["options"])
    if letter is None:
        return unparsed(item, keys, completion)
    return record(item, keys, letter in item.get("answers", [item["answer"]]), "rule", letter)


def free_record(completion: str, item: dict, keys: Iterable[str], **grade_kwargs) -> dict:
    prediction = free_form_prediction(completion)
    if prediction is None:
        return unparsed(item, keys, completion)
    return record(item, keys, grade(prediction, item["answer"], **grade_kwargs), "rule", prediction)


def yes_no_record(completion: str, item: dict, keys: Iterable[str]) -> dict:
    text, _ = answer_text(completion)
    verdict = extract_yes_no(text)
    if verdict is None:
        return unparsed(item, keys, completion)
    return record(item, keys, verdict == item["answer"], "rule", verdict)


def number_value(text: str | None) -> float | None:
    """The value of a numeric answer ("12", "1,234.5", "12 cm", "\\frac{1}{2}"; "2π" as DynaMath writes it), via the
    grading core's number parser; None when the answer is not a number."""
    if not text:
        return None
    if "π" in text:
        factor = text.replace("π", "").strip()
        base = _grading_number(factor) if factor else None
        return math.pi * (base.value if base else 1.0) if base or not factor else None
    parsed = _grading_number(text)
    return parsed.value if parsed else None


def counts(records: list[dict]) -> dict[str, float]:
    by_status = defaultdict(int)
    for item in records:
        by_status[item["status"]] += 1
    result = {"n": float(len(records)), **{f"n_{status}": float(by_status[status]) for status in STATUSES}}
    result["n_unwinnable"] = float(sum(1 for item in records if item.get("unwinnable")))
    return result


def accuracy(records: list[dict]) -> float:
    return 100.0 * sum(r["correct"] for r in records) / len(records) if records else float("nan")


def by_key(records: list[dict], key: str) -> dict[str, list[dict]]:
    groups = defaultdict(list)
    for item in records:
        groups[str(item.get(key))].append(item)
    return groups


def all_right_share(records: list[dict], fields: tuple[str, ...]) -> tuple[float, int]:
    """Share (x100) of the groups sharing `fields` whose items are all right, and the number of groups."""
    groups = defaultdict(list)
    for item in records:
        groups[tuple(str(item.get(f)) for f in fields)].append(item["correct"])
    share = 100.0 * sum(all(v) for v in groups.values()) / len(groups) if groups else float("nan")
    return share, len(groups)


def plain_accuracy(records: list[dict], category_key: str | None = None) -> dict[str, float]:
    result = {"score": accuracy(records), **counts(records)}
    if category_key:
        for category, members in sorted(by_key(records, category_key).items()):
            result[f"{category_key}/{category}"] = accuracy(members)
    return result


_LEGACY = {"SCORERS", "whole_groups", "score_mmvet", "aggregate_mmvet"}


def __getattr__(name: str):
    """Names this module held before the benchmarks moved to one file each (tests and the runner import them)."""
    if name not in _LEGACY:
        raise AttributeError(name)
    from eval_tasks import benchmarks  # the benchmark files import this module: resolved lazily

    if name == "SCORERS":
        return {key: (b.score, b.aggregate) for key, b in benchmarks.BENCHMARKS.items()}
    if name == "whole_groups":
        return benchmarks.whole_groups
    return getattr(benchmarks.mmvet, name.replace("_mmvet", ""))
