"""A small numeric evaluator for the LaTeX most short math answers use, to decide equivalence without sympy.

math_verify parses every expression with an ANTLR grammar and compares with sympy: robust, but tens of
milliseconds per answer and unbounded on hostile input. Most answers are simpler: `2\\sqrt{3}`, `\\frac{5\\pi}{6}`,
`x^2+3x+1`. For those, evaluating both sides in floating point at the same few points (the classic randomized
identity test) decides equality as reliably and in microseconds. Anything outside the subset, or a comparison that
lands in the grey zone between "clearly equal" and "clearly different", returns None and the caller falls back to
math_verify.

Supported: numbers, + - * / ^, implicit multiplication (`2x`, `3\\sqrt{2}`, `x(x+1)`), parentheses and braces,
`\\frac` `\\dfrac` `\\tfrac`, `\\sqrt{}` and `\\sqrt[n]{}`, `\\pi`, `\\cdot` `\\times`, `\\left` `\\right`, spacing
commands, and single-letter variables other than e and i. Nothing is evaluated as code: the input is tokenized and
parsed here, all arithmetic is float arithmetic (no big integers), and exponents are capped.
"""

from __future__ import annotations

import math
import re

MAX_TOKENS = 200
MAX_EXPONENT = 64.0
EQUAL_REL_TOL = 1e-9
DIFFERENT_REL_TOL = 1e-6

_TOKEN_RE = re.compile(r"\\[a-zA-Z]+|\\[,;:! ]|\d+(?:\.\d+)?|\.\d+|[a-zA-Z]|[-+*/^(){}\[\]=]|\s+|.")
_SKIPPED = {"\\left", "\\right", "\\,", "\\;", "\\:", "\\!", "\\ ", "\\displaystyle"}
_FRACTIONS = {"\\frac", "\\dfrac", "\\tfrac"}
_MULTIPLY = {"*", "\\cdot", "\\times"}
_RESERVED_LETTERS = {"i"}  # the imaginary unit or an index? let math_verify say ("e" is Euler's number, as there)
_FUNCTIONS = {"\\sin": math.sin, "\\cos": math.cos, "\\tan": math.tan, "\\exp": math.exp, "\\ln": math.log}


class Unsupported(ValueError):
    """The expression is outside the subset (or cannot be evaluated in floats)."""


def _tokenize(text: str) -> list[str]:
    tokens = [t for t in _TOKEN_RE.findall(text) if not t.isspace() and t not in _SKIPPED]
    if len(tokens) > MAX_TOKENS:
        raise Unsupported("too long")
    return tokens


class _Parser:
    """Recursive descent to a tuple tree: ("num", v) ("var", name) ("pi",) ("neg", a) (op, a, b) ("root", a, n)."""

    def __init__(self, tokens: list[str]):
        self.tokens = tokens
        self.pos = 0
        self.variables: set[str] = set()

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            raise Unsupported(f"expected {expected or 'a token'}, got {token}")
        self.pos += 1
        return token

    def parse(self):
        tree = self.expression()
        if self.peek() is not None:
            raise Unsupported(f"unexpected {self.peek()}")
        return tree

    def expression(self):
        tree = self.term()
        while self.peek() in ("+", "-"):
            op = self.take()
            tree = (op, tree, self.term())
        return tree

    def term(self):
        tree = self.unary()
        while True:
            token = self.peek()
            if token in _MULTIPLY or token == "/":
                self.take()
                tree = ("/" if token == "/" else "*", tree, self.unary())
            elif token is not None and self.starts_atom(token) and not (tree[0] == "num" and _is_number(token)):
                tree = ("*", tree, self.power())  # implicit: 2x, 3\sqrt{2}, x(x+1); "2 3" is not a product
            else:
                return tree

    def unary(self):
        if self.peek() in ("-", "+"):
            sign = self.take()
            operand = self.unary()
            return ("neg", operand) if sign == "-" else operand
        return self.power()

    def power(self):
        base = self.atom()
        if self.peek() == "^":
            self.take()
            token = self.peek()
            if token in ("{", "("):
                exponent = self.group()
            elif token is not None and (_is_number(token) or token.isalpha() and len(token) == 1):
                exponent = self.atom_token(self.take(), single_digit=True)
            else:
                raise Unsupported("exponent")
            return ("^", base, exponent)
        return base

    @staticmethod
    def starts_atom(token: str) -> bool:
        return (
            _is_number(token)
            or (len(token) == 1 and token.isalpha())
            or token in ("(", "{", "\\pi", "\\sqrt")
            or token in _FRACTIONS
            or token in _FUNCTIONS
        )

    def group(self):
        opening = self.take()
        closing = {"{": "}", "(": ")", "[": "]"}[opening]
        tree = self.expression()
        self.take(closing)
        return tree

    def atom(self):
        token = self.peek()
        if token in ("(", "{"):
            return self.group()
        return self.atom_token(self.take())

    def atom_token(self, token: str, single_digit: bool = False):
        if _is_number(token):
            if single_digit and len(token) > 1:  # x^23 is x^2 * 3 in LaTeX: leave it to math_verify
                raise Unsupported("multi-digit bare exponent")
            return ("num", float(token))
        if len(token) == 1 and token.isalpha():
            if token in _RESERVED_LETTERS:
                raise Unsupported(token)
            if token == "e":
                return ("num", math.e)
            self.variables.add(token)
            return ("var", token)
        if token in _FUNCTIONS:
            # \sin{x}, \sin(x), \sin\frac{\pi}{3}, \sin x; "\sin 2x" (sin of 2x or 2 sin x?) is left to math_verify.
            argument = self.group() if self.peek() in ("{", "(") else self.atom_token(self.take())
            if self.peek() is not None and self.starts_atom(self.peek()):
                raise Unsupported("ambiguous function argument")
            return ("call", token, argument)
        if token == "\\pi":
            return ("pi",)
        if token in _FRACTIONS:
            return ("/", self.braced(), self.braced())
        if token == "\\sqrt":
            index = ("num", 2.0)
            if self.peek() == "[":
                index = self.group()
            return ("root", self.braced(), index)
        raise Unsupported(token)

    def braced(self):
        """A LaTeX argument: {expr} or a single token (\\frac12)."""
        if self.peek() == "{":
            return self.group()
        token = self.take()
        if _is_number(token) and len(token) > 1 and "." not in token:  # \frac12 = \frac{1}{2}
            self.tokens.insert(self.pos, token[1:])
            return ("num", float(token[0]))
        return self.atom_token(token)


