"""The three configs' features and how a `default` row becomes an `rl` row, an `sft` row or a ShareGPT entry."""

from __future__ import annotations

from datasets import Features, Image, List, Value

from reward_funcs.answer_format import SYSTEM_PROMPT

_CONTENT = List({"type": Value("string"), "text": Value("string")})
_MESSAGES = List({"role": Value("string"), "content": _CONTENT})

FEATURES = {
    "default": Features(
        {
            "id": Value("string"),
            "image": Image(),
            "problem": Value("string"),
            "answer": Value("string"),
            "reasoning": Value("string"),
            "question_type": Value("string"),
            "abilities": List(Value("string")),
            "reward_method": Value("string"),
            "source": Value("string"),
            "image_path": Value("string"),
        }
    ),
    "rl": Features(
        {
            "id": Value("string"),
            "prompt": _MESSAGES,
            "image": Image(),
            "problem": Value("string"),
            "solution": Value("string"),
            "question_type": Value("string"),
            "reward_method": Value("string"),
        }
    ),
    "sft": Features({"id": Value("string"), "messages": _MESSAGES, "images": List(Image())}),
}
CONFIG_NAMES = tuple(FEATURES)


def assistant_text(reasoning: str, answer: str) -> str:
    """The WeThink output format the system prompt asks for."""
    return f"<think>{reasoning}</think><answer>{answer}</answer>"


def _prompt(problem: str) -> list[dict]:
    return [
        {"role": "system", "content": [{"type": "text", "text": SYSTEM_PROMPT}]},
        {"role": "user", "content": [{"type": "image", "text": None}, {"type": "text", "text": problem}]},
    ]


def to_rl(row: dict) -> dict:
    return {
        "id": row["id"],
        "prompt": _prompt(row["problem"]),
        "image": row["image"],
        "problem": row["problem"],
        "solution": row["answer"],
        "question_type": row["question_type"],
        "reward_method": row["reward_method"],
    }


def to_sft(row: dict) -> dict:
    answer = {
        "role": "assistant",
        "content": [{"type": "text", "text": assistant_text(row["reasoning"], row["answer"])}],
    }
    return {"id": row["id"], "messages": [*_prompt(row["problem"]), answer], "images": [row["image"]]}


VIEWS = {"rl": to_rl, "sft": to_sft}


def to_sharegpt(row: dict, image_file: str) -> dict:
    """A LLaMA-Factory ShareGPT entry (`messages` with role/content tags, `images`, `system`)."""
    return {
        "messages": [
            {"role": "user", "content": "<image>" + row["problem"]},
            {"role": "assistant", "content": assistant_text(row["reasoning"], row["answer"])},
        ],
        "images": [image_file],
        "system": SYSTEM_PROMPT,
    }


def sharegpt_dataset_info(name: str, file_name: str) -> dict:
    """The `dataset_info.json` entry LLaMA-Factory needs to find the export (`dataset: <name>`)."""
    return {
        name: {
            "file_name": file_name,
            "formatting": "sharegpt",
            "columns": {"messages": "messages", "images": "images", "system": "system"},
            "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"},
        }
    }
