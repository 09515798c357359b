"""GRPO of a vision-language model on the WeThink `rl` view with the paper's rewards.

Every field of the YAML recipe can be overridden on the command line:

    accelerate launch --config_file recipes/accelerate_configs/zero3.yaml recipes/grpo.py \
        --config recipes/Qwen2.5-VL-7B-Instruct/grpo/config_wethink.yaml

    # CPU smoke run on the tiny model and a local `dataset_builder build` output folder
    accelerate launch --config_file recipes/accelerate_configs/cpu.yaml recipes/grpo.py \
        --config recipes/tiny/grpo.yaml --model_name_or_path MODEL_DIR --dataset_name DATA_DIR --output_dir RUN_DIR

TRL logs each reward under its function's fixed `__name__` (`rewards/hybrid_reward/mean`, `rewards/format_reward/mean`,
and `/std`), next to `reward`, `kl` and `loss`; with a judge also `hybrid_reward/judged`, `hybrid_reward/judge_failures`
and `hybrid_reward/voided_groups`. `--push_to_hub true` goes through the project's checked push only
(`recipes.training.take_over_push`).
"""

from __future__ import annotations

import logging

from transformers import set_seed
from trl import GRPOConfig, GRPOTrainer, ModelConfig, TrlParser, get_peft_config, get_quantization_config

from recipes.configs import GRPOScriptArguments
from recipes.data import (
    GRPO_COLUMNS,
    apply_dataset_fraction,
    apply_system_prompt,
    check_columns,
    check_images,
    describe,
    load_processor,
    load_split,
)
from recipes.training import model_init_kwargs, resolve_checkpoint, setup_logging, take_over_push, train_and_save

logger = logging.getLogger("recipes.grpo")


def build_reward_funcs(script_args: GRPOScriptArguments, training_args: GRPOConfig) -> list:
    """The reward functions named in the recipe, checked against `reward_weights` before anything heavy loads."""
    from reward_funcs import JudgeConfig, get_reward_funcs

    judge = None
    if script_args.judge_base_url:
        judge = JudgeConfig(
            base_url=script_args.judge_base_url,
            model=script_args.judge_model,
            api_key_env=script_args.judge_api_key_env,
            timeout=script_args.judge_timeout,
            max_concurrency=script_args.judge_max_concurrency,
        )
    reward_funcs = get_reward_funcs(
        script_args.reward_funcs, judge=judge, max_completion_length=training_args.max_completion_length
    )
    weights = training_args.reward_weights
    if weights is not None and len(weights) != len(reward_funcs):
        raise ValueError(
            f"reward_weights has {len(weights)} value(s) {list(weights)} but reward_funcs names {len(reward_funcs)} "
            f"reward(s) {script_args.reward_funcs}; give one weight per reward, in the same order."
        )
    if judge is not None:
        check_groups_stay_on_one_process(training_args)
    return reward_funcs


def check_groups_stay_on_one_process(training_args: GRPOConfig) -> None:
    """A judged reward voids a whole prompt group when the judge fails on one of its completions, and it sees only
    the completions of its own process: each process's generation batch must hold whole groups."""
    local = training_args.per_device_train_batch_size * training_args.steps_per_generation
    batches = [("train", local, training_args.num_generations)]
    if training_args.eval_strategy != "no":
        eval_generations = training_args.num_generations_eval or training_args.num_generations
        batches.append(("eval", training_args.per_device_eval_batch_size, eval_generations))
    for mode, size, generations in batches:
        if size % generations:
            raise ValueError(
                f"with a model judge, each process's {mode} generation batch ({size} completions: "
                "per_device_*_batch_size x steps_per_generation) must be a multiple of num_generations "
                f"({generations}), so that no prompt group is split across processes."
            )


def load_grpo_dataset(script_args: GRPOScriptArguments, split: str):
    where = describe(script_args, split)
    dataset = load_split(script_args, split)
    check_columns(dataset, GRPO_COLUMNS, where)
    check_images(dataset, "prompt", "image", script_args.validation_sample_size, where)
    return apply_system_prompt(dataset, "prompt", script_args.system_prompt)


def main(script_args: GRPOScriptArguments, training_args: GRPOConfig, model_args: ModelConfig) -> dict:
    set_seed(training_args.seed)
    setup_logging(training_args)
    logger.info(f"Script parameters {script_args}")
    logger.info(f"Model parameters {model_args}")

    # Everything that can be wrong with the inputs is checked before the model loads.
    hub = take_over_push(script_args, training_args)  # the trainer never pushes; a push without a token stops here
    checkpoint = resolve_checkpoint(training_args)
    reward_funcs = build_reward_funcs(script_args, training_args)
    train_dataset = load_grpo_dataset(script_args, script_args.dataset_train_split)
    train_dataset = apply_dataset_fraction(
        train_dataset,
        script_args.dataset_fraction,
        script_args.dataset_fraction_seed,
        training_args.output_dir,
        is_main=training_args.process_index == 0,
    )
    eval_dataset = None
    if training_args.eval_strategy != "no":
        eval_dataset = load_grpo_dataset(script_args, script_args.dataset_test_split)

    # Left padding/truncation as GRPOTrainer loads its own processor; ours also applies the image pixel bounds.
    processor = load_processor(
        model_args.model_name_or_path,
        script_args,
        revision=model_args.model_revision,
        trust_remote_code=training_args.trust_remote_code,
        padding_side="left",
        truncation_side="left",
    )
    training_args.model_init_kwargs = model_init_kwargs(model_args, training_args)

    trainer = GRPOTrainer(
        model=model_args.model_name_or_path,
        reward_funcs=reward_funcs,
        args=training_args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        processing_class=processor,
        quantization_config=get_quantization_config(model_args),
        peft_config=get_peft_config(model_args),
    )
    try:
        return train_and_save(
            trainer,
            checkpoint,
            script_args,
            model_args,
            training_args,
            tags=["wethink", "grpo", "vision-language"],
            wethink_card=True,
            hub=hub,
        )
    finally:
        for func in reward_funcs:  # the judge's HTTP client
            if callable(getattr(func, "close", None)):
                func.close()


def make_parser() -> TrlParser:
    return TrlParser((GRPOScriptArguments, GRPOConfig, ModelConfig))


if __name__ == "__main__":
    script_args, training_args, model_args = make_parser().parse_args_and_config()
    main(script_args, training_args, model_args)
