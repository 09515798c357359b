"""The WeThink record schema every part of the project shares (the system prompt is in reward_funcs.answer_format).

The dataset builder writes these fields, the recipes train on them, the evaluation tasks prompt with the same system
prompt, and the synthesis pipeline emits records in the release schema so its output merges with the release.
"""

from __future__ import annotations

# Hub id of the release (json records + LLaVA-CoT-100k image bundle) and of the Parquet build this project publishes.
RELEASE_REPO_ID = "yangjie-cv/WeThink_Multimodal_Reasoning_120K"
IMAGE_BUNDLE_REPO_ID = "Xkev/LLaVA-CoT-100k"
PARQUET_REPO_ID = "wethink-recipes/WeThink-Multimodal-Reasoning-120K"  # where `build --push-to-hub` publishes it

# Fields of one release record (the JSON the authors published, and what `synthesize` writes).
RELEASE_FIELDS = ("problem", "answer", "category", "abilities", "refined_cot", "image_path", "reward")

QUESTION_TYPES = ("multiple-choice", "fill-in-the-blank", "descriptive")
REWARD_METHODS = ("rule", "model")

# Fields a release record must carry for the builder to accept it; `abilities` may be empty, extra fields are kept
# aside (an explicit `id` or `source` is used when present).
REQUIRED_FIELDS = ("problem", "answer", "category", "refined_cot", "image_path", "reward")

# The spellings of `category` and `reward` seen in the release and in model-written data, after lowercasing and
# turning "-" and "_" into spaces. Anything else is a bad record rather than a guess.
_QUESTION_TYPE_SPELLINGS = {
    "multiple-choice": ("multiple choice", "mc", "mcq", "multi choice", "multiple choice question", "choice"),
    "fill-in-the-blank": ("fill in the blank", "fib", "fill in the blanks", "fill in blank", "fill blank", "blank"),
    "descriptive": ("descriptive", "des", "desc", "open ended", "open", "description", "free form"),
}
_REWARD_METHOD_SPELLINGS = {
    "rule": ("rule", "rules", "rule based", "rule reward", "verifiable"),
    "model": ("model", "model based", "reward model", "rm", "llm", "judge", "llm judge", "llm as judge"),
}


def _spelling_table(spellings: dict[str, tuple[str, ...]]) -> dict[str, str]:
    return {spelling: canonical for canonical, names in spellings.items() for spelling in (canonical, *names)}


_QUESTION_TYPES_BY_SPELLING = _spelling_table(_QUESTION_TYPE_SPELLINGS)
_REWARD_METHODS_BY_SPELLING = _spelling_table(_REWARD_METHOD_SPELLINGS)


def _spelling_key(value: object) -> str:
    return " ".join(str(value).lower().replace("-", " ").replace("_", " ").split())


# A build sees the same few raw spellings on every row: known ones are looked up by their raw string first. Only
# strings that resolve are cached, and at most _MAX_CACHED_SPELLINGS of them, so the caches stay small.
_MAX_CACHED_SPELLINGS = 256
_question_type_cache: dict[str, str] = {}
_reward_method_cache: dict[str, str] = {}


def _lookup_spelling(value: object, table: dict[str, str], cache: dict[str, str]) -> str | None:
    if type(value) is str and value in cache:  # fast path (exact str: a subclass could change str())
        return cache[value]
    canonical = table.get(_spelling_key(value))
    if canonical is not None and type(value) is str and len(cache) < _MAX_CACHED_SPELLINGS:
        cache[value] = canonical
    return canonical


def _normalize(value: object, table: dict[str, str], cache: dict[str, str], what: str, allowed: tuple) -> str:
    canonical = _lookup_spelling(value, table, cache)
    if canonical is None:
        raise ValueError(f"unknown {what} {value!r} (expected one of {', '.join(allowed)} or a known alias)")
    return canonical


def normalize_question_type(value: object) -> str:
    """Maps a release `category` spelling ("MC", "multiple choice", "FIB", "open-ended", ...) to QUESTION_TYPES."""
    return _normalize(value, _QUESTION_TYPES_BY_SPELLING, _question_type_cache, "question type", QUESTION_TYPES)


def normalize_reward_method(value: object) -> str:
    """Maps a release `reward` spelling ("rule", "rule-based", "model", "reward model", ...) to REWARD_METHODS."""
    return _normalize(value, _REWARD_METHODS_BY_SPELLING, _reward_method_cache, "reward method", REWARD_METHODS)
