"""Strict, bounded parsers for model replies. Replies are untrusted: nothing here evaluates them, every regex runs on
text already capped in length, and a reply that does not fit the expected shape raises `MalformedReply` (which the
pipeline records as a rejection with this message as its reason).
"""

from __future__ import annotations

import json
import re


class MalformedReply(ValueError):
    pass


def check_length(text: str, max_chars: int) -> str:
    if len(text) > max_chars:
        raise MalformedReply(f"reply is {len(text)} chars, over the {max_chars} limit")
    return text


def tagged(text: str, tag: str, *, required: bool = True) -> str | None:
    """The content of the last `<tag>...</tag>` in text, stripped; raises when required and absent or empty."""
    matches = re.findall(rf"<{tag}>(.*?)</{tag}>", text, flags=re.DOTALL | re.IGNORECASE)
    value = matches[-1].strip() if matches else ""
    if not value and required:
        raise MalformedReply(f"no <{tag}>...</{tag}> in reply")
    return value or None


def json_object(text: str) -> dict:
    """The JSON object in the reply's last ```json fenced block, else the reply's outermost {...} span."""
    # Linear on purpose: fenced blocks are the odd pieces between ``` marks (no backtracking regex on model text).
    pieces = text.split("```")
    fenced = [p.removeprefix("json").strip() for p in pieces[1::2] if p.removeprefix("json").strip().startswith("{")]
    candidate = fenced[-1] if fenced else text[text.find("{") : text.rfind("}") + 1]
    if not candidate:
        raise MalformedReply("no JSON object in reply")
    try:
        value = json.loads(candidate)
    except json.JSONDecodeError as err:
        raise MalformedReply(f"invalid JSON in reply: {err.msg} at char {err.pos}") from err
    if not isinstance(value, dict):
        raise MalformedReply(f"expected a JSON object, got {type(value).__name__}")
    return value


def string_field(obj: dict, key: str, *, max_chars: int = 4000) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value.strip():
        raise MalformedReply(f"field {key!r} must be a non-empty string")
    if len(value) > max_chars:
        raise MalformedReply(f"field {key!r} is longer than {max_chars} chars")
    return value.strip()


def choice(text: str, tag: str, allowed: tuple[str, ...]) -> str:
    value = (tagged(text, tag) or "").lower()
    if value not in allowed:
        raise MalformedReply(f"<{tag}> is {value[:40]!r}, expected one of {list(allowed)}")
    return value


def think_and_rest(text: str) -> tuple[str | None, str]:
    """Splits a reasoning model's content into (chain inside <think>, the rest); (None, text) without think tags."""
    match = re.search(r"<think>(.*?)</think>", text, flags=re.DOTALL | re.IGNORECASE)
    if match:
        return match.group(1).strip(), text[match.end() :].strip()
    if "</think>" in text:  # servers without a reasoning parser may drop the opening tag (DeepSeek-R1 template)
        head, _, tail = text.partition("</think>")
        return head.strip(), tail.strip()
    return None, text
