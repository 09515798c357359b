"""The eval runner end to end on the tiny model, the MM-Vet judge over loopback, results/model-index, decontamination."""

from __future__ import annotations

import json

import datasets
import pyarrow.parquet as pq
import pytest
import torch
from PIL import Image

from eval_tasks.__main__ import main
from eval_tasks.decontaminate import DecontaminationConfig, decontaminate, dhash, hamming, phash
from eval_tasks.fixtures import write_benchmark_fixtures
from eval_tasks.judge import JudgeSettings, judge_mmvet, parse_judge_score
from eval_tasks.results import markdown_table, model_index
from eval_tasks.scoring import SCORERS, aggregate_mmvet, score_mmvet
from eval_tasks.tasks import PAPER_BENCHMARKS
from tests.doubles.scripted_server import Reply, ScriptedOpenAIServer


@pytest.fixture(scope="module")
def benchmark_dir(tmp_path_factory):
    return write_benchmark_fixtures(tmp_path_factory.mktemp("benchmarks"), n_per_benchmark=2, seed=0)


def test_fixtures_load_in_every_benchmark_schema(benchmark_dir):
    for benchmark in PAPER_BENCHMARKS.values():  # what `fixtures` writes by default
        dataset = datasets.load_dataset(str(benchmark_dir / benchmark.name), "default")
        assert set(benchmark.splits) <= set(dataset), benchmark.name
        rows = dataset[benchmark.splits[0]]
        if benchmark.hf_filter:
            rows = rows.filter(benchmark.hf_filter)
        doc = benchmark.prompt_function(rows[0], benchmark.task_name)
        assert doc.images and doc.query, benchmark.name


def test_runner_end_to_end_on_tiny_model(varied_tiny_model_dir, benchmark_dir, tmp_path):
    output_dir = tmp_path / "eval"
    model_files = sorted(path.name for path in varied_tiny_model_dir.iterdir())

    def judge(request):  # grades MM-Vet items; finds no answer in the tiny model's unreadable outputs
        return Reply(text="0.5" if "Compare the ground truth" in request.last_text else "None")

    with ScriptedOpenAIServer(judge) as server:
        code = main(
            ["run", "--model", str(varied_tiny_model_dir), "--tasks", "mmstar,mme,mmvet", "--data-dir",
             str(benchmark_dir), "--output-dir", str(output_dir), "--max-samples", "2", "--max-new-tokens", "4",
             "--device", "cpu", "--min-pixels", "3136", "--max-pixels", "3136", "--judge-base-url", server.base_url,
             "--judge-model", "judge"]
        )  # fmt: skip
    assert code == 0
    assert torch.is_grad_enabled()  # lighteval turns autograd off process-wide; the runner must give it back
    assert (
        sorted(path.name for path in varied_tiny_model_dir.iterdir()) == model_files
    )  # nothing left in the model folder
    results = json.loads((output_dir / "results.json").read_text())
    assert list(results["benchmarks"]) == ["mmstar", "mme", "mmvet"]
    for name in ("mmstar", "mme"):
        entry = results["benchmarks"][name]
        assert entry["n"] == 2 and entry["status"] == "partial" and entry["score"] is not None
        assert entry["n_rule"] + entry["n_unparsed"] == 2  # the random tiny model: every item is counted somewhere
    mmvet = results["benchmarks"]["mmvet"]
    assert (mmvet["n"], mmvet["n_judge"], mmvet["score"]) == (2, 2, 50.0)
    table = (output_dir / "results.md").read_text()
    assert "| MMStar | MMVet | MME |" in table and "WeThink-VL-7B (reference) | 64.2 | 73.2 | - |" in table
    assert results["model_index"][0]["results"] == []  # partial runs never reach a model card


def test_mmvet_judge_scores_over_loopback():
    records = [
        score_mmvet("<answer>3</answer>", {"question_id": "v1_0", "capability": ["math"], "question": "How many?",
                                           "answer": "3<OR>three"}),
        score_mmvet("<answer>blue</answer>", {"question_id": "v1_1", "capability": ["rec"], "question": "Colour?",
                                              "answer": "red"}),
    ]  # fmt: skip

    def grader(request):
        return Reply(text="1.0" if "| 3 |" in request.last_text else "0.0")

    with ScriptedOpenAIServer(grader) as server:
        judge_mmvet(records, JudgeSettings(base_url=server.base_url, model="judge", attempts=2))
        assert "Compare the ground truth and prediction" in server.requests[0].last_text
    result = aggregate_mmvet(records)
    assert [r["status"] for r in records] == ["judge", "judge"]
    assert result["score"] == 50.0 and result["capability/math"] == 100.0 and result["n_judge"] == 2
    assert parse_judge_score("Correctness: 0.7") == 0.7 and parse_judge_score("I think 7") is None


def test_mmvet_judge_without_usable_reply_counts_failures():
    records = [score_mmvet("x", {"question_id": "v1_0", "capability": [], "question": "q", "answer": "a"})]
    with ScriptedOpenAIServer(lambda request: Reply(text="no idea")) as server:
        judge_mmvet(records, JudgeSettings(base_url=server.base_url, model="judge", attempts=2))
        assert len(server.requests) == 2
    assert records[0]["status"] == "judge_failed" and aggregate_mmvet(records)["score"] == 0.0


