"""Score a checkpoint on the demo's held-out synthetic split: greedy answers, graded by the project's rules.

    python -m recipes.demo_heldout --model DIR --data HELDOUT_DIR --output FILE.json

The split is `dataset_builder.synthetic.write_heldout_split`'s (items training never saw). Prompts are built exactly
as the training views build them (system prompt, then the image, then the question); answers are graded by
`reward_funcs.accuracy_reward` (the rule path of the hybrid reward; the descriptive items' answers come from a
closed set of 12, so the text rule decides them too) and the format by `reward_funcs.format_reward`. `chance` is the
mean over items of 1 / (answers a uniform guess chooses from).
"""

from __future__ import annotations

import json
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class HeldoutConfig:
    model: str = field(metadata={"help": "checkpoint folder (model + processor)"})
    data: str = field(metadata={"help": "held-out split folder written by write_heldout_split"})
    output: str = field(metadata={"help": "JSON file for the figures"})
    max_new_tokens: int = field(default=64, metadata={"help": "generation budget per answer"})
    batch_size: int = field(default=32, metadata={"help": "items generated together"})


def _messages(question: str) -> list[dict]:
    from reward_funcs.answer_format import SYSTEM_PROMPT

    return [
        {"role": "system", "content": [{"type": "text", "text": SYSTEM_PROMPT}]},
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]},
    ]


def generate(config: HeldoutConfig, rows) -> list[str]:
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    model = AutoModelForImageTextToText.from_pretrained(config.model).eval()
    processor = AutoProcessor.from_pretrained(config.model, padding_side="left")
    completions = []
    for start in range(0, len(rows), config.batch_size):
        batch = rows[start : start + config.batch_size]
        texts = [processor.apply_chat_template(_messages(r["question"]), add_generation_prompt=True) for r in batch]
        inputs = processor(text=texts, images=[r["image"] for r in batch], return_tensors="pt", padding=True)
        with torch.no_grad():
            output = model.generate(**inputs, max_new_tokens=config.max_new_tokens, do_sample=False)
        completions += processor.batch_decode(output[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    return completions


def score(rows, completions: list[str]) -> dict:
    from reward_funcs import accuracy_reward, format_reward

    correct = accuracy_reward(
        completions,
        solution=[r["answer"] for r in rows],
        question_type=[r["question_type"] for r in rows],
        problem=[r["question"] for r in rows],
    )
    formatted = format_reward(completions)
    chance = [1.0 / len(r["answer_space"]) for r in rows]
    groups = defaultdict(list)
    for row, right, guess in zip(rows, correct, chance):
        groups[f"{row['question_type']}/{row['kind']}"].append((right or 0.0, guess))
    n = len(rows)
    return {
        "n": n,
        "format": sum(formatted) / n,
        "accuracy": sum(c or 0.0 for c in correct) / n,
        "chance": sum(chance) / n,
        "by_type": {
            key: {"n": len(m), "accuracy": sum(a for a, _ in m) / len(m), "chance": sum(g for _, g in m) / len(m)}
            for key, m in sorted(groups.items())
        },
        "examples": [
            {"question": r["question"], "gold": r["answer"], "completion": c} for r, c in zip(rows[:5], completions)
        ],
    }


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
