"""GPU check of the 7B GRPO recipe's shape: a Qwen2.5-VL-7B-architecture model with random weights, a few GRPO steps.

For a machine lent through the `device` tool (one H200; torch, transformers, peft and accelerate are there, vLLM
and TRL are not). Nothing is downloaded: the model is built from the public config of Qwen/Qwen2.5-VL-7B-Instruct
(values hard-coded below), in bf16, on the GPU, with random weights; prompts are random token ids around one
synthetic image (a 392 x 532 pixel grid, 266 visual tokens, through the real vision tower). Each GRPO step is the
recipe's structure without TRL: HF `generate` of `prompts x num_generations` completions (sampling, fixed length),
random group rewards -> group-normalised advantages, the reference log-probs (LoRA: adapters disabled; full
fine-tuning: a frozen bf16 copy), then token-mean policy loss + 0.01 k3 KL with activation checkpointing, backward,
AdamW step. It measures the hardware, not the learning: the rewards are noise.

Printed per mode (LoRA r=64 on the language model's projections; full fine-tuning if it fits, bf16 weights and
AdamW states, no fp32 master copy): step time, generation tokens/s, peak GPU memory, and MFU (model FLOPs: 2N per
generated or reference-scored token, 8N per trained token with recomputation, attention left out; over the bf16 dense
peak, 989 TFLOP/s for an H200/H100 SXM).

    python3 bench/gpu_check.py                 # on the GPU machine (~5 min)
    python3 bench/gpu_check.py --tiny          # CPU smoke run of the same code on a tiny config (seconds)
"""

from __future__ import annotations

import argparse
import math
import time

import torch

PEAK_BF16_FLOPS = 989e12  # H200 / H100 SXM dense bf16
IMAGE_GRID = (1, 28, 38)  # (t, h, w) in 14-pixel patches: a 392 x 532 image
LORA_TARGETS = r".*language_model.*\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)"

