"""Per-benchmark scoring: rows in each benchmark's Hub schema, predictions, and verdicts/aggregates computed by hand."""

from __future__ import annotations

import math

import pytest
from PIL import Image

from eval_tasks.scoring import SCORERS, answer_text
from eval_tasks.tasks import BENCHMARKS
from reward_funcs.answer_format import SYSTEM_PROMPT

IMAGE = Image.new("RGB", (16, 16), "white")


def item(name: str, row: dict) -> dict:
    """The Doc.specific the benchmark's prompt function stores for a row."""
    return BENCHMARKS[name].read_item(row)


def score(name: str, rows_and_predictions: list[tuple[dict, str]]) -> tuple[list[dict], dict]:
    score_item, aggregate = SCORERS[name]
    records = [score_item(prediction, item(name, row)) for row, prediction in rows_and_predictions]
    return records, aggregate(records)


def verdicts(records: list[dict]) -> list[tuple[bool, str]]:
    return [(r["correct"], r["status"]) for r in records]


def test_answer_text_reads_answer_tags_and_ignores_unclosed_reasoning():
    assert answer_text("<think>maybe A</think><answer>B</answer>") == ("B", True)
    assert answer_text("<think>A or C, thinking") == ("", False)
    assert answer_text("C") == ("C", False)


def mathvista_row(pid, question_type, answer_type, answer, choices=None, precision=None):
    return {
        "pid": pid,
        "question": "q",
        "image": "images/1.jpg",
        "decoded_image": IMAGE,
        "choices": choices,
        "unit": None,
        "precision": precision,
        "answer": answer,
        "question_type": question_type,
        "answer_type": answer_type,
        "metadata": {},
        "query": "Question: q",
    }


def test_mathvista_rules_and_accuracy():
    rows = [
        (mathvista_row("1", "multi_choice", "text", "5", ["3", "5", "7"]), "<think>A or C?</think><answer>B</answer>"),
        (mathvista_row("2", "free_form", "integer", "12"), "<answer>12.0</answer>"),
        (mathvista_row("3", "free_form", "float", "1.5", precision=1.0), "<answer>1.54</answer>"),  # rounds to 1.5
        (mathvista_row("4", "free_form", "float", "1.5", precision=1.0), "<answer>1.44</answer>"),  # rounds to 1.4
        (mathvista_row("5", "free_form", "text", "circle"), "<answer>Circle</answer>"),  # reference bug: never matched
        (mathvista_row("6", "multi_choice", "text", "7", ["3", "5", "7"]), "It is hard to say which one, " * 3),
    ]
    records, result = score("mathvista", rows)
    assert item("mathvista", rows[0][0])["answer"] == "B"
    assert verdicts(records) == [
        (True, "rule"),
        (True, "rule"),
        (True, "rule"),
        (False, "rule"),
        (True, "rule"),
        (False, "unparsed"),
    ]
    assert result["score"] == pytest.approx(400 / 6)
    assert (result["n"], result["n_rule"], result["n_unparsed"]) == (6, 5, 1)


def test_mathvision_choice_and_latex_answers():
    rows = [
        (
            {"id": "1", "question": "q", "options": ["1", "2", "3"], "decoded_image": IMAGE, "answer": "C"},
            "<answer>C</answer>",
        ),
        (
            {"id": "2", "question": "q", "options": [], "decoded_image": IMAGE, "answer": "\\frac{1}{2}"},
            "<answer>0.5</answer>",
        ),
        (
            {"id": "3", "question": "q", "options": [], "decoded_image": IMAGE, "answer": "4"},
            "Let me think step by step " * 5,
        ),
    ]
    records, result = score("mathvision", rows)
    assert verdicts(records) == [(True, "rule"), (True, "rule"), (False, "unparsed")]
    assert result["score"] == pytest.approx(200 / 3)


def test_mathverse_vision_only_filter_and_letters():
    base = {"question": "", "image": IMAGE, "query_wo": "Answer the question in the image.", "question_for_eval": "q"}
    rows = [
        ({**base, "sample_index": "1", "question_type": "multi-choice", "answer": "B"}, "<answer>(B)</answer>"),
        ({**base, "sample_index": "2", "question_type": "free-form", "answer": "12"}, "<answer>13</answer>"),
    ]
    records, result = score("mathverse", rows)
    assert verdicts(records) == [(True, "rule"), (False, "rule")]
    assert result["score"] == 50.0
    assert BENCHMARKS["mathverse"].hf_filter({"problem_version": "Vision Only"})
    assert not BENCHMARKS["mathverse"].hf_filter({"problem_version": "Text Lite"})


