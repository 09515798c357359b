"""Closed answer sets: the options listed in a question, the option an answer picks (VLMEvalKit `can_infer`), the
set a multi-select answer picks, and yes/no."""

from __future__ import annotations

import re
from functools import lru_cache

from reward_funcs.grading.text import MAX_ANSWER_CHARS, MAX_COMPLETION_CHARS, normalize_text

# "A. foo", "(A) foo", "A) foo", "A: foo" at the start of a line or after whitespace.
_OPTION_RE = re.compile(r"(?:^|(?<=\s))[\(\[]?([A-J])(?:[\)\]][.:]?|[.:：])\s*")
_REFUSALS = ("cannot determine", "can't determine", "unable to determine", "not possible to determine", "sorry")
_SPLIT_CHARS = str.maketrans({c: " " for c in ".()[],:;!*#{}<>\"'`"})
# "A dog ..." / "I think ..." at a sentence start are words, "A is correct" is a letter.
_SENTENCE_START_WORD_RE = re.compile(
    r"(?:^|[.!?\n]\s*)([AI])\s+(?=[a-z])"
    r"(?!(?:is|was|seems|would|should|must|matches|fits|correct|option|choice|because|since|or|and|nor|to|vs|then)\b)"
)
HEDGE_RE = re.compile(r"\b(?:or|either|maybe|possibly|perhaps)\b", re.IGNORECASE)


@lru_cache(maxsize=4096)
def _parse_options_cached(text: str) -> tuple[tuple[str, str], ...]:
    matches = list(_OPTION_RE.finditer(text))
    # Options are consecutive letters starting at A; anything else ("A" used as a word, a stray "B.") is not a list.
    run: list[re.Match] = []
    for match in matches:
        expected = chr(ord("A") + len(run))
        if match.group(1) == expected:
            run.append(match)
        elif match.group(1) == "A":
            run = [match]
    if len(run) < 2:
        return ()
    options = []
    for index, match in enumerate(run):
        end = run[index + 1].start() if index + 1 < len(run) else len(text)
        option_text = text[match.end() : end].split("\n")[0].strip().rstrip(";,").strip()
        options.append((match.group(1), option_text))
    return tuple(options)


def parse_options(problem: str | None) -> dict[str, str]:
    """Options listed in a question ("A. foo B. bar", "(A) foo\\n(B) bar", "A: foo"), as {letter: text}; {} if none."""
    if not problem:
        return {}
    return dict(_parse_options_cached(problem[-MAX_COMPLETION_CHARS:]))


def _letter_tokens(text: str, letters: set[str]) -> list[str]:
    """Standalone option letters in text (VLMEvalKit can_infer_option tokenisation), skipping a sentence-initial
    "A"/"I" used as an article or pronoun ("A dog is ...", "I think ...")."""
    stripped = text.strip()
    bare = re.fullmatch(r"[\(\[]?([A-Za-z])[\)\]]?[.:]?", stripped)
    if bare:
        letter = bare.group(1).upper()
        return [letter] if letter in letters else []
    masked = _SENTENCE_START_WORD_RE.sub(lambda m: m.group(0).replace(m.group(1), " "), text)
    return [token for token in masked.translate(_SPLIT_CHARS).split() if token in letters]


def _match_option_text(text: str, options: dict[str, str]) -> str | None:
    """The single option whose text the answer contains (whole words); a contained option that is part of a longer
    contained option ("red" in "dark red") does not count against it."""
    answer = f" {normalize_text(text)} "
    hits = {}
    for letter, option in options.items():
        norm = normalize_text(option) if option else ""
        if norm and f" {norm} " in answer:
            hits[letter] = norm
    for letter, norm in list(hits.items()):
        if any(other != norm and f" {norm} " in f" {other} " for other in hits.values()):
            del hits[letter]
    return next(iter(hits)) if len(hits) == 1 else None


def extract_choice(text: str | None, options: dict[str, str]) -> str | None:
    """The one option an answer picks (VLMEvalKit can_infer): exactly one option letter token, else exactly one
    option text contained. Refusals, hedges and answers naming several options give None."""
    if not text or not options:
        return None
    text = text[:MAX_ANSWER_CHARS]
    if any(refusal in text.lower() for refusal in _REFUSALS):
        return None
    tokens = set(_letter_tokens(text, set(options)))
    if len(tokens) == 1:
        return tokens.pop()
    if tokens:
        return None
    return _match_option_text(text, options)


def extract_choices(text: str | None, letters) -> list[str] | None:
    """The set of options a multi-select answer picks ("A, C", "A and C", "AC"), sorted; None when there is none
    or the answer hedges ("A or C")."""
    if not text:
        return None
    letters = set(letters)
    text = text[:MAX_ANSWER_CHARS].strip()
    if HEDGE_RE.search(text):
        return None
    compact = re.fullmatch(r"[\(\[]?([A-Z]{2,10})[\)\]]?", text)
    if compact and set(compact.group(1)) <= letters and len(set(compact.group(1))) == len(compact.group(1)):
        return sorted(compact.group(1))
    found = set(_letter_tokens(text, letters))
    return sorted(found) or None


def extract_yes_no(text: str | None) -> str | None:
    """MME / HallusionBench rule: "yes" if the words contain yes and not no, "no" for the reverse, else None."""
    if not text:
        return None
    words = set(normalize_text(text[:MAX_ANSWER_CHARS]).split())
    has_yes, has_no = "yes" in words, "no" in words
    if has_yes != has_no:
        return "yes" if has_yes else "no"
    return None
