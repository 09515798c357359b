"""The single place that decides whether an answer is right.

Rewards, the evaluation tasks and the synthesis agreement check all call this module, so a model is trained and
scored by the same rules.

1. Extraction (`extract_answer`): the last `<answer>...</answer>` after the reasoning, else the last `\\boxed{...}`,
   else a trailing "the answer is X". Nothing else is guessed, and text inside `<think>` never counts.
2. The gold answer is parsed once into a `Gold` (its answer kind and normalised forms; `parse_gold` is cached, so a
   GRPO group of rollouts sharing a prompt parses its gold once).
3. Equivalence by answer kind (`grade`): option letters (single and multi-select, option text -> letter), numbers
   (tolerance, thousands separators, percent, units), math expressions (math_verify, in a sandbox process with a hard
   deadline, see `reward_funcs.sandbox`), yes/no, short text (case, punctuation, articles) and lists.
   A prediction that names several different answers ("A or B", "3 or 4") is wrong.

Model outputs are untrusted: nothing is evaluated as code, inputs are truncated before any regex runs, and every
regex here is linear (no nested quantifiers).
"""

from __future__ import annotations

import math
import re
import string
import unicodedata
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

from reward_funcs.latex_numeric import constant_value, numeric_equal
from reward_funcs.sandbox import run_with_timeout

__all__ = [
    "ANSWER_KINDS",
    "Gold",
    "Verdict",
    "extract_answer",
    "extract_choice",
    "extract_choices",
    "extract_yes_no",
    "grade",
    "parse_gold",
    "parse_options",
    "run_with_timeout",
    "verify",
]

ANSWER_KINDS = ("choice", "yes_no", "number", "math", "list", "text")

# Input bounds. Completions are cut to their tail (the answer is at the end); a final answer longer than
# MAX_ANSWER_CHARS cannot be a short answer and is graded wrong without parsing; math goes to sympy only when short
# and shallow, which keeps the sandbox for genuinely hard expressions rather than for bombs.
MAX_COMPLETION_CHARS = 100_000
MAX_ANSWER_CHARS = 4_000
MAX_MATH_CHARS = 400
MAX_MATH_NESTING = 24
MAX_POWER_NESTING = 2
DEFAULT_TIMEOUT_S = 3.0

# ----------------------------------------------------------------------------------------------------------------
# Extraction
# ----------------------------------------------------------------------------------------------------------------

_TRAILING_ANSWER_RE = re.compile(
    r"(?:final\s+answer|answer)\s*(?:is|:|=)\s*:?\s*([^\n]{1,300}?)\s*[.!]?\s*$", re.IGNORECASE
)


def _after_reasoning(text: str) -> str | None:
    """The part of a completion that may hold the final answer: after the last </think>, or all of it when no think
    tag is present. An opened but never closed <think> holds no answer."""
    close = text.rfind("</think>")
    if close >= 0:
        return text[close + len("</think>") :]
    if "<think>" in text:
        return None
    return text


def _last_tag_content(text: str, tag: str) -> str | None:
    """Content of the last <tag> up to its first closing tag; None when the last <tag> is never closed."""
    opening = text.rfind(f"<{tag}>")
    if opening < 0:
        return None
    close = text.find(f"</{tag}>", opening)
    if close < 0:
        return None
    return text[opening + len(tag) + 2 : close]


def _last_boxed(text: str) -> str | None:
    """Content of the last \\boxed{...} (or \\fbox{...}) with balanced braces, scanning at most MAX_ANSWER_CHARS."""
    start = max(text.rfind("\\boxed{"), text.rfind("\\fbox{"))
    if start < 0:
        return None
    i = text.index("{", start) + 1
    depth = 1
    for j in range(i, min(len(text), i + MAX_ANSWER_CHARS)):
        char = text[j]
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return text[i:j]
    return None


