"""The synthesis run's configuration: three model roles and the pipeline's knobs, read from one YAML file.

    roles:
      vlm:                      # sees the image: captions, detail answers, its own answer, reasoning-path rewrite
        endpoints:
          - {base_url: http://vlm-0:8000/v1, model: Qwen/Qwen2.5-VL-72B-Instruct, max_concurrency: 64}
      reasoner: {...}           # text only: asks for details, writes and filters questions, answers from the caption
      judge: {...}              # re-evaluates the reasoner's answer when the VLM disagrees
    pipeline:
      questions_per_image: 3

See `synthesis.yaml` next to this file for every field with the defaults spelled out.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from dataset_builder.schema import QUESTION_TYPES
from reward_funcs.client import EndpointConfig

ROLES = ("vlm", "reasoner", "judge")
DEFAULT_MODELS = {
    "vlm": "Qwen/Qwen2.5-VL-72B-Instruct",
    "reasoner": "deepseek-ai/DeepSeek-R1",
    "judge": "Qwen/Qwen2.5-72B-Instruct",
}
# Whether a role is sent the image by default; a multimodal judge (the paper used Gemini) can set `sees_image: true`.
DEFAULT_SEES_IMAGE = {"vlm": True, "reasoner": False, "judge": False}


@dataclass
class RoleConfig:
    endpoints: list[EndpointConfig] = field(metadata={"help": "OpenAI-compatible servers sharing this role's load."})
    sees_image: bool = field(
        default=False, metadata={"help": "Attach the image (base64 data URL) to this role's requests."}
    )


@dataclass
class PipelineConfig:
    questions_per_image: int = field(default=3, metadata={"help": "Questions formulated per image."})
    question_types: list[str] = field(
        default_factory=lambda: list(QUESTION_TYPES),
        metadata={"help": "Question types, assigned round-robin over an image's questions."},
    )
    max_refinement_turns: int = field(
        default=3, metadata={"help": "Most detail questions the reasoner may ask the VLM before the captions merge."}
    )
    max_images_in_flight: int = field(
        default=0,
        metadata={"help": "Images processed concurrently; 0 = twice the summed concurrency of all roles' endpoints."},
    )
    max_retries: int = field(default=5, metadata={"help": "Retries per request on timeouts, 429, 5xx, drops."})
    backoff_base: float = field(default=0.5, metadata={"help": "First retry backoff in seconds (doubles each try)."})
    max_reply_chars: int = field(
        default=60_000, metadata={"help": "Longer model replies are rejected unparsed (bounds parser time)."}
    )
    max_fib_answer_words: int = field(
        default=8, metadata={"help": "Fill-in-the-blank answers longer than this are rejected as open-ended."}
    )


@dataclass
class SynthesisConfig:
    roles: dict[str, RoleConfig]
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)

    def models(self) -> dict[str, list[str]]:
        return {name: sorted({e.model for e in role.endpoints}) for name, role in self.roles.items()}


def load_config(path: str | Path) -> SynthesisConfig:
    """Reads and validates a synthesis YAML file; errors name the file and the offending field."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as err:
        raise ValueError(f"{path}: cannot read synthesis config: {err}") from err
    return parse_config(raw, source=str(path))


def parse_config(raw: dict[str, Any], *, source: str = "<config>") -> SynthesisConfig:
    if not isinstance(raw, dict):
        raise ValueError(f"{source}: expected a mapping with `roles` and `pipeline`")
    _no_unknown(raw, {"roles", "pipeline"}, source)
    roles_raw = raw.get("roles") or {}
    missing = [name for name in ROLES if name not in roles_raw]
    if missing:
        raise ValueError(f"{source}: roles {missing} are not configured (need {list(ROLES)})")
    _no_unknown(roles_raw, set(ROLES), f"{source}: roles")
    roles = {name: _parse_role(name, roles_raw[name], f"{source}: roles.{name}") for name in ROLES}
    pipeline_raw = raw.get("pipeline") or {}
    _no_unknown(pipeline_raw, {f.name for f in fields(PipelineConfig)}, f"{source}: pipeline")
    pipeline = PipelineConfig(**pipeline_raw)
    bad_types = [t for t in pipeline.question_types if t not in QUESTION_TYPES]
    if bad_types or not pipeline.question_types:
        raise ValueError(f"{source}: pipeline.question_types must be a non-empty subset of {QUESTION_TYPES}")
    if pipeline.questions_per_image < 1 or pipeline.max_refinement_turns < 0:
        raise ValueError(f"{source}: pipeline.questions_per_image must be >= 1 and max_refinement_turns >= 0")
    return SynthesisConfig(roles=roles, pipeline=pipeline)


def _parse_role(name: str, raw: dict[str, Any], where: str) -> RoleConfig:
    if not isinstance(raw, dict) or not raw.get("endpoints"):
        raise ValueError(f"{where}: needs a non-empty `endpoints` list")
    _no_unknown(raw, {"endpoints", "sees_image"}, where)
    endpoints = []
    allowed = {f.name for f in fields(EndpointConfig)}
    for index, entry in enumerate(raw["endpoints"]):
        entry_where = f"{where}.endpoints[{index}]"
        if not isinstance(entry, dict) or "base_url" not in entry:
            raise ValueError(f"{entry_where}: needs at least `base_url`")
        if "api_key" in entry:  # a secret never belongs in a config file
            raise ValueError(f"{entry_where}: put the key in an environment variable and name it in `api_key_env`")
        _no_unknown(entry, allowed, entry_where)
        try:
            endpoints.append(EndpointConfig(**{"model": DEFAULT_MODELS[name], **entry}))
        except (TypeError, ValueError) as err:
            raise ValueError(f"{entry_where}: {err}") from err
    return RoleConfig(endpoints=endpoints, sees_image=bool(raw.get("sees_image", DEFAULT_SEES_IMAGE[name])))


def _no_unknown(raw: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {unknown}; allowed: {sorted(allowed)}")
