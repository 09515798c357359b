"""Model loading arguments, checkpoint resolution and the save/card/push tail, shared by both recipe scripts.

One push path: `--push_to_hub`, `--hub_model_id`, `--hub_private_repo` and `--hub_revision` are read by the recipe
(`take_over_push`) and switched off in the training arguments, so transformers' Trainer never calls the Hub (it would
create the repo when built, push TRL's generic card from `save_model` and push every checkpoint). The project's
checked push (`model_cards.push`: token from the environment only, secret scan, no `checkpoint-*`, one commit)
uploads the folder after training and, with `--push_at_save true`, the newest checkpoint's model at every save.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import datasets
import transformers
from transformers import TrainerCallback
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, get_last_checkpoint

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
    logger.warning(  # shown at the default log level, as open-r1 does: how the run was launched is in every log
        f"Process {training_args.process_index} of {training_args.world_size} "
        f"({training_args.parallel_mode.value}), device {training_args.device}"
    )


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


@dataclass
class HubTarget:
    """Where and how the recipe pushes (taken from the training arguments by `take_over_push`)."""

    repo_id: str
    private: bool | None
    revision: str | None
    at_save: bool
    include_checkpoints: bool


def take_over_push(script_args, training_args) -> HubTarget | None:
    """Read the Hub settings into the recipe's own target and turn the Trainer's push off; refuse, before anything
    loads, a push that could not go ahead (no token, Hub disabled) and the Hub paths that bypass the checked push."""
    if training_args.hub_token:
        raise ValueError(
            "hub_token is set in the recipe or on the command line: the Hub token is read from HF_TOKEN only"
        )
    if getattr(training_args, "log_completions_hub_repo", None):
        raise ValueError(
            "log_completions_hub_repo pushes completion logs from inside the trainer, outside the checked push; "
            "completions are kept in output_dir/completions (log_completions) instead"
        )
    wants_extras = script_args.push_at_save or script_args.push_checkpoints
    if not training_args.push_to_hub:
        if wants_extras:
            raise ValueError("push_at_save / push_checkpoints need --push_to_hub true")
        return None
    from model_cards.push import check_can_push

    check_can_push()  # raises PushError (no token, HF_HUB_OFFLINE) before the model loads
    target = HubTarget(
        repo_id=training_args.hub_model_id or Path(training_args.output_dir).absolute().name,
        private=training_args.hub_private_repo,
        revision=training_args.hub_revision,
        at_save=script_args.push_at_save,
        include_checkpoints=script_args.push_checkpoints,
    )
    training_args.push_to_hub = False  # the Trainer never pushes; see the module docstring
    return target


def _write_card(trainer, folder: str, script_args, model_args, repo_id: str | None, tags, wethink_card: bool) -> None:
    """The project's card for GRPO (`model_cards.cards.render_model_card`), TRL's for the SFT cold start."""
    if wethink_card:
        from model_cards.cards import render_model_card

        render_model_card(
            folder, repo_id=repo_id, base_model=model_args.model_name_or_path, datasets=[script_args.dataset_name]
        )
        return
    # A local dataset folder is no Hub link, so TRL's card names the dataset only when it is a Hub id.
    output_dir = trainer.args.output_dir
    dataset_name = None if os.path.isdir(script_args.dataset_name) else script_args.dataset_name
    trainer.create_model_card(
        model_name=os.path.basename(os.path.normpath(output_dir)), dataset_name=dataset_name, tags=tags
    )
    if os.path.abspath(folder) != os.path.abspath(output_dir):  # TRL writes it into output_dir only
        shutil.copy(os.path.join(output_dir, "README.md"), os.path.join(folder, "README.md"))


class CheckedPushAtSave(TrainerCallback):
    """At every save, push the new checkpoint's model (no optimizer/scheduler/RNG states) with the card through the
    checked push. A failed push is logged and training goes on; the final push after training still runs."""

    def __init__(self, target: HubTarget, write_card):
        self.target = target
        self.write_card = write_card

    def on_save(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        from model_cards.push import PushError, plan_push, push

        folder = os.path.join(args.output_dir, f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}")
        try:
            self.write_card(folder)
            plan = plan_push(folder, "model", training_state=False)
            url = push(plan, self.target.repo_id, revision=self.target.revision, private=self.target.private,
                       commit_message=f"Checkpoint at step {state.global_step} (wethink-recipes)")  # fmt: skip
            logger.info(f"Pushed {folder} to {self.target.repo_id}: {url}")
        except PushError as err:
            logger.error(f"Push of {folder} failed, training goes on: {err}")


def train_and_save(
    trainer,
    checkpoint: str | None,
    script_args,
    model_args,
    training_args,
    tags: list[str],
    wethink_card: bool,
    hub: HubTarget | None = None,
) -> dict:
    """Train (from `checkpoint` if given), then save model + processor + state, write the model card, push if asked.

    `wethink_card`: render the project's card (`model_cards.cards.render_model_card`, which describes the GRPO
    stage); otherwise TRL's generic card (the SFT cold start is an intermediate checkpoint).
    `hub`: the recipe's push target (`take_over_push`); the trainer itself must have been built with push off.
    """
    if trainer.args.push_to_hub:
        raise ValueError("the trainer would push by itself: pass the training arguments through take_over_push first")

    def write_card(folder: str) -> None:
        _write_card(trainer, folder, script_args, model_args, hub.repo_id if hub else None, tags, wethink_card)

    if hub is not None and hub.at_save:
        trainer.add_callback(CheckedPushAtSave(hub, write_card))
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
        write_card(training_args.output_dir)
        if hub is not None:
            from model_cards.push import plan_push, push

            logger.info(f"Pushing {training_args.output_dir} to {hub.repo_id}")
            plan = plan_push(training_args.output_dir, "model", include_checkpoints=hub.include_checkpoints)
            push(plan, hub.repo_id, revision=hub.revision, private=hub.private)
    trainer.accelerator.wait_for_everyone()
    trainer.end()
    return metrics
