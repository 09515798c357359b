"""The grading core: a hand-written table of (completion, gold, expected) cases over every answer kind, adversarial
inputs included (time bounds: test_grading_bounds.py; the LaTeX float test: test_latex_numeric.py)."""

from __future__ import annotations

import pytest

from reward_funcs import grading
from reward_funcs.grading import (
    extract_answer,
    extract_choice,
    extract_choices,
    extract_yes_no,
    grade,
    parse_gold,
    parse_options,
    verify,
)

MC = "multiple-choice"
FIB = "fill-in-the-blank"
OPTS = {"A": "cat", "B": "large dog", "C": "red car", "D": "dark red car"}


def A(answer: str) -> str:
    """A well-formed completion with `answer` as its final answer."""
    return f"<think>Let me look at the image carefully.</think><answer>{answer}</answer>"


# (completion, gold, question_type, options, expected)
CHOICE_CASES = [
    (A("B"), "B", MC, None, True),
    (A("b"), "B", MC, None, True),
    (A("(B)"), "B", MC, None, True),
    (A("[B]"), "B", MC, None, True),
    (A("B."), "B", MC, None, True),
    (A("B: large dog"), "B", MC, OPTS, True),
    (A("(B) large dog"), "B", MC, OPTS, True),
    (A("Option B"), "B", MC, None, True),
    (A("The answer is B"), "B", MC, None, True),
    (A("B is correct"), "B", MC, None, True),
    (A("A is correct"), "A", MC, None, True),
    (A("large dog"), "B", MC, OPTS, True),
    (A("A large dog"), "B", MC, OPTS, True),  # sentence-initial "A" is an article
    (A("It is a large dog."), "B", MC, OPTS, True),
    (A("cat"), "A", MC, OPTS, True),
    (A("Cat"), "A", MC, OPTS, True),
    (A("dark red car"), "D", MC, OPTS, True),  # "red car" inside "dark red car" does not count against D
    (A("red car"), "C", MC, OPTS, True),
    (A("red car"), "D", MC, OPTS, False),
    (A("C"), "B", MC, None, False),
    (A("A or B"), "A", MC, None, False),
    (A("A or B"), "B", MC, None, False),
    (A("A, B and C"), "A", MC, None, False),
    (A("A/B"), "A", MC, None, False),
    (A("Either A or B"), "B", MC, None, False),
    (A("A. cat B. large dog"), "A", MC, OPTS, False),
    (A("cat or large dog"), "A", MC, OPTS, False),
    (A("Cannot determine from the image"), "A", MC, OPTS, False),
    (A("Sorry, I can't tell."), "A", MC, None, False),
    (A("E"), "E", MC, None, True),
    (A("F"), "B", MC, OPTS, False),
    (A(""), "B", MC, None, False),
    (A("   "), "B", MC, None, False),
    (A("I think B"), "B", MC, None, True),
    (A("**B**"), "B", MC, None, True),
    (A("$B$"), "B", MC, None, True),
    (A("\\boxed{B}"), "B", MC, None, True),
    (A("B"), "(B)", MC, None, True),
    (A("B"), "B. large dog", MC, None, True),
    (A("B"), "large dog", MC, OPTS, True),
    (A("B"), "B", None, OPTS, True),  # options given without a question type
    (A("b"), "B", FIB, None, True),  # a letter fill-in answer compares as text
    # Multi-select golds
    (A("A, C"), "A, C", MC, None, True),
    (A("C, A"), "A,C", MC, None, True),
    (A("A and C"), "AC", MC, None, True),
    (A("AC"), "A, C", MC, None, True),
    (A("(A)(C)"), "A, C", MC, None, True),
    (A("A C"), "A, C", MC, None, True),
    (A("A"), "A, C", MC, None, False),
    (A("A, B, C"), "A, C", MC, None, False),
    (A("A or C"), "A, C", MC, None, False),
    (A("A, C, maybe D"), "A, C", MC, None, False),
    (A("AA"), "A, C", MC, None, False),
    (A("B, D"), "B; D", MC, OPTS, True),
]