def extract_answer(text: str | None) -> str | None:
    """The final answer of a completion: the last <answer>...</answer> after the reasoning, else the last
    \\boxed{...}, else a trailing "the answer is X"; None when there is none."""
    if not text:
        return None
    text = text[-MAX_COMPLETION_CHARS:]
    region = _after_reasoning(text)
    if region is None:
        return None
    if "<answer>" in region:  # an answer tag was written: it is the answer, or there is none (cut off, empty)
        found = _last_tag_content(region, "answer")
        return (found.strip() or None) if found is not None else None
    found = _last_boxed(region)
    if found is not None:
        return found.strip() or None
    tail = region.rstrip()[-400:]
    match = _TRAILING_ANSWER_RE.search(tail)
    if match:
        return match.group(1).strip() or None
    return None


# ----------------------------------------------------------------------------------------------------------------
# Normalisation helpers
# ----------------------------------------------------------------------------------------------------------------

_WRAPPERS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"), ("**", "**"), ("`", "`"), ("{", "}"))
_TEXT_CMD_RE = re.compile(r"\\(?:text|textbf|mathrm|mathbf|operatorname)\{([^{}]{0,200})\}")
_ARTICLES = {"a", "an", "the"}
_PUNCT_TABLE = str.maketrans({c: " " for c in string.punctuation + "“”‘’«»。，、；：？！"})


def _strip_wrappers(answer: str) -> str:
    """Remove presentation around an answer: $..$, \\(..\\), \\boxed{..}, \\text{..}, markdown bold, a final period."""
    answer = unicodedata.normalize("NFKC", answer).strip()
    for _ in range(3):
        before = answer
        boxed = _last_boxed(answer) if answer.startswith(("\\boxed{", "\\fbox{")) and answer.endswith("}") else None
        if boxed is not None:
            answer = boxed.strip()
        for left, right in _WRAPPERS:
            if len(answer) > len(left) + len(right) and answer.startswith(left) and answer.endswith(right):
                inner = answer[len(left) : -len(right)]
                if left != "{" or not ("{" in inner or "}" in inner):  # "{1}{2}" is not wrapped
                    answer = inner.strip()
        answer = _TEXT_CMD_RE.sub(r"\1", answer).strip()
        answer = answer.rstrip(".。").strip()
        if answer == before:
            break
    return answer


def normalize_text(text: str) -> str:
    """Lowercase, NFKC, punctuation to spaces, articles dropped (unless nothing else is left), spaces collapsed."""
    text = unicodedata.normalize("NFKC", text).lower().translate(_PUNCT_TABLE)
    words = text.split()
    content = [word for word in words if word not in _ARTICLES]
    return " ".join(content or words)


# ----------------------------------------------------------------------------------------------------------------
# Option letters
# ----------------------------------------------------------------------------------------------------------------

# "A. foo", "(A) foo", "A) foo", "A: foo" at the start of a line or after whitespace.
_OPTION_RE = re.compile(r"(?:^|(?<=\s))[\(\[]?([A-J])(?:[\)\]][.:]?|[.:：])\s*")
_REFUSALS = ("cannot determine", "can't determine", "unable to determine", "not possible to determine", "sorry")
_SPLIT_CHARS = str.maketrans({c: " " for c in ".()[],:;!*#{}<>\"'`"})
# "A dog ..." / "I think ..." at a sentence start are words, "A is correct" is a letter.
_SENTENCE_START_WORD_RE = re.compile(
    r"(?:^|[.!?\n]\s*)([AI])\s+(?=[a-z])"
    r"(?!(?:is|was|seems|would|should|must|matches|fits|correct|option|choice|because|since|or|and|nor|to|vs|then)\b)"
)
_HEDGE_RE = re.compile(r"\b(?:or|either|maybe|possibly|perhaps)\b", re.IGNORECASE)


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
    if _HEDGE_RE.search(text):
        return None
    compact = re.fullmatch(r"[\(\[]?([A-Z]{2,10})[\)\]]?", text)
    if compact and set(compact.group(1)) <= letters and len(set(compact.group(1))) == len(compact.group(1)):
        return sorted(compact.group(1))
    found = set(_letter_tokens(text, letters))
    return sorted(found) or None


