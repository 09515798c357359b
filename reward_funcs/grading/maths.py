"""Math expressions: cheap guards that keep LaTeX bombs from sympy, a canonical string test, points and intervals of
plain numbers, the float identity test of `latex_numeric`, and math_verify in the sandbox with a hard deadline."""

from __future__ import annotations

import re
from functools import lru_cache

from reward_funcs.grading.numbers import Number, numbers_match, parse_number
from reward_funcs.grading.options import HEDGE_RE
from reward_funcs.grading.text import MAX_MATH_CHARS, MAX_MATH_NESTING, MAX_POWER_NESTING, strip_wrappers
from reward_funcs.latex_numeric import constant_value, numeric_equal
from reward_funcs.sandbox import run_with_timeout

# LaTeX, relations, roots, digit-operator-term ("2x+1", "3*4"), single-letter algebra ("a+b"); not "x-ray".
_MATH_HINT_RE = re.compile(
    r"[\\^_=<>√π∞≤≥±]|sqrt|\bpi\b|\d[a-z]\b|\d\s*[-+*/]\s*[\w(]|[\w)]\s*[-+*/]\s*\d|\b[a-z]\s*[-+*/]\s*[a-z(]\b"
)
# A power of a number whose exponent is itself a power of a number ("10^{10^{10}}"): sympy would try to evaluate it.
_NUMERIC_TOWER_RE = re.compile(r"\d\s*\^\s*\{?\s*\d+\s*\^")
_NUMBER_TUPLE_RE = re.compile(r"([\(\[])([-+−\d.,\s]{1,200})([\)\]])")
_SPACE_CMDS_RE = re.compile(r"\\[,;:! ]|\\left|\\right|\\displaystyle|\s+")


def looks_like_math(text: str) -> bool:
    return bool(_MATH_HINT_RE.search(text)) or (
        text[:1] in "([" and text[-1:] in ")]" and "," in text  # tuples and intervals
    )


def canonical_math(text: str) -> str:
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
    gold_number, value = parse_number(gold, ratio=False), pred_parsed[0]
    if gold_number is None or not isinstance(value, Expr) or value.free_symbols:
        return False
    numeric = complex(value.evalf(20))
    return numeric.imag == 0 and numbers_match(Number(numeric.real, decimals=15), gold_number)


def _number_tuple(text: str) -> tuple[str, list[Number], str] | None:
    """A point or interval of plain numbers, "(1, -4)" / "[0, 2.5)", as (opening, numbers, closing)."""
    match = _NUMBER_TUPLE_RE.fullmatch(text.replace("\\left", "").replace("\\right", "").strip())
    if not match:
        return None
    numbers = [parse_number(part) for part in match.group(2).split(",")]
    if len(numbers) < 2 or any(number is None or number.unit for number in numbers):
        return None
    return match.group(1), numbers, match.group(3)


def math_matches(pred: str, gold: str, gold_number: Number | None, timeout: float) -> bool:
    """Whether an expression equals the gold expression `gold` (`gold_number`: the gold's value when it is a
    number): canonical strings, then tuples of numbers, then floats, then math_verify in the sandbox."""
    pred = strip_wrappers(pred)
    if canonical_math(pred) == canonical_math(gold):
        return True
    gold_tuple, pred_tuple = _number_tuple(gold), _number_tuple(pred)
    if gold_tuple and pred_tuple:  # points and intervals of numbers need no sympy (math_verify takes ~0.1 s on them)
        (gold_open, gold_numbers, gold_close), (pred_open, pred_numbers, pred_close) = gold_tuple, pred_tuple
        return (
            (gold_open, gold_close) == (pred_open, pred_close)
            and len(gold_numbers) == len(pred_numbers)
            and all(numbers_match(p, g) for p, g in zip(pred_numbers, gold_numbers))
        )
    if len(HEDGE_RE.findall(pred)) > len(HEDGE_RE.findall(gold)):
        return False
    if not _math_guard(pred) or not _math_guard(gold):
        return False
    # Most short answers are decided in floating point in microseconds; the rest go to math_verify in the sandbox.
    if gold_number is not None:
        value = constant_value(pred)
        if value is not None:
            return numbers_match(Number(value, decimals=15), gold_number)
    else:
        verdict = numeric_equal(gold, pred)
        if verdict is not None:
            return verdict
    return run_with_timeout(math_equal, gold, pred, timeout=timeout, default=False)
