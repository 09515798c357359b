"""Build a tiny random Qwen2.5-VL, fully offline and deterministic from a seed.

No weights or tokenizer files can be downloaded on CPU CI, so tests, the demo and the benchmarks use this model:
the real Qwen2.5-VL architecture (window attention, M-RoPE, patch merger), a byte-level BPE tokenizer with Qwen's
special tokens, the Qwen2-VL chat template and the real image processor. Two sizes:

- `tiny` (~0.2M parameters): the tests' model, as fast as possible;
- `demo` (~1.5M parameters): `make demo`'s model, big enough to learn the synthetic release's task
  (`dataset_builder/synthetic.py`) on CPU in a few minutes; its tokenizer also learns that task's words, so its
  sequences stay short.

    python recipes/tiny_model.py --output-dir outputs/tiny-qwen2.5-vl [--size tiny|demo] [--seed 0] [--overwrite]

The folder loads with `AutoModelForImageTextToText.from_pretrained(DIR)` and `AutoProcessor.from_pretrained(DIR)`.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

# Qwen2-VL / Qwen2.5-VL chat template (as shipped with the Instruct checkpoints): image and video parts render as
# <|vision_start|><|image_pad|><|vision_end|>, which the processor expands to one pad per merged patch.
CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}"
    "{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}"
    "{% set video_count.value = video_count.value + 1 %}"
    "{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}"
    "<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
]

# The corpus the tokenizer is trained on: the shapes of text the project feeds the model (system prompt, tags,
# questions, options, numbers), so that common pieces become single tokens and sequences stay short.
_CORPUS_SEEDS = [
    "You FIRST think about the reasoning process as an internal monologue and then provide the final answer.",
    "The reasoning process MUST BE enclosed within <think> </think> tags.",
    "The final answer MUST BE enclosed within <answer> </answer> tags.",
    "<think>The image shows a chart. The bar for 2019 is the tallest, so the answer is B.</think><answer>B</answer>",
    "Question: What is the value of x in the figure? Options: A. 12 B. 15 C. 18 D. 24",
    "How many objects are red? Answer with a single number. The answer is 3.",
    "Describe the scene in the picture. A dog runs across a green field under a blue sky.",
    "Is there a cat in the image? Please answer yes or no.",
    "Hint: Please answer the question and provide the correct option letter, e.g., A, B, C, D, at the end.",
    "Compute the area of the triangle with base 6 and height 4. \\frac{1}{2} \\times 6 \\times 4 = 12",
    "The text in the image reads OPEN 24 HOURS. The total is $45.50, which is 12% more than last year.",
]


@dataclass(frozen=True)
class ModelSize:
    vocab_size: int
    text: dict
    vision: dict
    # Synthetic-task questions and reasoning paths added to the tokenizer corpus (0: none).
    task_corpus_lines: int = 0

    @property
    def mrope_section(self) -> list[int]:
        """Qwen2.5-VL's temporal/height/width split of the rotary half-dimension (2:3:3, as in [16, 24, 24])."""
        half = self.text["hidden_size"] // self.text["num_attention_heads"] // 2
        return [half // 4, 3 * half // 8, 3 * half // 8]


SIZES = {
    "tiny": ModelSize(
        vocab_size=400,
        text={"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4},
        vision={"depth": 2, "hidden_size": 32, "intermediate_size": 64, "num_heads": 2},
    ),
    "demo": ModelSize(
        vocab_size=800,
        text={"hidden_size": 128, "intermediate_size": 384, "num_hidden_layers": 4, "num_attention_heads": 4},
        vision={"depth": 2, "hidden_size": 64, "intermediate_size": 128, "num_heads": 4},
        task_corpus_lines=400,
    ),
}


def _task_corpus(n: int, seed: int) -> list[str]:
    """n synthetic-task conversations, each message as the chat template lays it out after <|im_start|> (role name,
    newline, content), so that the role names and the system prompt's words become single tokens too."""
    from dataset_builder.synthetic import iter_scene_questions
    from dataset_builder.views import assistant_text
    from reward_funcs.answer_format import SYSTEM_PROMPT

    lines = []
    for _, question, _ in iter_scene_questions(n, seed):
        answer = assistant_text(question.reasoning, question.answer)
        lines += [f"system\n{SYSTEM_PROMPT}", f"user\n{question.problem}", f"assistant\n{answer}"]
    return lines


def _corpus(seed: int, task_lines: int = 0) -> list[str]:
    import random

    rng = random.Random(seed)
    words = " ".join(_CORPUS_SEEDS).split()
    lines = list(_CORPUS_SEEDS)
    for _ in range(300):
        lines.append(" ".join(rng.choice(words) for _ in range(rng.randint(4, 16))))
    lines += [str(n) for n in range(200)]
    return lines + (_task_corpus(task_lines, seed) if task_lines else [])


def build_tokenizer(seed: int = 0, vocab_size: int = 400, task_lines: int = 0):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_corpus(seed, task_lines), trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        padding_side="left",
        model_max_length=32768,
        extra_special_tokens={},
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def build_config(tokenizer, size: ModelSize = SIZES["tiny"]):
    from transformers import Qwen2_5_VLConfig

    ids = {name: tokenizer.convert_tokens_to_ids(name) for name in SPECIAL_TOKENS}
    return Qwen2_5_VLConfig(
        text_config={
            "vocab_size": len(tokenizer),
            **size.text,
            "num_key_value_heads": 2,
            "max_position_embeddings": 4096,
            "rope_scaling": {"type": "mrope", "mrope_section": size.mrope_section},
            "tie_word_embeddings": True,
            "bos_token_id": ids["<|endoftext|>"],
            "eos_token_id": ids["<|im_end|>"],
            "pad_token_id": ids["<|endoftext|>"],
        },
        vision_config={
            **size.vision,
            "out_hidden_size": size.text["hidden_size"],
            "fullatt_block_indexes": [1],
            "window_size": 56,
            "patch_size": 14,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
        },
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=True,
    )


def build_tiny_model(output_dir: str | Path, seed: int = 0, overwrite: bool = False, size: str = "tiny") -> Path:
    """Write a tiny random Qwen2.5-VL of `size` (see SIZES: model, tokenizer, processor, generation config) to
    `output_dir`."""
    import torch
    from transformers import (
        AutoModelForImageTextToText,
        GenerationConfig,
        Qwen2_5_VLProcessor,
        Qwen2VLImageProcessor,
        Qwen2VLVideoProcessor,
    )

    if size not in SIZES:
        raise ValueError(f"unknown model size {size!r}; choose from {list(SIZES)}")
    preset = SIZES[size]
    output_dir = Path(output_dir)
    if output_dir.exists() and any(output_dir.iterdir()):
        if not overwrite:
            raise FileExistsError(
                f"{output_dir} exists and is not empty; pass --overwrite to replace it, or choose another --output-dir"
            )
        shutil.rmtree(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)

    torch.manual_seed(seed)
    tokenizer = build_tokenizer(seed, preset.vocab_size, preset.task_corpus_lines)
    config = build_config(tokenizer, preset)
    model = AutoModelForImageTextToText.from_config(config)
    model.generation_config = GenerationConfig(
        bos_token_id=config.text_config.bos_token_id,
        eos_token_id=config.text_config.eos_token_id,
        pad_token_id=config.text_config.pad_token_id,
        do_sample=False,
    )
    image_processor = Qwen2VLImageProcessor(min_pixels=56 * 56, max_pixels=112 * 112)
    video_processor = Qwen2VLVideoProcessor(min_pixels=56 * 56, max_pixels=112 * 112)
    processor = Qwen2_5_VLProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        video_processor=video_processor,
        chat_template=CHAT_TEMPLATE,
    )
    model.save_pretrained(output_dir)
    processor.save_pretrained(output_dir)
    return output_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output-dir", required=True, help="folder to write the model to")
    parser.add_argument("--size", choices=list(SIZES), default="tiny", help="model size preset (see SIZES)")
    parser.add_argument("--seed", type=int, default=0, help="seed for the tokenizer corpus and the random weights")
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty --output-dir")
    args = parser.parse_args(argv)
    try:
        path = build_tiny_model(args.output_dir, seed=args.seed, overwrite=args.overwrite, size=args.size)
    except FileExistsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"tiny Qwen2.5-VL ({args.size}) written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
