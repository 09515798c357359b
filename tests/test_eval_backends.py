"""The project's lighteval model: Qwen-style messages, backends that agree, predictions that resume, failures kept.

Generation runs through lighteval's Pipeline (`python -m eval_tasks run`) on the tiny Qwen2.5-VL, in process and
through a real `transformers serve`; the scripted server only plays the failures a real server cannot be made to.
"""

from __future__ import annotations

import json
import math

import pytest
from PIL import Image
from qwen_vl_utils import smart_resize

from eval_tasks.__main__ import main
from eval_tasks.backends.messages import PixelBudget, build_messages, paper_budgets, resize, to_openai
from eval_tasks.fixtures import write_benchmark_fixtures
from eval_tasks.predictions import PredictionsMismatch, PredictionStore, read_predictions
from reward_funcs.client import EndpointError
from tests.doubles.scripted_server import Reply, ScriptedOpenAIServer

TASKS = "mmstar,mmmu,ocrbench,ai2d"  # system prompt or not, interleaved images, OCRBench's own pixel floor
# Within the tiny processor's own range (3136..12544), so a server's processor keeps the client-side size.
PIXELS = ["--min-pixels", "3136", "--max-pixels", "12544"]


@pytest.fixture(scope="module")
def benchmark_dir(tmp_path_factory):
    return write_benchmark_fixtures(tmp_path_factory.mktemp("benchmarks"), n_per_benchmark=2, seed=0)


def run(model: str, benchmark_dir, output_dir, *extra: str, tasks: str = TASKS) -> dict:
    code = main(
        ["run", "--model", model, "--tasks", tasks, "--data-dir", str(benchmark_dir), "--output-dir", str(output_dir),
         "--max-samples", "4", "--max-new-tokens", "12", *PIXELS, *extra]
    )  # fmt: skip
    assert code == 0
    return json.loads((output_dir / "results.json").read_text())


def completions(output_dir) -> dict:
    return {key: record["completion"] for key, record in read_predictions(output_dir / "predictions.jsonl").items()}


def test_endpoint_completions_equal_transformers_item_for_item(
    varied_tiny_model_dir, varied_tiny_server, benchmark_dir, tmp_path
):
    model = str(varied_tiny_model_dir)
    in_process = run(model, benchmark_dir, tmp_path / "transformers", "--device", "cpu", "--batch-size", "4")
    served = run(model, benchmark_dir, tmp_path / "endpoint", "--backend", "endpoint", "--concurrency", "4", "--max-retries", "1",
                 "--base-url", varied_tiny_server.base_url, "--served-model-name", varied_tiny_server.model)  # fmt: skip
    expected, actual = completions(tmp_path / "transformers"), completions(tmp_path / "endpoint")
    assert {task for task, _ in expected} == set(TASKS.split(","))
    assert actual == expected, f"server log:\n{varied_tiny_server.log_tail()}"
    assert len(set(expected.values())) >= len(expected) // 2  # the completions depend on the item
    # The same items failed (an empty completion: the model stopped at once) and the rest scored the same.
    assert in_process["generation"]["failed"] == served["generation"]["failed"] == list(expected.values()).count(None)
    for key in ("score", "n", "n_failed", "n_unparsed"):
        assert {k: v[key] for k, v in in_process["benchmarks"].items()} == {
            k: v[key] for k, v in served["benchmarks"].items()
        }

    # A rerun into the same folder generates nothing; other tasks are refused unless --overwrite.
    again = run(model, benchmark_dir, tmp_path / "transformers", "--device", "cpu")
    n_failed = in_process["generation"]["failed"]  # generated again (and failing again: greedy)
    assert again["generation"] == {
        "backend": "transformers",
        "generated": 0,
        "resumed": len(expected) - n_failed,
        "failed": n_failed,
    }
    with pytest.raises(PredictionsMismatch, match="tasks"):
        run(model, benchmark_dir, tmp_path / "transformers", "--device", "cpu", tasks="mmstar")


