"""The demo's synthetic held-out split as a lighteval task (`synthetic_heldout`): the training reward's grading, the
chance figure, one scorer shared with `recipes.demo_heldout`, a real run through the runner on the tiny model, and
that it stays out of everything that means the paper's columns."""

from __future__ import annotations

import json
import random

import datasets
import pytest

from dataset_builder.synthetic import write_heldout_split
from eval_tasks.__main__ import main
from eval_tasks.benchmarks import BENCHMARKS, PAPER_BENCHMARKS
from eval_tasks.benchmarks import synthetic_heldout as task
from eval_tasks.data_files import read_rows
from eval_tasks.rescore import score_predictions
from eval_tasks.results import markdown_table, model_index
from eval_tasks.runner import RunConfig
from eval_tasks.tasks import TaskOptions, build_task_configs
from reward_funcs import accuracy_reward
from reward_funcs.answer_format import SYSTEM_PROMPT

MC = {
    "id": "heldout-00000",
    "image": None,
    "question": "What colour is the shape in the top left?\nOptions:\nA. red\nB. blue\nC. green\nD. yellow",
    "answer": "C",
    "question_type": "multiple-choice",
    "reward_method": "rule",
    "kind": "colour",
    "answer_space": ["A", "B", "C", "D"],
}
BLANK = {
    "id": "heldout-00001",
    "image": None,
    "question": "The bottom right holds a ___.",
    "answer": "circle",
    "question_type": "fill-in-the-blank",
    "reward_method": "rule",
    "kind": "shape",
    "answer_space": ["square", "circle", "triangle"],
}
DESCRIPTION = {
    "id": "heldout-00002",
    "image": None,
    "question": "Describe the shape in the bottom left.",
    "answer": "a green square",
    "question_type": "descriptive",
    "reward_method": "model",
    "kind": "description",
    "answer_space": [
        f"a {c} {s}" for c in ("red", "blue", "green", "yellow") for s in ("square", "circle", "triangle")
    ],
}


def tagged(answer: str) -> str:
    return f"<think>I look at the grid.</think><answer>{answer}</answer>"


@pytest.fixture(scope="module")
def heldout_dir(tmp_path_factory):
    """`--data-dir DIR` with the held-out split written where the task looks for it: DIR/synthetic_heldout/."""
    data_dir = tmp_path_factory.mktemp("eval-data")
    write_heldout_split(data_dir / task.NAME, 8, seed=0, train_n=16, train_seed=0)
    return data_dir


def test_score_grades_letters_values_and_malformed_completions():
    mc, blank = task.item(MC), task.item(BLANK)
    right = task.score(tagged("C"), mc)
    assert (right["correct"], right["formatted"], right["status"], right["extracted"]) == (True, True, "rule", "C")
    assert right["chance"] == 0.25 and (right["id"], right["question_type"], right["kind"]) == (
        "heldout-00000",
        "multiple-choice",
        "colour",
    )
    assert not task.score(tagged("B"), mc)["correct"]
    assert task.score(tagged("C. green"), mc)["correct"]  # the letter with its option text
    value = task.score(tagged("circle"), blank)
    assert value["correct"] and value["formatted"] and value["chance"] == pytest.approx(1 / 3)
    assert not task.score(tagged("square"), blank)["correct"]
    unclosed = task.score("<think>It is round<answer>circle", blank)  # malformed: no </think>, no </answer>
    assert not unclosed["formatted"]
    empty = task.score("", mc)
    assert (empty["correct"], empty["formatted"], empty["status"]) == (False, False, "unparsed")
    rambling = task.score("<think>Hmm.</think> I cannot tell what the picture shows, sorry.", mc)
    assert not rambling["correct"] and not rambling["formatted"]


def test_score_is_the_training_reward_on_every_kind_of_item():
    """The task's verdict is `accuracy_reward`'s (the hybrid reward's rule path), item by item."""
    splits, _ = task.fixture_rows(random.Random(3), 24)
    rows = splits["test"] + [MC, BLANK, DESCRIPTION]
    shapes = [tagged, lambda a: f"The answer is {a}.", lambda a: "<answer>A</answer>", lambda a: "no idea"]
    for index, row in enumerate(rows):
        completion = shapes[index % len(shapes)](row["answer"])
        (reward,) = accuracy_reward(
            [completion], solution=[row["answer"]], question_type=[row["question_type"]], problem=[row["question"]]
        )
        assert task.score(completion, task.item(row))["correct"] == bool(reward), (row, completion)


