"""Score a checkpoint on the demo's held-out synthetic split: greedy answers, graded by the project's rules.

    python -m recipes.demo_heldout --model DIR --data HELDOUT_DIR --output FILE.json

The split is `dataset_builder.synthetic.write_heldout_split`'s (items training never saw). Prompts, grading and
figures are the `synthetic_heldout` evaluation task's (`eval_tasks/benchmarks/synthetic_heldout.py`), the one scorer
of this split, which `python -m eval_tasks run --tasks synthetic_heldout` also uses: the prompt is what the training
views build (system prompt, then the image, then the question); answers are graded by `reward_funcs.accuracy_reward`
(the rule path of the hybrid reward; the descriptive items' answers come from a closed set of 12, so the text rule
decides them too) and the format by `reward_funcs.format_reward`'s check. `chance` is the mean over items of
1 / (answers a uniform guess chooses from). Figures are fractions (the task's aggregate reports them x100).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class HeldoutConfig:
    model: str = field(metadata={"help": "checkpoint folder (model + processor)"})
    data: str = field(metadata={"help": "held-out split folder written by write_heldout_split"})
    output: str = field(metadata={"help": "JSON file for the figures"})
    max_new_tokens: int = field(default=64, metadata={"help": "generation budget per answer"})
    batch_size: int = field(default=32, metadata={"help": "items generated together"})


def _messages(doc) -> list[dict]:
    """The task's prompt as chat messages: system prompt, then the image(s), then the question."""
    from eval_tasks.backends.messages import build_messages

    return build_messages(doc.query, doc.images, doc.instruction)


def generate(config: HeldoutConfig, rows) -> list[str]:
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from eval_tasks.benchmarks.synthetic_heldout import prompt_fn

    model = AutoModelForImageTextToText.from_pretrained(config.model).eval()
    processor = AutoProcessor.from_pretrained(config.model, padding_side="left")
    completions = []
    for start in range(0, len(rows), config.batch_size):
        docs = [prompt_fn(row) for row in rows[start : start + config.batch_size]]
        texts = [processor.apply_chat_template(_messages(doc), add_generation_prompt=True) for doc in docs]
        images = [image for doc in docs for image in doc.images]
        inputs = processor(text=texts, images=images, return_tensors="pt", padding=True)
        with torch.no_grad():
            output = model.generate(**inputs, max_new_tokens=config.max_new_tokens, do_sample=False)
        completions += processor.batch_decode(output[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    return completions


def score(rows, completions: list[str]) -> dict:
    """The task's per-item `score` and its `summary` (n, format, accuracy, chance, by_type), plus five examples."""
    from eval_tasks.benchmarks import synthetic_heldout as task

    records = [task.score(completion, task.item(row)) for row, completion in zip(rows, completions, strict=True)]
    figures = task.summary(records)
    figures["examples"] = [
        {"question": r["question"], "gold": r["answer"], "completion": c} for r, c in zip(rows[:5], completions)
    ]
    return figures


def heldout_figures(entry: dict, split_dir: Path) -> dict:
    """summary.json's `heldout` (fractions) from the synthetic_heldout results.json entry (x100), over the whole split:
    items the runner left out (empty completions) count as wrong and unformatted, as `score` counts them here."""
    from datasets import load_dataset

    from eval_tasks.benchmarks import synthetic_heldout as task

    rows = load_dataset(str(split_dir), split="test").remove_columns("image")  # chance needs no pixels
    total, scored = rows.num_rows, entry.get("n", 0)
    metrics = entry.get("metrics") or {}

    def over_all(key: str) -> float:
        return (metrics.get(key) or 0.0) / 100 * scored / total

    chance = sum(task.chance(task.item(row)) for row in rows) / total
    return {"n": total, "format": over_all("format"), "accuracy": over_all("accuracy"), "chance": chance}


def main(argv: list[str] | None = None) -> int:
    from datasets import load_dataset
    from transformers import HfArgumentParser

    (config,) = HfArgumentParser(HeldoutConfig).parse_args_into_dataclasses(args=argv)
    rows = list(load_dataset(config.data, split="test"))
    started = time.perf_counter()
    figures = score(rows, generate(config, rows))
    figures["seconds"] = time.perf_counter() - started
    Path(config.output).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: figures[k] for k in ("n", "format", "accuracy", "chance")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
