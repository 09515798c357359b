"""Input bounds and the text normalisation every grader shares: presentation stripped, whitespace squeezed,
case/punctuation/articles folded."""

from __future__ import annotations

import re
import string
import unicodedata

# Input bounds. Completions are cut to their tail (the answer is at the end); a final answer longer than
# MAX_ANSWER_CHARS cannot be a short answer and is graded wrong without parsing; math goes to sympy only when short
# and shallow, which keeps the sandbox for genuinely hard expressions rather than for bombs.
MAX_COMPLETION_CHARS = 100_000
MAX_ANSWER_CHARS = 4_000
MAX_MATH_CHARS = 400
MAX_MATH_NESTING = 24
MAX_POWER_NESTING = 2
DEFAULT_TIMEOUT_S = 3.0

_WRAPPERS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"), ("**", "**"), ("`", "`"), ("{", "}"))
_TEXT_CMD_RE = re.compile(r"\\(?:text|textbf|mathrm|mathbf|operatorname)\{([^{}]{0,200})\}")
_ARTICLES = {"a", "an", "the"}
_PUNCT_TABLE = str.maketrans({c: " " for c in string.punctuation + "“”‘’«»。，、；：？！"})
_WHITESPACE_RUN_RE = re.compile(r"\s{2,}")


def last_boxed(text: str) -> str | None:
    """Content of the last \\boxed{...} (or \\fbox{...}) with balanced braces, scanning at most MAX_ANSWER_CHARS."""
    start = max(text.rfind("\\boxed{"), text.rfind("\\fbox{"))
    if start < 0:
        return None
    i = text.index("{", start) + 1
    depth = 1
    for j in range(i, min(len(text), i + MAX_ANSWER_CHARS)):
        char = text[j]
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return text[i:j]
    return None


def strip_wrappers(answer: str) -> str:
    """Remove presentation around an answer: $..$, \\(..\\), \\boxed{..}, \\text{..}, markdown bold, a final period."""
    answer = unicodedata.normalize("NFKC", answer).strip()
    for _ in range(3):
        before = answer
        boxed = last_boxed(answer) if answer.startswith(("\\boxed{", "\\fbox{")) and answer.endswith("}") else None
        if boxed is not None:
            answer = boxed.strip()
        for left, right in _WRAPPERS:
            if len(answer) > len(left) + len(right) and answer.startswith(left) and answer.endswith(right):
                inner = answer[len(left) : -len(right)]
                if left != "{" or not ("{" in inner or "}" in inner):  # "{1}{2}" is not wrapped
                    answer = inner.strip()
        answer = _TEXT_CMD_RE.sub(r"\1", answer).strip()
        answer = answer.rstrip(".。").strip()
        if answer == before:
            break
    return answer


def normalize_text(text: str) -> str:
    """Lowercase, NFKC, punctuation to spaces, articles dropped (unless nothing else is left), spaces collapsed."""
    text = unicodedata.normalize("NFKC", text).lower().translate(_PUNCT_TABLE)
    words = text.split()
    content = [word for word in words if word not in _ARTICLES]
    return " ".join(content or words)


def squeeze(text: str) -> str:
    """NFKC, and every whitespace run cut to one character (a newline if it had one): with no long whitespace runs
    left, the `\\s*` in the graders' patterns cannot backtrack quadratically."""
    text = unicodedata.normalize("NFKC", text)
    return _WHITESPACE_RUN_RE.sub(lambda run: "\n" if "\n" in run.group() else " ", text)
