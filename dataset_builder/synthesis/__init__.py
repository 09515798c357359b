"""The WeThink QA synthesis pipeline: raw images -> verified, reasoning-centric QA records with provenance.

    from dataset_builder.synthesis import load_config, synthesize
    summary = synthesize(load_config("synthesis.yaml"), "images/", "out/", shard=(0, 8))

or `python -m dataset_builder synthesize --images DIR --config synthesis.yaml --output-dir OUT`.
"""

from dataset_builder.synthesis.config import PipelineConfig, RoleConfig, SynthesisConfig, load_config, parse_config
from dataset_builder.synthesis.pipeline import RunSummary, in_shard, list_images, record_id, synthesize

EXAMPLE_CONFIG = __import__("pathlib").Path(__file__).with_name("synthesis.yaml")

__all__ = [
    "EXAMPLE_CONFIG",
    "PipelineConfig",
    "RoleConfig",
    "RunSummary",
    "SynthesisConfig",
    "in_shard",
    "list_images",
    "load_config",
    "parse_config",
    "record_id",
    "synthesize",
]
