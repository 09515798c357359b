"""`python -m eval_tasks score`: offline re-scoring from data files (Hub-schema JSONL, VLMEvalKit TSV) and a
predictions JSONL, with bad input named and counted."""

from __future__ import annotations

import base64
import csv
import io
import json
from pathlib import Path

import datasets
import pytest
from PIL import Image

from eval_tasks.__main__ import main
from eval_tasks.benchmarks import BENCHMARKS, RowError
from eval_tasks.data_files import DataFileError, local_dataset, read_rows
from eval_tasks.rescore import ScoreArguments
from eval_tasks.rescore import main as score_main

DATA = Path(__file__).parent / "data" / "benchmarks"


def write_jsonl(path: Path, lines: list[dict]) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def test_score_command_writes_results_and_items(tmp_path, capsys):
    rows = read_rows(DATA / "logicvista.jsonl")
    predictions = [{"task": "logicvista", "row": i, "completion": f"<answer>{r['answer']}</answer>"}
                   for i, r in enumerate(rows)]  # fmt: skip
    predictions[1]["completion"] = "<answer>B</answer>"  # gold "A, C": wrong
    predictions.append({"task": "mmstar", "row": 0, "completion": "A"})  # another task's line: skipped, counted
    path = write_jsonl(tmp_path / "predictions.jsonl", predictions)
    code = main(["score", "--task", "logicvista", "--data", str(DATA / "logicvista.jsonl"), "--predictions",
                 str(path), "--output-dir", str(tmp_path / "out")])  # fmt: skip
    assert code == 0 and "| LogicVista |" in capsys.readouterr().out
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    entry = results["benchmarks"]["logicvista"]
    assert entry["status"] == "partial" and entry["n"] == 20 and entry["n_unwinnable"] == 2  # 20 of 448 rows
    assert entry["score"] == pytest.approx(100 * 17 / 20) and entry["metrics"]["score"] == entry["score"]
    assert entry["predictions"]["n_other_task_lines"] == 1 and entry["predictions"]["n_missing"] == 0
    items = [json.loads(line) for line in (tmp_path / "out" / "items.jsonl").read_text().splitlines()]
    assert items[1] == {"row": 1, "correct": False, "status": "rule", "extracted": "B"}
    assert [i["row"] for i in items if i.get("unwinnable")] == [6, 19]
    assert results["model_index"][0]["results"] == []  # a slice never reaches a model card


def test_bad_predictions_are_named_and_counted(tmp_path):
    rows = read_rows(DATA / "hallusionbench.jsonl")
    gold = {i: "yes" if r["gt_answer"] == "1" else "no" for i, r in enumerate(rows)}
    lines = [{"row": i, "completion": gold[i]} for i in range(len(rows)) if i not in (3, 7)]  # rows 3, 7 missing
    lines += [{"row": 0, "completion": "no" if gold[0] == "yes" else "yes"}, {"row": 999, "completion": "yes"}]
    path = write_jsonl(tmp_path / "p.jsonl", lines)
    results = score_main(ScoreArguments(task="hallusionbench", data=str(DATA / "hallusionbench.jsonl"),
                                        predictions=str(path), output_dir=str(tmp_path / "out")))  # fmt: skip
    entry = results["benchmarks"]["hallusionbench"]
    problems = entry["predictions"]
    assert (problems["n_missing"], problems["missing_rows"]) == (2, [3, 7])
    assert (problems["n_duplicate"], problems["duplicate_rows"]) == (1, [0])  # the first line for a row is used
    assert (problems["n_out_of_range"], problems["out_of_range_rows"]) == (1, [999])
    assert entry["status"] == "partial" and entry["n_unparsed"] == 2 and entry["metrics"]["aAcc"] == pytest.approx(
        100 * (len(rows) - 2) / len(rows))  # fmt: skip
    items = [json.loads(line) for line in (tmp_path / "out" / "items.jsonl").read_text().splitlines()]
    assert [i["row"] for i in items if i.get("no_prediction")] == [3, 7]