# Qwen/Qwen2.5-VL-7B-Instruct config.json (public), the values that set the architecture.
QWEN25_VL_7B = {
    "text_config": {
        "hidden_size": 3584, "intermediate_size": 18944, "num_hidden_layers": 28, "num_attention_heads": 28,
        "num_key_value_heads": 4, "vocab_size": 152064, "max_position_embeddings": 128000, "rms_norm_eps": 1e-6,
        "hidden_act": "silu", "tie_word_embeddings": False,
        "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [16, 24, 24]},
    },
    "vision_config": {
        "depth": 32, "hidden_size": 1280, "intermediate_size": 3420, "num_heads": 16, "in_channels": 3,
        "out_hidden_size": 3584, "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2,
        "window_size": 112, "fullatt_block_indexes": [7, 15, 23, 31], "tokens_per_second": 2, "hidden_act": "silu",
    },
    "image_token_id": 151655, "video_token_id": 151656, "vision_start_token_id": 151652,
    "vision_end_token_id": 151653, "tie_word_embeddings": False,
}  # fmt: skip
TINY = {
    "text_config": {**QWEN25_VL_7B["text_config"], "hidden_size": 64, "intermediate_size": 128,
                    "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
                    "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [2, 3, 3]}},
    "vision_config": {**QWEN25_VL_7B["vision_config"], "depth": 2, "hidden_size": 32, "intermediate_size": 64,
                      "num_heads": 2, "out_hidden_size": 64, "fullatt_block_indexes": [1]},
    "image_token_id": 1000, "video_token_id": 1001, "vision_start_token_id": 1002, "vision_end_token_id": 1003,
    "tie_word_embeddings": False,
}  # fmt: skip
TINY["text_config"]["vocab_size"] = 1024
TINY_IMAGE_GRID = (1, 4, 4)


def build_model(config_values: dict, device: str, dtype: torch.dtype):
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    config = Qwen2_5_VLConfig(**config_values)
    config.text_config.use_cache = True
    with torch.device(device):
        model = Qwen2_5_VLForConditionalGeneration._from_config(config, dtype=dtype)
    return model


def make_batch(prompts: int, generations: int, prompt_text_tokens: int, config, device: str, grid) -> dict:
    """Each prompt: random text tokens, one image (vision start, image tokens, vision end), random text; repeated
    `generations` times as GRPO does."""
    t, h, w = grid
    text_ids = min(150000, config.vision_start_token_id - 2)  # ordinary tokens only
    merge = config.vision_config.spatial_merge_size
    image_tokens = t * h * w // merge**2
    patch_dim = config.vision_config.in_channels * config.vision_config.temporal_patch_size
    patch_dim *= config.vision_config.patch_size**2
    rows = []
    for _ in range(prompts):
        head = torch.randint(0, text_ids, (prompt_text_tokens // 2,))
        tail = torch.randint(0, text_ids, (prompt_text_tokens - prompt_text_tokens // 2,))
        image = torch.tensor([config.vision_start_token_id, *[config.image_token_id] * image_tokens,
                              config.vision_end_token_id])  # fmt: skip
        rows += [torch.cat([head, image, tail])] * generations
    input_ids = torch.stack(rows).to(device)
    return {
        "input_ids": input_ids,
        "attention_mask": torch.ones_like(input_ids),
        "pixel_values": torch.randn(len(rows) * t * h * w, patch_dim, device=device),
        "image_grid_thw": torch.tensor([grid] * len(rows), device=device),
    }


def token_logps(model, sequences, batch, completion_length: int) -> torch.Tensor:
    logits = model(
        input_ids=sequences,
        attention_mask=torch.ones_like(sequences),
        pixel_values=batch["pixel_values"].to(model.dtype),
        image_grid_thw=batch["image_grid_thw"],
        logits_to_keep=completion_length + 1,
        use_cache=False,
    ).logits[:, :-1]
    targets = sequences[:, -completion_length:]
    return torch.log_softmax(logits.float(), dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)


def grpo_step(model, reference, optimizer, batch, generations: int, completion_length: int, beta: float) -> dict:
    """One GRPO step; returns phase times (s) and token counts."""
    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    prompt_length = batch["input_ids"].shape[1]
    times = {}
    start = time.perf_counter()
    model.eval()
    # A sampled image/video placeholder would be read as an image slot by the re-forward below ("Image features and
    # image tokens do not match"); a random tiny model samples one now and then.
    config = model.config
    vision_ids = [
        config.image_token_id,
        config.video_token_id,
        config.vision_start_token_id,
        config.vision_end_token_id,
    ]
    with torch.no_grad():
        sequences = model.generate(
            **{**batch, "pixel_values": batch["pixel_values"].to(model.dtype)},
            do_sample=True, temperature=1.0, top_p=0.99, max_new_tokens=completion_length,
            min_new_tokens=completion_length, pad_token_id=0, suppress_tokens=vision_ids,
        )  # fmt: skip
    sync()
    times["generate"] = time.perf_counter() - start
    sequences = sequences[:, : prompt_length + completion_length]

    rewards = torch.rand(sequences.shape[0], device=sequences.device).view(-1, generations)
    advantages = ((rewards - rewards.mean(1, keepdim=True)) / (rewards.std(1, keepdim=True) + 1e-4)).view(-1, 1)

    start = time.perf_counter()
    with torch.no_grad():
        if reference is None:  # LoRA: the base model with the adapters off is the reference
            with model.disable_adapter():
                ref_logps = token_logps(model, sequences, batch, completion_length)
        else:
            ref_logps = token_logps(reference, sequences, batch, completion_length)
    sync()
    times["reference"] = time.perf_counter() - start

    start = time.perf_counter()
    model.train()
    logps = token_logps(model, sequences, batch, completion_length)
    ratio = torch.exp(logps - logps.detach())  # on-policy: 1, with the policy gradient
    kl = torch.exp(ref_logps - logps) - (ref_logps - logps) - 1
    loss = (-(ratio * advantages) + beta * kl).mean()  # token-mean (every completion has the same length here)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    sync()
    times["train"] = time.perf_counter() - start
    tokens = sequences.shape[0] * completion_length
    return {**times, "completion_tokens": tokens, "sequence_tokens": sequences.numel(), "loss": loss.item()}


def run_mode(mode: str, options, device: str, dtype: torch.dtype) -> dict:
    config_values = TINY if options.tiny else QWEN25_VL_7B
    model = build_model(config_values, device, dtype)
    params = sum(p.numel() for p in model.parameters())
    reference = None
    if mode == "lora":
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(r=64, lora_alpha=128, lora_dropout=0.0, target_modules=LORA_TARGETS))
    else:
        reference = build_model(config_values, device, dtype).eval().requires_grad_(False)
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-6, weight_decay=0.01)
    grid = TINY_IMAGE_GRID if options.tiny else IMAGE_GRID
    batch = make_batch(options.prompts, options.generations, options.prompt_tokens, model.config, device, grid)
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    steps = []
    for index in range(options.steps + 1):  # the first step warms up (kernels, allocator) and is not counted
        result = grpo_step(model, reference, optimizer, batch, options.generations, options.completion_tokens, 0.01)
        if index:
            steps.append(result)
        print(f"  {mode} step {index}: " + ", ".join(f"{k} {v:.2f}" for k, v in result.items() if k != "loss"))
    mean = {key: sum(s[key] for s in steps) / len(steps) for key in steps[0]}
    step_s = mean["generate"] + mean["reference"] + mean["train"]
    flops = 2 * params * mean["completion_tokens"]  # generation: one forward per generated token
    flops += 2 * params * mean["sequence_tokens"] + 8 * params * mean["sequence_tokens"]  # reference + train
    peak = torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else float("nan")
    del model, reference, optimizer
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return {
        "mode": mode, "params_b": params / 1e9, "trainable_m": sum(p.numel() for p in trainable) / 1e6,
        "step_s": step_s, "generate_s": mean["generate"], "gen_tok_s": mean["completion_tokens"] / mean["generate"],
        "peak_gib": peak, "mfu": flops / step_s / PEAK_BF16_FLOPS,
    }  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="tiny config, CPU unless a GPU is there (smoke run)")
    parser.add_argument("--steps", type=int, default=3, help="timed GRPO steps per mode (after one warm-up)")
    parser.add_argument("--prompts", type=int, default=4, help="prompts per step")
    parser.add_argument("--generations", type=int, default=5, help="completions per prompt (the recipe's 5)")
    parser.add_argument("--prompt-tokens", type=int, default=160, help="text tokens per prompt (plus the image)")
    parser.add_argument("--completion-tokens", type=int, default=512, help="generated tokens per completion")
    parser.add_argument("--modes", default="lora,full", help="comma-separated: lora, full")
    options = parser.parse_args()
    if options.tiny:
        options.steps, options.prompts, options.generations = 1, 2, 2
        options.prompt_tokens, options.completion_tokens = 8, 4
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu" and not options.tiny:
        parser.error("no GPU: run with --tiny for the CPU smoke run")
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    name = torch.cuda.get_device_name() if device == "cuda" else "cpu"
    print(f"device {name}, torch {torch.__version__}, {'tiny' if options.tiny else 'Qwen2.5-VL-7B'} config, "
          f"{options.prompts} prompts x {options.generations} completions x {options.completion_tokens} tokens")  # fmt: skip
    rows = []
    for mode in options.modes.split(","):
        try:
            rows.append(run_mode(mode, options, device, dtype))
        except torch.cuda.OutOfMemoryError as err:
            print(f"  {mode}: out of GPU memory ({str(err).splitlines()[0]})")
            rows.append({"mode": mode, "oom": True})
            torch.cuda.empty_cache()
    print(f"\n{'mode':<6} {'params B':>9} {'train M':>9} {'step s':>8} {'gen s':>7} {'gen tok/s':>10} "
          f"{'peak GiB':>9} {'MFU':>6}")  # fmt: skip
    for row in rows:
        if row.get("oom"):
            print(f"{row['mode']:<6} out of memory")
            continue
        print(f"{row['mode']:<6} {row['params_b']:>9.2f} {row['trainable_m']:>9.1f} {row['step_s']:>8.2f} "
              f"{row['generate_s']:>7.2f} {row['gen_tok_s']:>10.0f} {row['peak_gib']:>9.1f} "
              f"{row['mfu'] * 100 if math.isfinite(row['mfu']) else float('nan'):>5.1f}%")  # fmt: skip
    done = [row for row in rows if not row.get("oom")]
    print(f"RESULT gpu_check: {len(done)}/{len(rows)} modes ran (measurement, no target)")
    return 0 if done else 1


if __name__ == "__main__":
    raise SystemExit(main())
