"""Strict, bounded parsers for model replies. Replies are untrusted: nothing here evaluates them, every parser runs
in linear time on text already capped in length (tags are found with str.find, never a backtracking regex), and a
reply that does not fit the expected shape raises `MalformedReply` (which the pipeline records as a rejection with
this message as its reason).
"""

from __future__ import annotations

import json


class MalformedReply(ValueError):
    pass


def check_length(text: str, max_chars: int) -> str:
    if len(text) > max_chars:
        raise MalformedReply(f"reply is {len(text)} chars, over the {max_chars} limit")
    return text


def tagged(text: str, tag: str, *, required: bool = True) -> str | None:
    """The content of the last complete `<tag>...</tag>` in text (tags in any case), stripped: the text between the
    last closing tag and the opening tag nearest before it. Raises when required and absent or empty."""
    lowered = text.lower()
    end = lowered.rfind(f"</{tag}>")
    start = lowered.rfind(f"<{tag}>", 0, end) if end >= 0 else -1
    value = text[start + len(tag) + 2 : end].strip() if start >= 0 else ""
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
    lowered = text.lower()
    end = lowered.find("</think>")
    if end < 0:
        return None, text
    start = lowered.find("<think>", 0, end)
    # Without an opening tag: servers without a reasoning parser may drop it (DeepSeek-R1 template).
    chain = text[start + 7 : end] if start >= 0 else text[:end]
    return chain.strip(), text[end + 8 :].strip()
