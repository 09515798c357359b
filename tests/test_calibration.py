"""Judge calibration (`python -m reward_funcs calibrate`): exact figures against a scripted judge whose verdicts the
test chooses, and end to end against `transformers serve` of the tiny model, whose grades are noise."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from reward_funcs.__main__ import main
from reward_funcs.calibration import CalibrationConfig, Row, read_policy_completions, run_calibration
from reward_funcs.rewards import load_judge_prompt, render_judge_prompt
from tests.doubles.scripted_server import Reply, ScriptedOpenAIServer

OPTIONS = "\nOptions:\nA. 3\nB. 5\nC. 1\nD. 0"
# Four multiple-choice and four fill-in-the-blank rows in the `rl` view's columns, plus two the rules cannot grade.
ROWS = [
    {"id": "mc1", "problem": "[mc1] How many red circles are there?" + OPTIONS, "solution": "B"},
    {"id": "mc2", "problem": "[mc2] How many blue squares are there?" + OPTIONS, "solution": "C"},
    {"id": "mc3", "problem": "[mc3] How many green circles are there?" + OPTIONS, "solution": "A"},
    {"id": "mc4", "problem": "[mc4] How many yellow squares are there?" + OPTIONS, "solution": "D"},
    {"id": "fib1", "problem": "[fib1] The population is ___ people.", "solution": "1,234"},
    {"id": "fib2", "problem": "[fib2] The share of red is ___.", "solution": "25%"},
    {"id": "fib3", "problem": "[fib3] There are ___ apples.", "solution": "7"},
    {"id": "fib4", "problem": "[fib4] The ratio is ___.", "solution": "3/4"},
    {
        "id": "des1",
        "problem": "[des1] Describe the image.",
        "solution": "A red circle.",
        "question_type": "descriptive",
    },
    {"id": "mc5", "problem": "[mc5] Which one?" + OPTIONS, "solution": ""},
]
for row in ROWS:
    row.setdefault("question_type", "multiple-choice" if row["id"].startswith("mc") else "fill-in-the-blank")
    row["reward_method"] = "model" if row["question_type"] == "descriptive" else "rule"


def strict_judge(request) -> Reply:
    """CORRECT only for the reference answer written exactly as given (so every equivalent form the rules accept is
    a false negative); no grade at all for row mc4, HTTP 500 for row fib4."""
    text = request.last_text
    if "[mc4]" in text:
        return Reply(text="The answer seems plausible but I will not grade it.")
    if "[fib4]" in text:
        return Reply(status=500)
    reference = text.split("Reference answer:\n", 1)[1].split("\n", 1)[0].strip()
    answer = text.rsplit("<model_answer>", 1)[1].split("</model_answer>", 1)[0].strip()
    return Reply(text=f"Compared with the reference.\nGRADE: {'CORRECT' if answer == reference else 'INCORRECT'}")


def kappa(tp: int, fp: int, fn: int, tn: int) -> float:
    n = tp + fp + fn + tn
    observed = (tp + tn) / n
    expected = ((tp + fn) * (tp + fp) + (tn + fp) * (tn + fn)) / n**2
    return (observed - expected) / (1 - expected)


@pytest.fixture()
def dataset_file(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in ROWS))
    return path


def test_scripted_judge_gives_the_exact_confusion_matrix_and_kappa(dataset_file, tmp_path):
    predictions = tmp_path / "predictions.jsonl"
    lines = [
        {"id": "mc1", "completion": "<think>Two red circles and three more.</think><answer>B</answer>"},
        {"row": 1, "completion": "I think the answer could be C"},  # no final answer: left out, counted
        {"id": "unknown-row", "completion": "<answer>1</answer>"},  # matches no row: counted
        {"id": "des1", "completion": "<answer>A red circle.</answer>"},  # not rule-scorable: counted
    ]
    predictions.write_text("".join(json.dumps(line) + "\n" for line in lines))
    with ScriptedOpenAIServer(strict_judge) as server:
        config = CalibrationConfig(
            dataset=str(dataset_file),
            judge_base_url=server.base_url,
            judge_model="scripted-judge",
            output_dir=str(tmp_path / "out"),
            predictions=[str(predictions)],
            judge_max_retries=0,
        )
        report = run_calibration(config)

    # 8 rule-scorable rows x (2 gold forms + 2 other rows' answers) + 1 policy completion; the policy answer "B" to
    # mc1 is the same (question, reference, answer) as its literal gold form, which the judge reward asks once.
    assert len(server.requests) == 32
    assert report["rows"] == {"sampled": 8, "rule_scorable": 8, "total": 10}
    assert report["skipped_rows"] == {"question_type 'descriptive'": 1, "no gold answer": 1}
    assert report["policy"] == {
        "completions": 2,
        "no_final_answer": 1,
        "skipped": {f"{predictions}: no matching row": 1, "row not sampled or not rule-scorable": 1},
    }
    # The judge was asked with the training prompt, verbatim.
    template = load_judge_prompt(config.judge_prompt_version)  # the recipes' default judge prompt
    expected_prompt = render_judge_prompt(template, ROWS[0]["problem"], "B", "B")
    assert any(request.last_text == expected_prompt for request in server.requests)

    # Graded rows (6): literal gold -> CORRECT (TP), the other form -> INCORRECT (FN), 2 negatives -> TN;
    # the policy completion on mc1 is literal "B" -> TP. mc4 and fib4 fail on all 4 of their candidates.
    overall = report["overall"]
    assert overall["confusion"] == {
        "rule correct": {"CORRECT": 7, "PARTIAL": 0, "INCORRECT": 6, "failed": 4},
        "rule incorrect": {"CORRECT": 0, "PARTIAL": 0, "INCORRECT": 12, "failed": 4},
    }
    assert overall["binary"] == {"tp": 7, "fp": 0, "fn": 6, "tn": 12}
    assert (overall["n"], overall["judged"], overall["failures"]) == (33, 25, 8)
    assert overall["agreement"] == pytest.approx(19 / 25)
    assert overall["kappa"] == pytest.approx(kappa(7, 0, 6, 12))  # 0.528
    assert overall["precision"] == 1.0 and overall["recall"] == pytest.approx(7 / 13)

    fib = report["by_question_type"]["fill-in-the-blank"]
    assert fib["binary"] == {"tp": 3, "fp": 0, "fn": 3, "tn": 6} and fib["failures"] == 4
    assert fib["kappa"] == pytest.approx(0.5)
    assert report["by_question_type"]["multiple-choice"]["binary"] == {"tp": 4, "fp": 0, "fn": 3, "tn": 6}
    assert report["by_source"]["other row"]["binary"] == {"tp": 0, "fp": 0, "fn": 0, "tn": 12}
    assert report["by_tier"]["CORRECT"] == {"judge_score": 1.0, "n": 7, "rule_correct": 7, "rate": 1.0}
    assert report["by_tier"]["INCORRECT"]["n"] == 18 and report["by_tier"]["INCORRECT"]["rule_correct"] == 6

    # Every disagreement is an equivalent form the strict judge refused; none is a failed judgement.
    assert len(report["disagreements"]) == 6
    assert {(d["source"], d["rule"], d["judge"]) for d in report["disagreements"]} == {
        ("gold form", True, "INCORRECT")
    }
    out = tmp_path / "out"
    markdown = (out / "report.md").read_text()
    assert "Cohen's kappa 0.53 (moderate)" in markdown and "## Disagreements (6)" in markdown
    assert (out / "calibration.png").read_bytes().startswith(b"\x89PNG")
    assert len((out / "candidates.jsonl").read_text().splitlines()) == 33
    assert json.loads((out / "report.json").read_text())["overall"]["kappa"] == pytest.approx(overall["kappa"])

    with pytest.raises(FileExistsError, match="--overwrite"):
        run_calibration(config)


def test_policy_completions_from_a_trl_completion_log(tmp_path):
    # The table GRPOTrainer writes with log_completions (prompts with images stripped, conversational completions).
    prompt = [
        {"role": "system", "content": [{"type": "text", "text": "You FIRST think..."}]},
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": ROWS[0]["problem"]}]},
    ]
    table = {
        "step": [1, 1],
        "prompt": [prompt, [{"role": "user", "content": [{"type": "text", "text": "an unknown question"}]}]],
        "completion": [[{"role": "assistant", "content": "<think>x</think><answer>(B)</answer>"}]] * 2,
        "hybrid_reward": [1.0, 0.0],
        "advantage": [0.5, -0.5],
    }
    (tmp_path / "completions").mkdir()
    pd.DataFrame(table).to_parquet(tmp_path / "completions" / "completions_00001.parquet")
    rows = [Row(0, "mc1", ROWS[0]["problem"], "B", "multiple-choice")]
    pairs, skipped = read_policy_completions([str(tmp_path / "completions")], rows, ROWS)
    assert pairs == [(0, "<think>x</think><answer>(B)</answer>")]
    assert skipped == {"completions_00001.parquet: no matching row": 1}


def test_eval_predictions_of_benchmark_rows_are_refused(dataset_file, tmp_path):
    predictions = tmp_path / "predictions.jsonl"
    predictions.write_text(json.dumps({"task": "mathvista", "row": 0, "completion": "B"}) + "\n")
    code = main(
        ["calibrate", "--dataset", str(dataset_file), "--judge-base-url", "http://127.0.0.1:9/v1", "--judge-model",
         "j", "--output-dir", str(tmp_path / "out"), "--predictions", str(predictions)]
    )  # fmt: skip
    assert code == 1


def test_tiny_model_judge_is_reported_as_noise(tiny_server, tmp_path):
    from dataset_builder.build import build_dataset
    from dataset_builder.synthetic import write_synthetic_release

    release = write_synthetic_release(tmp_path / "release", 16, seed=0)
    build_dataset(release.records_path, release.images_root, tmp_path / "built", export_sharegpt_json=False)
    out = tmp_path / "calibration"
    code = main(
        ["calibrate", "--dataset", str(tmp_path / "built"), "--judge-base-url", tiny_server.base_url,
         "--judge-model", tiny_server.model, "--output-dir", str(out), "--n", "4", "--positives-per-row", "1",
         "--negatives-per-row", "1", "--judge-max-tokens", "8", "--judge-timeout", "120"]
    )  # fmt: skip
    assert code == 0, tiny_server.log_tail()
    report = json.loads((out / "report.json").read_text())
    overall = report["overall"]
    # One gold form and one other row's answer per row; a type with a single row has no other answer to borrow.
    short = report["dropped_candidates"].get("rows short of negatives", 0)
    assert report["rows"]["sampled"] == 4 and overall["n"] == 8 - short
    assert overall["judged"] + overall["failures"] == overall["n"] and report["judge"]["requests"] > 0
    # A random model writes no usable grade: the figures say the judge cannot be trusted.
    assert overall["kappa"] is None or overall["kappa"] < 0.2
    assert "cannot be trusted" in report["summary"] or "noise" in report["summary"]
    assert report["summary"] in (out / "report.md").read_text()
    assert (out / "calibration.png").read_bytes().startswith(b"\x89PNG")
