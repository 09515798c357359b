"""Answer reading on real data: real gold answers rendered the ways models write them, real responses of published
models against MathVista's official verdicts, and the reading patterns of issue 11 (lone letters, prose answers,
explanations after the answer, Chinese markers, hedges, self-contradictions, non-answers, number forms)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from reward_funcs.grading import (
    extract_answer,
    extract_choice,
    extract_choices,
    extract_yes_no,
    grade,
    number_in_sentence,
    parse_gold,
    parse_number,
    parse_options,
)

DATA = Path(__file__).parent / "data" / "grading"
LETTERS = "ABCDEFGHIJ"
REAL = json.loads((DATA / "real_golds.json").read_text())
RESPONSES = [json.loads(line) for line in (DATA / "mathvista_responses.jsonl").read_text().splitlines()]
THINK = "<think>The figure shows triangle ABC with point D on AB; option A does not fit and B is too large.</think>"
REASONING = "In the figure, triangle DEF has a right angle at E and point A lies on DF, so option C is too small."


def read_choice(completion: str, options: dict[str, str]) -> str | None:
    """How an evaluation reads a closed answer: the tagged answer, else the whole output."""
    tagged = extract_answer(completion, markers=False)
    return extract_choice(tagged if tagged is not None else completion, options)


def read_free(completion: str, gold: str) -> bool | None:
    extracted = extract_answer(completion, prose=True)
    return None if extracted is None else grade(extracted, gold, question_type="fill-in-the-blank")


# ------------------------------------------------------------------------------------------------------------------
# Real golds: a perfect model is read as correct in every shape, a constant wrong answer as wrong
# ------------------------------------------------------------------------------------------------------------------


def choice_items():
    for row in REAL["mathvista"]:
        if row["question_type"] == "multi_choice":
            yield "MathVista", dict(zip(LETTERS, row["choices"])), LETTERS[row["choices"].index(row["answer"])]
    for row in REAL["wemath"]:
        yield "WeMath", parse_options(row["option"]), row["answer"]
    for row in REAL["dynamath"]:
        if row["answer_type"] == "multiple choice":
            yield "DynaMath", parse_options(row["question"]), row["answer"]
    for row in REAL["logicvista"]:
        options = parse_options(row["question"]) or dict.fromkeys("ABCDE", "")
        if row["answer"] in options:  # the others are unwinnable (see below)
            yield "LogicVista", options, row["answer"]


CHOICE_ITEMS = list(choice_items())


def choice_shapes(letter: str, text: str) -> dict[str, str]:
    shapes = {
        "tagged": f"{THINK}<answer>{letter}</answer>",
        "tagged with text": f"{THINK}<answer>({letter}) {text}</answer>"
        if text
        else f"{THINK}<answer>{letter}</answer>",
        "boxed": f"{REASONING} So the final answer is $\\boxed{{{letter}}}$.",
        "prose": f"{REASONING} Therefore, the answer is {letter}.",
        "answer then explanation": f"The answer is {letter}. Options A and D are wrong because the angles differ.",
        "bold": f"{REASONING}\n\n**Answer:** **{letter}**",
        "chinese": f"{REASONING} 所以答案是{letter}。",
        "chinese select": f"根据图形分析，点D在AB上，所以选{letter}",
        "chinese colon": f"{REASONING}\n答案：{letter}",
    }
    if text:
        shapes["prose with text"] = f"{REASONING} The correct answer is ({letter}) {text}."
    return shapes


def test_every_real_option_string_parses():
    for benchmark, options, letter in CHOICE_ITEMS:
        assert letter in options, f"{benchmark}: gold {letter} not among the parsed options {options}"
    wemath = [parse_options(row["option"]) for row in REAL["wemath"]]
    assert all(len(options) >= 3 for options in wemath)
    assert parse_options("A. 300, 400;B. 400, 300;C. 3000, 4000;D. 4000, 3000; E. No correct answer") == {
        "A": "300, 400",
        "B": "400, 300",
        "C": "3000, 4000",
        "D": "4000, 3000",
        "E": "No correct answer",
    }
    assert parse_options("A. ①;B．②;C. ③; D. Cannot be determined")["B"] == "2"  # full-width mark, NFKC


@pytest.mark.parametrize(
    "benchmark, options, letter", CHOICE_ITEMS, ids=[f"{b}-{i}" for i, (b, *_) in enumerate(CHOICE_ITEMS)]
)
def test_perfect_choice_answers_read_correct_in_every_shape(benchmark, options, letter):
    for shape, completion in choice_shapes(letter, options.get(letter, "")).items():
        assert read_choice(completion, options) == letter, f"{shape}: {completion[-120:]!r}"


@pytest.mark.parametrize("benchmark, options, letter", CHOICE_ITEMS[::4])
def test_a_wrong_constant_answer_reads_wrong(benchmark, options, letter):
    wrong = next(other for other in options if other != letter)
    for completion in choice_shapes(wrong, options[wrong]).values():
        assert read_choice(completion, options) == wrong


FREE_GOLDS = [row["answer"] for row in REAL["mathvista"] if row["question_type"] == "free_form"] + [
    row["answer"] for row in REAL["dynamath"] if row["answer_type"] == "float"
]


@pytest.mark.parametrize("gold", FREE_GOLDS)
def test_perfect_free_form_answers_read_correct(gold):
    shapes = [
        f"{THINK}<answer>{gold}</answer>",
        f"{REASONING} So the final answer is $\\boxed{{{gold}}}$.",
        f"{REASONING} Therefore, the answer is {gold}.",
        f"{REASONING} 所以答案是{gold}。",
        f"{REASONING} So the value asked for is {gold}.",
    ]
    for completion in shapes:
        assert read_free(completion, gold) is True, completion[-80:]


def test_logicvista_multi_letter_and_unwinnable_golds():
    letters_rows = [row for row in REAL["logicvista"] if "," in row["answer"]]
    assert letters_rows
    for row in letters_rows:
        gold = sorted(re.findall(r"[A-J]", row["answer"]))
        for completion in (
            f"{THINK}<answer>{row['answer']}</answer>",
            f"The answers are {' and '.join(gold)}. The others break the rule.",
            f"{REASONING}\nAnswer: {''.join(gold)}",
        ):
            text = extract_answer(completion, markers=False) or completion
            assert extract_choices(text, "ABCDE") == gold, completion
    # Golds that are no option letter ("", "3", "F" and "G" with options A-E) are reported by the caller, never won.
    unwinnable = [row["answer"] for row in REAL["logicvista"] if not re.fullmatch(r"[A-J](, [A-J])*", row["answer"])]
    assert sorted(unwinnable) == ["", "3"]
    for row in REAL["logicvista"]:
        if row["answer"] in ("F", "G"):
            assert row["answer"] not in (parse_options(row["question"]) or dict.fromkeys("ABCDE"))


def test_dynamath_text_and_list_golds():
    for row in REAL["dynamath"]:
        if row["answer_type"] == "text":
            assert grade(row["answer"], row["answer"]), row["answer"]
    assert parse_gold("[3, 2, 3, 3, 6]").kind == "list"
    assert grade("[3, 2, 3, 3, 6]", "[3, 2, 3, 3, 6]") and not grade("[2, 3, 3, 3, 6]", "[3, 2, 3, 3, 6]")
    assert parse_gold("4:45").kind == "text" and grade("4:45", "4:45") and not grade("0.0889", "4:45")


# ------------------------------------------------------------------------------------------------------------------
# Real responses of published models against MathVista's official verdicts
# ------------------------------------------------------------------------------------------------------------------


def mathvista_verdict(row: dict) -> str:
    """MathVista's rules on a raw response (spec: MC by option reading, integer equality, float at the stated
    precision, text/list by the grading core)."""
    response = row["response"]
    if row["question_type"] == "multi_choice":
        options = dict(zip(LETTERS, row["choices"]))
        letter = read_choice(response, options)
        return "unparsed" if letter is None else "correct" if options[letter] == row["answer"] else "wrong"
    extracted = extract_answer(response, prose=True)
    if extracted is None:
        return "unparsed"
    number = parse_number(extracted)
    value = number.value if number else number_in_sentence(extracted)
    if value is None:
        return "unparsed"
    digits = int(row["precision"] or 0) if row["answer_type"] == "float" else 0
    return "correct" if round(value, digits) == round(float(row["answer"]), digits) else "wrong"


@pytest.mark.parametrize("row", RESPONSES, ids=[f"{r['model']}-{r['pid']}" for r in RESPONSES])
def test_real_responses_read_as_reviewed(row):
    assert mathvista_verdict(row) == row["expected"], row.get("note", "")


def test_real_responses_agree_with_the_official_verdict_where_it_is_right():
    decided = [row for row in RESPONSES if row["expected"] != "unparsed"]
    agree = [row for row in decided if (row["expected"] == "correct") == row["official"]]
    assert len(decided) >= 30
    assert {row["pid"] for row in decided if row not in agree} == {
        row["pid"] for row in decided if "note" in row and (row["expected"] == "correct") != row["official"]
    }


# ------------------------------------------------------------------------------------------------------------------
# The reading patterns
# ------------------------------------------------------------------------------------------------------------------

OPTIONS = {"A": "Yes", "B": "No"}
ANGLES = {"A": "30°", "B": "40°", "C": "50°", "D": "60°"}
FLOOD = {"A": "A gradual decline", "B": "A catastrophic flood", "C": "Neither", "D": "Both"}


@pytest.mark.parametrize(
    "text, options, expected",
    [
        # A lone capital letter is a choice only as the whole answer or among the last tokens (VLMEvalKit).
        ("In triangle DEF, the angle at E is the largest, so the perimeter is 45.", ANGLES, None),
        ("Point D is the midpoint of AB, and the angle at C measures 50°.", ANGLES, "C"),  # by option text
        ("Solution B contains more particles per volume than the other solution.", FLOOD, None),
        ("A: No", OPTIONS, None),  # the letter contradicts its own text
        ("(A) Yes", OPTIONS, "A"),
        ("A is not the correct option, the angle is 50°.", ANGLES, None),
        ("Comparing both angles carefully, the right one is C", ANGLES, "C"),
        # The answer in the last sentence of prose, or after a marker with its option text.
        ("The sides are 10 and 10, so the angle at the apex is 40°.", ANGLES, "B"),
        ("The answer is (B) A catastrophic flood.", FLOOD, "B"),
        ("Looking at the map, the river rises quickly. The answer is (B) A catastrophic flood", FLOOD, "B"),
        # "the answer is X" followed by an explanation naming other letters.
        ("The answer is C. A is too small and D is too large, and B ignores the right angle.", ANGLES, "C"),
        ("Answer: D\nExplanation: A and B are acute; C is the supplement.", ANGLES, "D"),
        # Chinese markers.
        ("由图可知∠ABC=50°，答案是C", ANGLES, "C"),
        ("因为AB=BC，所以选C。", ANGLES, "C"),
        ("答案：B", ANGLES, "B"),
        # Hedges, self-contradictions and non-answers.
        ("It is either A or B.", ANGLES, None),
        ("The answer is A or B.", ANGLES, None),
        ("The answer is (B), since the bar is red or blue depending on the light.", ANGLES, "B"),
        ("The answer is (D). Therefore, the angle is 30°.", ANGLES, None),
        ("I cannot determine the angle from the image.", ANGLES, None),
        ("The question does not provide enough information to answer it.", ANGLES, None),
        ("Choices:\n(A) 30°\n(B) 40°\n(C) 50°\n(D) 60°", ANGLES, None),  # an echo of the options
        (
            "(A) 30° is wrong. (B) 40° is wrong. (C) 50° fits. (D) 60° is wrong. Therefore, the answer is C.",
            ANGLES,
            "C",
        ),
    ],
)
def test_choice_reading_patterns(text, options, expected):
    assert extract_choice(text, options) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("(C) Neither set A nor set B", ["C"]),
        ("The answer is B, D. A and C break the symmetry.", ["B", "D"]),
        ("A and C, because both figures rotate or reflect the square.", ["A", "C"]),
        ("A or C", None),
        ("A, C, maybe D", None),
        ("答案是AC", ["A", "C"]),
    ],
)
def test_multi_select_patterns(text, expected):
    assert extract_choices(text, "ABCDE") == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("No, the blue bar is not the tallest; there is no such trend.", "no"),
        ("Yes. Although no label is shown, the line rises.", "yes"),
        ("The chart shows no decline. The answer is yes.", "yes"),
        ("Yes and no.", None),
    ],
)
def test_yes_no_patterns(text, expected):
    assert extract_yes_no(text) == expected


@pytest.mark.parametrize(
    "completion, gold, expected",
    [
        ("The perimeter of the rectangle is 4 + 16 + 4 + 16, so the perimeter is 40.", "40", True),
        ("The area of the shape is 16 unit squares.", "16", True),
        ("So the answer is 3 or 4.", "3", False),  # a real hedge as the final answer
        ("The answer is 3, or maybe 4.", "3", False),
        ("The value is approximately e, which is 2.718 (approximately).", "2.718", True),
        ("The ratio of the two areas is 1:2.", "0.5", True),
        ("所以答案是1.5。", "1.5", True),
        ("The answer is 7. Wait, let me recheck the count: it is 8.", "7", False),
        ("Sorry, I can't help with images of people yet.", "7", None),
    ],
)
def test_free_form_prose_patterns(completion, gold, expected):
    assert read_free(completion, gold) is expected


@pytest.mark.parametrize(
    "prediction, gold, expected",
    [
        ("0.260870", "6/23", True),  # 6 decimals of a fraction, as math_verify accepts
        ("0.26087", "6/23", True),
        ("0.2609", "6/23", False),
        ("\\frac{6}{23}", "0.260870", True),
        ("2.718 (approximately)", "2.718", True),
        ("3.14 (rounded to two decimal places)", "3.14", True),
        ("1:2", "0.5", True),
        ("2:4", "0.5", True),
        ("1:3", "0.5", False),
        ("2007, 2008", "[2007, 2008]", True),
        ("[2007, 2008]", "[2007, 2008]", True),
        ("2008, 2007", "[2007, 2008]", False),  # a bracketed gold is a sequence
        ("(2007, 2008)", "[2007, 2008]", False),
        ("[0, 2, 0, 2, 1, 7, 1, 2, 0, 3, 0, 6]", "[0, 2, 0, 2, 1, 7, 1, 2, 0, 3, 0, 6]", True),
        ("x = 2 or x = -2", "x=2", False),
        ("x = 2 (the other root, x = -2, is outside the domain)", "x=2", False),  # not one expression
    ],
)
def test_number_forms(prediction, gold, expected):
    assert grade(prediction, gold) is expected


def test_number_parsing_helpers():
    assert parse_number("2.718 (approximately)").value == 2.718
    assert parse_number("1:2").value == 0.5
    assert parse_number("4:45", ratio=False) is None
    assert number_in_sentence("There are 7 apples in the basket") == 7
    assert number_in_sentence("between 3 and 4") is None
    assert parse_gold("[2007, 2008]").kind == "list" and parse_gold("[0, 1)").kind == "math"


def test_closed_answers_see_past_the_marker():
    """`extract_answer(markers=False)` keeps only tags and boxes, so the closed-answer readers get the whole output
    and can see a conclusion that contradicts the marked letter."""
    response = "The correct answer is (B).\n\nPC = PD = 4, CD = 8.\n\nTherefore, the perimeter is 4 + 8 + 4 = **16**."
    options = {"A": "8", "B": "12", "C": "16", "D": "20"}
    assert extract_answer(response) == "(B)" and extract_answer(response, markers=False) is None
    assert extract_choice(response, options) is None  # B stated, C concluded: self-contradicting
    assert extract_choice("The answer is (C) 16. So the perimeter is 16.", options) == "C"
    assert extract_answer(f"{THINK}<answer>B</answer>", markers=False) == "B"


@pytest.mark.parametrize(
    "text",
    ["a " * 50_000, "answer is " * 10_000, "A. " * 30_000, "(A) " * 25_000, "so the x is " * 8_000, "A or " * 20_000,
     "答案是" * 30_000, "is" + " " * 90_000 + "x", "x is y = " * 10_000 + "z"],
    ids=lambda text: repr(text[:12]),
)  # fmt: skip
def test_prose_readers_are_bounded_on_adversarial_text(text):
    """Model outputs are untrusted: the marker, statement and label patterns stay linear on long repetitive text (a
    safety bound, not a speed target)."""
    import time

    started = time.perf_counter()
    extract_choice(text, {"A": "cat", "B": "dog"})
    extract_choices(text, "ABCD")
    extract_yes_no(text)
    extract_answer(text, prose=True)
    assert time.perf_counter() - started < 2.0