def test_failed_items_are_recorded_counted_never_scored_and_retried(tmp_path):
    benchmark_dir = write_benchmark_fixtures(tmp_path / "benchmarks", n_per_benchmark=5, seed=0, names=["mmstar"])
    arrival: dict[str, int] = {}
    tries: dict[int, int] = {}
    healthy = {"now": False}

    def responder(request):
        if request.path.endswith("/models"):
            return Reply(garbage=json.dumps({"data": [{"id": "served-model"}]}).encode())
        number = arrival.setdefault(request.last_text, len(arrival))
        tries[number] = tries.get(number, 0) + 1
        if healthy["now"] or number > 2:
            return Reply(text="<answer>A</answer>")
        if number == 0:
            return Reply(status=503)  # down for every retry
        if number == 1:
            return Reply(text="")  # an empty completion, every time
        return Reply(garbage=b"<html>oops</html>") if tries[number] == 1 else Reply(text="<answer>B</answer>")

    args = ["--backend", "endpoint", "--max-retries", "1", "--served-model-name", "served-model"]
    with ScriptedOpenAIServer(responder) as server:
        first = run(
            "some/model", benchmark_dir, tmp_path / "out", *args, "--base-url", server.base_url, tasks="mmstar"
        )
        entry = first["benchmarks"]["mmstar"]
        assert first["generation"]["failed"] == entry["n_failed"] == 2
        assert entry["n"] == first["generation"]["generated"]  # failed items never reach the scorer
        failed = [
            r for r in read_predictions(tmp_path / "out" / "predictions.jsonl").values() if r["completion"] is None
        ]
        assert sorted("503" in r["error"] or "empty completion" in r["error"] for r in failed) == [True, True]

        healthy["now"] = True
        second = run(
            "some/model", benchmark_dir, tmp_path / "out", *args, "--base-url", server.base_url, tasks="mmstar"
        )
    assert second["generation"]["generated"] == 2 and second["generation"]["failed"] == 0
    assert second["benchmarks"]["mmstar"]["n_failed"] == 0
    assert second["benchmarks"]["mmstar"]["n"] == entry["n"] + 2
    # The retried items' new lines replaced the failed ones: one line per item, as `score` reads it.
    lines = (tmp_path / "out" / "predictions.jsonl").read_text().splitlines()
    assert len(lines) == len(read_predictions(tmp_path / "out" / "predictions.jsonl")) == entry["n"] + 2


def test_unknown_served_model_name_fails_before_any_item(tiny_server, benchmark_dir, tmp_path):
    with pytest.raises(EndpointError, match="refused model 'not-served'"):
        run(tiny_server.model, benchmark_dir, tmp_path, "--backend", "endpoint", "--base-url", tiny_server.base_url,
            "--served-model-name", "not-served", tasks="mmstar")  # fmt: skip
    assert (tmp_path / "predictions.jsonl").read_text() == ""


def test_vllm_backend_without_vllm_says_how_to_get_it(tiny_model_dir, benchmark_dir, tmp_path):
    try:
        import vllm  # noqa: F401

        pytest.skip("vllm is installed here")
    except ImportError:
        pass
    with pytest.raises(RuntimeError, match=r"not installed.*\.\[vllm\].*--backend endpoint"):
        run(str(tiny_model_dir), benchmark_dir, tmp_path, "--backend", "vllm", tasks="mmstar")


