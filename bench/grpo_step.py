"""GRPO step time: the recipe's overhead, and the cost of the model judge.

1. `recipes/grpo.py` vs a plain `GRPOTrainer` set up as TRL's `examples/scripts/grpo_vlm.py` (target <= 5%).
2. The judge path: `hybrid` calling a judge with a scripted 200 ms latency vs no judge, 8 completions per step
   (2 prompts x 4), target <= 1.2x the judge-free step. A random tiny policy never writes an `<answer>`, so nothing
   would reach the judge: both sides generate with the trainer's own HF generation and then append a scripted
   `<answer>` to every completion (TRL's `rollout_func` hook), so the judge grades all 8 (8 distinct answers: one concurrent
   batch of 8 requests per step) and the only difference between the sides is the judge. TRL 1.16 calls reward functions only
   after the generation call has returned, so a reward function cannot overlap generation: the judge's cost is one
   concurrent round trip per generation batch, which the target absorbs only on steps of >= 1 s.

Both train the tiny random Qwen2.5-VL on the same dataset_builder output with the same GRPOConfig (recipes/tiny/
grpo.yaml, checkpoint saving off) and the same reward functions, in one process, in ABBA order. The
RESULT is the recipe's overhead on the median GRPO step time (the trainer's own `step_time` per logged step, over all
repeats: robust to the spikes of a shared machine); the N-step train time, the whole run (setup with the recipe's data
checks, model load, steps, final save and, for the recipe, the model card) and their ratios are printed beside it.
Torch runs one thread so that other processes on the machine perturb both sides alike.

    .venv/bin/python bench/grpo_step.py [--steps 30] [--repeats 4] [--quick]

The last line is the judge RESULT; the overhead RESULT is printed above it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

TARGET_OVERHEAD = 0.05
TARGET_JUDGE_RATIO = 1.2
JUDGE_LATENCY_S = 0.2


def recipe_args(model_dir: Path, data_dir: Path, output_dir: Path, steps: int) -> list[str]:
    return [
        "--config", str(REPO_ROOT / "recipes" / "tiny" / "grpo.yaml"),
        "--model_name_or_path", str(model_dir),
        "--dataset_name", str(data_dir),
        "--output_dir", str(output_dir),
        "--max_steps", str(steps),
        "--save_strategy", "no",
        "--disable_tqdm", "true",
    ]  # fmt: skip


def step_times(log_history: list[dict]) -> list[float]:
    return [entry["step_time"] for entry in log_history if "step_time" in entry and "loss" in entry]


def run_recipe(args: list[str]) -> dict:
    from recipes import grpo

    started = time.perf_counter()
    parsed = grpo.make_parser().parse_args_and_config(args)
    metrics = grpo.main(*parsed)
    total = time.perf_counter() - started
    history = json.loads((Path(parsed[1].output_dir) / "trainer_state.json").read_text())["log_history"]
    return {"train": metrics["train_runtime"], "total": total, "step_times": step_times(history)}


def run_plain(args: list[str]) -> dict:
    """TRL's grpo_vlm.py flow: model by name with model_init_kwargs, load_dataset, GRPOTrainer, train, save_model."""
    from datasets import load_dataset
    from trl import GRPOTrainer, get_peft_config

    from recipes import grpo
    from reward_funcs import get_reward_funcs

    started = time.perf_counter()
    script_args, training_args, model_args = grpo.make_parser().parse_args_and_config(args)
    training_args.model_init_kwargs = dict(
        revision=model_args.model_revision, attn_implementation=model_args.attn_implementation, dtype=model_args.dtype
    )
    dataset = load_dataset(script_args.dataset_name, script_args.dataset_config, split="train")
    trainer = GRPOTrainer(
        model=model_args.model_name_or_path,
        args=training_args,
        reward_funcs=get_reward_funcs(script_args.reward_funcs),
        train_dataset=dataset,
        peft_config=get_peft_config(model_args),
    )
    metrics = trainer.train().metrics
    trainer.save_model(training_args.output_dir)
    total = time.perf_counter() - started
    return {"train": metrics["train_runtime"], "total": total, "step_times": step_times(trainer.state.log_history)}


