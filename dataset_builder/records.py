"""Turns one raw release record into a clean `default` row (without its image), or says exactly what is wrong."""

from __future__ import annotations

import hashlib
import re

from dataset_builder.schema import DEFAULT_SPELLINGS, REQUIRED_FIELDS, Spellings
from dataset_builder.sources import BadRecordError, RawRecord

_REQUIRED_FIELD_SET = frozenset(REQUIRED_FIELDS)
_THINK_BLOCK = re.compile(r"<think>(.*?)</think>", re.DOTALL)
_ANSWER_BLOCK = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
_WRAPPER_TAG = re.compile(r"</?(think|answer)>")
# LLaVA's `<image>` placeholder and Qwen's vision tokens: left in a question they would be read as an image slot.
_LEADING_IMAGE_TOKEN = re.compile(r"^\s*(<image>\s*)+")
_IMAGE_TOKEN = re.compile(r"<image>|<\|(?:image_pad|video_pad|vision_start|vision_end|vision_pad)\|>")
_DRIVE_LETTER = re.compile(r"^[A-Za-z]:")
CHECK_HINT = (
    "`python -m dataset_builder check --source FILE` lists every spelling in the release; map new ones in a YAML "
    "file passed as --spellings"
)

# First folder of a LLaVA-CoT-100k image path -> the dataset it comes from.
SOURCE_BY_FOLDER = {
    "coco": "coco",
    "sam": "sam",
    "llava": "llava-pretrain",
    "wikiart": "wikiart",
    "web-celebrity": "web-celebrity",
    "web-landmark": "web-landmark",
    "share_textvqa": "textvqa",
    "textvqa": "textvqa",
    "gqa": "gqa",
    "vg": "visual-genome",
    "ocr_vqa": "ocr-vqa",
    "chartqa": "chartqa",
    "ai2d": "ai2d",
    "geoqa+": "geoqa+",
    "sqa": "scienceqa",
    "scienceqa": "scienceqa",
    "docvqa": "docvqa",
    "pisc": "pisc",
    "clevr_v1.0": "clevr",
    "clevr": "clevr",
    "clevr-math": "clevr-math",
    "clevr_math": "clevr-math",
}


def derive_source(image_path: str) -> str:
    """The origin dataset of an image from its bundle path, e.g. `chartqa/train/png/1.png` -> `chartqa`."""
    folder = image_path.lstrip("/").split("/", 1)[0].lower()
    return SOURCE_BY_FOLDER.get(folder, folder or "unknown")


def strip_wrappers(text: str, tag: str) -> str:
    """`<think>x</think>` -> `x` (first block when complete), dropping stray wrapper tags either way."""
    if "<" not in text:  # fast path: no tag to find, so the regex passes would change nothing
        return text.strip()
    block = (_THINK_BLOCK if tag == "think" else _ANSWER_BLOCK).search(text)
    if block:
        text = block.group(1)
    return _WRAPPER_TAG.sub("", text).strip()


def neutralize_image_tokens(problem: str) -> str:
    """Drops a leading `<image>` placeholder and renders any other image token as plain `[image]`."""
    if "<" not in problem:  # fast path: every image token starts with "<"
        return problem.strip()
    return _IMAGE_TOKEN.sub("[image]", _LEADING_IMAGE_TOKEN.sub("", problem)).strip()


def record_id(image_path: str, problem: str, answer: str) -> str:
    digest = hashlib.sha1("\x1f".join((image_path, problem, answer)).encode("utf-8"))
    return digest.hexdigest()[:20]


def _required_text(raw: RawRecord, field: str) -> str:
    value = raw.record.get(field)
    if not isinstance(value, str):
        raise BadRecordError(raw.file, raw.line, field, f"expected a string, got {type(value).__name__}")
    if not value.strip():
        raise BadRecordError(raw.file, raw.line, field, "empty")
    return value


def _abilities(raw: RawRecord) -> list[str]:
    value = raw.record.get("abilities")
    if value is None:
        return []
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise BadRecordError(raw.file, raw.line, "abilities", "expected a list of strings or a comma-separated string")
    return list(dict.fromkeys(filter(None, map(str.strip, value))))  # stripped, non-empty, first occurrence kept


def image_path_problem(image_path: str) -> str | None:
    """Why an image path cannot name a file inside the bundle (release files are untrusted), or None."""
    if "\\" in image_path:
        return "has a backslash (image paths are relative POSIX paths, e.g. coco/train2017/1.jpg)"
    if image_path.startswith("/") or _DRIVE_LETTER.match(image_path):
        return "absolute path (image paths are relative to the image bundle)"
    if ".." in image_path.split("/"):
        return "must stay inside the image bundle (no '..' segments)"
    return None


def normalize_record(raw: RawRecord, spellings: Spellings = DEFAULT_SPELLINGS) -> dict:
    """A `default` row (all columns but `image`) from a parsed release record; raises BadRecordError."""
    if raw.record is None:
        raise BadRecordError(raw.file, raw.line, None, raw.error or "unreadable record")
    if not _REQUIRED_FIELD_SET <= raw.record.keys():
        missing = [field for field in REQUIRED_FIELDS if field not in raw.record]
        raise BadRecordError(raw.file, raw.line, missing[0], "missing required field")
    # Checked in REQUIRED_FIELDS order, so the first bad field is the one reported.
    text = {field: _required_text(raw, field) for field in REQUIRED_FIELDS if field not in ("category", "reward")}
    problem = neutralize_image_tokens(text["problem"])
    answer = strip_wrappers(text["answer"], "answer")
    reasoning = strip_wrappers(text["refined_cot"], "think")
    for field, value in (("problem", problem), ("answer", answer), ("refined_cot", reasoning)):
        if not value:
            raise BadRecordError(raw.file, raw.line, field, "empty once wrapper tags are removed")
    question_type = _normalized(raw, spellings, "category")
    reward_method = _normalized(raw, spellings, "reward")
    image_path = text["image_path"].strip()
    problem_with_path = image_path_problem(image_path)
    if problem_with_path:
        raise BadRecordError(raw.file, raw.line, "image_path", f"{problem_with_path}: {image_path!r}")
    explicit_id = raw.record.get("id")
    source = raw.record.get("source")
    return {
        "id": str(explicit_id) if explicit_id not in (None, "") else record_id(image_path, problem, answer),
        "problem": problem,
        "answer": answer,
        "reasoning": reasoning,
        "question_type": question_type,
        "abilities": _abilities(raw),
        "reward_method": reward_method,
        "source": source if isinstance(source, str) and source else derive_source(image_path),
        "image_path": image_path,
    }


def _normalized(raw: RawRecord, spellings: Spellings, field: str) -> str:
    try:
        return spellings.normalize(field, raw.record[field])
    except ValueError as error:
        raise BadRecordError(raw.file, raw.line, field, f"{error}; {CHECK_HINT}") from None


def reason_key(error: BadRecordError) -> str:
    """A short, countable reason: the field and the kind of problem, without record-specific details."""
    reason = error.reason.split(":")[0].split(" (")[0]
    if reason.startswith("duplicate id"):
        reason = "duplicate id"
    if reason.startswith("unknown "):
        reason = " ".join(reason.split()[:3])
    return f"{error.field}: {reason}" if error.field else reason
