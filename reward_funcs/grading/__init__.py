"""The single place that decides whether an answer is right.

Rewards, the evaluation tasks and the synthesis agreement check all call this package, so a model is trained and
scored by the same rules.

1. Extraction (`extraction.extract_answer`): the last `<answer>...</answer>` after the reasoning, else the last
   `\\boxed{...}`, else a trailing "the answer is X". Nothing else is guessed, and text inside `<think>` never counts.
2. The gold answer is parsed once into a `Gold` (`gold.parse_gold`, cached: its answer kind and normalised forms).
3. Equivalence by answer kind (`grade`, here): option letters (`options`: single and multi-select, option text ->
   letter), numbers (`numbers`: tolerance, thousands separators, percent, units), math expressions (`maths`:
   math_verify in a sandbox process with a hard deadline, see `reward_funcs.sandbox`), yes/no, short text (case,
   punctuation, articles) and lists. A prediction that names several different answers ("A or B", "3 or 4") is wrong.

Model outputs are untrusted: nothing is evaluated as code, inputs are truncated before any regex runs, and every
regex here is linear (no nested quantifiers).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from reward_funcs.grading import gold as _gold_module
from reward_funcs.grading import options as _options_module
from reward_funcs.grading.extraction import answer_phrase, extract_answer, final_statement
from reward_funcs.grading.gold import ANSWER_KINDS, ITEM_COMMA_RE, LIST_SPLIT_RE, Gold, parse_gold
from reward_funcs.grading.maths import looks_like_math, math_equal, math_matches
from reward_funcs.grading.numbers import Number, number_in_sentence, numbers_match, parse_number
from reward_funcs.grading.options import (
    extract_choice,
    extract_choices,
    extract_yes_no,
    is_letter_hedge,
    last_sentence,
    leading_labels,
    letter_tokens,
    match_option_text,
    parse_options,
)
from reward_funcs.grading.text import (
    DEFAULT_TIMEOUT_S,
    MAX_ANSWER_CHARS,
    MAX_COMPLETION_CHARS,
    normalize_text,
    squeeze,
    strip_wrappers,
)
from reward_funcs.sandbox import run_with_timeout

__all__ = [
    "ANSWER_KINDS",
    "DEFAULT_TIMEOUT_S",
    "MAX_ANSWER_CHARS",
    "MAX_COMPLETION_CHARS",
    "Gold",
    "Number",
    "Verdict",
    "answer_phrase",
    "clear_caches",
    "extract_answer",
    "extract_choice",
    "extract_choices",
    "extract_yes_no",
    "final_statement",
    "grade",
    "is_letter_hedge",
    "last_sentence",
    "leading_labels",
    "letter_tokens",
    "match_option_text",
    "math_equal",
    "normalize_text",
    "number_in_sentence",
    "numbers_match",
    "parse_gold",
    "parse_number",
    "parse_options",
    "run_with_timeout",
    "verify",
]


@dataclass(frozen=True)
class Verdict:
    correct: bool
    extracted: str | None
    kind: str


def _grade_choice(pred: str, gold: Gold) -> bool:
    pred = strip_wrappers(pred)
    options = dict(gold.options) or {letter: "" for letter in "ABCDEFGHIJ"}
    if len(gold.letters) == 1:
        return extract_choice(pred, options) == gold.letters[0]
    return extract_choices(pred, options) == list(gold.letters)


def _grade_number(pred: str, gold: Gold, timeout: float) -> bool:
    number = parse_number(pred)
    if number is not None:
        return numbers_match(number, gold.number)
    stripped = strip_wrappers(pred)
    if looks_like_math(stripped):
        return math_matches(stripped, gold.answer, gold.number, timeout)
    value = number_in_sentence(stripped)
    return value is not None and numbers_match(Number(value), gold.number)


def _grade_text(pred: str, gold: Gold) -> bool:
    return normalize_text(strip_wrappers(pred)) == gold.text


def _grade_list(pred: str, gold: Gold, timeout: float) -> bool:
    pred = strip_wrappers(pred)
    if gold.ordered:  # a bracketed sequence: the same brackets or none, the items in order
        if (pred[:1] in "([" or pred[-1:] in ")]") and not (pred.startswith("[") and pred.endswith("]")):
            return False
        parts = [part for part in ITEM_COMMA_RE.split(pred.strip("[] ")) if part.strip()]
        return len(parts) == len(gold.items) and all(
            _grade_parsed(part.strip(), item, timeout) for part, item in zip(parts, gold.items)
        )
    parts = [part for part in LIST_SPLIT_RE.split(pred.strip("[]() ")) if part]
    if len(parts) != len(gold.items):
        return False
    unmatched = list(gold.items)  # order-insensitive, each item by its own kind
    for part in parts:
        hit = next((item for item in unmatched if _grade_parsed(part, item, timeout)), None)
        if hit is None:
            return False
        unmatched.remove(hit)
    return True


def _grade_parsed(pred: str, gold: Gold, timeout: float) -> bool:
    if gold.kind == "choice":
        return _grade_choice(pred, gold)
    if gold.kind == "yes_no":
        return extract_yes_no(strip_wrappers(pred)) == gold.text
    if gold.kind == "number":
        return _grade_number(pred, gold, timeout)
    if gold.kind == "math":
        return math_matches(pred, gold.answer, None, timeout)
    if gold.kind == "list":
        return _grade_list(pred, gold, timeout)
    return _grade_text(pred, gold)


@lru_cache(maxsize=8192)
def _grade_cached(prediction: str, gold: Gold, timeout: float) -> bool:
    # GRPO rollouts of one prompt often give the same answer: each distinct answer is graded once.
    return _grade_parsed(prediction, gold, timeout)


def grade(
    prediction: str | None,
    gold: str | Gold,
    *,
    question_type: str | None = None,
    options: dict[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> bool:
    """Whether an already-extracted prediction matches the gold answer (see the package docstring for the rules)."""
    if prediction is None or not prediction.strip() or len(prediction) > MAX_ANSWER_CHARS:
        return False
    parsed = gold if isinstance(gold, Gold) else parse_gold(gold, question_type, options)
    return _grade_cached(squeeze(prediction), parsed, timeout)


def verify(
    completion: str | None,
    gold: str | Gold,
    *,
    question_type: str | None = None,
    options: dict[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> Verdict:
    """Extract the final answer of a completion and grade it."""
    parsed = gold if isinstance(gold, Gold) else parse_gold(gold, question_type, options)
    extracted = extract_answer(completion)
    correct = grade(extracted, parsed, timeout=timeout)
    return Verdict(correct, extracted, parsed.kind)


def clear_caches() -> None:
    """Forget parsed golds, parsed options and graded answers (benchmarks that measure cold grading)."""
    _gold_module._parse_gold_cached.cache_clear()
    _options_module._parse_options_cached.cache_clear()
    _grade_cached.cache_clear()