def test_messages_put_images_first_and_mmmu_images_at_their_markers():
    red, blue = Image.new("RGB", (60, 40), "red"), Image.new("RGB", (40, 60), "blue")
    plain = build_messages("What is shown?", [red], "SYSTEM")
    assert plain[0] == {"role": "system", "content": [{"type": "text", "text": "SYSTEM"}]}
    assert [part["type"] for part in plain[1]["content"]] == ["image", "text"]
    assert build_messages("What is shown?", [red], None)[0]["role"] == "user"

    # Images are kept in order of first mention: <image 2> first, so images == [image_2, image_1].
    query = "Compare <image 2> with <image 1>. Is <image 2> larger?"
    parts = build_messages(query, [blue, red], None)[0]["content"]
    assert [(p["type"], p.get("text") or p["image"].getpixel((0, 0))) for p in parts] == [
        ("text", "Compare "), ("image", (0, 0, 255)), ("text", " with "), ("image", (255, 0, 0)),
        ("text", ". Is "), ("image", (0, 0, 255)), ("text", " larger?"),
    ]  # fmt: skip
    openai = to_openai(build_messages(query, [blue, red], None))
    assert [p["type"] for p in openai[0]["content"]].count("image_url") == 3
    assert openai[0]["content"][1]["image_url"]["url"].startswith("data:image/png;base64,")


def test_images_are_resized_as_qwen_does_with_ocrbench_keeping_its_floor():
    budgets = paper_budgets()
    assert budgets["*"] == PixelBudget(1280 * 28 * 28, 16384 * 28 * 28)
    assert budgets["ocrbench"] == PixelBudget(10 * 10 * 28 * 28, 16384 * 28 * 28)
    small = Image.new("RGB", (300, 200), "white")
    for budget in budgets.values():
        resized = resize(small, budget)
        height, width = smart_resize(200, 300, 28, budget.min_pixels, budget.max_pixels)
        assert resized.size == (width, height) and width % 28 == 0 and height % 28 == 0
        assert budget.min_pixels <= width * height <= budget.max_pixels
        assert math.isclose(width / height, 1.5, rel_tol=0.1)
    assert resize(small, budgets["ocrbench"]).size < resize(small, budgets["*"]).size


def test_prediction_store_drops_a_cut_line_and_refuses_other_runs(tmp_path):
    store = PredictionStore(tmp_path, {"model": "a", "tasks": ["mme"]})
    store.write("mme", 0, "yes")
    store.write("mme", 1, None, "HTTP 503")
    store.close()
    with open(tmp_path / "predictions.jsonl", "a") as handle:
        handle.write('{"task": "mme", "row": 2, "compl')  # the run was killed mid-line
    store = PredictionStore(tmp_path, {"model": "a", "tasks": ["mme"]})
    assert (store.completion("mme", 0), store.completion("mme", 1), store.completion("mme", 2)) == ("yes", None, None)
    store.close()
    with pytest.raises(PredictionsMismatch, match=r"differs in \['model'\]"):
        PredictionStore(tmp_path, {"model": "b", "tasks": ["mme"]})
    PredictionStore(tmp_path, {"model": "b", "tasks": ["mme"]}, overwrite=True).close()
    assert (tmp_path / "predictions.jsonl").read_text() == ""
    (tmp_path / "predictions.jsonl").write_text('{"task": "mme", "row": 0, "completion": "x"}\nnot json\n')
    with pytest.raises(ValueError, match="line 2: not a prediction record"):
        read_predictions(tmp_path / "predictions.jsonl")


@pytest.mark.parametrize("name", ["mathverse", "hallusionbench", "dynamath", "mmmu"])
def test_rows_are_positions_in_the_task_data_filtered_rows_included(name, benchmark_dir):
    """A doc's row is its data row's index (splits one after another, rows the filter drops counted), the same
    row `python -m eval_tasks score --data` reads: the item built from that row is the doc's item."""
    import datasets
    from lighteval.tasks.lighteval_task import LightevalTask

    from eval_tasks.runner import number_rows
    from eval_tasks.tasks import BENCHMARKS, TaskOptions, build_task_configs

    benchmark = BENCHMARKS[name]
    local = datasets.load_dataset(str(benchmark_dir / name), "default")
    rows = [row for split in benchmark.splits for row in local[split]]
    (config,) = build_task_configs([name], TaskOptions(data_dir=str(benchmark_dir)))
    task = LightevalTask(config)
    row_filter, task.dataset_filter = task.dataset_filter, None
    LightevalTask.load_datasets({config.name: task})
    number_rows(task, row_filter)
    docs = task.eval_docs()
    kept = [i for i, row in enumerate(rows) if row_filter is None or row_filter(row)]
    assert sorted(int(doc.id) for doc in docs) == kept
    assert name != "mathverse" or len(kept) < len(rows)  # the fixtures hold rows MathVerse's filter drops
    for doc in docs:
        assert benchmark.item(rows[int(doc.id)]) == doc.specific