# ----------------------------------------------------------------------------------------------------------------
# Yes / no
# ----------------------------------------------------------------------------------------------------------------


def extract_yes_no(text: str | None) -> str | None:
    """MME / HallusionBench rule: "yes" if the words contain yes and not no, "no" for the reverse, else None."""
    if not text:
        return None
    words = set(normalize_text(text[:MAX_ANSWER_CHARS]).split())
    has_yes, has_no = "yes" in words, "no" in words
    if has_yes != has_no:
        return "yes" if has_yes else "no"
    return None


# ----------------------------------------------------------------------------------------------------------------
# Numbers
# ----------------------------------------------------------------------------------------------------------------

_NUMBER_WORDS = {
    word: index
    for index, word in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
        "seventeen eighteen nineteen twenty".split()
    )
}
_NUM = r"[-+−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d{1,3})?|[-+−]?\.\d+"
_FRACTION_RE = re.compile(r"([-+−]?)\\[dt]?frac\{(\d{1,12})\}\{(\d{1,12})\}|([-+−]?\d{1,12})\s*/\s*(\d{1,12})")
_CLEAN_NUMBER_RE = re.compile(
    r"(?:approximately|approx\.?|about|around|roughly|~|≈)?\s*"
    r"(?P<currency>[$€£¥])?\s*(?P<num>" + _NUM + r")\s*"
    r"(?P<percent>%|\\%|percent|per\s+cent)?\s*"
    r"(?P<unit>\^?\{?\\circ\}?|°|[A-Za-zµ]{1,15}(?:\^?\{?[23]\}?|²|³)?(?:/[A-Za-z]{1,5})?)?",
    re.IGNORECASE,
)
_SENTENCE_RE = re.compile(r"[\w\s.,!?'%$°-]{1,300}")  # plain words around a number, no code or markup
_NUMBER_TOKEN_RE = re.compile(r"(?<![\w.])(?:" + _NUM + r")(?![\w])")
_NOT_UNITS = {"or", "and", "to", "not", "plus", "minus", "times", "x", "of", "e", "i"}
_UNIT_ALIASES = {
    "°": "degree",
    "\\circ": "degree",
    "^\\circ": "degree",
    "^{\\circ}": "degree",
    "{\\circ}": "degree",
    "deg": "degree",
    "cm": "centimeter",
    "mm": "millimeter",
    "km": "kilometer",
    "m": "meter",
    "kg": "kilogram",
    "g": "gram",
    "s": "second",
    "sec": "second",
    "h": "hour",
    "hr": "hour",
    "min": "minute",
    "l": "liter",
    "ml": "milliliter",
    "usd": "dollar",
    "$": "dollar",
}


@dataclass(frozen=True)
class Number:
    value: float
    percent: bool = False
    unit: str = ""
    decimals: int = 0


def _unit_key(unit: str) -> str:
    unit = unit.strip().lower().replace("metre", "meter").replace("litre", "liter")
    unit = _UNIT_ALIASES.get(unit, unit)
    if len(unit) > 3 and unit.endswith("s") and not unit.endswith("ss"):
        unit = unit[:-1]
    return unit


def _to_float(token: str) -> float:
    return float(token.replace(",", "").replace("−", "-"))


def parse_number(text: str) -> Number | None:
    """A whole answer that is one number: "1,234.5", "25%", "$3", "12 cm", "3/4", "\\frac{1}{2}", "seven"."""
    text = _strip_wrappers(text)
    if len(text) > 80:
        return None
    lowered = text.lower()
    if lowered in _NUMBER_WORDS:
        return Number(float(_NUMBER_WORDS[lowered]))
    fraction = _FRACTION_RE.fullmatch(text)
    if fraction:
        sign, numerator, denominator = (fraction.group(1), fraction.group(2), fraction.group(3))
        if numerator is None:
            sign, numerator, denominator = "", fraction.group(4), fraction.group(5)
        if int(denominator) == 0:
            return None
        value = Fraction(int(numerator.replace("−", "-")), int(denominator))
        return Number(float(-value if sign in ("-", "−") else value), decimals=6)
    match = _CLEAN_NUMBER_RE.fullmatch(text)
    if not match:
        return None
    number = match.group("num")
    if "e" in number.lower() and abs(int(number.lower().split("e")[1])) > 300:
        return None
    decimals = len(number.split(".")[1].split("e")[0].split("E")[0]) if "." in number else 0
    unit = match.group("unit") or match.group("currency") or ""
    if unit.lower() in _NOT_UNITS:  # "3 or", "5 x": a hedge or an expression, not a quantity
        return None
    return Number(_to_float(number), bool(match.group("percent")), _unit_key(unit) if unit else "", decimals)


