"""The float identity test that decides common LaTeX answers without sympy (`reward_funcs.latex_numeric`)."""

from __future__ import annotations

import time

import pytest

from reward_funcs.latex_numeric import constant_value, numeric_equal

# ------------------------------------------------------------------------------------------------------------------
# The float identity test that decides common LaTeX answers without sympy
# ------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "gold, pred, expected",
    [
        ("x^2+8x+6", "x^{2} + 8x + 6", True),
        ("x^2+8x+6", "6+8x+x^2", True),
        ("x^2+8x+6", "x^2-8x+6", False),
        ("\\left(x+1\\right)^2", "x^2+2x+1", True),
        ("x(x+1)", "x^2+x", True),
        ("2\\sqrt{7}", "\\sqrt{28}", True),
        ("2\\sqrt{7}", "7\\sqrt{2}", False),
        ("\\sqrt[3]{8}", "2", True),
        ("\\frac{5\\pi}{6}", "\\frac{5}{6}\\pi", True),
        ("\\frac{5\\pi}{6}", "5/6", False),
        ("\\frac12", "0.5", True),
        ("a+b", "b+a", True),
        ("a-b", "b-a", False),
        ("e^{4}", "\\exp(4)", True),
        ("e^{4}", "4e", False),
        ("\\frac{\\sqrt{3}}{2}", "\\sin\\frac{\\pi}{3}", True),
        ("\\ln 8", "3\\ln 2", True),
        ("y=5x+7", "y = 7 + 5x", True),
        ("y=5x+7", "5x+7", True),
        ("y=5x+7", "y=7x+5", False),
        # Outside the subset, or ambiguous: math_verify decides
        ("x^2+1", "t^2+1", None),
        ("5x+7", "y=5x+7", None),
        ("\\sin 2x", "2\\sin x\\cos x", None),
        ("\\frac{\\sqrt{2}}{2}", "\\cos 45^\\circ", None),
        ("(1,2)", "(1,2)", None),
        ("i^2", "-1", None),
        ("2 3", "6", None),
        ("x^23", "x^{23}", None),
        ("\\frac{1}{0}", "1", None),
        ("\\sqrt{-1}", "i", None),
        ("10^{10^{10}}", "5", None),
        ("2^{2^{2^{2^{2}}}}", "4", None),
        ("__import__('os')", "0", None),
    ],
)
def test_numeric_equal(gold, pred, expected):
    started = time.perf_counter()
    assert numeric_equal(gold, pred) is expected
    assert time.perf_counter() - started < 0.5


def test_constant_value():
    assert constant_value("2\\sqrt{3}") == pytest.approx(3.4641016151377544)
    assert constant_value("\\frac{\\pi}{2}") == pytest.approx(1.5707963267948966)
    assert constant_value("x+1") is None
    assert constant_value("9^{9^{9}}") is None
