"""Foundation: the tiny model round-trip, packaging imports, and the README's Make targets."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys

import pytest


def test_tiny_model_loads_and_generates_with_an_image(tiny_model_dir):
    import torch
    from PIL import Image
    from transformers import AutoModelForImageTextToText, AutoProcessor

    model = AutoModelForImageTextToText.from_pretrained(tiny_model_dir)
    processor = AutoProcessor.from_pretrained(tiny_model_dir)
    assert model.config.model_type == "qwen2_5_vl"

    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What color is it?"}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert "<|vision_start|><|image_pad|><|vision_end|>What color is it?" in text
    assert text.endswith("<|im_start|>assistant\n")

    inputs = processor(text=[text], images=[Image.new("RGB", (96, 72), (200, 40, 40))], return_tensors="pt")
    # The processor expands the single image pad into one token per merged patch.
    n_image_tokens = int((inputs["input_ids"] == model.config.image_token_id).sum())
    assert n_image_tokens == int(inputs["image_grid_thw"].prod()) // 4 > 1
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=8, do_sample=False)
    assert out.shape[1] > inputs["input_ids"].shape[1]


def test_tiny_model_is_deterministic_from_its_seed(tiny_model_dir, tmp_path):
    from recipes.tiny_model import build_tiny_model

    again = build_tiny_model(tmp_path / "again", seed=0)
    for name in ("model.safetensors", "tokenizer.json", "config.json"):
        assert (again / name).read_bytes() == (tiny_model_dir / name).read_bytes(), name
    other = build_tiny_model(tmp_path / "other", seed=1)
    assert (other / "model.safetensors").read_bytes() != (tiny_model_dir / "model.safetensors").read_bytes()


def test_demo_tokenizer_reads_the_chat_templates_role_names_as_single_tokens():
    from dataset_builder.synthetic import iter_scene_questions
    from dataset_builder.views import assistant_text
    from recipes.tiny_model import SIZES, build_tokenizer
    from reward_funcs.answer_format import SYSTEM_PROMPT

    demo = SIZES["demo"]
    tokenizer = build_tokenizer(0, demo.vocab_size, demo.task_corpus_lines)
    _, question, _ = next(iter_scene_questions(1, seed=5))
    messages = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": question.problem},
        {"role": "assistant", "content": assistant_text(question.reasoning, question.answer)},
    ]
    ids = tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True)["input_ids"]
    pieces = [tokenizer.decode([i]) for i in ids]
    starts = [i for i, piece in enumerate(pieces) if piece == "<|im_start|>"]
    # Every message header is <|im_start|>, the role as one token, then the newline (the model sees it each example).
    assert [pieces[i + 1 : i + 3] for i in starts] == [["system", "\n"], ["user", "\n"], ["assistant", "\n"]]
    assert tokenizer.decode(ids) == tokenizer.apply_chat_template(messages, tokenize=False)


def test_tiny_model_refuses_a_non_empty_output_dir(tmp_path, repo_root):
    (tmp_path / "keep.txt").write_text("user data")
    cmd = [sys.executable, str(repo_root / "recipes" / "tiny_model.py"), "--output-dir", str(tmp_path)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 2
    assert "not empty" in result.stderr and "--overwrite" in result.stderr
    assert (tmp_path / "keep.txt").read_text() == "user data"


@pytest.mark.parametrize("package", ["dataset_builder", "reward_funcs", "eval_tasks", "model_cards", "recipes"])
def test_packages_import(package):
    assert importlib.import_module(package)


def test_make_targets_named_in_readme_exist(repo_root):
    readme = (repo_root / "README.md").read_text()
    named = set(re.findall(r"\bmake ([a-z][\w-]*)", readme))
    assert {"demo", "test"} <= named
    result = subprocess.run(["make", "-qp"], cwd=repo_root, capture_output=True, text=True)
    defined = set(re.findall(r"^([a-z][\w-]*):", result.stdout, flags=re.M))
    assert named <= defined, f"README names make targets the Makefile lacks: {sorted(named - defined)}"


def test_ci_runs_the_readme_test_command(repo_root):
    ci = (repo_root / ".ci" / "run").read_text()
    assert "set -euo pipefail" in ci and "make test" in ci