def generate_then_answer(prompts: list, trainer) -> dict:
    """TRL `rollout_func`: the trainer's own HF generation (TRL's `_tokenize_prompts` / `_generate_single_turn`, so
    the generation cost is the real one), then a scripted final answer appended to each completion."""
    prompt_ids, images, multimodal_fields = trainer._tokenize_prompts(prompts)
    completion_ids, logprobs = trainer._generate_single_turn(prompt_ids, images, multimodal_fields, 1)
    tokenizer = trainer.processing_class.tokenizer
    answers = [f"</think><answer>a red car, view {i}</answer>" for i in range(len(completion_ids))]  # all distinct
    completion_ids = [
        list(ids) + tokenizer.encode(a, add_special_tokens=False) for ids, a in zip(completion_ids, answers)
    ]
    return {"prompt_ids": prompt_ids, "completion_ids": completion_ids, "logprobs": None}


def run_judge_side(args: list[str], judge_url: str | None) -> dict:
    """Plain GRPOTrainer, 8 completions per step, every row judged by the model (reward_method = model)."""
    from datasets import load_dataset
    from trl import GRPOTrainer

    from recipes import grpo
    from reward_funcs import JudgeConfig, get_reward_funcs

    script_args, training_args, model_args = grpo.make_parser().parse_args_and_config(
        [*args, "--per_device_train_batch_size", "8", "--num_generations", "4"]
    )
    training_args.model_init_kwargs = {"dtype": model_args.dtype}
    dataset = load_dataset(script_args.dataset_name, script_args.dataset_config, split="train")
    dataset = dataset.map(lambda row: {"reward_method": "model", "question_type": "descriptive"})
    judge = JudgeConfig(base_url=judge_url, model="judge", max_retries=0) if judge_url else None
    reward_funcs = get_reward_funcs(script_args.reward_funcs, judge=judge)
    trainer = GRPOTrainer(
        model=model_args.model_name_or_path, args=training_args, reward_funcs=reward_funcs,
        train_dataset=dataset, rollout_func=generate_then_answer,
    )  # fmt: skip
    try:
        trainer.train()
    finally:
        for func in reward_funcs:
            if callable(getattr(func, "close", None)):
                func.close()
    history = trainer.state.log_history
    judged = [entry.get("hybrid_reward/judged", 0.0) for entry in history if "loss" in entry]
    return {"step_times": step_times(history), "judged": judged}


