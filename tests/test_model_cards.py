"""Model cards: metadata round-trips through huggingface_hub, plots come from the log history (the dataset card's
tests are in test_dataset_card.py, beside its renderer in dataset_builder)."""

from __future__ import annotations

import json
import os

import pytest
from huggingface_hub import EvalResult, ModelCard

from model_cards.cards import as_eval_results, load_training_args, render_model_card
from reward_funcs.answer_format import SYSTEM_PROMPT

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def write_run(run_dir, *, kind="grpo", steps=4):
    """A trainer output folder as TRL leaves it: training_args.bin (pickled config) and trainer_state.json."""
    import torch
    from trl import GRPOConfig, SFTConfig

    run_dir.mkdir(parents=True, exist_ok=True)
    if kind == "grpo":
        config = GRPOConfig(output_dir=str(run_dir), bf16=False, learning_rate=1e-6, beta=0.01, num_generations=4)
        history = [
            {
                "step": s,
                "loss": 0.01 * s,
                "reward": 0.1 * s,
                "rewards/format/mean": 0.2 * s,
                "rewards/hybrid/mean": 0.05 * s,
                "kl": 0.001 * s,
            }
            for s in range(1, steps + 1)
        ]
    else:
        config = SFTConfig(output_dir=str(run_dir), bf16=False, learning_rate=2e-5, max_length=None)
        history = [{"step": s, "loss": 2.0 / s} for s in range(1, steps + 1)]
    torch.save(config, run_dir / "training_args.bin")
    (run_dir / "trainer_state.json").write_text(json.dumps({"global_step": steps, "log_history": history}))
    return run_dir


def test_model_card_round_trips_metadata_and_plots(tmp_path):
    grpo_dir = write_run(tmp_path / "grpo")
    sft_dir = write_run(tmp_path / "sft", kind="sft", steps=3)
    results = [
        EvalResult(
            task_type="image-text-to-text",
            dataset_type="AI4Math/MathVista",
            dataset_name="MathVista",
            dataset_split="testmini",
            metric_type="accuracy",
            metric_value=71.6,
        ),
        # the Hub model-index form of one result, as eval_tasks.results.model_index may return it
        {
            "task": {"type": "image-text-to-text"},
            "dataset": {"type": "echo840/OCRBench", "name": "OCRBench", "split": "test"},
            "metrics": [{"type": "score", "value": 890}],
        },
    ]
    table = "| Model | MathVista | OCRBench |\n|---|---|---|\n| WeThink-VL-7B | 71.6 | 890 |"

    render_model_card(
        grpo_dir,
        repo_id="org/wethink-tiny",
        base_model="Qwen/Qwen2.5-VL-7B-Instruct",
        datasets=["org/wethink-data"],
        sft_dir=sft_dir,
        eval_results=results,
        eval_table=table,
    )

    card = ModelCard.load(grpo_dir / "README.md")
    assert card.data.base_model == "Qwen/Qwen2.5-VL-7B-Instruct"
    assert card.data.datasets == ["org/wethink-data"]
    assert card.data.license == "apache-2.0"
    assert card.data.model_name == "wethink-tiny"
    assert [(r.dataset_name, r.metric_type, r.metric_value) for r in card.data.eval_results] == [
        ("MathVista", "accuracy", 71.6),
        ("OCRBench", "score", 890),
    ]
    text = card.text
    assert table in text
    assert SYSTEM_PROMPT in text and 'model_id = "org/wethink-tiny"' in text
    assert "| `beta` | 0.01 |" in text and "| `num_generations` | 4 |" in text
    assert "| `learning_rate` | 2e-05 |" in text  # from the SFT stage
    assert "Reward functions: format, hybrid." in text
    assert "arXiv:2506.07905" in text
    for name in ("grpo_reward.png", "grpo_kl.png", "grpo_loss.png", "sft_loss.png"):
        assert (grpo_dir / name).read_bytes().startswith(PNG_MAGIC)
        assert f"]({name})" in text


def test_model_card_without_eval_or_training_args(tmp_path):
    run_dir = write_run(tmp_path / "grpo")
    (run_dir / "training_args.bin").unlink()
    card = render_model_card(run_dir)
    assert card.data.eval_results is None and "model-index" not in card.content
    assert "No evaluation results were recorded" in card.text
    assert "Trained for 4 steps." in card.text


def test_training_args_refuse_foreign_pickles(tmp_path):
    import torch

    torch.save({"learning_rate": os.system}, tmp_path / "training_args.bin")
    with pytest.raises(ValueError, match="refusing to unpickle"):
        load_training_args(tmp_path)


def test_eval_results_reject_bad_items():
    with pytest.raises(ValueError, match="eval result #0"):
        as_eval_results([{"dataset": "MathVista", "score": 1}], "m")
    with pytest.raises(ValueError, match="expected EvalResult or dict"):
        as_eval_results([3.5], "m")


def test_missing_trainer_state_is_a_clear_error(tmp_path):
    (tmp_path / "run").mkdir()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        render_model_card(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="trainer_state.json"):
        render_model_card(tmp_path / "run")


def test_render_cli_uses_eval_tasks_results(tmp_path, capsys):
    """`python -m model_cards render --model-dir RUN --eval-dir EVAL`: complete scores go to model-index (through
    eval_tasks' model_index), partial ones stay in the table only."""
    from eval_tasks.results import benchmark_result, markdown_table
    from model_cards.__main__ import main

    run_dir = write_run(tmp_path / "grpo")
    counts = {"n": 1000, "n_rule": 1000, "n_judge": 0, "n_unparsed": 0, "n_needs_judge": 0, "n_judge_failed": 0}
    results = {
        "model": "wethink-tiny",
        "max_samples": None,
        "benchmarks": {
            "mathvista": benchmark_result("mathvista", {"score": 70.5, **counts}, partial=False),
            "ai2d": benchmark_result("ai2d", {"score": 80.0, **counts}, partial=True),
        },
    }
    eval_dir = tmp_path / "eval"
    eval_dir.mkdir()
    (eval_dir / "results.json").write_text(json.dumps(results))
    (eval_dir / "results.md").write_text(markdown_table(results))

    args = ["render", "--model-dir", str(run_dir), "--eval-dir", str(eval_dir), "--repo-id", "org/wethink-tiny"]
    assert main(args) == 0
    card = ModelCard.load(run_dir / "README.md")
    assert [(r.dataset_name, r.metric_value) for r in card.data.eval_results] == [("MathVista", 70.5)]
    assert "| wethink-tiny | 70.5 | 80.0 |" in card.text and "WeThink-VL-7B (reference)" in card.text

    assert main(["render", "--model-dir", str(run_dir), "--eval-dir", str(tmp_path / "none")]) == 1
    assert "results.json not found" in capsys.readouterr().err
