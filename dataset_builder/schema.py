"""The WeThink record schema every part of the project shares (the system prompt is in reward_funcs.answer_format).

The dataset builder writes these fields, the recipes train on them, the evaluation tasks prompt with the same system
prompt, and the synthesis pipeline emits records in the release schema so its output merges with the release.
"""

from __future__ import annotations

from pathlib import Path

import yaml

# Hub id of the release (json records + LLaVA-CoT-100k image bundle) and of the Parquet build this project publishes.
RELEASE_REPO_ID = "yangjie-cv/WeThink_Multimodal_Reasoning_120K"
IMAGE_BUNDLE_REPO_ID = "Xkev/LLaVA-CoT-100k"
PARQUET_REPO_ID = "wethink-recipes/WeThink-Multimodal-Reasoning-120K"  # where the project publishes its build

# How to cite WeThink (the dataset card and the model card both print it).
WETHINK_CITATION = """@article{yang2025wethink,
  title   = {WeThink: Toward General-purpose Vision-Language Reasoning via Reinforcement Learning},
  author  = {Yang, Jie and others},
  journal = {arXiv preprint arXiv:2506.07905},
  year    = {2025}
}"""

# Fields of one release record (the JSON the authors published, and what `synthesize` writes).
RELEASE_FIELDS = ("problem", "answer", "category", "abilities", "refined_cot", "image_path", "reward")

QUESTION_TYPES = ("multiple-choice", "fill-in-the-blank", "descriptive")
REWARD_METHODS = ("rule", "model")

# Fields a release record must carry for the builder to accept it; `abilities` may be empty, extra fields are kept
# aside (an explicit `id` or `source` is used when present).
REQUIRED_FIELDS = ("problem", "answer", "category", "refined_cot", "image_path", "reward")

# The spellings of `category` and `reward` seen in the release and in model-written data, after lowercasing and
# turning "-" and "_" into spaces. Anything else is a bad record rather than a guess (`check` lists them all; a
# mapping file adds more, see Spellings).
_QUESTION_TYPE_SPELLINGS = {
    "multiple-choice": ("multiple choice", "mc", "mcq", "multi choice", "multiple choice question", "choice"),
    "fill-in-the-blank": ("fill in the blank", "fib", "fill in the blanks", "fill in blank", "fill blank", "blank"),
    "descriptive": ("descriptive", "des", "desc", "open ended", "open", "description", "free form"),
}
_REWARD_METHOD_SPELLINGS = {
    "rule": ("rule", "rules", "rule based", "rule reward", "verifiable"),
    "model": ("model", "model based", "reward model", "rm", "llm", "judge", "llm judge", "llm as judge"),
}


def _spelling_key(value: object) -> str:
    return " ".join(str(value).lower().replace("-", " ").replace("_", " ").split())


# The normalised fields, by their release name: (what the value means, its canonical values, built-in spellings).
SPELLING_FIELDS = {
    "category": ("question type", QUESTION_TYPES, _QUESTION_TYPE_SPELLINGS),
    "reward": ("reward method", REWARD_METHODS, _REWARD_METHOD_SPELLINGS),
}
# A build sees the same few raw spellings on every row: known ones are looked up by their raw string first. Only
# strings that resolve are cached, and at most _MAX_CACHED_SPELLINGS of them, so the caches stay small.
_MAX_CACHED_SPELLINGS = 256


class Spellings:
    """The accepted spellings of `category` and `reward`: the built-in ones plus those of a mapping file.

    A mapping file (`--spellings FILE.yaml`) names, per field, the canonical value each spelling means:

        category:
          multiple-choice: ["Multiple Choice Question", "single choice"]
        reward:
          model: ["GPT-4 judge"]

    Spellings match after lowercasing and turning "-" and "_" into spaces, like the built-in ones.
    """

    def __init__(self, extra: dict[str, dict[str, list[str]]] | None = None, *, source: str = "<spellings>"):
        self.tables: dict[str, dict[str, str]] = {}
        for field, (_, _, builtin) in SPELLING_FIELDS.items():
            table = {
                _spelling_key(name): canonical for canonical, names in builtin.items() for name in (canonical, *names)
            }
            for canonical, names in ((extra or {}).get(field) or {}).items():
                for name in names:
                    key = _spelling_key(name)
                    if table.get(key, canonical) != canonical:
                        raise ValueError(
                            f"{source}: {field} spelling {name!r} maps to {canonical!r}, but it already means "
                            f"{table[key]!r}"
                        )
                    table[key] = canonical
            self.tables[field] = table
        self._caches: dict[str, dict[str, str]] = {field: {} for field in SPELLING_FIELDS}

    @classmethod
    def load(cls, path: str | Path | None) -> Spellings:
        """The built-in spellings plus those of a YAML mapping file (None: the built-in ones only)."""
        if path is None:
            return cls()
        try:
            raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as error:
            raise ValueError(f"{path}: cannot read the spellings file: {error}") from None
        if not isinstance(raw, dict) or set(raw) - set(SPELLING_FIELDS):
            raise ValueError(f"{path}: expected a mapping with the keys {sorted(SPELLING_FIELDS)}")
        for field, mapping in raw.items():
            what, allowed, _ = SPELLING_FIELDS[field]
            if not isinstance(mapping, dict):
                raise ValueError(f"{path}: {field}: expected a mapping of {what} -> list of spellings")
            for canonical, names in mapping.items():
                if canonical not in allowed:
                    raise ValueError(f"{path}: {field}: {canonical!r} is not a {what} (one of {', '.join(allowed)})")
                if not isinstance(names, list) or not all(isinstance(n, str | int | float) for n in names):
                    raise ValueError(f"{path}: {field}.{canonical}: expected a list of spellings")
        return cls(raw, source=str(path))

    def lookup(self, field: str, value: object) -> str | None:
        """The canonical value of a spelling, or None when it is unknown."""
        cache = self._caches[field]
        if type(value) is str and value in cache:  # fast path (exact str: a subclass could change str())
            return cache[value]
        canonical = self.tables[field].get(_spelling_key(value))
        if canonical is not None and type(value) is str and len(cache) < _MAX_CACHED_SPELLINGS:
            cache[value] = canonical
        return canonical

    def normalize(self, field: str, value: object) -> str:
        canonical = self.lookup(field, value)
        if canonical is None:
            what, allowed, _ = SPELLING_FIELDS[field]
            raise ValueError(f"unknown {what} {value!r} (expected one of {', '.join(allowed)} or a known alias)")
        return canonical


DEFAULT_SPELLINGS = Spellings()


def normalize_question_type(value: object, spellings: Spellings = DEFAULT_SPELLINGS) -> str:
    """Maps a release `category` spelling ("MC", "multiple choice", "FIB", "open-ended", ...) to QUESTION_TYPES."""
    return spellings.normalize("category", value)


def normalize_reward_method(value: object, spellings: Spellings = DEFAULT_SPELLINGS) -> str:
    """Maps a release `reward` spelling ("rule", "rule-based", "model", "reward model", ...) to REWARD_METHODS."""
    return spellings.normalize("reward", value)
