"""`make demo` in its small form: every stage runs the real component, offline, and the summary points at real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from huggingface_hub import DatasetCard, ModelCard

from recipes.demo import REPO_ROOT


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "demo"
    env = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")}
    result = subprocess.run(
        [sys.executable, "-m", "recipes.demo", "--output-dir", str(out), "--small"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out, result.stdout


def test_demo_builds_trains_and_evaluates(demo_run):
    from datasets import load_dataset

    out, _ = demo_run
    rl = load_dataset(str(out / "data"), "rl", split="train")
    assert rl.num_rows > 0 and {"prompt", "image", "solution"} <= set(rl.column_names)

    for stage in ("sft", "grpo"):
        state = json.loads((out / stage / "trainer_state.json").read_text())
        assert state["global_step"] == 2
        assert (out / stage / "model.safetensors").is_file()
    # SFT runs data parallel (recipes/accelerate_configs/cpu_ddp.yaml: two processes over gloo), GRPO in one process.
    assert "Process 0 of 2 (distributed), device cpu" in (out / "logs" / "sft.log").read_text()
    assert "Process 0 of 1 (not_parallel), device cpu" in (out / "logs" / "grpo.log").read_text()
    grpo_config = json.loads((out / "grpo" / "config.json").read_text())
    assert grpo_config["model_type"] == "qwen2_5_vl"
    logged = {
        key for entry in json.loads((out / "grpo" / "trainer_state.json").read_text())["log_history"] for key in entry
    }
    assert {"kl", "reward", "rewards/hybrid_reward/mean", "rewards/format_reward/mean"} <= logged

    results = json.loads((out / "eval" / "results.json").read_text())
    from eval_tasks.tasks import PAPER_BENCHMARKS

    assert set(results["benchmarks"]) == set(PAPER_BENCHMARKS)  # every benchmark, on its generated slice


def test_demo_writes_the_experiment_summary(demo_run):
    out, stdout = demo_run
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary) == {"seconds", "heldout", "sft", "grpo"}
    assert set(summary["heldout"]) == {"n", "format", "accuracy", "chance"}
    assert set(summary["sft"]) == {"heldout_accuracy", "heldout_format"}
    assert set(summary["grpo"]) == {"steps", "reward_first", "reward_last", "accuracy_first", "accuracy_last"}
    # After GRPO, the held-out split is scored by the eval runner's own lighteval task, every item of it (the
    # --small model's empty completions are generation failures to the runner, wrong answers to the summary).
    scored = json.loads((out / "eval-heldout" / "results.json").read_text())["benchmarks"]["synthetic_heldout"]
    assert summary["heldout"]["n"] == scored["n"] + scored.get("n_failed", 0) == 16  # --small: 16 items
    right = scored.get("metrics", {}).get("accuracy", 0.0) / 100 * scored["n"]
    assert summary["heldout"]["accuracy"] == pytest.approx(right / 16, abs=1e-4)
    sft = json.loads((out / "heldout" / "sft.json").read_text())  # the SFT checkpoint, by demo_heldout
    assert summary["sft"]["heldout_accuracy"] == round(sft["accuracy"], 4) and sft["n"] == 16
    assert summary["heldout"]["chance"] == round(sft["chance"], 4)  # the same split, the task's own chance
    assert 0 < summary["heldout"]["chance"] < 0.5  # uniform guessing over 3-12 answers per item
    assert summary["grpo"]["steps"] == 2
    state = json.loads((out / "grpo" / "trainer_state.json").read_text())
    first = [e["reward"] for e in state["log_history"] if "reward" in e][0]
    assert summary["grpo"]["reward_first"] == round(first, 4)  # the trainer's own logged reward
    assert f"Held-out split ({summary['heldout']['n']} items never trained on)" in stdout


def test_demo_refuses_a_previous_run_without_overwrite(demo_run):
    out, _ = demo_run
    result = subprocess.run(
        [sys.executable, "-m", "recipes.demo", "--output-dir", str(out), "--small"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=120,
    )
    assert result.returncode == 1 and "--overwrite" in result.stderr and str(out) in result.stderr
    assert (out / "summary.json").is_file()  # the previous run is left alone


def test_demo_cards_carry_real_results_and_curves(demo_run):
    out, _ = demo_run
    card = ModelCard.load(out / "grpo" / "README.md")
    table = (out / "eval" / "results.md").read_text().strip()
    assert table.splitlines()[0] in card.text  # the evaluation table of this run, reference rows included
    assert "WeThink-VL-7B (reference)" in card.text
    assert "### Stage 1: SFT" in card.text and "### Stage 2: GRPO" in card.text
    for plot in ("grpo_reward.png", "grpo_kl.png", "sft_loss.png"):
        assert (out / "grpo" / plot).read_bytes().startswith(b"\x89PNG")

    dataset_card = DatasetCard.load(out / "data" / "README.md")
    assert {c["config_name"] for c in dataset_card.data.configs} == {"default", "rl", "sft"}
    assert "## Licenses" in dataset_card.text


def test_demo_dry_runs_push_and_prints_one_summary(demo_run):
    out, stdout = demo_run
    model_push = (out / "logs" / "push-model.log").read_text()
    assert "Would upload" in model_push and "model.safetensors" in model_push and "checkpoint-" not in model_push
    assert "Would upload" in (out / "logs" / "push-dataset.log").read_text()
    summary = stdout[stdout.index("WeThink demo finished") :]
    assert str(out / "grpo" / "README.md") in summary and str(out / "data") in summary
    assert "| Model |" in summary and "Qwen2.5-VL-7B (reference)" in summary


def test_a_failing_stage_stops_the_demo_naming_the_stage_and_its_log(tmp_path):
    from recipes.demo import Demo, DemoConfig, StageError

    demo = Demo(DemoConfig(output_dir=str(tmp_path / "demo")))
    with pytest.raises(StageError) as error:
        demo.stages.stage("dataset-build", [sys.executable, "-c", "import sys; print('bad record'); sys.exit(3)"])
    log = tmp_path / "demo" / "logs" / "dataset-build.log"
    assert "dataset-build failed (exit 3)" in str(error.value) and str(log) in str(error.value)
    assert "bad record" in log.read_text()
