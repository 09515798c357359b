"""Benchmark-specific rules on real rows (tests/data/benchmarks) and on the answer shapes real models write."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval_tasks.benchmarks import BENCHMARKS
from eval_tasks.scoring import SCORERS
from tests.test_eval_scoring import IMAGE, dynamath_row, item, mathvista_row, mmbench_rows, score


def real(name: str) -> list[dict]:
    from eval_tasks.data_files import read_rows

    return read_rows(Path(__file__).parent / "data" / "benchmarks" / f"{name}.jsonl")


def test_wemath_options_in_every_real_separator_style():
    from eval_tasks.benchmarks.wemath import parse_options

    for row in real("wemath"):
        options = parse_options(row["option"])
        assert row["answer"] in options and list(options)[0] == "A" and len(options) >= 3, row["option"]
        assert all(text and not text.endswith(";") for text in options.values()), options
    assert parse_options("A. 300, 400;B. 400, 300;C. 3000; E. No correct answer") == {
        "A": "300, 400", "B": "400, 300", "C": "3000", "E": "No correct answer"}  # fmt: skip
    assert parse_options("A. ①;B．②;C. ③") == {"A": "①", "B": "②", "C": "③"}
    assert parse_options("A. 45° B. 60° ;C. 120°; D. No correct answer")["B"] == "60°"
    assert parse_options("A. around point ;O.;B. No.; F. None")["A"] == "around point O."


def test_wemath_reports_the_525_group_figure_beside_the_data_derived_one():
    rows = [(row, "<answer>A</answer>") for row in real("wemath")]
    _, result = score("wemath", rows)
    penalty = 0.5 * result["IG"] + result["RM"] + result["IK"]
    assert result["n_groups"] == 8
    assert result["score"] == pytest.approx(100 * (8 - penalty) / 8)
    assert result["score_vlmevalkit"] == pytest.approx(100 * (525 - penalty) / 525)


def logicvista_item(question: str, answer: str) -> dict:
    return item("logicvista", {"question": question, "answer": answer, "image": IMAGE, "id": "v1_x", "skill": "s"})


def test_logicvista_reads_labels_not_every_letter_of_the_option_text():
    question = (
        "Which set does the Figure belong to? Select from A, B, and C. (A) Set A (B) Set B (C) Neither set A nor set B"
    )
    entry = logicvista_item(question, "C")
    assert entry["options"]["C"] == "Neither set A nor set B" and entry["letters"] == "ABC"
    score_item = SCORERS["logicvista"][0]
    for answer, expected in [("(C) Neither set A nor set B", "C"), ("C. Neither set A nor set B", "C"),
                             ("Neither set A nor set B", "C"), ("C", "C"), ("Set B", "B")]:  # fmt: skip
        assert score_item(f"<answer>{answer}</answer>", entry)["extracted"] == expected, answer
    assert score_item("<answer>(A) or (B)</answer>", entry)["status"] == "unparsed"  # a hedge is never guessed
    energy = logicvista_item("How much? Select from A, B, C, and D. (A) 140TWh (B) 190TWh (C) 210TWh (D) 90TWh", "B")
    assert score_item("<answer>190TWh</answer>", energy)["correct"]
    wide = logicvista_item("Who is the odd-one-out? Select answers from A-I", "G")
    assert wide["letters"] == "ABCDEFGHI" and score_item("<answer>G</answer>", wide)["correct"]
    both = logicvista_item("What options (A, B, C, or D) follow this same rule?", "B, D")
    assert score_item("<answer>B and D</answer>", both)["correct"]
    assert not score_item("<answer>B</answer>", both)["correct"]
    assert logicvista_item("Select from 1-5", "3").get("unwinnable")


def test_dynamath_multiple_choice_is_read_by_option_not_first_character():
    question = "Is this a periodic function? Choices: (A) Yes (B) No"
    entry = item("dynamath", {**dynamath_row(5, 1, "multiple choice", "A"), "question": question})
    score_item = SCORERS["dynamath"][0]

    def short(answer):
        return score_item(json.dumps({"solution": "...", "short answer": answer}), entry)

    assert short("Option A")["correct"] and short("The answer is A")["extracted"] == "A"
    assert short("Yes")["correct"]  # the option's text
    several = short("A, B")
    assert (several["correct"], several["status"]) == (False, "rule")  # names two options: wrong, never "A"
    assert short("I cannot tell")["status"] == "unparsed"


def test_mathvista_integers_are_not_truncated_and_duplicate_choices_both_count():
    integer = mathvista_row("7", "free_form", "integer", "1")
    assert not score("mathvista", [(integer, "<answer>1.5</answer>")])[0][0]["correct"]
    assert score("mathvista", [(integer, "<answer>1.0</answer>")])[0][0]["correct"]
    twice = mathvista_row("781", "multi_choice", "text", "18", ["9", "12", "18", "18"])
    records, _ = score("mathvista", [(twice, "<answer>C</answer>"), (twice, "<answer>D</answer>")])
    assert [r["correct"] for r in records] == [True, True]


def test_hallusionbench_reports_the_vlmevalkit_grouping_beside_ours():
    rows = real("hallusionbench")
    # Wrong on every VD question of the set that VD and VS share: VLMEvalKit's groups (no category) merge both.
    shared = {(r["subcategory"], r["set_id"]) for r in rows if r["category"] == "VS"} & {
        (r["subcategory"], r["set_id"]) for r in rows if r["category"] == "VD"}  # fmt: skip
    assert shared
    predictions = []
    for row in rows:
        gold = "yes" if row["gt_answer"] == "1" else "no"
        flip = row["category"] == "VD" and (row["subcategory"], row["set_id"]) in shared and row["figure_id"] == "0"
        predictions.append((row, ("no" if gold == "yes" else "yes") if flip else gold))
    _, result = score("hallusionbench", predictions)
    assert result["aAcc"] == result["aAcc"] and result["fAcc_vlmevalkit"] < result["fAcc"]
    assert result["n_figure_groups_vlmevalkit"] < result["n_figure_groups"]
    assert result["score_vlmevalkit"] < result["score"]


def test_mmbench_nan_cells_and_l2_category():
    rows = mmbench_rows(2, "cat", ["cat", "dog", "cow"], "logic")
    hub = [{**r, "D": "nan", "hint": "nan", "L2-category": r.pop("l2-category")} for r in rows]
    doc = BENCHMARKS["mmbench"].prompt_function(hub[0], "wethink_mmbench")
    assert "nan" not in doc.query and "Hint" not in doc.query and "C. cow" in doc.query
    assert doc.specific["l2_category"] == "logic" and list(doc.specific["options"]) == ["A", "B", "C"]


def test_free_form_answers_stated_in_a_closing_sentence_are_read_hedges_are_not_right():
    row = mathvista_row("8", "free_form", "integer", "40")
    records, _ = score("mathvista", [
        (row, "The sides are 10, 12, 8 and 10. Adding them up, so the perimeter is 40."),
        (row, "The sides add up to something between 38 and 44, so the perimeter is 40 or 42."),
        (row, "I looked at the figure for a long time but could not work it out, sorry about that."),
    ])  # fmt: skip
    assert (records[0]["correct"], records[0]["extracted"]) == (True, "40")
    assert not records[1]["correct"]
    assert records[2]["status"] == "unparsed"


def test_vlmevalkit_tsv_rows_with_letter_columns():
    tsv_row = {"index": "7", "question": "Which animal?", "A": "cat", "B": "dog", "C": "cow", "D": None,
               "answer": "B", "category": "c", "image": "..."}  # fmt: skip
    for name in ("mmstar", "ai2d"):
        entry = BENCHMARKS[name].read_item(tsv_row)
        assert entry["options"] == {"A": "cat", "B": "dog", "C": "cow"} and entry["answer"] == "B"
        assert SCORERS[name][0]("<answer>dog</answer>", entry)["correct"]
