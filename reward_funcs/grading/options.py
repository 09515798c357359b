"""Closed answer sets: the options listed in a question, the option an answer picks, the set a multi-select answer
picks, and yes/no.

Reading a choice follows VLMEvalKit's `can_infer` (vlmeval/utils/matching_util.py): an option letter is accepted as
the whole answer or when it is the only letter named and stands among the last four tokens; otherwise exactly one
option text contained in a short answer decides. On top of it, so that prose answers are read as a judge would:
the phrase after the last answer marker ("The answer is (B) A catastrophic flood", `答案是B`) is read first, a
leading option label decides ("B. large dog", "(C) Neither set A nor set B"), a letter that contradicts its own
text ("A: No" when A is "Yes") or hedges ("A or B") is no answer, and long prose is judged on its last sentence.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from reward_funcs.grading.extraction import answer_phrase, answer_phrase_at, final_statement
from reward_funcs.grading.text import MAX_ANSWER_CHARS, MAX_COMPLETION_CHARS, normalize_text, squeeze, strip_wrappers

# "A. foo", "(A) foo", "A) foo", "A: foo" at the start of a line, after whitespace, or glued to the previous option
# by ";" / "." / "," ("A. 300;B. 400" in WeMath, "Select from A-E.(A) Painting I" in LogicVista).
_OPTION_RE = re.compile(r"(?:^|(?<=[\s;,.]))[\(\[]?([A-J])(?:[\)\]][.:]?|[.:])(?![ \t]*[;,.])\s*")
_REFUSALS = ("cannot determine", "can't determine", "unable to determine", "not possible to determine", "sorry")
_SPLIT_CHARS = str.maketrans({c: " " for c in '.()[],:;!*#{}<>"`'})  # VLMEvalKit's, plus quotes and markup
# "A dog ..." / "I think ..." at a sentence start are words, "A is correct" is a letter.
_SENTENCE_START_WORD_RE = re.compile(
    r"(?:^|[.!?\n]\s*)([AI])\s+(?=[a-z])"
    r"(?!(?:is|was|seems|would|should|must|matches|fits|correct|option|choice|because|since|or|and|nor|to|vs|then)\b)"
)
_BARE_LETTER_RE = re.compile(r"[\(\[]?([A-Za-z])[\)\]]?[.:]?")
# A leading option label and what follows it: "(B) text", "B. text", "B: text", "Option B", "B is correct", "B".
_LEADING_LABEL_RE = re.compile(
    r"(?:(?:the\s+)?(?:option|choice|answer)\s*:?\s*)?"
    r"(?:\(([A-J])\)|\[([A-J])\]|([A-J])(?:[.:)](?=\s|$)|(?=\s*$)|(?=\s*[,;/&])|(?=\s+(?:is|was|would|should|seems|"
    r"must|fits|matches|or|and)\b)))\s*(?P<rest>.*)",
    re.IGNORECASE | re.DOTALL,
)
_ANOTHER_LABEL_RE = re.compile(r"(?:[,;/&]|\band\b|\bor\b)\s*(?:option\s+)?\(?[A-J]\b")
_NEGATED_RE = re.compile(r"(?:is|was|would\s+be|seems)\s+(?:not\b|n't|incorrect|wrong|false)|isn't|is\s+ruled", re.I)
_LABEL_INSIDE_RE = re.compile(r"(?:^|\s)(?:\(([A-J])\)|([A-J])[.:)])(?=\s|$)")
# Alternatives offered as the answer: "A or B", "A/B", "either A or C", "maybe D", "3 or 4".
_LETTER_HEDGE_RE = re.compile(
    r"\b[A-J]\)?\s*,?\s*(?:\bor\b|/)\s*(?:option\s+)?\(?[A-J]\b|\b(?:maybe|possibly|perhaps|either)\s+(?:option\s+)?\(?[A-J]\b"
)
HEDGE_RE = re.compile(r"\b(?:or|either|maybe|possibly|perhaps)\b", re.IGNORECASE)
_SENTENCES_RE = re.compile(r"(?<=[.!?。！？])\s+|\n+")
NEAR_END_TOKENS = 4  # VLMEvalKit: a lone letter counts when it is among the last 4 tokens (index > len - 5)


def _option_run(text: str) -> list[re.Match]:
    """The label matches of the last option listing of a text: consecutive letters from A (a stray "B." or an "A"
    used as a word is not a listing); [] when there is none of two or more."""
    run: list[re.Match] = []
    last_listing: list[re.Match] = []  # the last run of two or more (a truncated echo "(A) 150°\n(" ends none)
    for match in _OPTION_RE.finditer(text):
        expected = chr(ord("A") + len(run))
        if match.group(1) == expected:
            run.append(match)
        elif match.group(1) == "A":
            run = [match]
        if len(run) >= 2:
            last_listing = run
    return last_listing


@lru_cache(maxsize=4096)
def _parse_options_cached(text: str) -> tuple[tuple[str, str], ...]:
    run = _option_run(text)
    options = []
    for index, match in enumerate(run):
        end = run[index + 1].start() if index + 1 < len(run) else len(text)
        option_text = text[match.end() : end].split("\n")[0].strip().rstrip(" \t;,")
        options.append((match.group(1), option_text))
    return tuple(options)


def parse_options(problem: str | None) -> dict[str, str]:
    """Options listed in a question, as {letter: text}; {} if none. Accepts "A. foo B. bar", "(A) foo\\n(B) bar",
    "A: foo", options glued by ";" ("A. 300;B. 400; E. No correct answer") and full-width marks ("B．②")."""
    if not problem:
        return {}
    return dict(_parse_options_cached(unicodedata.normalize("NFKC", problem[-MAX_COMPLETION_CHARS:])))


def letter_tokens(text: str, letters) -> list[str]:
    """The standalone option letters of a text in order (VLMEvalKit's tokenisation: `.()[],:;!*#{}` and spaces
    split), skipping a sentence-initial "A"/"I" used as an article or pronoun ("A dog is ...", "I think ...")."""
    letters = set(letters)
    bare = _BARE_LETTER_RE.fullmatch(text.strip())
    if bare:
        letter = bare.group(1).upper()
        return [letter] if letter in letters else []
    masked = _SENTENCE_START_WORD_RE.sub(lambda m: m.group(0).replace(m.group(1), " "), text)
    return [token for token in masked.translate(_SPLIT_CHARS).split() if token in letters]


def is_letter_hedge(text: str) -> bool:
    """Whether an answer offers option letters as alternatives ("A or B", "A/B", "either A or C", "maybe D"); an
    "or" inside an explanation ("(B), since it is red or blue") is not a hedge."""
    return bool(_LETTER_HEDGE_RE.search(text))


def last_sentence(text: str) -> str:
    """The last non-empty sentence or line of a text."""
    parts = [part for part in _SENTENCES_RE.split(text.strip()) if part.strip()]
    return parts[-1].strip() if parts else ""


def match_option_text(text: str, options: dict[str, str]) -> str | None:
    """The single option whose text the answer contains (whole words); a contained option that is part of a longer
    contained option ("red" in "dark red") does not count against it."""
    answer = f" {normalize_text(text)} "
    hits = {}
    for letter, option in options.items():
        norm = normalize_text(option) if option else ""
        if len(norm) > 1 and f" {norm} " in answer:  # a one-letter option text ("D") is read as a letter
            hits[letter] = norm
    for letter, norm in list(hits.items()):
        if any(other != norm and f" {norm} " in f" {other} " for other in hits.values()):
            del hits[letter]
    if len(hits) == 1:
        return next(iter(hits))
    if hits:
        return None
    # The value of an option without its unit ("\\frac{15}{7}" for "\\frac{15}{7}cm", "40" for "40°"): exactly one.
    bare = normalize_text(text)
    values = [letter for letter, option in options.items() if option and _without_unit(option) == bare]
    return values[0] if len(values) == 1 and bare else None


_UNIT_TAIL_RE = re.compile(r"\s*(?:[a-zµ°]{1,6}|[\u4e00-\u9fff]{1,3})$")


def _without_unit(option: str) -> str:
    norm = normalize_text(option)
    stripped = _UNIT_TAIL_RE.sub("", norm)
    return stripped if stripped and any(char.isdigit() for char in stripped) else norm


def _contradicts(letter: str, rest: str, options: dict[str, str]) -> bool:
    """Whether the text after a label names another option's text and not the label's own ("A: No", A = "Yes")."""
    stated = normalize_text(re.split(r"[;,\n]|\.(?=\s|$)|\s(?:because|since)\b", rest, maxsplit=1)[0])
    if not stated:
        return False
    own = normalize_text(options.get(letter) or "")
    if own and (stated == own or f" {own} " in f" {stated} "):
        return False
    return any(other != letter and text and normalize_text(text) == stated for other, text in options.items())


_UNREAD = object()  # nothing decided: the next rule may read the answer


def _choice_in(answer: str, options: dict[str, str]):
    """The letter an answer picks, None when it names something else or hedges, _UNREAD when nothing is decided."""
    letters = set(options)
    bare = _BARE_LETTER_RE.fullmatch(answer)
    if bare:
        return bare.group(1).upper() if bare.group(1).upper() in letters else None
    label = _LEADING_LABEL_RE.fullmatch(answer)
    if label:
        letter = next(group for group in label.groups()[:3] if group).upper()
        rest = label.group("rest")
        if _NEGATED_RE.match(rest):
            return None  # "A is not the correct option"
        listed = {group for match in _LABEL_INSIDE_RE.finditer(rest) for group in match.groups() if group}
        if letter not in letters or _ANOTHER_LABEL_RE.match(rest) or listed - {letter}:
            return None  # not an option, several options, or the options listed again
        if _contradicts(letter, rest, options):
            return None
        return letter
    if is_letter_hedge(answer):
        return None
    return _UNREAD


def _near_end_letter(text: str, options: dict[str, str]) -> str | None:
    """VLMEvalKit's can_infer_option: exactly one distinct option letter among the tokens, and it is among the last
    NEAR_END_TOKENS tokens (its first occurrence, as VLMEvalKit checks)."""
    masked = _SENTENCE_START_WORD_RE.sub(lambda m: m.group(0).replace(m.group(1), " "), text)
    tokens = masked.translate(_SPLIT_CHARS).split()
    named = [token for token in tokens if token in options]
    if len(set(named)) != 1:
        return None
    return named[0] if tokens.index(named[0]) > len(tokens) - 1 - NEAR_END_TOKENS else None


def _text_choice(text: str, options: dict[str, str]) -> str | None:
    """Option text contained in the answer; a long answer (VLMEvalKit: over twice the options' total length) is
    judged on its last sentence."""
    if len(text) > 2 * sum(len(str(option)) for option in options.values()):
        text = last_sentence(text)
    return match_option_text(text, options)


def _choice_in_phrase(phrase: str, options: dict[str, str]) -> str | None:
    phrase = strip_wrappers(phrase)
    choice = _choice_in(phrase, options)
    if choice is not _UNREAD:
        return choice
    return _near_end_letter(phrase, options) or match_option_text(phrase, options)


def extract_choice(text: str | None, options: dict[str, str]) -> str | None:
    """The one option an answer or a whole prose output picks; None for refusals, hedges, self-contradictions and
    answers that name no option or several. See the module docstring for the rules."""
    if not text or not options:
        return None
    text = strip_wrappers(squeeze(text)[-MAX_ANSWER_CHARS:])
    lowered = text.lower()
    option_words = " ".join(str(option).lower() for option in options.values())
    if any(refusal in lowered and refusal not in option_words for refusal in _REFUSALS):
        return None
    listing = _option_run(text)
    if listing:  # the options are listed (an echo of the question, or each discussed): only a marked answer counts,
        phrase = answer_phrase(text[listing[-1].end() :]) or answer_phrase(
            text[: listing[0].start()]
        )  # after or before
        return None if phrase is None else _choice_in_phrase(phrase, options)
    phrase, phrase_end = answer_phrase_at(text)
    statement = final_statement(text[phrase_end:] if phrase is not None else text)  # a conclusion after the marker
    concluded = _choice_in_phrase(statement, options) if statement is not None else None
    if phrase is not None:
        marked = _choice_in_phrase(phrase, options)
        if marked is not None and concluded is not None and marked != concluded:
            return None  # "The answer is (D). ... Therefore, the angle is 64°" with 64° option C: self-contradicting
        if marked is not None or _choice_in(strip_wrappers(phrase), options) is None:
            return marked
    choice = _choice_in(text, options)
    if choice is not _UNREAD:
        return choice
    choice = _near_end_letter(text, options) or _near_end_letter(last_sentence(text), options) or concluded
    if choice is not None:
        return choice
    return _text_choice(text, options)


_LIST_INTRO_RE = re.compile(r"(?:the\s+)?(?:options?|choices?|answers?)\s*:?\s*", re.IGNORECASE)
_LIST_LABEL_RE = re.compile(r"\(([A-J])\)|\[([A-J])\]|([A-J])(?=[\s,;&.):]|$)")
_LIST_SEPARATOR_RE = re.compile(r"\s*(?:,|;|&|\band\b)?\s*")
_ARTICLE_FOLLOWS_RE = re.compile(r"\s+(?!(?:and|are|is|both|were)\b)[a-z]")


def leading_labels(answer: str) -> list[str]:
    """The option labels an answer starts with, in order: "A, C" / "A and C" / "(A)(C)" / "Options B and D" /
    "(C) Neither set A nor set B" -> C. [] when it does not start with a label ("A dog ...", "I think ...")."""
    position = _LIST_INTRO_RE.match(answer)
    index = position.end() if position else 0
    labels: list[str] = []
    while True:
        match = _LIST_LABEL_RE.match(answer, index)
        if not match:
            break
        bare = match.group(3) is not None
        if (
            bare
            and _ARTICLE_FOLLOWS_RE.match(answer, match.end())
            and not answer[match.end() :].startswith((".", ":", ")"))
        ):
            break  # "A dog", "I think": a word, not a label
        labels.append(next(group for group in match.groups() if group))
        index = match.end()
        if index < len(answer) and answer[index] in ".:)":
            index += 1
        index = _LIST_SEPARATOR_RE.match(answer, index).end()
    return labels


def extract_choices(text: str | None, letters) -> list[str] | None:
    """The set of options a multi-select answer picks ("A, C", "A and C", "AC", "(C) Neither set A nor set B" -> C),
    sorted; None when there is none or the answer hedges between letters ("A or C", "A, C, maybe D")."""
    if not text:
        return None
    letters = set(letters)
    text = strip_wrappers(squeeze(text)[-MAX_ANSWER_CHARS:])
    answer = strip_wrappers(answer_phrase(text) or text)
    if is_letter_hedge(answer):
        return None
    compact = re.fullmatch(r"[\(\[]?([A-Z]{2,10})[\)\]]?", answer)
    if compact and set(compact.group(1)) <= letters and len(set(compact.group(1))) == len(compact.group(1)):
        return sorted(compact.group(1))
    leading = leading_labels(answer)
    if leading and set(leading) <= letters and len(set(leading)) == len(leading):
        return sorted(leading)
    if len(answer.split()) > 12:  # long prose: the letters of its last sentence
        answer = last_sentence(answer)
    found = set(letter_tokens(answer, letters))
    return sorted(found) or None


_YES_NO_LEAD_RE = re.compile(r"(yes|no)\b\s*(?:[,.!;:]|$)", re.IGNORECASE)


def extract_yes_no(text: str | None) -> str | None:
    """MME / HallusionBench rule: "yes" if the words contain yes and not no, "no" for the reverse. When both occur,
    the phrase after an answer marker or a leading "Yes," / "No." decides; else None."""
    if not text:
        return None
    text = text[-MAX_ANSWER_CHARS:]
    for candidate in (answer_phrase(text), text):
        if candidate is None:
            continue
        words = set(normalize_text(candidate).split())
        has_yes, has_no = "yes" in words, "no" in words
        if has_yes != has_no:
            return "yes" if has_yes else "no"
    lead = _YES_NO_LEAD_RE.match(strip_wrappers(text))
    return lead.group(1).lower() if lead else None
