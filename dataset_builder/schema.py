"""The WeThink record schema and the prompt every part of the project shares.

The dataset builder writes these fields, the recipes train on them, the evaluation tasks prompt with the same system
prompt, and the synthesis pipeline emits records in the release schema so its output merges with the release.
"""

from __future__ import annotations

# Verbatim from the WeThink release's inference.py (yangjie-cv/WeThink).
SYSTEM_PROMPT = (
    "You FIRST think about the reasoning process as an internal monologue and then provide the final answer.\n"
    "The reasoning process MUST BE enclosed within <think> </think> tags. "
    "The final answer MUST BE enclosed within <answer> </answer> tags."
)

# Hub id of the release (json records + LLaVA-CoT-100k image bundle) and of the Parquet build this project publishes.
RELEASE_REPO_ID = "yangjie-cv/WeThink_Multimodal_Reasoning_120K"
IMAGE_BUNDLE_REPO_ID = "Xkev/LLaVA-CoT-100k"

# Fields of one release record (the JSON the authors published, and what `synthesize` writes).
RELEASE_FIELDS = ("problem", "answer", "category", "abilities", "refined_cot", "image_path", "reward")

QUESTION_TYPES = ("multiple-choice", "fill-in-the-blank", "descriptive")
REWARD_METHODS = ("rule", "model")
