"""The answer contract every part of the project shares: the system prompt and the format that checks it.

The WeThink system prompt asks for `<think>...</think><answer>...</answer>`; `format_reward` checks exactly that shape.
They live together at the bottom layer so the dataset builder, the recipes, the evaluation tasks and the model card
import one definition, and the reward that enforces the contract sits beside the words that state it.
"""

from __future__ import annotations

from typing import Any

# Verbatim from the WeThink release's inference.py (yangjie-cv/WeThink).
SYSTEM_PROMPT = (
    "You FIRST think about the reasoning process as an internal monologue and then provide the final answer.\n"
    "The reasoning process MUST BE enclosed within <think> </think> tags. "
    "The final answer MUST BE enclosed within <answer> </answer> tags."
)
THINK_TAGS = ("<think>", "</think>")
ANSWER_TAGS = ("<answer>", "</answer>")


def completion_text(completion: Any) -> str:
    """The text of one completion: a string, or the last message of a conversation (string or content parts)."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        completion = [completion]
    if isinstance(completion, list) and completion:
        content = completion[-1].get("content") if isinstance(completion[-1], dict) else None
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return "".join(part.get("text") or "" for part in content if isinstance(part, dict))
        return ""
    raise TypeError(f"a completion must be a string or a list of messages, got {type(completion).__name__}")


def is_well_formatted(text: str) -> bool:
    """Exactly `<think>reasoning</think><answer>non-empty answer</answer>` (surrounding whitespace allowed); the
    opening `<think>` may be missing because the chat template put it in the prompt."""
    text = text.strip()
    if not text.startswith("<think>"):
        text = "<think>" + text
    if any(text.count(tag) != 1 for tag in ("<think>", "</think>", "<answer>", "</answer>")):
        return False
    think_end = text.index("</think>")
    answer_start, answer_end = text.index("<answer>"), text.index("</answer>")
    return (
        think_end < answer_start < answer_end
        and text.endswith("</answer>")
        and not text[think_end + len("</think>") : answer_start].strip()
        and bool(text[answer_start + len("<answer>") : answer_end].strip())
    )


def format_reward(completions: list, **kwargs) -> list[float]:
    """1.0 when a completion has the `<think>...</think><answer>...</answer>` shape, else 0.0."""
    return [float(is_well_formatted(completion_text(completion))) for completion in completions]