def test_aggregate_gives_accuracy_format_chance_and_per_type_figures():
    records = [
        task.score(tagged("C"), task.item(MC)),  # right, formatted, chance 1/4
        task.score("<answer>circle</answer>", task.item(BLANK)),  # right, not formatted (no think), chance 1/3
        task.score(tagged("a red circle"), task.item(DESCRIPTION)),  # wrong, formatted, chance 1/12
        task.score(tagged("A"), task.item(MC)),  # wrong, formatted, chance 1/4
    ]
    metrics = task.aggregate(records)
    assert metrics["accuracy"] == metrics["score"] == 50.0
    assert metrics["format"] == 75.0
    assert metrics["chance"] == pytest.approx(100 * (1 / 4 + 1 / 3 + 1 / 12 + 1 / 4) / 4)
    assert metrics["accuracy/multiple-choice/colour"] == 50.0 and metrics["chance/multiple-choice/colour"] == 25.0
    assert metrics["accuracy/fill-in-the-blank/shape"] == 100.0
    assert metrics["chance/descriptive/description"] == pytest.approx(100 / 12)
    assert metrics["n"] == 4 and metrics["n_rule"] == 4
    summary = task.summary(records)
    assert summary["chance"] == pytest.approx(metrics["chance"] / 100)
    assert summary["by_type"]["multiple-choice/colour"] == {"n": 2, "accuracy": 0.5, "chance": 0.25}


def test_prompt_is_what_training_sees(heldout_dir):
    rows = datasets.load_dataset(str(heldout_dir / task.NAME), split="test")
    doc = task.prompt_fn(rows[0], task.BENCHMARK.task_name)
    assert doc.instruction == SYSTEM_PROMPT
    assert doc.query == rows[0]["question"]  # unchanged: a multiple-choice question already lists its options
    assert len(doc.images) == 1 and doc.images[0].size == (64, 64)
    assert doc.specific == task.item(rows[0])


def test_demo_heldout_scores_with_the_task(heldout_dir):
    from recipes import demo_heldout

    rows = list(datasets.load_dataset(str(heldout_dir / task.NAME), split="test"))
    completions = [tagged(row["answer"]) if i % 2 else "no idea" for i, row in enumerate(rows)]
    figures = demo_heldout.score(rows, completions)
    assert set(figures) == {"n", "format", "accuracy", "chance", "by_type", "examples"}
    metrics = task.aggregate([task.score(c, task.item(r)) for r, c in zip(rows, completions)])
    assert figures["n"] == 8 and figures["accuracy"] == pytest.approx(metrics["accuracy"] / 100) == 0.5
    assert figures["format"] == 0.5 and figures["chance"] == pytest.approx(metrics["chance"] / 100)
    assert sum(group["n"] for group in figures["by_type"].values()) == 8
    assert figures["examples"][1] == {"question": rows[1]["question"], "gold": rows[1]["answer"],
                                      "completion": completions[1]}  # fmt: skip


