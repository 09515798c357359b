"""Versioned prompt templates, one file per stage under prompts/ (`<stage>_v<N>.txt`, `string.Template` syntax).

Each template's first line is a stage marker (`[wethink-synthesis stage=... version=...]`) so server-side logs and
the test servers can tell stages apart. The version id recorded in provenance is the file stem plus a short content
hash, so an edited template cannot pass for the old one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from string import Template

PROMPTS_DIR = Path(__file__).parent / "prompts"
# stage -> template file stem; bump the suffix when a prompt changes meaning.
TEMPLATES = {
    "coarse_caption": "coarse_caption_v1",
    "refine_ask": "refine_ask_v1",
    "refine_answer": "refine_answer_v1",
    "merge_caption": "merge_caption_v1",
    "formulate": "formulate_v1",
    "filter": "filter_v1",
    "answer_reasoner": "answer_reasoner_v1",
    "answer_vlm": "answer_vlm_v1",
    "judge": "judge_v1",
    "refine_cot": "refine_cot_v1",
}


@dataclass(frozen=True)
class PromptTemplate:
    stage: str
    version: str
    template: Template

    def render(self, **values: str) -> str:
        return self.template.substitute(**values)


@cache
def get_template(stage: str) -> PromptTemplate:
    stem = TEMPLATES[stage]
    text = (PROMPTS_DIR / f"{stem}.txt").read_text(encoding="utf-8")
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return PromptTemplate(stage=stage, version=f"{stem}@{digest}", template=Template(text))


def prompt_versions() -> dict[str, str]:
    return {stage: get_template(stage).version for stage in TEMPLATES}