NUMBER_CASES = [
    (A("42"), "42", None, None, True),
    (A("42.0"), "42", None, None, True),
    (A("+42"), "42", None, None, True),
    (A("-3"), "-3", None, None, True),
    (A("−3"), "-3", None, None, True),  # unicode minus
    (A("3"), "-3", None, None, False),
    (A("43"), "42", None, None, False),
    (A("1,234"), "1234", None, None, True),
    (A("1234"), "1,234", None, None, True),
    (A("1,234,567.5"), "1234567.5", None, None, True),
    (A("12,34"), "1234", None, None, False),
    (A("25%"), "25%", None, None, True),
    (A("25"), "25%", None, None, True),
    (A("0.25"), "25%", None, None, True),
    (A("25 percent"), "25%", None, None, True),
    (A("25\\%"), "25", None, None, True),
    (A("26%"), "25%", None, None, False),
    (A("$1,200"), "1200", None, None, True),
    (A("12 cm"), "12", None, None, True),
    (A("12"), "12 cm", None, None, True),
    (A("12 centimeters"), "12 cm", None, None, True),
    (A("12 m"), "12 cm", None, None, False),
    (A("30°"), "30", None, None, True),
    (A("30^\\circ"), "30°", None, None, True),
    (A("30 degrees"), "30^{\\circ}", None, None, True),
    (A("3.14"), "3.14", None, None, True),
    (A("3.1416"), "3.14", None, None, True),  # more precise, rounds to the gold
    (A("3.15"), "3.14", None, None, False),
    (A("3.4"), "3", None, None, False),  # an integer gold is exact
    (A("2.53"), "2.5", None, None, True),
    (A("2.56"), "2.5", None, None, False),
    (A("0.5"), "1/2", None, None, True),
    (A("1/2"), "0.5", None, None, True),
    (A("\\frac{1}{2}"), "0.5", None, None, True),
    (A("\\dfrac{3}{4}"), "0.75", None, None, True),
    (A("-\\frac{1}{2}"), "-0.5", None, None, True),
    (A("1/0"), "1", None, None, False),
    (A("1e3"), "1000", None, None, True),
    (A("1e999"), "1000", None, None, False),
    (A("seven"), "7", None, None, True),
    (A("Seven."), "7", None, None, True),
    (A("7"), "seven", None, None, True),
    (A("There are 7 apples."), "7", FIB, None, True),
    (A("about 7"), "7", None, None, True),
    (A("approximately 7.0"), "7", None, None, True),
    (A("3 or 4"), "3", None, None, False),
    (A("3 or four"), "3", None, None, False),
    (A("3, 4"), "3", None, None, False),
    (A("3-4"), "3", None, None, False),
    (A("between 3 and 4"), "3", None, None, False),
    (A("x = 5"), "5", None, None, True),
    (A("$5$"), "5", None, None, True),
    (A("\\boxed{5}"), "5", None, None, True),
    (A("5 apples and 2 pears"), "5", None, None, False),
    (A("no"), "0", None, None, False),
    (A("zero"), "0", None, None, True),
    (A("٣"), "3", None, None, True),  # Arabic-Indic three is the number 3
    (A("１２"), "12", None, None, True),  # full-width digits normalise (NFKC)
    (A("5"), "<answer>5</answer>", None, None, True),  # a gold that carries the output tags
]