def _close(pred: float, gold: float, pred_decimals: int, gold_decimals: int) -> bool:
    if math.isclose(pred, gold, rel_tol=1e-6, abs_tol=1e-9):
        return True
    # A more precise prediction that rounds to the gold's stated precision ("3.1416" for "3.14").
    if 0 < gold_decimals < pred_decimals:
        return abs(pred - gold) <= 0.5 * 10**-gold_decimals + 1e-12
    return False


def numbers_match(pred: Number, gold: Number) -> bool:
    """Equal within tolerance; a percent on one side may be read as either 25 or 0.25; differing units are wrong."""
    if pred.unit and gold.unit and pred.unit != gold.unit:
        return False
    candidates = [(pred.value, gold.value)]
    if pred.percent != gold.percent:
        if gold.percent:
            candidates.append((pred.value, gold.value / 100))
        else:
            candidates.append((pred.value / 100, gold.value))
    return any(_close(p, g, pred.decimals, gold.decimals) for p, g in candidates)


def _numbers_in(text: str) -> set[float]:
    values = {_to_float(token) for token in _NUMBER_TOKEN_RE.findall(text[:MAX_ANSWER_CHARS])}
    return values | {float(_NUMBER_WORDS[word]) for word in normalize_text(text).split() if word in _NUMBER_WORDS}


# ----------------------------------------------------------------------------------------------------------------
# Math expressions
# ----------------------------------------------------------------------------------------------------------------

# LaTeX, relations, roots, digit-operator-term ("2x+1", "3*4"), single-letter algebra ("a+b"); not "x-ray".
_MATH_HINT_RE = re.compile(
    r"[\\^_=<>√π∞≤≥±]|sqrt|\bpi\b|\d[a-z]\b|\d\s*[-+*/]\s*[\w(]|[\w)]\s*[-+*/]\s*\d|\b[a-z]\s*[-+*/]\s*[a-z(]\b"
)
# A power of a number whose exponent is itself a power of a number ("10^{10^{10}}"): sympy would try to evaluate it.
_NUMERIC_TOWER_RE = re.compile(r"\d\s*\^\s*\{?\s*\d+\s*\^")
_NUMBER_TUPLE_RE = re.compile(r"([\(\[])([-+−\d.,\s]{1,200})([\)\]])")
_SPACE_CMDS_RE = re.compile(r"\\[,;:! ]|\\left|\\right|\\displaystyle|\s+")


def _looks_like_math(text: str) -> bool:
    return bool(_MATH_HINT_RE.search(text)) or (
        text[:1] in "([" and text[-1:] in ")]" and "," in text  # tuples and intervals
    )


def _canonical_math(text: str) -> str:
    text = _SPACE_CMDS_RE.sub("", text).replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    return text.replace("{,}", "").replace("^{\\circ}", "^\\circ")


def _math_guard(text: str) -> bool:
    """Cheap linear checks that keep LaTeX bombs away from sympy: length, bracket depth, nested powers, !!."""
    if len(text) > MAX_MATH_CHARS or "!!" in text:
        return False
    depth = max_depth = 0
    power_depths: list[int] = []  # bracket depth at which each open exponent group started
    max_power = 0
    previous = ""
    for char in text:
        if char in "{([":
            depth += 1
            max_depth = max(max_depth, depth)
            if previous == "^":
                power_depths.append(depth)
                max_power = max(max_power, len(power_depths))
        elif char in "})]":
            if power_depths and power_depths[-1] == depth:
                power_depths.pop()
            depth -= 1
        elif char == "^" and power_depths:
            max_power = max(max_power, len(power_depths) + 1)
        previous = char if not char.isspace() else previous
    return (
        max_depth <= MAX_MATH_NESTING
        and max_power <= MAX_POWER_NESTING
        and "**" not in text
        and not _NUMERIC_TOWER_RE.search(text)
    )