def dynamath_row(qid, variant, answer_type, truth):
    return {
        "id": f"{qid}-{variant}",
        "question": "q",
        "image": "x.png",
        "decoded_image": IMAGE,
        "ground_truth": truth,
        "answer_type": answer_type,
        "subject": "s",
        "knowledge_level": "k",
        "qid": qid,
    }


def test_dynamath_json_answers_and_worst_case():
    right = '{"solution": "pi to three places", "short answer": "3.142"}'
    rows = [(dynamath_row(1, v, "float", "3.1416"), right) for v in range(1, 11)]
    rows += [
        (dynamath_row(2, v, "multiple choice", "B"), '<answer>{"solution": "s", "short answer": "B"}</answer>')
        for v in range(1, 10)
    ]
    rows.append((dynamath_row(2, 10, "multiple choice", "B"), '{"solution": "s", "short answer": "C"}'))
    records, result = score("dynamath", rows)
    assert all(r["correct"] for r in records[:19]) and not records[19]["correct"]
    assert result["score"] == 50.0  # seed 2 has one wrong variant: it fails the worst case
    assert result["average"] == 95.0
    assert result["n_seeds"] == 2

    text_row = dynamath_row(3, 1, "free form", "red")
    assert SCORERS["dynamath"][0]('{"solution": "", "short answer": "Red"}', item("dynamath", text_row))["correct"]
    assert SCORERS["dynamath"][0]("no json here " * 5, item("dynamath", text_row))["status"] == "unparsed"


def wemath_row(group, key, answer):
    return {
        "ID": str(group),
        "split": "testmini",
        "knowledge concept": "c",
        "question": "q",
        "option": "A. 1; B. 2; C. 3; D. 4; E. No correct answer",
        "answer": answer,
        "image_path": IMAGE,
        "key": key,
        "question number": 1,
        "knowledge concept description": "d",
    }


def test_wemath_four_dimensions_score_strict():
    def group(number, steps, subs_right, multi_right):
        rows = [
            (wemath_row(number, f"{steps}steps_{i + 1}", "A"), "<answer>A</answer>" if ok else "<answer>B</answer>")
            for i, ok in enumerate(subs_right)
        ]
        rows.append(
            (
                wemath_row(number, f"{steps}steps_multi", "C"),
                "<answer>C</answer>" if multi_right else "<answer>D</answer>",
            )
        )
        return rows

    rows = group(1, 2, [True, True], True)  # CM
    rows += group(2, 2, [True, True], False)  # IG
    rows += group(3, 3, [True, False, True], True)  # RM
    rows += group(4, 2, [False, True], False)  # IK
    _, result = score("wemath", rows)
    assert (result["CM"], result["IG"], result["RM"], result["IK"], result["n_groups"]) == (1, 1, 1, 1, 4)
    assert result["score"] == pytest.approx(100 * (4 - 0.5 * 1 - 1 - 1) / 4)  # 37.5


def test_logicvista_multi_letter_sets():
    def row(i, answer):
        return {
            "question": "Pick all that apply.\nA. x\nB. y\nC. z\nD. w",
            "answer": answer,
            "reasoning": "",
            "image": IMAGE,
            "skill": "inductive",
            "broad_capability": "",
            "specific_capability": "",
            "imagesource": "",
            "sourcelink": "",
            "liscenced": "",
            "id": str(i),
        }

    rows = [
        (row(1, "A, C"), "<answer>C, A</answer>"),
        (row(2, "A, C"), "<answer>A</answer>"),
        (row(3, "B"), "<answer>B</answer>"),
    ]
    records, result = score("logicvista", rows)
    assert verdicts(records) == [(True, "rule"), (False, "rule"), (True, "rule")]
    assert result["score"] == pytest.approx(200 / 3)