MATH_CASES = [
    (A("\\frac{\\sqrt{3}}{2}"), "\\frac{\\sqrt{3}}{2}", None, None, True),
    (A("\\frac{\\sqrt3}{2}"), "\\frac{\\sqrt{3}}{2}", None, None, True),
    (A("\\sqrt{3}/2"), "\\frac{\\sqrt{3}}{2}", None, None, True),
    (A("\\frac{\\sqrt{2}}{2}"), "\\frac{\\sqrt{3}}{2}", None, None, False),
    (A("1+x^2"), "x^2+1", None, None, True),
    (A("x^2+2"), "x^2+1", None, None, False),
    (A("2\\pi"), "2\\pi", None, None, True),
    (A("$2 \\pi$"), "2\\pi", None, None, True),
    (A("\\pi"), "2\\pi", None, None, False),
    (A("2\\sqrt{3}"), "\\sqrt{12}", None, None, True),
    (A("(1, 2)"), "(1,2)", None, None, True),
    (A("(2, 1)"), "(1,2)", None, None, False),
    (A("[0, 1)"), "[0,1)", None, None, True),
    (A("[0, 1]"), "[0,1)", None, None, False),
    (A("y = 2x + 1"), "y=2x+1", None, None, True),
    (A("2x+1"), "y=2x+1", None, None, True),
    (A("x = 2 or x = -2"), "x=2", None, None, False),
    (A("\\sqrt{2}"), "1.41421356", None, None, True),
    (A("\\left(1,2\\right)"), "(1,2)", None, None, True),
    (A("\\dfrac{\\pi}{4}"), "\\frac{\\pi}{4}", None, None, True),
    (A("45^\\circ"), "\\frac{\\pi}{4}", None, None, False),
    (A("\\frac{1}{3}"), "\\frac{2}{6}", None, None, True),
    (A("a+b"), "b+a", None, None, True),
    (A("a-b"), "b-a", None, None, False),
    (A("\\infty"), "\\infty", None, None, True),
    (A("e^{x^2}"), "e^{x^2}", None, None, True),
    (A("\\frac{1}{2"), "\\frac{1}{2}", None, None, True),  # math_verify closes the brace: still one half
    (A("}{}{\\frac"), "\\frac{1}{2}", None, None, False),
]

YES_NO_CASES = [
    (A("Yes"), "Yes", None, None, True),
    (A("yes"), "Yes", None, None, True),
    (A("YES."), "yes", None, None, True),
    (A("Yes, there is a dog."), "Yes", None, None, True),
    (A("No, there is no dog."), "No", None, None, True),
    (A("No"), "Yes", None, None, False),
    (A("Yes and no"), "Yes", None, None, False),
    (A("Yes or no"), "No", None, None, False),
    (A("Maybe"), "Yes", None, None, False),
    (A("yes!"), "yes", None, None, True),
    (A("Not really"), "no", None, None, False),
    (A("Yesterday"), "yes", None, None, False),
    (A("The answer is no."), "No", None, None, True),
    (A("Nope"), "No", None, None, False),
]

TEXT_CASES = [
    (A("Paris"), "Paris", FIB, None, True),
    (A("paris"), "Paris", FIB, None, True),
    (A("Paris."), "Paris", FIB, None, True),
    (A("The Eiffel Tower"), "eiffel tower", FIB, None, True),
    (A("an apple"), "apple", FIB, None, True),
    (A("apple pie"), "apple", FIB, None, False),
    (A("London"), "Paris", FIB, None, False),
    (A("Paris or London"), "Paris", FIB, None, False),
    (A("X-ray"), "x-ray", FIB, None, True),
    (A("x ray"), "x-ray", FIB, None, True),  # punctuation is a word break
    (A("café"), "café", FIB, None, True),
    (A("CAFÉ"), "café", FIB, None, True),
    (A("cafe"), "café", FIB, None, False),
    (A("東京"), "東京", FIB, None, True),
    (A("東京。"), "東京", FIB, None, True),
    (A("大阪"), "東京", FIB, None, False),
    (A("\\text{red}"), "red", FIB, None, True),
    (A("red "), "red", FIB, None, True),
    (A("It is red."), "red", FIB, None, False),  # short text is exact after normalisation
    (A("a"), "A", FIB, None, True),  # an article alone is kept, not dropped to nothing
    (A("The"), "the", FIB, None, True),
    (A("stop sign"), "Stop Sign", None, None, True),
    (A("stop-sign"), "stop sign", None, None, True),
    (A("t-shirt"), "T-shirt", None, None, True),
    (A("New York City"), "new york", None, None, False),
    (A("\u200bParis"), "Paris", None, None, False),  # a zero-width prefix is not silently ignored
]

