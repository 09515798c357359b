"""The GRPO and SFT recipes: CPU smoke runs through `accelerate launch`, reload, resume, and the pre-load checks.

Data comes from the real dataset builder (a synthetic release built into Parquet) and the rewards from the real
registry; the model is the tiny random Qwen2.5-VL.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
ACCELERATE = Path(sys.executable).with_name("accelerate")
CPU_CONFIG = REPO_ROOT / "recipes" / "accelerate_configs" / "cpu.yaml"
BOGUS_MODEL = "/nonexistent/model"  # a check that passes would go on to load this and fail with another error


@pytest.fixture(scope="module")
def wethink_dir(tmp_path_factory) -> Path:
    from dataset_builder.build import build_dataset
    from dataset_builder.synthetic import write_synthetic_release

    root = tmp_path_factory.mktemp("wethink")
    release = write_synthetic_release(root / "release", 8, seed=0)
    build_dataset(release.records_path, release.images_root, root / "built", export_sharegpt_json=False)
    return root / "built"


def _launch(script: str, config: str, *args: str) -> subprocess.CompletedProcess:
    cmd = [str(ACCELERATE), "launch", "--config_file", str(CPU_CONFIG), str(REPO_ROOT / "recipes" / script)]
    cmd += ["--config", str(REPO_ROOT / "recipes" / "tiny" / config), *args]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def _run_in_process(module, config: str, *args: str):
    parser = module.make_parser()
    parsed = parser.parse_args_and_config(["--config", str(REPO_ROOT / "recipes" / "tiny" / config), *args])
    return module.main(*parsed)


def _log_history(run_dir: Path) -> list[dict]:
    return json.loads((run_dir / "trainer_state.json").read_text())["log_history"]


def _assert_reloads_and_generates(run_dir: Path, expected_max_pixels: int | None = None) -> None:
    import torch
    from PIL import Image
    from transformers import AutoModelForImageTextToText, AutoProcessor

    model = AutoModelForImageTextToText.from_pretrained(run_dir)
    processor = AutoProcessor.from_pretrained(run_dir)
    if expected_max_pixels is not None:
        assert processor.image_processor.size.longest_edge == expected_max_pixels
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "How many?"}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    inputs = processor(text=[text], images=[Image.new("RGB", (64, 64), (220, 30, 30))], return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=4, do_sample=False)
    assert out.shape[1] > inputs["input_ids"].shape[1]


def test_grpo_smoke_run_saves_a_checkpoint_that_reloads_and_resumes(tiny_model_dir, wethink_dir, tmp_path):
    from recipes import grpo

    run_dir = tmp_path / "grpo"
    common = ["--model_name_or_path", str(tiny_model_dir), "--dataset_name", str(wethink_dir)]
    # image_max_pixels is applied to the processor the run saves.
    _launch("grpo.py", "grpo.yaml", *common, "--output_dir", str(run_dir), "--image_max_pixels", str(84 * 84))

    history = _log_history(run_dir)
    steps = [entry for entry in history if "loss" in entry]
    assert [entry["step"] for entry in steps] == [1, 2, 3]
    for entry in steps:
        for key in ("rewards/hybrid_reward/mean", "rewards/format_reward/mean", "reward", "kl", "loss"):
            assert key in entry, (key, sorted(entry))
    assert (run_dir / "checkpoint-2" / "trainer_state.json").is_file()
    card = (run_dir / "README.md").read_text()
    assert "WeThink" in card and "hybrid" in card
    _assert_reloads_and_generates(run_dir, expected_max_pixels=84 * 84)

    # Resume from the step-2 checkpoint into a new folder and go one step further than the first run.
    resumed = tmp_path / "grpo-resumed"
    shutil.copytree(run_dir / "checkpoint-2", resumed / "checkpoint-2")
    _run_in_process(grpo, "grpo.yaml", *common, "--output_dir", str(resumed), "--resume_from_checkpoint", "last",
                    "--max_steps", "4")  # fmt: skip
    resumed_steps = [entry["step"] for entry in _log_history(resumed) if "loss" in entry]
    assert resumed_steps == [1, 2, 3, 4]  # steps 1-2 come from the checkpoint's state, 3-4 were trained now
    assert json.loads((resumed / "trainer_state.json").read_text())["global_step"] == 4
    _assert_reloads_and_generates(resumed)


def test_sft_smoke_run_saves_a_checkpoint_that_reloads_and_resumes(tiny_model_dir, wethink_dir, tmp_path):
    from recipes import sft

    run_dir = tmp_path / "sft"
    common = ["--model_name_or_path", str(tiny_model_dir), "--dataset_name", str(wethink_dir)]
    _launch("sft.py", "sft.yaml", *common, "--output_dir", str(run_dir))

    losses = [entry["loss"] for entry in _log_history(run_dir) if "loss" in entry]
    assert len(losses) == 3 and all(loss > 0 for loss in losses)
    assert (run_dir / "checkpoint-2" / "model.safetensors").is_file()
    assert (run_dir / "README.md").is_file()
    _assert_reloads_and_generates(run_dir)

    _run_in_process(sft, "sft.yaml", *common, "--output_dir", str(run_dir), "--resume_from_checkpoint",
                    str(run_dir / "checkpoint-2"), "--max_steps", "4")  # fmt: skip
    state = json.loads((run_dir / "trainer_state.json").read_text())
    assert state["global_step"] == 4
    assert [entry["step"] for entry in state["log_history"] if "loss" in entry] == [1, 2, 3, 4]


def _rewrite_view(built: Path, view: str, tmp_path: Path, edit) -> Path:
    """A dataset folder holding the built `view` rewritten by `edit(pyarrow.Table) -> Table`, with a README that
    declares only the config (no feature list), like a dataset made outside dataset_builder."""
    copy = tmp_path / "edited"
    shutil.copytree(built / view, copy / view)
    for shard in sorted((copy / view).glob("*.parquet")):
        pq.write_table(edit(pq.read_table(shard)), shard)
    (copy / "README.md").write_text(
        f"---\nconfigs:\n- config_name: {view}\n  data_files:\n  - split: train\n    path: {view}/*.parquet\n---\n"
    )
    return copy


def _null_at(table: pa.Table, column: str, row: int) -> pa.Table:
    values = table[column].to_pylist()
    values[row] = None if column == "image" else []
    return table.set_column(
        table.schema.get_field_index(column), column, pa.array(values, table.schema.field(column).type)
    )


def _first_id(table_dir: Path, view: str) -> str:
    return pq.read_table(sorted((table_dir / view).glob("*.parquet"))[0], columns=["id"])["id"][1].as_py()


@pytest.mark.parametrize(
    "module_name, config, args, message",
    [
        ("grpo", "grpo.yaml", ["--reward_funcs", "hybrid", "no_such_reward"], "no_such_reward"),
        ("grpo", "grpo.yaml", ["--reward_weights", "1.0"], "reward_weights has 1 value"),
        ("grpo", "grpo.yaml", ["--resume_from_checkpoint", "/nonexistent/checkpoint-2"], "no such checkpoint"),
        ("sft", "sft.yaml", ["--resume_from_checkpoint", "last"], "no checkpoint-\\* folder"),
        ("sft", "sft.yaml", ["--dataset_streaming", "true"], "dataset_streaming is not supported"),
    ],
)
def test_bad_settings_fail_before_the_model_loads(wethink_dir, tmp_path, module_name, config, args, message):
    import importlib

    module = importlib.import_module(f"recipes.{module_name}")
    with pytest.raises(ValueError, match=message):
        _run_in_process(module, config, "--model_name_or_path", BOGUS_MODEL, "--dataset_name", str(wethink_dir),
                        "--output_dir", str(tmp_path / "run"), *args)  # fmt: skip


@pytest.mark.parametrize(
    "module_name, config, view, edit_column, expected",
    [
        ("grpo", "grpo.yaml", "rl", "solution", "missing the column"),
        ("sft", "sft.yaml", "sft", "messages", "missing the column"),
        ("grpo", "grpo.yaml", "rl", "image", "0 usable image"),
        ("sft", "sft.yaml", "sft", "images", "0 usable image"),
    ],
)
def test_bad_datasets_fail_before_the_model_loads(
    wethink_dir, tmp_path, monkeypatch, module_name, config, view, edit_column, expected
):
    import importlib

    import datasets

    # Each edited copy gets its own datasets cache, so no run can read another run's prepared Arrow files.
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "cache")
    if expected == "missing the column":
        edited = _rewrite_view(wethink_dir, view, tmp_path, lambda table: table.drop_columns([edit_column]))
    else:  # the second row loses its image
        edited = _rewrite_view(wethink_dir, view, tmp_path, lambda table: _null_at(table, edit_column, 1))
    module = importlib.import_module(f"recipes.{module_name}")
    with pytest.raises(ValueError, match=expected) as error:
        _run_in_process(module, config, "--model_name_or_path", BOGUS_MODEL, "--dataset_name", str(edited),
                        "--output_dir", str(tmp_path / "run"))  # fmt: skip
    assert repr(str(edited)) in str(error.value)  # the error names the dataset ...
    if expected != "missing the column":
        assert f"row id={_first_id(edited, view)!r}" in str(error.value)  # ... and the row


def test_system_prompt_override_replaces_the_stored_one(wethink_dir):
    from datasets import load_dataset

    from recipes.data import apply_system_prompt

    dataset = load_dataset(str(wethink_dir), "rl", split="train")
    assert apply_system_prompt(dataset, "prompt", dataset[0]["prompt"][0]["content"][0]["text"]) is dataset
    changed = apply_system_prompt(dataset, "prompt", "Answer briefly.")
    assert len(changed) == len(dataset)
    for row in changed:
        assert row["prompt"][0] == {"role": "system", "content": [{"type": "text", "text": "Answer briefly."}]}
        assert row["prompt"][1]["role"] == "user"


EXPLICIT_OBJECTIVE = {
    "loss_type": "dapo",
    "scale_rewards": "group",
    "multi_objective_aggregation": "sum_then_normalize",
    "importance_sampling_level": "token",
    "epsilon": 0.2,
    "epsilon_high": 0.3,
    "delta": 3.0,
    "mask_truncated_completions": False,
    "num_iterations": 1,
    "beta": 0.01,
    "use_bias_correction_kl": False,
    "vllm_importance_sampling_correction": True,
    "vllm_importance_sampling_mode": "token_truncate",
    "vllm_importance_sampling_clip_max": 3.0,
}


@pytest.mark.parametrize(
    "path",
    # config_*.yaml only: the sweep_*.yaml beside them are sweep grids, not recipes
    sorted(
        str(p.relative_to(REPO_ROOT)) for p in (REPO_ROOT / "recipes").glob("Qwen2.5-VL-7B-Instruct/*/config_*.yaml")
    ),
)
def test_7b_recipes_parse_with_the_paper_settings(path):
    from recipes import grpo, sft

    module = grpo if "/grpo/" in path else sft
    # bf16 needs a GPU; everything else is validated here as on the cluster (one process).
    script_args, training_args, model_args = module.make_parser().parse_args_and_config(
        ["--config", str(REPO_ROOT / path), "--bf16", "false"]
    )
    assert model_args.model_name_or_path == "Qwen/Qwen2.5-VL-7B-Instruct" and model_args.dtype == "bfloat16"
    assert training_args.gradient_checkpointing
    if module is grpo:
        assert script_args.dataset_config == "rl"
        assert script_args.reward_funcs == ["hybrid", "format"] and training_args.reward_weights == [0.7, 0.3]
        assert training_args.num_generations == 5 and training_args.beta == 0.01
        assert training_args.temperature == 1.0 and training_args.max_completion_length == 2048
        assert training_args.use_vllm and training_args.vllm_mode == "colocate"
        assert training_args.generation_batch_size % training_args.num_generations == 0
        assert training_args.learning_rate == (1e-5 if model_args.use_peft else 1e-6)
        # The objective is explicit (recipes/README.md, "paper / EasyR1 setting -> this recipe").
        objective = {key: getattr(training_args, key) for key in EXPLICIT_OBJECTIVE}
        assert objective == EXPLICIT_OBJECTIVE
        recipe_yaml = (REPO_ROOT / path).read_text()
        assert all(f"\n{key}:" in recipe_yaml for key in EXPLICIT_OBJECTIVE)  # set in the file, not by defaults
    else:
        assert script_args.dataset_config == "sft"


@pytest.mark.parametrize("name", ["cpu", "cpu_ddp", "ddp", "zero2", "zero3", "fsdp"])
def test_accelerate_configs_load(name):
    from accelerate.commands.config.config_args import load_config_from_file

    config = load_config_from_file(str(REPO_ROOT / "recipes" / "accelerate_configs" / f"{name}.yaml"))
    expected = {
        "cpu": "NO",
        "cpu_ddp": "MULTI_GPU",
        "ddp": "MULTI_GPU",
        "zero2": "DEEPSPEED",
        "zero3": "DEEPSPEED",
        "fsdp": "FSDP",
    }[name]
    assert config.distributed_type == expected
    assert config.use_cpu == name.startswith("cpu")
    if name.startswith("zero"):
        assert config.deepspeed_config["zero_stage"] == int(name[-1])


def test_grpo_lora_variant_trains_and_saves_an_adapter(tiny_model_dir, wethink_dir, tmp_path):
    import yaml

    from recipes import grpo

    # The 7B LoRA recipe's target expression: language-model projections only, never the vision tower.
    lora_yaml = yaml.safe_load((REPO_ROOT / "recipes/Qwen2.5-VL-7B-Instruct/grpo/config_lora.yaml").read_text())
    (target,) = lora_yaml["lora_target_modules"]
    run_dir = tmp_path / "lora"
    _run_in_process(grpo, "grpo.yaml", "--model_name_or_path", str(tiny_model_dir), "--dataset_name", str(wethink_dir),
                    "--output_dir", str(run_dir), "--max_steps", "1", "--save_strategy", "no",
                    "--use_peft", "true", "--lora_r", "4", "--lora_alpha", "8", "--lora_target_modules", target)  # fmt: skip
    adapter = json.loads((run_dir / "adapter_config.json").read_text())
    assert adapter["r"] == 4 and adapter["target_modules"] == target
    assert (run_dir / "adapter_model.safetensors").is_file() and not (run_dir / "model.safetensors").exists()

    from peft import PeftModel
    from transformers import AutoModelForImageTextToText

    model = PeftModel.from_pretrained(AutoModelForImageTextToText.from_pretrained(tiny_model_dir), run_dir)
    lora_modules = [name for name, _ in model.named_modules() if name.endswith("lora_A")]
    assert lora_modules and not any("visual" in name for name in lora_modules)


def test_judge_settings_reach_the_hybrid_reward():
    from recipes import grpo

    script_args, training_args, _ = grpo.make_parser().parse_args_and_config(
        ["--config", str(REPO_ROOT / "recipes" / "tiny" / "grpo.yaml"), "--output_dir", "unused",
         "--model_name_or_path", BOGUS_MODEL, "--judge_base_url", "http://127.0.0.1:9/v1", "--judge_model", "judge",
         "--judge_api_key_env", "MY_JUDGE_KEY", "--judge_timeout", "5", "--judge_max_concurrency", "3"]
    )  # fmt: skip
    hybrid, format_reward = grpo.build_reward_funcs(script_args, training_args)
    assert (hybrid.__name__, format_reward.__name__) == ("hybrid_reward", "format_reward")
    config = hybrid.judge.config
    assert (config.base_url, config.model, config.api_key_env) == ("http://127.0.0.1:9/v1", "judge", "MY_JUDGE_KEY")
    assert (config.timeout, config.max_concurrency) == (5, 3)