def test_not_a_paper_column():
    # The paper's 14 columns are 13 benchmarks (MathVista in both leaderboards), plus MME: 14 tasks, 14 table columns.
    assert len(PAPER_BENCHMARKS) == 14 and task.NAME not in PAPER_BENCHMARKS and task.NAME in BENCHMARKS
    assert RunConfig(model="m").benchmark_names() == list(PAPER_BENCHMARKS)  # --tasks all
    assert RunConfig(model="m", tasks="all,synthetic_heldout").benchmark_names() == [*PAPER_BENCHMARKS, task.NAME]
    assert RunConfig(model="m", tasks="wethink_synthetic_heldout").benchmark_names() == [task.NAME]
    with pytest.raises(ValueError, match="no Hub dataset"):  # local data only: refused before any model loads
        build_task_configs([task.NAME], TaskOptions())
    paper = {
        name: {"column": b.column, "score": 50.0, "status": "scored", "n": 10} for name, b in PAPER_BENCHMARKS.items()
    }
    heldout = {"column": "Synthetic held-out", "score": 62.5, "status": "scored", "n": 8, "n_rule": 8,
               "metrics": {"score": 62.5, "accuracy": 62.5, "format": 100.0, "chance": 25.0}}  # fmt: skip
    results = {"model": "m", "max_samples": None, "benchmarks": {**paper, task.NAME: heldout}}
    table = markdown_table(results)
    header, *_ = table.splitlines()
    assert header.count("|") - 2 == 14 and "Synthetic held-out" not in header
    reference_rows = [line for line in table.splitlines() if "(reference)" in line]
    assert len(reference_rows) == 2 and all(line.count("|") - 2 == 14 for line in reference_rows)
    assert "| Synthetic held-out | 62.5 | 100.0 | 25.0 | 8 | 8 | 0 | scored |" in table
    names = [entry["dataset"]["name"] for entry in model_index(results, "m")[0]["results"]]
    assert len(names) == 14 and "Synthetic held-out" not in names


def test_fixtures_by_default_write_the_paper_columns_only(tmp_path):
    main(["fixtures", "--data-dir", str(tmp_path / "all"), "--n", "1"])
    assert {p.name for p in (tmp_path / "all").iterdir()} == set(PAPER_BENCHMARKS)
    main(["fixtures", "--data-dir", str(tmp_path / "one"), "--n", "3", "--tasks", task.NAME])
    written = datasets.load_dataset(str(tmp_path / "one" / task.NAME), split="test")
    assert written.num_rows == 3 and set(written.column_names) >= {"answer_space", "kind", "question_type"}


def test_runner_scores_the_heldout_split_on_the_tiny_model(varied_tiny_model_dir, heldout_dir, tmp_path):
    """`python -m eval_tasks run --tasks synthetic_heldout --data-dir DIR`: lighteval's Pipeline, every item."""
    output_dir = tmp_path / "eval"
    code = main(
        ["run", "--model", str(varied_tiny_model_dir), "--tasks", "synthetic_heldout", "--data-dir", str(heldout_dir),
         "--output-dir", str(output_dir), "--max-new-tokens", "4", "--device", "cpu", "--min-pixels", "3136",
         "--max-pixels", "3136", "--batch-size", "4"]
    )  # fmt: skip
    assert code == 0
    results = json.loads((output_dir / "results.json").read_text())
    entry = results["benchmarks"][task.NAME]
    assert entry["status"] == "scored" and entry["n"] == 8 and entry["n_failed"] == 0
    assert entry["n_rule"] + entry["n_unparsed"] == 8
    rows = list(datasets.load_dataset(str(heldout_dir / task.NAME), split="test"))
    expected_chance = 100 * sum(1 / len(row["answer_space"]) for row in rows) / len(rows)
    assert entry["metrics"]["chance"] == pytest.approx(expected_chance)
    assert {"accuracy", "format"} <= set(entry["metrics"])
    # The scores are the task's own scorer over the saved completions (one scorer for run, score and the demo).
    lines = [json.loads(line) for line in (output_dir / "predictions.jsonl").read_text().splitlines()]
    completions = {line["row"]: line["completion"] for line in lines if line["task"] == task.NAME}
    assert sorted(completions) == list(range(8))
    rescored = task.aggregate([task.score(completions[i], task.item(row)) for i, row in enumerate(rows)])
    assert entry["score"] == pytest.approx(rescored["score"]) and entry["metrics"]["format"] == rescored["format"]
    parquet = heldout_dir / task.NAME / "data" / "test-00000-of-00001.parquet"  # `python -m eval_tasks score`'s path
    offline = score_predictions(task.NAME, read_rows(parquet), completions)["entry"]
    assert offline["score"] == pytest.approx(entry["score"]) and offline["status"] == "scored"
    assert results["model_index"][0]["results"] == []  # never on a model card
    table = (output_dir / "results.md").read_text()
    assert "| Task (not a paper column) |" in table and "(reference)" not in table