def test_malformed_prediction_line_names_file_and_line(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text('{"row": 0, "completion": "A"}\n{"row": "x", "completion": "A"}\n')
    with pytest.raises(DataFileError, match=r"p\.jsonl: line 2: not a prediction"):
        score_main(ScoreArguments(task="wemath", data=str(DATA / "wemath.jsonl"), predictions=str(path)))
    path.write_text('{"completion": "A"}\n')
    with pytest.raises(DataFileError, match=r"line 1: not a prediction \(missing field 'row'\)"):
        score_main(ScoreArguments(task="wemath", data=str(DATA / "wemath.jsonl"), predictions=str(path)))


def test_data_row_missing_a_column_names_file_row_and_column(tmp_path):
    rows = read_rows(DATA / "wemath.jsonl")
    del rows[4]["option"]
    data = write_jsonl(tmp_path / "wemath.jsonl", rows)
    predictions = write_jsonl(tmp_path / "p.jsonl", [{"row": 0, "completion": "A"}])
    with pytest.raises(RowError, match=r"wemath\.jsonl: row 4: missing column 'option'"):
        score_main(ScoreArguments(task="wemath", data=str(data), predictions=str(predictions)))
    bad_split = [{**row, "split": "sample_variant11"} for row in read_rows(DATA / "dynamath.jsonl")]
    with pytest.raises(ValueError, match=r"dynamath.jsonl: row 0: column 'split'"):
        from eval_tasks.data_files import row_splits

        row_splits(bad_split, BENCHMARKS["dynamath"].splits, "dynamath.jsonl")


def png_base64(color: str) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def write_mmbench_tsv(path: Path, *, drop: str | None = None) -> Path:
    """Rows in the columns of VLMEvalKit's MMBench_DEV_EN_V11.tsv: circular copies, a 3-option question whose D
    cell is empty, a copy whose image cell points at its original's index."""
    columns = ["index", "question", "hint", "A", "B", "C", "D", "answer", "category", "image", "l2-category", "split"]
    options = [["cat", "dog", "cow", "hen"], ["red", "blue", "green"]]
    rows = []
    for question, opts in enumerate(options):
        for k in range(len(opts)):
            rotated = opts[k:] + opts[:k]
            rows.append({"index": question + k * 1_000_000, "question": "Which one?", "hint": "Look closely." if question else
                         "", **dict(zip("ABCD", rotated + [""] * (4 - len(rotated)))),
                         "answer": "ABCD"[rotated.index(opts[0])], "category": "c",
                         "image": png_base64("white") if k == 0 else str(question), "l2-category": f"l2_{question}",
                         "split": "dev"})  # fmt: skip
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[c for c in columns if c != drop], delimiter="\t",
                                extrasaction="ignore")  # fmt: skip
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_mmbench_v11_tsv_fills_the_mmb11_column_and_hub_v10_is_marked(tmp_path):
    tsv = write_mmbench_tsv(tmp_path / "MMBench_DEV_EN_V11.tsv")
    rows = read_rows(tsv)
    assert rows[0]["D"] == "hen" and rows[4]["D"] is None  # empty TSV cell
    lines = [{"row": i, "completion": f"<answer>{row['answer']}</answer>"} for i, row in enumerate(rows)]
    predictions = write_jsonl(tmp_path / "p.jsonl", lines)
    results = score_main(ScoreArguments(task="mmbench", data=str(tsv), predictions=str(predictions),
                                        output_dir=str(tmp_path / "v11")))  # fmt: skip
    entry = results["benchmarks"]["mmbench"]
    assert (entry["column"], entry["comparable"], entry["score"]) == ("MMB1.1", True, 100.0)
    assert entry["status"] == "scored" and results["model_index"][0]["results"][0]["dataset"]["name"] == "MMB1.1"
    assert entry["metrics"]["n_groups"] == 2 and entry["metrics"]["l2_category/l2_1"] == 100.0
    assert "| WeThink-VL-7B (reference) | 81.8 |" in (tmp_path / "v11" / "results.md").read_text()

    hub_like = [{**row, "L2-category": row.pop("l2-category"), "hint": row["hint"] or "nan", "D": row["D"] or "nan"}
                for row in read_rows(tsv)]  # fmt: skip
    v10 = write_jsonl(tmp_path / "mmbench_en_dev.jsonl", hub_like)
    results = score_main(ScoreArguments(task="mmbench", data=str(v10), predictions=str(predictions),
                                        output_dir=str(tmp_path / "v10")))  # fmt: skip
    entry = results["benchmarks"]["mmbench"]
    assert (entry["column"], entry["comparable"]) == ("MMBench v1.0 dev", False)
    table = (tmp_path / "v10" / "results.md").read_text()
    assert "| Model | MMBench v1.0 dev |" in table and "| WeThink-VL-7B (reference) | n/c |" in table
    item = BENCHMARKS["mmbench"].read_item(hub_like[4])
    assert list(item["options"]) == ["A", "B", "C"] and item["l2_category"] == "l2_1"


def test_tsv_in_data_dir_becomes_a_dataset_lighteval_loads(tmp_path):
    write_mmbench_tsv(tmp_path / "MMBench_DEV_EN_V11.tsv")
    folder = local_dataset(BENCHMARKS["mmbench"], tmp_path)
    dev = datasets.load_dataset(str(folder), "default")["dev"]
    assert len(dev) == 7
    doc = BENCHMARKS["mmbench"].prompt_fn(dev[1], "wethink_mmbench")  # its image cell points at row 0's image
    assert doc.images[0].size == (8, 8) and "Hint:" not in doc.query and "D. " in doc.query
    assert doc.specific["version"] == "1.1"
    assert "Hint: Look closely." in BENCHMARKS["mmbench"].prompt_fn(dev[4], "t").query


def test_tsv_missing_a_column_names_file_row_and_column(tmp_path):
    tsv = write_mmbench_tsv(tmp_path / "MMBench_DEV_EN_V11.tsv", drop="answer")
    predictions = write_jsonl(tmp_path / "p.jsonl", [{"row": 0, "completion": "A"}])
    with pytest.raises(RowError, match=r"MMBench_DEV_EN_V11\.tsv: row 0: missing column 'answer'"):
        score_main(ScoreArguments(task="mmbench", data=str(tsv), predictions=str(predictions)))


def test_judge_flags_of_run_and_score_go_together():
    """`run` and `score` build their judge from the same flags through one `JudgeSettings.from_flags`."""
    from eval_tasks.judge import JudgeSettings

    assert JudgeSettings.from_flags(None, None, "OPENAI_API_KEY") is None
    judge = JudgeSettings.from_flags("http://127.0.0.1:9/v1", "judge", "MY_KEY")
    assert (judge.base_url, judge.model, judge.api_key_env) == ("http://127.0.0.1:9/v1", "judge", "MY_KEY")
    for base_url, model in (("http://127.0.0.1:9/v1", None), (None, "judge")):
        with pytest.raises(ValueError, match="go together"):
            JudgeSettings.from_flags(base_url, model, "OPENAI_API_KEY")