@pytest.mark.parametrize("name", ["mathverse", "mmstar"])
def test_score_command_scores_run_predictions_as_run_did(name, varied_tiny_model_dir, benchmark_dir, tmp_path):
    ran = run(str(varied_tiny_model_dir), benchmark_dir, tmp_path / "run", "--device", "cpu", tasks=name)
    [data] = (benchmark_dir / name / "data").glob("*.parquet")
    assert main(["score", "--task", name, "--data", str(data), "--output-dir", str(tmp_path / "score"),
                 "--predictions", str(tmp_path / "run" / "predictions.jsonl")]) == 0  # fmt: skip
    by_run, by_score = ran["benchmarks"][name], json.loads((tmp_path / "score" / "results.json").read_text())
    by_score = by_score["benchmarks"][name]
    report = by_score["predictions"]
    assert report["n_out_of_range"] == report["n_for_filtered_rows"] == 0
    # Every row was generated here (the fixture is smaller than --max-samples); a failed item (None) is missing for
    # `score`, which counts it unparsed, where `run` leaves it out.
    assert report["n_missing"] == by_run["n_failed"]
    assert by_score["n"] == by_run["n"] + by_run["n_failed"] and by_score["n_rule"] == by_run["n_rule"]
    assert by_score["n_unparsed"] == by_run["n_unparsed"] + by_run["n_failed"]
    assert by_score["score"] * by_score["n"] == pytest.approx(by_run["score"] * by_run["n"])


def test_a_run_where_every_item_fails_reports_it(benchmark_dir, tmp_path):
    def responder(request):
        if request.path.endswith("/models"):
            return Reply(garbage=json.dumps({"data": [{"id": "m"}]}).encode())
        return Reply(status=500)

    with ScriptedOpenAIServer(responder) as server:
        code = main(["run", "--model", "m", "--tasks", "mme", "--data-dir", str(benchmark_dir), "--output-dir",
                     str(tmp_path), "--backend", "endpoint", "--base-url", server.base_url, "--max-retries", "0"])  # fmt: skip
    assert code == 0  # the run completed; the results say what failed and a rerun retries it
    entry = json.loads((tmp_path / "results.json").read_text())["benchmarks"]["mme"]
    records = read_predictions(tmp_path / "predictions.jsonl")
    assert entry["status"] == "failed" and entry["score"] is None and entry["n_failed"] == len(records) > 0
    assert all(r["completion"] is None and "HTTP 500" in r["error"] for r in records.values())


def test_several_base_urls_share_the_items(benchmark_dir, tmp_path):
    def responder(request):
        if request.path.endswith("/models"):
            return Reply(garbage=json.dumps({"data": [{"id": "m"}]}).encode())
        return Reply(text="<answer>yes</answer>", delay_s=0.05)

    with ScriptedOpenAIServer(responder) as a, ScriptedOpenAIServer(responder) as b:
        results = run("m", benchmark_dir, tmp_path, "--backend", "endpoint", "--concurrency", "1",
                      "--base-url", a.base_url, b.base_url, tasks="mme")  # fmt: skip
        chats = [len([r for r in s.requests if r.path.endswith("/chat/completions")]) for s in (a, b)]
    assert min(chats) > 0 and sum(chats) == results["generation"]["generated"] > 2  # the /models listing sufficed
