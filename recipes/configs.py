"""Config dataclasses for `recipes/grpo.py` and `recipes/sft.py`.

Each script parses `(ScriptArguments subclass, GRPOConfig | SFTConfig, ModelConfig)` with `TrlParser`, so every field
below, every TRL/transformers training argument and every model/LoRA argument can be set in a YAML recipe and
overridden on the command line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from trl import ScriptArguments

from dataset_builder.schema import PARQUET_REPO_ID
from reward_funcs.answer_format import SYSTEM_PROMPT

# The Parquet build of the WeThink release that `python -m dataset_builder build --push-to-hub` publishes (configs
# `default`, `rl`, `sft`). Any local output folder of `dataset_builder build` works in its place.
DEFAULT_DATASET_ID = PARQUET_REPO_ID


@dataclass
class WeThinkScriptArguments(ScriptArguments):
    """Dataset arguments shared by the SFT and GRPO recipes (the split is TRL's `dataset_train_split`)."""

    dataset_name: str | None = field(
        default=DEFAULT_DATASET_ID,
        metadata={"help": "Hub id of the WeThink Parquet build, or a local `dataset_builder build` output folder."},
    )
    system_prompt: str = field(
        default=SYSTEM_PROMPT,
        metadata={"help": "System prompt of every conversation; replaces the one stored in the dataset if different."},
    )
    image_min_pixels: int | None = field(
        default=None,
        metadata={"help": "Smallest image area (pixels) the processor resizes to; None keeps the processor's own."},
    )
    image_max_pixels: int | None = field(
        default=None,
        metadata={"help": "Largest image area (pixels) the processor resizes to; None keeps the processor's own."},
    )
    validation_sample_size: int = field(
        default=1000,
        metadata={"help": "Rows checked for missing images before the model loads (the first N; -1 checks all)."},
    )
    push_at_save: bool = field(
        default=False,
        metadata={
            "help": "With --push_to_hub true: also push the newest checkpoint's model (no optimizer states) with the "
            "card at every save, through the checked push. The Trainer's own push is always off."
        },
    )
    push_checkpoints: bool = field(
        default=False,
        metadata={
            "help": "With --push_to_hub true: the final push also uploads the checkpoint-* folders (resume states "
            "included); by default they stay local."
        },
    )


@dataclass
class GRPOScriptArguments(WeThinkScriptArguments):
    """Arguments of `recipes/grpo.py`: the `rl` view, the rewards and the optional model judge."""

    dataset_config: str | None = field(
        default="rl", metadata={"help": "Dataset config to train on: the `rl` view (prompt, image, solution, ...)."}
    )
    dataset_fraction: float = field(
        default=1.0,
        metadata={
            "help": "Train on this share of the training split (0 < f <= 1): a seeded subset stratified by "
            "question type, recorded in OUTPUT_DIR/dataset_subset.json and the model card. With one seed, the rows "
            "of a smaller fraction are among those of a larger one (data-scale curves)."
        },
    )
    dataset_fraction_seed: int = field(
        default=0, metadata={"help": "Seed of the dataset_fraction subset (independent of the training seed)."}
    )
    reward_funcs: list[str] = field(
        default_factory=lambda: ["hybrid", "format"],
        metadata={
            "help": "Reward names from `reward_funcs.get_reward_funcs` (format, accuracy, judge, hybrid, length, "
            "repetition) or `pkg.module:func` paths. Weights go in `reward_weights`, one per name."
        },
    )
    judge_base_url: str | None = field(
        default=None,
        metadata={"help": "OpenAI-compatible endpoint of the judge model that grades `reward_method=model` rows."},
    )
    judge_model: str | None = field(default=None, metadata={"help": "Model name served at `judge_base_url`."})
    judge_api_key_env: str = field(
        default="OPENAI_API_KEY",
        metadata={
            "help": "Name of the environment variable holding the judge API key (the key never goes in a file)."
        },
    )
    judge_timeout: float = field(default=60.0, metadata={"help": "Seconds the judge may take on one completion."})
    judge_max_concurrency: int = field(default=32, metadata={"help": "Judge requests in flight at once."})


@dataclass
class SFTScriptArguments(WeThinkScriptArguments):
    """Arguments of `recipes/sft.py`: the `sft` view (cold start on the reasoning paths)."""

    dataset_config: str | None = field(
        default="sft", metadata={"help": "Dataset config to train on: the `sft` view (messages, images)."}
    )