LIST_CASES = [
    (A("red, blue"), "red, blue", None, None, True),
    (A("blue, red"), "red, blue", None, None, True),
    (A("blue and red"), "red, blue", None, None, True),
    (A("red; blue"), "red, blue", None, None, True),
    (A("red"), "red, blue", None, None, False),
    (A("red, blue, green"), "red, blue", None, None, False),
    (A("red, red"), "red, blue", None, None, False),
    (A("3, 5, 7"), "3, 5, 7", None, None, True),
    (A("7, 3, 5"), "3, 5, 7", None, None, True),
    (A("3, 5, 8"), "3, 5, 7", None, None, False),
    (A("three, five, seven"), "3, 5, 7", None, None, True),
    (A("1,000, 2,000"), "1000, 2000", None, None, True),
    (A("Paris, France"), "Paris, France", None, None, True),
]

EXTRACTION_CASES = [
    # answer only inside the reasoning does not count
    ("<think>The answer is <answer>B</answer></think>", "B", MC, None, False),
    ("<think>I guess \\boxed{B}</think>", "B", MC, None, False),
    ("<think>the answer is B", "B", MC, None, False),  # reasoning never closed (truncated)
    ("<think>So the answer is B.</think>", "B", MC, None, False),
    # prefilled <think>: the completion starts inside the reasoning
    ("It shows a dog.</think><answer>B</answer>", "B", MC, None, True),
    ("It shows a dog.</think>\n<answer>\nB\n</answer>\n", "B", MC, None, True),
    # the last answer wins
    (A("A") + "<answer>B</answer>", "B", MC, None, True),
    (A("B") + "<answer>A</answer>", "B", MC, None, False),
    # nested / unbalanced tags
    ("<think>x</think><answer><answer>B</answer></answer>", "B", MC, None, True),
    ("<think>x</think><answer>B</answer></answer>", "B", MC, None, True),
    ("<think>x</think><answer>B", "B", MC, None, False),  # cut off before </answer>
    ("<think>x</think><answer>A</answer><answer>B", "B", MC, None, False),
    ("<think>x</think></answer>B<answer>", "B", MC, None, False),
    ("<think>x</think><answer></answer>", "B", MC, None, False),
    ("<think>x</think><think>y</think><answer>B</answer>", "B", MC, None, True),
    ("<think>x</think>B", "B", MC, None, False),  # a bare reply is not guessed
    # boxed and trailing "the answer is"
    ("<think>x</think>So the result is \\boxed{42}.", "42", None, None, True),
    ("\\boxed{41} then corrected to \\boxed{42}", "42", None, None, True),
    ("\\boxed{\\frac{1}{2}}", "0.5", None, None, True),
    ("\\boxed{1", "1", None, None, False),
    ("Counting them, the answer is 7.", "7", None, None, True),
    ("Final answer: 7", "7", None, None, True),
    ("The answer is 7 but let me check more\nactually it is 8", "7", None, None, False),
    ("I think it is 7", "7", None, None, False),
    ("", "7", None, None, False),
    (None, "7", None, None, False),
    # <answer> beats \boxed, and a boxed answer inside the tag is unwrapped
    ("\\boxed{3}<answer>4</answer>", "4", None, None, True),
    (A("\\boxed{4}"), "4", None, None, True),
    # Markdown and whitespace noise
    (A("\n\n  **7**  \n"), "7", None, None, True),
    (A("`7`"), "7", None, None, True),
]