@lru_cache(maxsize=1024)
def _math_verify_parse(expression: str):
    """Runs in the sandbox worker (its main thread), where math_verify's own signal timeouts work. LaTeX extraction
    only: math_verify's plain-expression path goes through sympy's eval-based `parse_expr`."""
    from math_verify import LatexExtractionConfig, parse

    return parse(f"\\boxed{{{expression}}}", extraction_config=[LatexExtractionConfig()], parsing_timeout=2)


def math_equal(gold: str, pred: str) -> bool:
    """math_verify equivalence of two bare expressions; a number gold also accepts a constant expression that
    evaluates to it at the gold's precision ("\\sqrt{2}" for "1.4142"). Call it through `run_with_timeout`, never
    directly on untrusted input in a process you care about."""
    from math_verify import verify
    from sympy import Expr

    gold_parsed = _math_verify_parse(gold)  # cached per worker: a group of rollouts parses its gold once
    pred_parsed = _math_verify_parse(pred)
    if not gold_parsed or not pred_parsed:
        return False
    if verify(gold_parsed, pred_parsed, timeout_seconds=2):
        return True
    gold_number, value = parse_number(gold), pred_parsed[0]
    if gold_number is None or not isinstance(value, Expr) or value.free_symbols:
        return False
    numeric = complex(value.evalf(20))
    return numeric.imag == 0 and numbers_match(Number(numeric.real, decimals=15), gold_number)


# ----------------------------------------------------------------------------------------------------------------
# Gold parsing
# ----------------------------------------------------------------------------------------------------------------


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
    text: str = ""  # normalised text


_GOLD_LETTERS_RE = re.compile(r"[A-J](?:\s*(?:,|;|and|&|\s)\s*[A-J])+|[A-J]{2,10}")
_WHITESPACE_RUN_RE = re.compile(r"\s{2,}")
_LIST_SPLIT_RE = re.compile(r"\s*(?:;|,(?!\d{3}(?!\d))|\band\b|&)\s*")


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
    answer = _strip_wrappers(_squeeze(answer))
    option_map = dict(options)
    letters = _gold_letters(answer, option_map, question_type == "multiple-choice")
    if letters:
        return Gold(raw, "choice", answer, letters=letters, options=options)
    yes_no = normalize_text(answer)
    if yes_no in ("yes", "no"):
        return Gold(raw, "yes_no", answer, text=yes_no)
    number = parse_number(answer)
    if number is not None:
        return Gold(raw, "number", answer, number=number)
    if _looks_like_math(answer):
        return Gold(raw, "math", answer, text=_canonical_math(answer))
    parts = [part for part in _LIST_SPLIT_RE.split(answer) if part]
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


# ----------------------------------------------------------------------------------------------------------------
# Grading
# ----------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    correct: bool
    extracted: str | None
    kind: str


def _grade_choice(pred: str, gold: Gold) -> bool:
    pred = _strip_wrappers(pred)
    options = dict(gold.options) or {letter: "" for letter in "ABCDEFGHIJ"}
    if len(gold.letters) == 1:
        return extract_choice(pred, options) == gold.letters[0]
    return extract_choices(pred, options) == list(gold.letters)


def _grade_number(pred: str, gold: Gold, timeout: float) -> bool:
    number = parse_number(pred)
    if number is not None:
        return numbers_match(number, gold.number)
    stripped = _strip_wrappers(pred)
    if _looks_like_math(stripped):
        return _grade_math(stripped, gold, timeout)
    if not _SENTENCE_RE.fullmatch(stripped):
        return False
    values = _numbers_in(stripped)
    # One number in a short sentence ("about 5 apples"); several different numbers is a hedge or a list.
    return len(values) == 1 and numbers_match(Number(values.pop()), gold.number)


