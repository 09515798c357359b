"""The evaluation tasks on real benchmark rows (tests/data/benchmarks, see its README) and on the generated fixtures:
a perfect model wins everything winnable in both answer shapes, a constant answer scores what the golds give, and
golds no answer can match are reported."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pytest

from eval_tasks.benchmarks import BENCHMARKS
from eval_tasks.data_files import read_rows
from eval_tasks.fixtures import benchmark_rows
from eval_tasks.rescore import score_predictions

DATA = Path(__file__).parent / "data" / "benchmarks"
REAL = ("mathvista", "wemath", "logicvista", "hallusionbench", "dynamath")
SHAPES = {
    "tagged": lambda answer: f"<think>I look at the figure and work it out.</think><answer>{answer}</answer>",
    "prose": lambda answer: f"I look at the figure and work it out step by step. Therefore, the answer is {answer}.",
}


def real_rows(name: str) -> list[dict]:
    return read_rows(DATA / f"{name}.jsonl")


def gold_text(item: dict) -> str:
    answer = item.get("answers") or item["answer"]  # MMMU: the accepted open answers
    return str(answer[0] if isinstance(answer, list) else answer)


def perfect(name: str, rows: list[dict], shape: str) -> dict:
    benchmark = BENCHMARKS[name]
    completions = {}
    for index, row in enumerate(rows):
        if benchmark.row_filter is None or benchmark.row_filter(row):
            completions[index] = SHAPES[shape](gold_text(benchmark.read_item(row)))
    return score_predictions(name, rows, completions)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", REAL)
def test_perfect_model_wins_every_winnable_real_item(name, shape):
    scored = perfect(name, real_rows(name), shape)
    lost = [item for item in scored["items"] if not item["correct"] and not item.get("unwinnable")]
    assert lost == [], lost
    entry = scored["entry"]
    assert entry["n"] == len(scored["items"]) > 0 and entry["n_unparsed"] == entry["n_unwinnable"]
    if entry["n_unwinnable"] == 0:
        assert entry["score"] == 100.0


def test_unwinnable_logicvista_golds_are_reported_not_lost():
    rows = real_rows("logicvista")
    scored = perfect("logicvista", rows, "tagged")
    unwinnable = [rows[item["row"]]["answer"] for item in scored["items"] if item.get("unwinnable")]
    assert sorted(unwinnable) == ["", "3"]
    entry = scored["entry"]
    assert entry["n_unwinnable"] == 2 and entry["score"] == pytest.approx(100 * 18 / 20)
    letters = {rows[i["row"]]["answer"]: i["extracted"] for i in scored["items"]}
    assert letters["G"] == "G" and letters["F"] == "F" and letters["B, D"] == "B, D"  # beyond E and multi-letter


def right_for_constant_a(name: str, item: dict) -> bool:
    """Whether the answer "A" is right, read from the gold alone (the benchmark's rule in one line)."""
    if name == "mathvista":
        return "A" in item.get("answers", [])
    if name in ("wemath", "logicvista", "mmstar", "ai2d", "mmbench", "mathvision", "mmmu"):
        return item["answer"] == "A"
    if name == "mathverse":
        return item["question_type"] == "multi-choice" and item["answer"] == "A"
    if name == "dynamath":
        kind = item["answer_type"]
        return item["answer"] == "A" if kind == "multiple choice" else kind == "text" and "a" in item["answer"].lower()
    if name == "ocrbench":
        return any(ref.lower() in "a" for ref in item["answer"])
    return False  # yes/no benchmarks: "A" is no answer


def expected_constant_score(name: str, items: list[dict]) -> float:
    right = [right_for_constant_a(name, item) for item in items]
    if name == "wemath":
        groups = defaultdict(lambda: {"subs": [], "multi": None})
        for item, ok in zip(items, right):
            group = groups[(item["key"].split("steps")[0], item["ID"])]
            if item["key"].endswith("multi"):
                group["multi"] = ok
            else:
                group["subs"].append(ok)
        n = len(groups)
        ik = sum(not all(g["subs"]) and not g["multi"] for g in groups.values())
        ig = sum(all(g["subs"]) and not g["multi"] for g in groups.values())
        rm = sum(not all(g["subs"]) and g["multi"] for g in groups.values())
        return 100 * (n - 0.5 * ig - rm - ik) / n
    if name in ("dynamath", "mmbench"):
        key = "qid" if name == "dynamath" else "g_index"
        groups = defaultdict(list)
        for item, ok in zip(items, right):
            groups[item[key]].append(ok)
        return 100 * sum(all(v) for v in groups.values()) / len(groups)
    if name == "hallusionbench":
        return 0.0
    return 100 * sum(right) / len(right)


@pytest.mark.parametrize("name", REAL)
def test_constant_answer_scores_what_the_golds_give(name):
    rows = real_rows(name)
    benchmark = BENCHMARKS[name]
    kept = [i for i, row in enumerate(rows) if benchmark.row_filter is None or benchmark.row_filter(row)]
    items = [benchmark.read_item(rows[i]) for i in kept]
    scored = score_predictions(name, rows, dict.fromkeys(kept, "<answer>A</answer>"))
    assert scored["entry"]["score"] == pytest.approx(expected_constant_score(name, items))


def fixture_items(name: str, n: int = 6) -> tuple[list[dict], list[dict]]:
    splits, _ = benchmark_rows(name, n, seed=1)
    rows = [{**row, "split": split} for split, split_rows in splits.items() for row in split_rows]
    return rows, [BENCHMARKS[name].read_item(row) for row in rows]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", [n for n in BENCHMARKS if n != "mmvet"])
def test_perfect_model_wins_every_generated_fixture(name, shape):
    rows, items = fixture_items(name)
    scored = perfect(name, rows, shape)
    lost = [(rows[i["row"]], i) for i in scored["items"] if not i["correct"] and not i.get("unwinnable")]
    assert lost == []
    maximum = 1000.0 if name == "ocrbench" else 200.0 * len({i["category"] for i in items}) if name == "mme" else 100.0
    if not scored["entry"]["n_unwinnable"]:
        assert scored["entry"]["score"] == pytest.approx(maximum)


@pytest.mark.parametrize("name", ["mmbench", "dynamath", "wemath", "logicvista", "mathvista", "hallusionbench"])
def test_constant_answer_on_generated_fixtures(name):
    rows, items = fixture_items(name, 12)
    scored = score_predictions(name, rows, dict.fromkeys(range(len(rows)), "A"))
    assert scored["entry"]["score"] == pytest.approx(expected_constant_score(name, [
        i for i, row in zip(items, rows) if BENCHMARKS[name].row_filter is None or BENCHMARKS[name].row_filter(row)
    ]))  # fmt: skip
    if name == "mmbench":
        assert scored["entry"]["score"] == 0.0  # every rotation moves the gold: no question has gold A throughout


def test_generated_fixtures_hold_the_real_formats():
    wemath, _ = fixture_items("wemath", 10)
    options = " | ".join(row["option"] for row in wemath)
    assert ";B." in options and "; B." in options and "．" in options and " B. " in options
    logicvista, items = fixture_items("logicvista", 10)
    assert any(re.search(r"\(A\) \d", row["question"]) for row in logicvista)
    assert {"ABCDEFGHI", "ABCD"} <= {item["letters"] for item in items} and any(i.get("unwinnable") for i in items)
    mmbench, items = fixture_items("mmbench", 6)
    assert any(row["D"] == "nan" for row in mmbench) and all("L2-category" in row for row in mmbench)
    assert all("nan" not in item["options"].values() for item in items)
    dynamath, _ = fixture_items("dynamath", 6)
    assert {row["answer_type"] for row in dynamath} == {"float", "multiple choice", "text"}


@pytest.mark.parametrize("name", sorted(BENCHMARKS))
def test_items_keep_one_type_per_field_so_lighteval_can_store_its_details(name):
    """lighteval writes every Doc.specific of a task into one Arrow table (EvaluationTracker.save): a field that is a
    string in one row and a list in another (MMMU's open vs multiple-choice golds did) fails the run after all of
    its generation."""
    import pyarrow as pa

    benchmark = BENCHMARKS[name]
    splits, _features = benchmark_rows(name, 24, seed=0)
    items = [benchmark.read_item(row) for rows in splits.values() for row in rows]
    assert items
    pa.array(items)  # raises ArrowInvalid on mixed list / non-list values