def mmbench_rows(question, gold_text, options, l2):
    rows = []
    for k in range(len(options)):
        rotated = options[k:] + options[:k]
        rows.append(
            {
                "index": question + k * 1_000_000,
                "question": "q",
                "hint": None,
                "answer": "ABCD"[rotated.index(gold_text)],
                **dict(zip("ABCD", rotated)),
                "category": "c",
                "image": IMAGE,
                "source": "s",
                "l2-category": l2,
                "comment": None,
                "split": "dev",
            }
        )
    return rows


def test_mmbench_circular_eval_one_wrong_rotation_scores_zero():
    group_a = mmbench_rows(0, "cat", ["cat", "dog", "cow", "hen"], "attribute")
    group_b = mmbench_rows(1, "red", ["blue", "red", "green", "pink"], "logic")
    rows = [(r, f"<answer>{r['answer']}</answer>") for r in group_a]
    rows += [(r, f"<answer>{r['answer']}</answer>") for r in group_b[:3]]
    wrong = "A" if group_b[3]["answer"] != "A" else "B"
    rows.append((group_b[3], f"<answer>{wrong}</answer>"))
    records, result = score("mmbench", rows)
    assert sum(r["correct"] for r in records) == 7
    assert {r["g_index"] for r in records} == {0, 1}
    assert result["score"] == 50.0
    assert result["l2_category/attribute"] == 100.0 and result["l2_category/logic"] == 0.0


def test_mmstar_option_text_and_ai2d_without_system_prompt():
    mmstar = {
        "index": 0,
        "question": "Which animal?\nOptions: A: cat, B: dog, C: cow, D: hen",
        "image": IMAGE,
        "answer": "B",
        "category": "coarse perception",
        "l2_category": "x",
        "meta_info": {},
    }
    records, result = score(
        "mmstar", [(mmstar, "<answer>dog</answer>"), ({**mmstar, "index": 1}, "<answer>C</answer>")]
    )
    assert verdicts(records) == [(True, "rule"), (False, "rule")]
    assert result["score"] == 50.0

    ai2d = {"question": "Which stage?", "options": ["egg", "larva", "pupa", "adult"], "answer": "2", "image": IMAGE}
    doc = BENCHMARKS["ai2d"].prompt_function(ai2d, "wethink_ai2d")
    assert doc.instruction is None and "C. pupa" in doc.query
    assert BENCHMARKS["mmstar"].prompt_function(mmstar, "t").instruction == SYSTEM_PROMPT
    _, result = score("ai2d", [(ai2d, "C"), (ai2d, "The answer is larva.")])
    assert result["score"] == 50.0


def test_mmmu_images_in_reference_order_and_open_answers():
    second = Image.new("RGB", (16, 16), "black")
    row = {
        "id": "validation_Art_1",
        "question": "Compare <image 2> with <image 1>.",
        "options": "['same', 'different']",
        "answer": "B",
        "question_type": "multiple-choice",
        "image_1": IMAGE,
        "image_2": second,
        **{f"image_{k}": None for k in range(3, 8)},
    }
    doc = BENCHMARKS["mmmu"].prompt_function(row, "wethink_mmmu")
    assert [image.getpixel((0, 0)) for image in doc.images] == [(0, 0, 0), (255, 255, 255)]
    open_row = {
        **row,
        "id": "validation_Math_2",
        "options": "[]",
        "question_type": "open",
        "answer": "['1.5', '1.50']",
    }
    records, result = score(
        "mmmu", [(row, "<answer>B</answer>"), (open_row, "<answer>1.50</answer>"), (open_row, "<answer>2</answer>")]
    )
    assert verdicts(records) == [(True, "rule"), (True, "rule"), (False, "rule")]
    assert result["score"] == pytest.approx(200 / 3)


def test_hallusionbench_mean_of_three_accuracies():
    def row(figure, question, gt):
        return {
            "category": "VD",
            "subcategory": "chart",
            "visual_input": "1",
            "set_id": "0",
            "figure_id": str(figure),
            "sample_note": "",
            "question_id": str(question),
            "question": "Is it?",
            "gt_answer_details": "",
            "gt_answer": gt,
            "filename": "",
            "image": IMAGE,
        }

    rows = [(row(0, 0, "1"), "Yes, it is."), (row(0, 1, "0"), "No."), (row(1, 0, "1"), "yes"), (row(1, 1, "0"), "Yes")]
    records, result = score("hallusionbench", rows)
    assert [r["correct"] for r in records] == [True, True, True, False]
    assert (result["aAcc"], result["fAcc"], result["qAcc"]) == (75.0, 50.0, 50.0)
    assert result["score"] == pytest.approx((75 + 50 + 50) / 3)


