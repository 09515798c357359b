"""Model loading arguments, checkpoint resolution and the save/card/push tail, shared by both recipe scripts."""

from __future__ import annotations

import logging
import os
import sys

import datasets
import transformers
from transformers.trainer_utils import get_last_checkpoint

logger = logging.getLogger(__name__)


def setup_logging(training_args) -> None:
    logging.basicConfig(
        format="%(asctime)s - %(levelname)s - %(name)s - %(message)s",
        datefmt="%Y-%m-%d %H:%M:%S",
        handlers=[logging.StreamHandler(sys.stdout)],
    )
    log_level = training_args.get_process_log_level()
    logging.getLogger("recipes").setLevel(log_level)
    logger.setLevel(log_level)
    datasets.utils.logging.set_verbosity(log_level)
    transformers.utils.logging.set_verbosity(log_level)
    transformers.utils.logging.enable_default_handler()
    transformers.utils.logging.enable_explicit_format()


def model_init_kwargs(model_args, training_args) -> dict:
    """How the trainer loads `model_name_or_path` (as TRL's own scripts build it), plus any YAML `model_init_kwargs`."""
    kwargs = dict(
        revision=model_args.model_revision,
        trust_remote_code=training_args.trust_remote_code,
        attn_implementation=model_args.attn_implementation,
        dtype=model_args.dtype,
    )
    kwargs.update(training_args.model_init_kwargs or {})
    return kwargs


def resolve_checkpoint(training_args) -> str | None:
    """`--resume_from_checkpoint PATH`, or `true`/`last` for the newest checkpoint in `output_dir`."""
    requested = training_args.resume_from_checkpoint
    if requested is None or str(requested).lower() in ("false", "none", ""):
        return None
    if str(requested).lower() in ("true", "last"):
        checkpoint = get_last_checkpoint(training_args.output_dir) if os.path.isdir(training_args.output_dir) else None
        if checkpoint is None:
            raise ValueError(
                f"--resume_from_checkpoint {requested}: no checkpoint-* folder in {training_args.output_dir}"
            )
        return checkpoint
    if not os.path.isdir(requested):
        raise ValueError(f"--resume_from_checkpoint {requested}: no such checkpoint folder")
    return requested


def train_and_save(
    trainer, checkpoint: str | None, script_args, model_args, training_args, tags: list[str], wethink_card: bool
) -> dict:
    """Train (from `checkpoint` if given), then save model + processor + state, write the model card, push if asked.

    `wethink_card`: render the project's card (`model_cards.cards.render_model_card`, which describes the GRPO
    stage); otherwise TRL's generic card (the SFT cold start is an intermediate checkpoint).
    """
    if checkpoint is not None:
        logger.info(f"Resuming from {checkpoint}")
    train_result = trainer.train(resume_from_checkpoint=checkpoint)
    metrics = train_result.metrics
    metrics["train_samples"] = len(trainer.train_dataset)
    trainer.log_metrics("train", metrics)
    trainer.save_metrics("train", metrics)
    trainer.save_state()

    # Gradient checkpointing turns the KV cache off during training; generation after loading wants it back on.
    trainer.model.config.use_cache = True
    trainer.save_model(training_args.output_dir)  # the model and the processor (`processing_class`)
    logger.info(f"Model and processor saved to {training_args.output_dir}")

    if trainer.accelerator.is_main_process:
        repo_id = trainer.hub_model_id if training_args.push_to_hub else None
        if wethink_card:
            from model_cards.cards import render_model_card

            render_model_card(
                training_args.output_dir,
                repo_id=repo_id,
                base_model=model_args.model_name_or_path,
                datasets=[script_args.dataset_name],
            )
        else:
            # A local dataset folder is no Hub link, so TRL's card names the dataset only when it is a Hub id.
            dataset_name = None if os.path.isdir(script_args.dataset_name) else script_args.dataset_name
            trainer.create_model_card(
                model_name=os.path.basename(os.path.normpath(training_args.output_dir)),
                dataset_name=dataset_name,
                tags=tags,
            )
        if training_args.push_to_hub:
            # The project's push (not Trainer.push_to_hub, which would replace the card with TRL's): token from the
            # environment, refuses files that contain it, skips checkpoint-* folders.
            from model_cards.push import plan_push, push

            logger.info(f"Pushing {training_args.output_dir} to {repo_id}")
            push(plan_push(training_args.output_dir, "model"), repo_id)
    trainer.accelerator.wait_for_everyone()
    trainer.end()
    return metrics
