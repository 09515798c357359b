"""SFT cold start of a vision-language model on the WeThink `sft` view (the refined reasoning paths).

Every field of the YAML recipe can be overridden on the command line:

    accelerate launch --config_file recipes/accelerate_configs/zero3.yaml recipes/sft.py \
        --config recipes/Qwen2.5-VL-7B-Instruct/sft/config_wethink.yaml

    # CPU smoke run on the tiny model and a local `dataset_builder build` output folder
    accelerate launch --config_file recipes/accelerate_configs/cpu.yaml recipes/sft.py \
        --config recipes/tiny/sft.yaml --model_name_or_path MODEL_DIR --dataset_name DATA_DIR --output_dir RUN_DIR
"""

from __future__ import annotations

import logging

from transformers import set_seed
from trl import ModelConfig, SFTConfig, SFTTrainer, TrlParser, get_peft_config, get_quantization_config

from recipes.configs import SFTScriptArguments
from recipes.data import (
    SFT_COLUMNS,
    apply_system_prompt,
    check_columns,
    check_images,
    describe,
    load_processor,
    load_split,
)
from recipes.training import model_init_kwargs, resolve_checkpoint, setup_logging, take_over_push, train_and_save

logger = logging.getLogger("recipes.sft")


def load_sft_dataset(script_args: SFTScriptArguments, split: str):
    where = describe(script_args, split)
    dataset = load_split(script_args, split)
    check_columns(dataset, SFT_COLUMNS, where)
    check_images(dataset, "messages", "images", script_args.validation_sample_size, where)
    return apply_system_prompt(dataset, "messages", script_args.system_prompt)


def main(script_args: SFTScriptArguments, training_args: SFTConfig, model_args: ModelConfig) -> dict:
    set_seed(training_args.seed)
    setup_logging(training_args)
    logger.info(f"Script parameters {script_args}")
    logger.info(f"Model parameters {model_args}")

    # Everything that can be wrong with the inputs is checked before the model loads.
    hub = take_over_push(script_args, training_args)  # the trainer never pushes; a push without a token stops here
    checkpoint = resolve_checkpoint(training_args)
    train_dataset = load_sft_dataset(script_args, script_args.dataset_train_split)
    eval_dataset = None
    if training_args.eval_strategy != "no":
        eval_dataset = load_sft_dataset(script_args, script_args.dataset_test_split)

    processor = load_processor(
        model_args.model_name_or_path,
        script_args,
        revision=model_args.model_revision,
        trust_remote_code=training_args.trust_remote_code,
    )
    training_args.model_init_kwargs = model_init_kwargs(model_args, training_args)

    trainer = SFTTrainer(
        model=model_args.model_name_or_path,
        args=training_args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        processing_class=processor,
        quantization_config=get_quantization_config(model_args),
        peft_config=get_peft_config(model_args),
    )
    return train_and_save(
        trainer,
        checkpoint,
        script_args,
        model_args,
        training_args,
        tags=["wethink", "sft", "vision-language"],
        wethink_card=False,
        hub=hub,
    )


def make_parser() -> TrlParser:
    return TrlParser((SFTScriptArguments, SFTConfig, ModelConfig))


if __name__ == "__main__":
    script_args, training_args, model_args = make_parser().parse_args_and_config()
    main(script_args, training_args, model_args)