def judge_comparison(model_dir: Path, data_dir: Path, tmp: Path, steps: int, repeats: int) -> dict:
    from tests.doubles.scripted_server import Reply, ScriptedOpenAIServer

    def slow_judge(request):
        return Reply(text="Matches the reference.\nGRADE: CORRECT", delay_s=JUDGE_LATENCY_S)

    runs = {"no judge": [], "judge 200 ms": []}
    with ScriptedOpenAIServer(slow_judge) as server:
        sides = [("no judge", None), ("judge 200 ms", server.base_url)]
        for repeat in range(repeats):
            for name, url in sides if repeat % 2 == 0 else sides[::-1]:
                out = tmp / f"judge-{name.split()[0]}-{repeat}"
                runs[name].append(run_judge_side(recipe_args(model_dir, data_dir, out, steps), url))
        requests = len(server.requests)
    return {"runs": runs, "requests": requests}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=30, help="GRPO steps per run")
    parser.add_argument("--repeats", type=int, default=4, help="runs per side (ABBA order)")
    parser.add_argument("--quick", action="store_true", help="5 steps, one run per side")
    options = parser.parse_args()
    if options.quick:
        options.steps, options.repeats = 5, 1

    import torch
    import transformers

    torch.set_num_threads(1)
    from dataset_builder.build import build_dataset
    from dataset_builder.synthetic import write_synthetic_release
    from recipes.tiny_model import build_tiny_model

    transformers.utils.logging.set_verbosity_error()
    with tempfile.TemporaryDirectory(prefix="grpo-step-") as tmp:
        tmp = Path(tmp)
        model_dir = build_tiny_model(tmp / "model", seed=0)
        release = write_synthetic_release(tmp / "release", 32, seed=0)
        build_dataset(release.records_path, release.images_root, tmp / "data", export_sharegpt_json=False)

        # Warm-up (imports, kernels, dataset cache) so the first timed run is not penalised.
        run_plain(recipe_args(model_dir, tmp / "data", tmp / "warmup", 1))
        os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")  # rollout_func's experimental-feature warning
        judge = judge_comparison(model_dir, tmp / "data", tmp, options.steps, options.repeats)
        runs = {"plain GRPOTrainer": [], "recipes/grpo.py": []}
        order = [("plain GRPOTrainer", run_plain), ("recipes/grpo.py", run_recipe)]
        for repeat in range(options.repeats):
            # ABBA order: neither side always runs first.
            for name, runner in order if repeat % 2 == 0 else order[::-1]:
                out = tmp / f"{name.split()[0].replace('/', '-')}-{repeat}"
                runs[name].append(runner(recipe_args(model_dir, tmp / "data", out, options.steps)))

    print(f"\nGRPO on the tiny Qwen2.5-VL, {options.steps} steps x {options.repeats} run(s) per side (ABBA order)")
    print(f"{'setup':<20} {'median s/step':>14} {'train (s)':>10} {'whole run (s)':>14}")
    summary = {}
    for name, results in runs.items():
        summary[name] = {
            "step": statistics.median(t for r in results for t in r["step_times"]),
            "train": min(r["train"] for r in results),
            "total": min(r["total"] for r in results),
        }
        row = summary[name]
        print(f"{name:<20} {row['step']:>14.3f} {row['train']:>10.2f} {row['total']:>14.2f}")
    plain, recipe = summary["plain GRPOTrainer"], summary["recipes/grpo.py"]
    ratios = {key: recipe[key] / plain[key] for key in ("step", "train", "total")}
    print(
        f"ratio recipe/plain: median step {ratios['step']:.3f}, train {ratios['train']:.3f}, whole run {ratios['total']:.3f}"
    )
    print("(train and whole run: fastest run per side; the whole run includes the recipe's checks and model card)")
    overhead = ratios["step"] - 1
    verdict = "PASS" if overhead <= TARGET_OVERHEAD else "SHORT"
    print(
        f"RESULT recipe overhead on GRPO step time: {overhead * 100:+.1f}% (target <= {TARGET_OVERHEAD * 100:.0f}%) {verdict}"
    )

    print(f"\nJudge path: 8 completions per step, judge latency {JUDGE_LATENCY_S * 1000:.0f} ms (scripted loopback)")
    print(f"{'side':<20} {'median s/step':>14} {'judged/step':>12}")
    medians = {}
    for name, results in judge["runs"].items():
        medians[name] = statistics.median(t for r in results for t in r["step_times"])
        judged = statistics.mean(j for r in results for j in r["judged"]) if name != "no judge" else 0.0
        print(f"{name:<20} {medians[name]:>14.3f} {judged:>12.1f}")
    added = medians["judge 200 ms"] - medians["no judge"]
    print(f"judge requests served: {judge['requests']} (8 distinct answers per step); added per step: "
          f"{added * 1000:.0f} ms = one concurrent judge round trip, not one per completion "
          f"({8 * JUDGE_LATENCY_S * 1000:.0f} ms if judged one by one)")  # fmt: skip
    print("(TRL computes rewards after the generation call returns, so the round trip adds to the step; it is <= 1.2x "
          f"only where the judge-free step is >= {JUDGE_LATENCY_S / (TARGET_JUDGE_RATIO - 1):.1f} s, as a 7B step is)")  # fmt: skip
    ratio = medians["judge 200 ms"] / medians["no judge"]
    verdict = "PASS" if ratio <= TARGET_JUDGE_RATIO else "SHORT"
    print(f"RESULT judge step / judge-free step: {ratio:.2f}x (target <= {TARGET_JUDGE_RATIO}x) {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
