"""Loading and checking the training data and the processor, shared by `recipes/grpo.py` and `recipes/sft.py`.

Everything here runs before the model loads, so a bad dataset or setting fails in seconds with an error that names the
dataset, the field and the row, instead of minutes later inside the trainer.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

from datasets import Dataset, load_dataset

from recipes.configs import WeThinkScriptArguments

# Columns each recipe reads: the `rl` view (rewards get solution/question_type/reward_method as kwargs) and the `sft`
# view. `id` names the row in error messages.
GRPO_COLUMNS = ("id", "prompt", "image", "solution", "question_type", "reward_method")
SFT_COLUMNS = ("id", "messages", "images")


def load_split(script_args: WeThinkScriptArguments, split: str) -> Dataset:
    if script_args.dataset_streaming:
        raise ValueError(
            "dataset_streaming is not supported by the WeThink recipes: the pre-load checks read rows by index. "
            "The Parquet build is downloaded once and memory-mapped, so streaming saves no memory here."
        )
    return load_dataset(script_args.dataset_name, name=script_args.dataset_config, split=split)


def describe(script_args: WeThinkScriptArguments, split: str) -> str:
    return f"dataset {script_args.dataset_name!r} (config {script_args.dataset_config!r}, split {split!r})"


def check_columns(dataset: Dataset, required: tuple[str, ...], where: str) -> None:
    missing = [name for name in required if name not in dataset.column_names]
    if missing:
        raise ValueError(
            f"{where} is missing the column(s) {missing} this recipe needs; it has {dataset.column_names}. "
            "Point --dataset_name at a `python -m dataset_builder build` output (or its Hub copy) and "
            "--dataset_config at the view this recipe trains on."
        )


SUBSET_RECORD = "dataset_subset.json"  # what `dataset_fraction` kept; the model card reads it


def stratified_fraction(dataset: Dataset, fraction: float, seed: int, column: str = "question_type") -> tuple:
    """A seeded `fraction` of the rows, the same share of each `column` value (at least one row of each); returns
    (subset in dataset order, record). Each value's rows are shuffled once by the seed and a prefix is kept, so with
    one seed a smaller fraction's rows are among a larger one's."""
    if not 0 < fraction <= 1:
        raise ValueError(f"dataset_fraction must be in (0, 1], got {fraction}")
    by_value: dict[str, list[int]] = {}
    for index, value in enumerate(dataset[column]):
        by_value.setdefault(str(value), []).append(index)
    rng = random.Random(seed)
    kept, counts = [], {}
    for value in sorted(by_value):
        indices = by_value[value]
        rng.shuffle(indices)
        size = max(1, round(fraction * len(indices)))
        kept += indices[:size]
        counts[value] = {"kept": size, "of": len(indices)}
    record = {"dataset_fraction": fraction, "seed": seed, "rows": len(kept), "of": len(dataset), column: counts}
    return dataset.select(sorted(kept)), record


def apply_dataset_fraction(dataset: Dataset, fraction: float, seed: int, output_dir: str, is_main: bool) -> Dataset:
    """Subset the training rows when `fraction` < 1 and record it in output_dir (a stale record is removed)."""
    record_path = Path(output_dir) / SUBSET_RECORD
    if fraction == 1:
        if is_main and record_path.is_file():
            record_path.unlink()
        return dataset
    subset, record = stratified_fraction(dataset, fraction, seed)
    if is_main:
        record_path.parent.mkdir(parents=True, exist_ok=True)
        record_path.write_text(json.dumps(record, indent=2) + "\n")
    return subset


def count_image_placeholders(messages: list[dict]) -> int:
    return sum(
        1
        for message in messages
        if isinstance(message["content"], list)
        for part in message["content"]
        if part.get("type") == "image"
    )


def _image_is_missing(image: dict | None) -> bool:
    # Raw Arrow value of an `Image()` feature: {"bytes": ..., "path": ...}; a path alone must exist on disk.
    if image is None:
        return True
    if image.get("bytes"):
        return False
    return not (image.get("path") and os.path.exists(image["path"]))


def check_images(dataset: Dataset, messages_column: str, image_column: str, sample_size: int, where: str) -> int:
    """Check that the first `sample_size` rows (-1: all) carry one image per image placeholder; returns rows checked.

    The rows are read as raw Arrow values, so no image is decoded.
    """
    n_rows = len(dataset) if sample_size < 0 else min(sample_size, len(dataset))
    rows = dataset.select_columns(["id", messages_column, image_column]).with_format("arrow")[:n_rows].to_pylist()
    for row in rows:
        if not row[messages_column]:
            raise ValueError(f"{where}: row id={row['id']!r} has no {messages_column!r} (null or empty).")
        images = row[image_column]
        images = images if isinstance(images, list) else [images]
        missing = sum(_image_is_missing(image) for image in images)
        placeholders = count_image_placeholders(row[messages_column])
        if missing or len(images) != placeholders:
            raise ValueError(
                f"{where}: row id={row['id']!r} has {len(images) - missing} usable image(s) in column "
                f"{image_column!r} ({missing} missing) for {placeholders} image placeholder(s) in {messages_column!r}. "
                "Rebuild the dataset with `python -m dataset_builder build` (it keeps rows without an image aside "
                "in rejected.jsonl) or drop the row."
            )
    return n_rows


def _with_system_prompt(messages: list[dict], system_prompt: str) -> list[dict]:
    system = {"role": "system", "content": [{"type": "text", "text": system_prompt}]}
    if messages and messages[0]["role"] == "system":
        return [system, *messages[1:]]
    return [system, *messages]


def _system_text(messages: list[dict]) -> str | None:
    if not messages or messages[0]["role"] != "system":
        return None
    content = messages[0]["content"]
    return content if isinstance(content, str) else "".join(part.get("text") or "" for part in content)


def apply_system_prompt(dataset: Dataset, messages_column: str, system_prompt: str) -> Dataset:
    """Use `system_prompt` in every conversation; a no-op (no rewrite of the data) when the dataset already does."""
    first = dataset.select_columns([messages_column])[0][messages_column] if len(dataset) else []
    if _system_text(first) == system_prompt:
        return dataset
    return dataset.map(
        lambda batch: {messages_column: [_with_system_prompt(messages, system_prompt) for messages in batch]},
        input_columns=[messages_column],
        batched=True,
        desc="Setting the system prompt",
    )


def load_processor(model_name_or_path: str, script_args: WeThinkScriptArguments, **kwargs):
    """The model's processor with the recipe's image resolution bounds (Qwen2-VL-style `size` in pixels)."""
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(model_name_or_path, **kwargs)
    if script_args.image_min_pixels is None and script_args.image_max_pixels is None:
        return processor
    size = processor.image_processor.size
    if getattr(size, "shortest_edge", None) is None or getattr(size, "longest_edge", None) is None:
        raise ValueError(
            f"image_min_pixels/image_max_pixels need a Qwen2-VL-style image processor (size in pixels), but "
            f"{type(processor.image_processor).__name__} of {model_name_or_path} has size={size}."
        )
    min_pixels = script_args.image_min_pixels or size.shortest_edge
    max_pixels = script_args.image_max_pixels or size.longest_edge
    if min_pixels > max_pixels:
        raise ValueError(f"image_min_pixels ({min_pixels}) is larger than image_max_pixels ({max_pixels}).")
    return AutoProcessor.from_pretrained(
        model_name_or_path, size={"shortest_edge": min_pixels, "longest_edge": max_pixels}, **kwargs
    )