def _is_number(token: str) -> bool:
    return token[:1].isdigit() or (token[:1] == "." and len(token) > 1)


def _evaluate(tree, env: dict[str, float]) -> float:
    kind = tree[0]
    if kind == "num":
        return tree[1]
    if kind == "var":
        return env[tree[1]]
    if kind == "pi":
        return math.pi
    if kind == "neg":
        return -_evaluate(tree[1], env)
    if kind == "call":
        argument = _evaluate(tree[2], env)
        if tree[1] == "\\ln" and argument <= 0:
            raise Unsupported("log of a non-positive number")
        if tree[1] == "\\exp" and argument > 700:
            raise Unsupported("exp overflow")
        return _FUNCTIONS[tree[1]](argument)
    left = _evaluate(tree[1], env)
    right = _evaluate(tree[2], env)
    if kind == "+":
        return left + right
    if kind == "-":
        return left - right
    if kind == "*":
        return left * right
    if kind == "/":
        if right == 0:
            raise Unsupported("division by zero")
        return left / right
    if kind == "root":
        if left < 0 or right <= 0:
            raise Unsupported("root of a negative")
        return left ** (1.0 / right)
    if kind == "^":
        if abs(right) > MAX_EXPONENT or (left < 0 and not float(right).is_integer()) or (left == 0 and right < 0):
            raise Unsupported("power")
        return left**right
    raise Unsupported(kind)


def compile_expression(text: str):
    """(tree, variables) for a supported expression; raises Unsupported otherwise. An equation `y = <expr>`
    compiles to its right-hand side with the left-hand variable in `variables` as ("=", name)."""
    tokens = _tokenize(text)
    if "=" in tokens:
        if tokens.count("=") != 1 or tokens.index("=") != 1 or not (tokens[0].isalpha() and len(tokens[0]) == 1):
            raise Unsupported("only `variable = expression` equations")
        tree, variables = compile_expression(" ".join(tokens[2:]))
        if tokens[0] in variables:
            raise Unsupported("implicit equation")
        return tree, variables | {("=", tokens[0])}
    parser = _Parser(tokens)
    return parser.parse(), frozenset(parser.variables)


def _points(variables: frozenset[str]) -> list[dict[str, float]]:
    # Three fixed, irrational-looking points per variable, different for each variable.
    return [
        {name: 0.5 + ((k * 0.6180339887 + (ord(name) - 96) * 0.2718281828) % 1.5) for name in variables}
        for k in (1, 2, 3)
    ]


def numeric_equal(gold: str, pred: str) -> bool | None:
    """True / False when the subset decides it, None when math_verify should."""
    try:
        gold_tree, gold_vars = compile_expression(gold)
        pred_tree, pred_vars = compile_expression(pred)
        if not any(isinstance(v, tuple) for v in pred_vars):  # "2x+1" answers "y=2x+1", as in math_verify
            gold_vars = frozenset(v for v in gold_vars if not isinstance(v, tuple))
        if gold_vars != pred_vars:
            return None
        gold_vars = frozenset(v for v in gold_vars if not isinstance(v, tuple))
        verdicts = set()
        for env in _points(gold_vars):
            g, p = _evaluate(gold_tree, env), _evaluate(pred_tree, env)
            if not (math.isfinite(g) and math.isfinite(p)):
                return None
            scale = max(abs(g), abs(p), 1e-12)
            difference = abs(g - p) / scale
            if difference <= EQUAL_REL_TOL or abs(g - p) <= 1e-12:
                verdicts.add(True)
            elif difference > DIFFERENT_REL_TOL:
                verdicts.add(False)
            else:
                return None
    except (Unsupported, OverflowError, RecursionError, ZeroDivisionError, KeyError):
        return None
    return False not in verdicts  # equal at every point, or different at one


def constant_value(text: str) -> float | None:
    """The value of a supported expression without variables (`2\\sqrt{3}`, `\\frac{5\\pi}{6}`), else None."""
    try:
        tree, variables = compile_expression(text)
        value = None if variables else _evaluate(tree, {})
    except (Unsupported, OverflowError, RecursionError, ZeroDivisionError):
        return None
    return value if value is not None and math.isfinite(value) else None
