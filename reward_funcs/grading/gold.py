"""Gold answers, parsed once into their kind (choice, yes/no, number, math, list, text) and the forms the graders
compare against. `parse_gold` is cached, so a GRPO group of rollouts sharing a prompt parses its gold once."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from reward_funcs.grading.extraction import extract_answer
from reward_funcs.grading.maths import canonical_math, looks_like_math
from reward_funcs.grading.numbers import Number, parse_number
from reward_funcs.grading.text import MAX_ANSWER_CHARS, normalize_text, squeeze, strip_wrappers

ANSWER_KINDS = ("choice", "yes_no", "number", "math", "list", "text")


@dataclass(frozen=True)
class Gold:
    """A gold answer parsed once: its kind and the forms the graders compare against."""

    raw: str
    kind: str
    answer: str  # the gold without wrappers
    letters: tuple[str, ...] = ()  # choice: the correct option letter(s)
    options: tuple[tuple[str, str], ...] = ()  # choice: (letter, text) pairs known for the question
    number: Number | None = None
    items: tuple[Gold, ...] = ()  # list: one Gold per item
    ordered: bool = False  # list: a bracketed sequence ("[2007, 2008]"), compared in order
    text: str = ""  # normalised text


_GOLD_LETTERS_RE = re.compile(r"[A-J](?:\s*(?:,|;|and|&|\s)\s*[A-J])+|[A-J]{2,10}")
_BRACKETED_LIST_RE = re.compile(r"\[([^\[\](){}\\]{1,400},[^\[\](){}\\]{0,400})\]")
ITEM_COMMA_RE = re.compile(r",(?!\d{3}(?!\d))")  # a comma between items, not a thousands separator
LIST_SPLIT_RE = re.compile(r"\s*(?:;|,(?!\d{3}(?!\d))|\band\b|&)\s*")


def _gold_letters(answer: str, options: dict[str, str], multiple_choice: bool) -> tuple[str, ...]:
    """The correct option letter(s) of a multiple-choice gold: "B", "(B)", "B. dog", "A, C", "AC", or an option's
    exact text; () when the gold is not an option reference."""
    if not (options or multiple_choice):
        return ()
    if options:
        norm = normalize_text(answer)
        by_text = [letter for letter, text in options.items() if text and normalize_text(text) == norm]
        if len(by_text) == 1:
            return (by_text[0],)
    allowed = set(options) or set("ABCDEFGHIJ")
    # "B", "(B)", "B." or "B. dog" / "(B) dog" / "B) dog" / "B: dog"; "A dog" is an answer text, not a letter.
    single = re.fullmatch(r"[\(\[]?([A-J])[\)\]]?[.:]?", answer) or re.match(r"(?:\(([A-J])\)|([A-J])[.:)])\s", answer)
    if single:
        letter = next(group for group in single.groups() if group)
        return (letter,) if letter in allowed else ()
    multi = _GOLD_LETTERS_RE.fullmatch(answer)
    if multi:
        letters = re.findall(r"[A-Z]", answer)
        if set(letters) <= allowed and len(set(letters)) == len(letters):
            return tuple(sorted(letters))
    return ()


@lru_cache(maxsize=8192)
def _parse_gold_cached(raw: str, question_type: str | None, options: tuple[tuple[str, str], ...]) -> Gold:
    answer = raw
    if "</answer>" in answer:  # some release rows wrap the gold in the output tags
        answer = extract_answer(answer) or answer
    answer = strip_wrappers(squeeze(answer))
    option_map = dict(options)
    letters = _gold_letters(answer, option_map, question_type == "multiple-choice")
    if letters:
        return Gold(raw, "choice", answer, letters=letters, options=options)
    yes_no = normalize_text(answer)
    if yes_no in ("yes", "no"):
        return Gold(raw, "yes_no", answer, text=yes_no)
    number = parse_number(answer, ratio=False)
    if number is not None:
        return Gold(raw, "number", answer, number=number)
    bracketed = _BRACKETED_LIST_RE.fullmatch(answer)
    if bracketed:  # "[2007, 2008]", "[0, 2, 0, 2, 1]": a sequence (MathVista's list answers), not an interval
        items = tuple(
            _parse_gold_cached(part, None, ()) for part in ITEM_COMMA_RE.split(bracketed.group(1)) if part.strip()
        )
        if len(items) >= 2:
            return Gold(raw, "list", answer, items=items, ordered=True)
    if looks_like_math(answer):
        return Gold(raw, "math", answer, text=canonical_math(answer))
    parts = [part for part in LIST_SPLIT_RE.split(answer) if part]
    if "," in answer or ";" in answer:
        if len(parts) >= 2 and all(len(part) <= 60 for part in parts):
            items = tuple(_parse_gold_cached(part, None, ()) for part in parts)
            return Gold(raw, "list", answer, items=items)
    return Gold(raw, "text", answer, text=normalize_text(answer))


def parse_gold(gold: str, question_type: str | None = None, options: dict[str, str] | None = None) -> Gold:
    """Parse a gold answer once (cached on its arguments)."""
    if gold is None or not str(gold).strip():
        raise ValueError(f"empty gold answer: {gold!r}")
    return _parse_gold_cached(str(gold)[:MAX_ANSWER_CHARS], question_type, tuple(sorted((options or {}).items())))
