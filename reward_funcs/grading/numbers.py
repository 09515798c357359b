"""Numeric answers: one number with its percent sign, unit and stated precision ("1,234.5", "25%", "12 cm", "3/4",
"\\frac{1}{2}", "seven"), and equality within tolerance."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction

from reward_funcs.grading.text import MAX_ANSWER_CHARS, normalize_text, strip_wrappers

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
# "2.718 (approximately)", "3.14 (rounded to two decimal places)", "5 approx.": a qualifier after the number.
_QUALIFIER_RE = re.compile(
    r"\s*(?:\(\s*(?:approximately|approx\.?|about|roughly|estimated|rounded[^()]{0,40}|to\s+\d+\s+(?:decimal\s+places?"
    r"|d\.?p\.?|significant\s+figures?))\s*\)|approximately|approx\.?|roughly)$",
    re.IGNORECASE,
)
_RATIO_RE = re.compile(r"(\d{1,12}(?:\.\d{1,12})?)\s*:\s*(\d{1,12}(?:\.\d{1,12})?)")
MATH_VERIFY_ROUNDING = 6  # math_verify's float_rounding: two numbers equal at 6 decimals are equal
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


def parse_number(text: str, *, ratio: bool = True) -> Number | None:
    """A whole answer that is one number: "1,234.5", "25%", "$3", "12 cm", "3/4", "\\frac{1}{2}", "seven",
    "2.718 (approximately)", and with `ratio` a ratio "1:2" (its value 0.5; golds are parsed without it, so a gold
    "4:45" stays a clock time)."""
    text = strip_wrappers(text)
    if len(text) > 80:
        return None
    text = _QUALIFIER_RE.sub("", text) or text
    if ratio:
        pair = _RATIO_RE.fullmatch(text)
        if pair:
            denominator = float(pair.group(2))
            return Number(float(pair.group(1)) / denominator, decimals=6) if denominator else None
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
    # math_verify's rule: equal once both are rounded to 6 decimals ("0.260870" or "0.26087" for 6/23).
    if round(pred, MATH_VERIFY_ROUNDING) == round(gold, MATH_VERIFY_ROUNDING):
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


def numbers_in(text: str) -> set[float]:
    """The distinct values of the numbers (digits or number words) in a text."""
    values = {_to_float(token) for token in _NUMBER_TOKEN_RE.findall(text[:MAX_ANSWER_CHARS])}
    return values | {float(_NUMBER_WORDS[word]) for word in normalize_text(text).split() if word in _NUMBER_WORDS}


def number_in_sentence(text: str) -> float | None:
    """The one number of a short plain sentence ("about 5 apples"); None when there are several different numbers
    (a hedge or a list) or the text is not plain words."""
    if not _SENTENCE_RE.fullmatch(text):
        return None
    values = numbers_in(text)
    return values.pop() if len(values) == 1 else None