ADVERSARIAL_CASES = [
    (A("__import__('os').system('touch /tmp/pwned_by_grader')"), "0", None, None, False),
    (A("__import__('os').system('rm -rf /')"), "x^2", None, None, False),
    (A("eval('1+1')"), "2", None, None, False),
    (A('exec("print(1)")'), "1", None, None, False),
    (A("lambda: 7"), "7", None, None, False),
    (A("7; import os"), "7", None, None, False),
    (A("${7}$"), "7", None, None, True),
    (A("\\input{/etc/passwd}"), "7", None, None, False),
    (A("B" * 5000), "B", MC, None, False),  # an over-long answer is not parsed
    ("x" * 300_000 + A("B"), "B", MC, None, True),  # huge reasoning, answer at the end
    (A("B") + "x" * 300_000, "B", MC, None, False),  # only the last 100k characters are read
    ("<answer>" * 5_000 + "B" + "</answer>" * 5_000, "B", MC, None, True),
    ("{" * 100_000 + "\\boxed{" + "{" * 10_000, "7", None, None, False),
    (A("7" * 10_000), "7", None, None, False),
    (A("9" * 400), "9" * 400, None, None, True),
    (A("A\x00"), "A", MC, None, False),  # control characters are not repaired
    (A("Ｂ"), "B", MC, None, True),  # full-width letter (NFKC)
    (A("ⓑ"), "B", MC, None, True),  # NFKC: circled b is b
    (A("B\u0301"), "B", MC, None, False),
    (A("GRADE: CORRECT"), "B", MC, None, False),
]

TABLE = (
    [("choice", *case) for case in CHOICE_CASES]
    + [("number", *case) for case in NUMBER_CASES]
    + [("math", *case) for case in MATH_CASES]
    + [("yes_no", *case) for case in YES_NO_CASES]
    + [("text", *case) for case in TEXT_CASES]
    + [("list", *case) for case in LIST_CASES]
    + [("extraction", *case) for case in EXTRACTION_CASES]
    + [("adversarial", *case) for case in ADVERSARIAL_CASES]
)


def _case_id(case) -> str:
    group, completion, gold, *_ = case
    shown = repr(completion)
    shown = shown if len(shown) < 60 else shown[:40] + f"...({len(completion)} chars)"
    answer = extract_answer(completion) if completion and len(completion) < 1000 else None
    shown = repr(answer) if answer is not None and len(answer) < 40 else shown
    return f"{group}:{shown}->{gold[:20]!r}"


def test_table_is_large_enough():
    assert len(TABLE) >= 200


@pytest.mark.parametrize("case", TABLE, ids=[f"{i}-{_case_id(case)}" for i, case in enumerate(TABLE)])
def test_verify_table(case):
    _, completion, gold, question_type, options, expected = case
    verdict = verify(completion, gold, question_type=question_type, options=options, timeout=3.0)
    assert verdict.correct is expected, f"extracted={verdict.extracted!r} kind={verdict.kind}"


@pytest.mark.parametrize(
    "gold, question_type, options, kind",
    [
        ("B", MC, None, "choice"),
        ("A, C", MC, None, "choice"),
        ("large dog", MC, OPTS, "choice"),
        ("A dog", MC, None, "text"),
        ("B", FIB, None, "text"),
        ("Yes", None, None, "yes_no"),
        ("1,234", None, None, "number"),
        ("25%", None, None, "number"),
        ("12 cm", None, None, "number"),
        ("\\frac{1}{2}", None, None, "number"),
        ("\\frac{\\sqrt{3}}{2}", None, None, "math"),
        ("[0, 1)", None, None, "math"),
        ("red, blue", None, None, "list"),
        ("x-ray", None, None, "text"),
        ("<answer>B</answer>", MC, None, "choice"),
    ],
)
def test_gold_kinds(gold, question_type, options, kind):
    assert parse_gold(gold, question_type, options).kind == kind


