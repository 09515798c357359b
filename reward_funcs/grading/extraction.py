"""Where the final answer of a completion is: the last `<answer>...</answer>` after the reasoning, else the last
`\\boxed{...}`, else a trailing "the answer is X". Nothing else is guessed, and text inside `<think>` never counts."""

from __future__ import annotations

import re

from reward_funcs.grading.text import MAX_COMPLETION_CHARS, last_boxed

_TRAILING_ANSWER_RE = re.compile(
    r"(?:final\s+answer|answer)\s*(?:is|:|=)\s*:?\s*([^\n]{1,300}?)\s*[.!]?\s*$", re.IGNORECASE
)


def _after_reasoning(text: str) -> str | None:
    """The part of a completion that may hold the final answer: after the last </think>, or all of it when no think
    tag is present. An opened but never closed <think> holds no answer."""
    close = text.rfind("</think>")
    if close >= 0:
        return text[close + len("</think>") :]
    if "<think>" in text:
        return None
    return text


def _last_tag_content(text: str, tag: str) -> str | None:
    """Content of the last <tag> up to its first closing tag; None when the last <tag> is never closed."""
    opening = text.rfind(f"<{tag}>")
    if opening < 0:
        return None
    close = text.find(f"</{tag}>", opening)
    if close < 0:
        return None
    return text[opening + len(tag) + 2 : close]


def extract_answer(text: str | None) -> str | None:
    """The final answer of a completion: the last <answer>...</answer> after the reasoning, else the last
    \\boxed{...}, else a trailing "the answer is X"; None when there is none."""
    if not text:
        return None
    text = text[-MAX_COMPLETION_CHARS:]
    region = _after_reasoning(text)
    if region is None:
        return None
    if "<answer>" in region:  # an answer tag was written: it is the answer, or there is none (cut off, empty)
        found = _last_tag_content(region, "answer")
        return (found.strip() or None) if found is not None else None
    found = last_boxed(region)
    if found is not None:
        return found.strip() or None
    tail = region.rstrip()[-400:]
    match = _TRAILING_ANSWER_RE.search(tail)
    if match:
        return match.group(1).strip() or None
    return None