def test_results_table_and_model_index():
    results = {
        "model": "my-model",
        "max_samples": None,
        "benchmarks": {
            "mathvista": {"column": "MathVista", "score": 70.0, "status": "scored", "n": 1000, "n_rule": 990,
                          "n_judge": 0, "n_unparsed": 10, "n_needs_judge": 0, "n_judge_failed": 0},
            "mmvet": {"column": "MMVet", "score": None, "status": "needs judge", "n": 218, "n_rule": 0, "n_judge": 0,
                      "n_unparsed": 0, "n_needs_judge": 218, "n_judge_failed": 0},
        },
    }  # fmt: skip
    table = markdown_table(results)
    assert "| my-model | 70.0 | needs judge |" in table
    assert "| Qwen2.5-VL-7B (reference) | 68.1 | 69.7 |" in table
    assert "| MathVista | accuracy | 1000 | 990 | 0 | 10 | 0 | scored |" in table
    index = model_index(results, "my-model")
    assert [r["dataset"]["type"] for r in index[0]["results"]] == ["AI4Math/MathVista"]
    assert index[0]["results"][0]["metrics"][0]["value"] == 70.0


def test_perceptual_hashes_survive_resizing():
    image = Image.new("RGB", (64, 64), "white")
    for i in range(0, 64, 16):
        image.paste((200, 30, 30), (i, i // 2, i + 8, i // 2 + 20))
    resized = image.resize((100, 100))
    other = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    assert hamming(phash(image), phash(resized)) <= 4 and hamming(dhash(image), dhash(resized)) <= 4
    assert hamming(phash(image), phash(other)) > 4


def test_decontaminate_finds_image_and_question_overlap(benchmark_dir, tmp_path):
    from dataset_builder.build import build_dataset
    from dataset_builder.synthetic import write_synthetic_release

    release = write_synthetic_release(tmp_path / "release", 12, seed=3)
    mmstar = datasets.load_dataset(str(benchmark_dir / "mmstar"), "default")["val"]
    mmstar[0]["image"].resize((96, 96)).save(release.images_root / "coco/train2017/copied.png")
    leaked = [
        {"problem": "Describe the picture.", "answer": "squares", "category": "descriptive",
         "abilities": ["Recognition"], "refined_cot": "I look.", "image_path": "coco/train2017/copied.png",
         "reward": "model"},
        {"problem": mmstar[1]["question"], "answer": "A", "category": "multiple choice", "abilities": ["Recognition"],
         "refined_cot": "I look.", "image_path": "coco/train2017/00000000.jpg", "reward": "rule"},
    ]  # fmt: skip
    with open(release.records_path, "a") as handle:
        handle.writelines(json.dumps(record) + "\n" for record in leaked)
    build_dataset(release.records_path, release.images_root, tmp_path / "built", export_sharegpt_json=False)

    config = DecontaminationConfig(dataset=str(tmp_path / "built"), benchmarks="mmstar", data_dir=str(benchmark_dir),
                                   output_dir=str(tmp_path / "report"), write_clean=str(tmp_path / "clean"), ngram=5)  # fmt: skip
    report = decontaminate(config)
    default = pq.read_table(tmp_path / "built" / "default").to_pylist()
    leaked_ids = {row["id"] for row in default if row["problem"] in (leaked[0]["problem"], leaked[1]["problem"])}
    assert report.checked == 14 and report.overlapping_ids() == leaked_ids
    assert sorted(e["match"] for e in report.overlaps["mmstar"]) == ["image", "text"]
    written = json.loads((tmp_path / "report" / "overlaps.json").read_text())
    assert set(written["per_benchmark"]["mmstar"]) == leaked_ids
    for config_name in ("default", "rl", "sft"):
        clean_ids = set(pq.read_table(tmp_path / "clean" / config_name).column("id").to_pylist())
        assert len(clean_ids) == 12 and not clean_ids & leaked_ids


def test_judge_extracts_unparsed_answers_then_rules_grade_them():
    from eval_tasks.tasks import BenchmarkAggregate

    item = {"index": "0", "category": "c", "answer": "B", "options": {"A": "cat", "B": "dog", "C": "cow", "D": "hen"}}
    rambling = "Looking at the animal, its ears and tail suggest the second choice of the list, I would say. " * 2
    records = [
        SCORERS["mmstar"][0](rambling, item),
        SCORERS["mmstar"][0]("Hard to tell. " * 10, {**item, "index": "1"}),
    ]
    assert [r["status"] for r in records] == ["unparsed", "unparsed"]

    def extractor(request):
        return Reply(text="B" if "second choice" in request.last_text else "None")

    with ScriptedOpenAIServer(extractor) as server:
        settings = JudgeSettings(base_url=server.base_url, model="judge")
        result = BenchmarkAggregate("mmstar", settings).compute_corpus(records)
        assert "B. dog" in server.requests[0].last_text
    assert [(r["status"], r["correct"]) for r in records] == [("judge", True), ("unparsed", False)]
    assert (result["score"], result["n_judge"], result["n_unparsed"]) == (50.0, 1, 1)