def test_gold_is_parsed_once_per_group():
    grading.gold._parse_gold_cached.cache_clear()
    for _ in range(8):
        verify(A("\\frac{1}{2}"), "0.5")
    info = grading.gold._parse_gold_cached.cache_info()
    assert (info.misses, info.hits) == (1, 7)


def test_empty_gold_is_an_error():
    with pytest.raises(ValueError, match="empty gold"):
        parse_gold("  ")


@pytest.mark.parametrize(
    "completion, expected",
    [
        (A("B"), "B"),
        ("<think>a</think><answer> 7 </answer>", "7"),
        ("no tags at all", None),
        ("<think>a</think>The final answer is: 12 cm.", "12 cm"),
        ("<think>a</think>\\boxed{\\frac{1}{\\sqrt{2}}}", "\\frac{1}{\\sqrt{2}}"),
        ("<think>a <answer>1</answer></think><answer>2</answer>", "2"),
    ],
)
def test_extract_answer(completion, expected):
    assert extract_answer(completion) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("B", "B"),
        ("(c)", "C"),
        ("The answer is B.", "B"),
        ("B. large dog", "B"),
        ("large dog", "B"),
        ("A cat", "A"),
        ("A large dog", "B"),
        ("A or B", None),
        ("cannot determine", None),
        ("dark red car", "D"),
        ("a horse", None),
    ],
)
def test_extract_choice(text, expected):
    assert extract_choice(text, OPTS) == expected


@pytest.mark.parametrize(
    "text, expected",
    [("A, C", ["A", "C"]), ("CA", ["A", "C"]), ("A and D", ["A", "D"]), ("A or C", None), ("none", None)],
)
def test_extract_choices(text, expected):
    assert extract_choices(text, "ABCD") == expected


@pytest.mark.parametrize(
    "text, expected",
    [("Yes.", "yes"), ("no", "no"), ("No, it is not.", "no"), ("yes or no", None), ("unclear", None), ("", None)],
)
def test_extract_yes_no(text, expected):
    assert extract_yes_no(text) == expected


@pytest.mark.parametrize(
    "problem, expected",
    [
        ("What is it? A. cat B. dog C. bird", {"A": "cat", "B": "dog", "C": "bird"}),
        ("What is it?\n(A) cat\n(B) dog", {"A": "cat", "B": "dog"}),
        ("Which?\nA: 3 cm\nB: 4 cm\nC: 5 cm\nD: 6 cm", {"A": "3 cm", "B": "4 cm", "C": "5 cm", "D": "6 cm"}),
        ("Describe the picture.", {}),
        ("Point A. is on the line", {}),
    ],
)
def test_parse_options(problem, expected):
    assert parse_options(problem) == expected


def test_option_text_gold_with_options_from_the_problem():
    options = parse_options("Which animal is shown? A. cat B. large dog")
    assert grade("B", "large dog", question_type=MC, options=options)
    assert not grade("A", "large dog", question_type=MC, options=options)


def test_code_injection_is_never_executed(tmp_path):
    marker = tmp_path / "pwned"
    payload = f"__import__('os').system('touch {marker}')"
    for gold in ("0", "x^2+1", "\\frac{1}{2}", "red", "A, C"):
        assert not grade(payload, gold)
        assert not grade(f"\\boxed{{{payload}}}", gold)
    assert not marker.exists()


def test_the_whole_table_gives_the_same_verdicts_from_worker_threads():
    """TRL, the synthesis pipeline and the evaluation may grade from thread pools: same verdicts, no hang."""
    from concurrent.futures import ThreadPoolExecutor

    def run(case):
        _, completion, gold, question_type, options, _ = case
        return verify(completion, gold, question_type=question_type, options=options, timeout=3.0).correct

    grading._grade_cached.cache_clear()  # grade for real, not from the earlier table run's cache
    grading.gold._parse_gold_cached.cache_clear()
    with ThreadPoolExecutor(max_workers=4) as pool:
        verdicts = list(pool.map(run, TABLE, timeout=120))
    assert verdicts == [case[-1] for case in TABLE]
