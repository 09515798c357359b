"""Where the final answer of a completion is.

In order: the last `<answer>...</answer>` after the reasoning, else the last `\\boxed{...}`, else the phrase after the
last answer marker ("the answer is X", "Final answer: X", `答案是X`, `所以选X`) up to the end of its sentence (an
explanation after it may name other options; a self-correction after it ("wait", "actually") voids it). With
`prose=True` (evaluation of untagged outputs) also the concluding statement of the text: "So the perimeter is 40.",
"The area of the shape is 16 unit squares." Nothing else is guessed, and text inside `<think>` never counts.
"""

from __future__ import annotations

import re

from reward_funcs.grading.text import MAX_COMPLETION_CHARS, last_boxed

MARKER_TAIL_CHARS = 3_000  # answer markers are looked for in this tail of the answer region
MAX_PHRASE_CHARS = 300

# The English markers need a word boundary before them ("answer:" but not "reanswer:"); the Chinese ones do not.
_MARKER_RE = re.compile(
    r"\b(?:(?:final|correct|right|best|the)\s+)?answer\s*(?:\((?:s|es)\)\s*)?"
    r"(?:(?:is|would\s+be|should\s+be|must\s+be|will\s+be|=)\b\s*:?|[:：=])"
    r"|\b(?:correct|right|best|final)\s+(?:option|choice)\s+(?:is|would\s+be|should\s+be|must\s+be)\b\s*:?"
    r"|\b(?:I\s+(?:would\s+)?|I'd\s+)?(?:choose|select|pick)\s+(?=(?:option\s+)?\(?[A-J]\)?(?:[\s.,;:!)]|$))"
    r"|答案\s*(?:应该?|应当)?\s*(?:是|为|选|[:：])"
    r"|正确(?:的)?(?:答案|选项)\s*(?:应该?)?\s*(?:是|为|[:：])"
    r"|(?:所以|因此|故|因而|综上所述?|应)\s*[，,]?\s*(?:应该?|应当)?\s*选(?:择)?",
    re.IGNORECASE,
)
# Where the answer phrase after a marker ends: a line break, the end of a sentence (not a decimal point), a Chinese
# clause mark, or an English clause that starts explaining.
_PHRASE_END_RE = re.compile(
    r"\n|[.!?](?=\s|$)|[。！？；，]|,\s*(?:because|since|as|which|so|given|this|that|where|while)\b"
    r"|\s(?:because|since|but|which\s+is\s+(?:why|because))\b|\s[-–—]\s"
)
# A self-correction after the marker: the marked answer is not the final one.
_CORRECTION_RE = re.compile(
    r"\b(?:wait|actually|on second thought|correction|let me (?:re-?)?(?:check|verify|reconsider|recalculate))\b"
    r"|重新|不对",
    re.IGNORECASE,
)
_SENTENCE_SPLIT_RE = re.compile(r"(?<=[.!?。！？])\s+|\n+")
_CONCLUSION_START_RE = re.compile(
    r"^(?:so|therefore|thus|hence|consequently|in conclusion|in summary|as a result|overall|finally|所以|因此|故|综上)"
    r"(?:\b|(?=[,，\s]))",
    re.IGNORECASE,
)
# Closing pleasantries and questions after the answer: not statements ("I hope this is helpful!", "Is there anything
# else I can help you with?").
_NOT_A_STATEMENT_RE = re.compile(
    r"^(?:I\s+hope|hope\s+this|let\s+me\s+know|please\s+let|feel\s+free|is\s+there\s+anything|do\s+you\s+have|"
    r"if\s+you\s+have|thank)|\?\s*$",
    re.IGNORECASE,
)
# "<subject> is <value>": the value after the last copula of a sentence; a short value only.
_STATEMENT_RE = re.compile(
    r"^(?P<subject>.{0,300}?)(?:\b(?:is|are|was|were|equals?|becomes|gives)\s+|\s*[=≈]\s*|(?:是|为|等于)\s*)"
    r"(?P<value>(?:(?!\b(?:is|are|was|were|equals?)\b)[^=≈]){1,60}?)\s*[.!。]?$",
    re.IGNORECASE,
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


def answer_phrase_at(text: str | None) -> tuple[str | None, int]:
    """`answer_phrase` and the index in `text` where the phrase ends (len(text) when there is none)."""
    if not text:
        return None, 0
    offset = max(0, len(text) - MARKER_TAIL_CHARS)
    last = None
    for last in _MARKER_RE.finditer(text, offset):  # noqa: B007 - the last match is the one wanted
        pass
    if last is None:
        return None, len(text)
    start = last.end() + len(text[last.end() :]) - len(text[last.end() :].lstrip(" \t*:："))
    rest = text[start:]
    end = _PHRASE_END_RE.search(rest)
    phrase_end = start + (end.start() if end else len(rest))
    phrase = text[start:phrase_end][:MAX_PHRASE_CHARS].strip().strip("*").strip()
    if not phrase or _CORRECTION_RE.search(text, phrase_end):
        return None, len(text)
    return phrase, phrase_end


def answer_phrase(text: str | None) -> str | None:
    """The answer stated after the last answer marker of a text, up to the end of its sentence: "B" from "The
    answer is B. A and C do not fit", "(B) A catastrophic flood" from "The answer is (B) A catastrophic flood.", "B"
    from `所以选B`. None without a marker, with an empty phrase, or when the text corrects itself after it."""
    return answer_phrase_at(text)[0]


def final_statement(text: str | None) -> str | None:
    """The value a prose answer concludes with: the value of its last "<subject> is <value>" sentence, when that
    sentence ends the text or starts with a conclusion ("So", "Therefore", `所以`) and only sentences without a
    statement follow it ("I hope this helps!"). "16 unit squares" from "The area of the shape is 16 unit squares."."""
    if not text:
        return None
    sentences = [s.strip() for s in _SENTENCE_SPLIT_RE.split(text[-MARKER_TAIL_CHARS:]) if s.strip()]
    sentences = [sentence for sentence in sentences if not _NOT_A_STATEMENT_RE.search(sentence)]
    for position, sentence in enumerate(reversed(sentences)):
        match = _STATEMENT_RE.match(sentence[-400:])
        if not match:
            continue
        if position and not _CONCLUSION_START_RE.match(sentence):
            return None
        value = match.group("value").strip().strip("*").strip()
        return value or None
    return None


def extract_answer(text: str | None, *, prose: bool = False, markers: bool = True) -> str | None:
    """The final answer of a completion: the last <answer>...</answer> after the reasoning, else the last
    \\boxed{...}, else (unless `markers` is False) the phrase after the last answer marker; with `prose`, else the
    concluding statement (`final_statement`). None when there is none.

    For a closed answer of an untagged output, call `extract_answer(text, markers=False)` and hand the whole output
    to `extract_choice` / `extract_choices` / `extract_yes_no` when it is None: they read the markers themselves and
    also see what follows them (a concluding statement that contradicts the marked letter, an echo of the options)."""
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
    if not markers:
        return None
    phrase = answer_phrase(region.rstrip())
    if phrase is not None or not prose:
        return phrase
    return final_statement(region.rstrip())