def _number_tuple(text: str) -> tuple[str, list[Number], str] | None:
    """A point or interval of plain numbers, "(1, -4)" / "[0, 2.5)", as (opening, numbers, closing)."""
    match = _NUMBER_TUPLE_RE.fullmatch(text.replace("\\left", "").replace("\\right", "").strip())
    if not match:
        return None
    numbers = [parse_number(part) for part in match.group(2).split(",")]
    if len(numbers) < 2 or any(number is None or number.unit for number in numbers):
        return None
    return match.group(1), numbers, match.group(3)


def _grade_math(pred: str, gold: Gold, timeout: float) -> bool:
    pred = _strip_wrappers(pred)
    if _canonical_math(pred) == _canonical_math(gold.answer):
        return True
    gold_tuple, pred_tuple = _number_tuple(gold.answer), _number_tuple(pred)
    if gold_tuple and pred_tuple:  # points and intervals of numbers need no sympy (math_verify takes ~0.1 s on them)
        (gold_open, gold_numbers, gold_close), (pred_open, pred_numbers, pred_close) = gold_tuple, pred_tuple
        return (
            (gold_open, gold_close) == (pred_open, pred_close)
            and len(gold_numbers) == len(pred_numbers)
            and all(numbers_match(p, g) for p, g in zip(pred_numbers, gold_numbers))
        )
    if len(_HEDGE_RE.findall(pred)) > len(_HEDGE_RE.findall(gold.answer)):
        return False
    if not _math_guard(pred) or not _math_guard(gold.answer):
        return False
    # Most short answers are decided in floating point in microseconds; the rest go to math_verify in the sandbox.
    if gold.kind == "number":
        value = constant_value(pred)
        if value is not None:
            return numbers_match(Number(value, decimals=15), gold.number)
    else:
        verdict = numeric_equal(gold.answer, pred)
        if verdict is not None:
            return verdict
    return run_with_timeout(math_equal, gold.answer, pred, timeout=timeout, default=False)


def _grade_text(pred: str, gold: Gold) -> bool:
    return normalize_text(_strip_wrappers(pred)) == gold.text


def _grade_list(pred: str, gold: Gold, timeout: float) -> bool:
    parts = [part for part in _LIST_SPLIT_RE.split(_strip_wrappers(pred).strip("[]() ")) if part]
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
        return extract_yes_no(_strip_wrappers(pred)) == gold.text
    if gold.kind == "number":
        return _grade_number(pred, gold, timeout)
    if gold.kind == "math":
        return _grade_math(pred, gold, timeout)
    if gold.kind == "list":
        return _grade_list(pred, gold, timeout)
    return _grade_text(pred, gold)


def grade(
    prediction: str | None,
    gold: str | Gold,
    *,
    question_type: str | None = None,
    options: dict[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> bool:
    """Whether an already-extracted prediction matches the gold answer (see the module docstring for the rules)."""
    if prediction is None or not prediction.strip() or len(prediction) > MAX_ANSWER_CHARS:
        return False
    parsed = gold if isinstance(gold, Gold) else parse_gold(gold, question_type, options)
    return _grade_cached(_squeeze(prediction), parsed, timeout)


def _squeeze(text: str) -> str:
    """NFKC, and every whitespace run cut to one character (a newline if it had one): with no long whitespace runs
    left, the `\\s*` in the patterns below cannot backtrack quadratically."""
    text = unicodedata.normalize("NFKC", text)
    return _WHITESPACE_RUN_RE.sub(lambda run: "\n" if "\n" in run.group() else " ", text)


@lru_cache(maxsize=8192)
def _grade_cached(prediction: str, gold: Gold, timeout: float) -> bool:
    # GRPO rollouts of one prompt often give the same answer: each distinct answer is graded once.
    return _grade_parsed(prediction, gold, timeout)


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