def test_mme_pair_with_one_wrong_answer_adds_to_acc_not_acc_plus():
    def row(image, category, answer):
        return {
            "question_id": f"{category}/{image}.png",
            "question": "Is there a cat? Please answer yes or no.",
            "answer": answer,
            "category": category,
            "image": IMAGE,
        }

    rows = [
        (row(1, "existence", "Yes"), "Yes"),
        (row(1, "existence", "No"), "No"),
        (row(2, "existence", "Yes"), "Yes"),
        (row(2, "existence", "No"), "Yes"),  # one wrong in the pair
        (row(3, "code_reasoning", "Yes"), "yes"),
        (row(3, "code_reasoning", "No"), "no"),
    ]
    _, result = score("mme", rows)
    assert result["category/existence"] == 75.0 + 50.0
    assert result["category/code_reasoning"] == 200.0
    assert (result["perception"], result["cognition"], result["score"]) == (125.0, 200.0, 325.0)


def test_ocrbench_substring_rules_and_count():
    regular = {
        "dataset": "IIIT5K",
        "question": "what is written?",
        "question_type": "Regular Text Recognition",
        "answer": ["STOP"],
        "image": IMAGE,
    }
    hme = {
        "dataset": "HME100k",
        "question": "latex?",
        "question_type": "Handwritten Mathematical Expression Recognition",
        "answer": ["x^2 + 1"],
        "image": IMAGE,
    }
    records, result = score("ocrbench", [(regular, "The sign says stop."), (hme, "x^2+1"), (hme, "X^2+1")])
    assert [r["correct"] for r in records] == [True, True, False]  # case is kept for math expressions
    assert result["correct"] == 2 and result["score"] == pytest.approx(2000 / 3)
    assert BENCHMARKS["ocrbench"].prompt_function(regular, "t").instruction is None


def test_mmvet_without_judge_is_not_scored():
    row = {
        "question_id": "v1_0",
        "image": IMAGE,
        "question": "How many?",
        "answer": "3<OR>three",
        "image_source": "",
        "capability": "rec,math",
    }
    records, result = score("mmvet", [(row, "<answer>3</answer>")])
    assert records[0]["status"] == "needs_judge" and records[0]["capability"] == ["rec", "math"]
    assert math.isnan(result["score"]) and result["needs_judge"] == 1.0 and result["n_needs_judge"] == 1


def test_bad_rows_name_benchmark_row_and_field():
    from eval_tasks.tasks import prompt_with_context

    with pytest.raises(ValueError, match=r"mmstar: row 3: missing column 'index'"):
        prompt_with_context("mmstar", {"__index": 3, "question": "q", "image": IMAGE})
    bad_choice = {**mathvista_row("9", "multi_choice", "text", "9", ["1", "2"]), "__index": 0}
    with pytest.raises(ValueError, match=r"mathvista: row 0: answer '9' is not one of the choices"):
        prompt_with_context("mathvista", bad_choice)


def test_dynamath_pi_answers():
    pi_row = dynamath_row(4, 1, "float", "6.283")
    assert SCORERS["dynamath"][0]('{"solution": "", "short answer": "2π"}', item("dynamath", pi_row))["correct"]


def test_max_samples_keeps_groups_whole():
    from eval_tasks.scoring import whole_groups

    rotations = [{"g_index": g, "k": k} for k in range(4) for g in range(3)]  # interleaved, as after a shuffle
    chosen = whole_groups("mmbench", rotations, 5)  # group 0 (4 items) is not enough: group 1 comes whole too
    assert sorted((r["g_index"], r["k"]) for r in chosen) == [(g, k) for g in (0, 1) for k in range(4)]
    assert len(whole_groups("mmbench", rotations, 4)) == 4
    assert whole_groups("mmstar", list(range(10)), 3) == [0, 1, 2]
