"""The dataset card (OUT/README.md): YAML `configs:` so `load_dataset(OUT_or_repo, "<config>")` needs no code, the
features of every config, the license, and the build report's tables and charts."""

from __future__ import annotations

from pathlib import Path

from datasets import DatasetInfo, SplitDict, SplitInfo
from datasets.info import DatasetInfosDict
from datasets.utils.metadata import MetadataConfigs
from huggingface_hub import DatasetCard, DatasetCardData

from dataset_builder.report import BuildReport
from dataset_builder.schema import IMAGE_BUNDLE_REPO_ID, RELEASE_REPO_ID
from dataset_builder.views import CONFIG_NAMES, FEATURES
from reward_funcs.answer_format import SYSTEM_PROMPT

CONFIG_DESCRIPTIONS = {
    "default": "one row per question: image, problem, answer, reasoning path and metadata",
    "rl": "TRL GRPO-ready: conversational `prompt` (system prompt + image placeholder), `image`, `solution`",
    "sft": "TRL SFT-ready: `messages` whose assistant turn is `<think>reasoning</think><answer>answer</answer>`, "
    "plus `images`",
}

CARD_TEMPLATE = """---
{card_data}
---

# WeThink multimodal reasoning data (Parquet build)

Question-answer pairs over images with a reasoning path for each, built from the
[WeThink release](https://huggingface.co/datasets/{release}) and the
[LLaVA-CoT-100k image bundle](https://huggingface.co/datasets/{bundle}) by `python -m dataset_builder build`.
Images are embedded, so no extra download is needed.

## Configs

{config_table}

```python
from datasets import load_dataset

rl = load_dataset("<this repo or folder>", "rl", split="train")  # GRPO
sft = load_dataset("<this repo or folder>", "sft", split="train")  # SFT
```

Every prompt uses the WeThink system prompt:

```
{system_prompt}
```

A LLaMA-Factory ShareGPT export of the SFT view is in `sharegpt/` (`dataset_info.json` registers it as
`wethink_sft`); its image paths are relative to the unpacked LLaVA-CoT-100k bundle, so pass that folder as
`media_dir`.

## Statistics

{statistics}

{charts}
"""


def _dataset_infos(report: BuildReport) -> DatasetInfosDict:
    infos = {}
    for name in CONFIG_NAMES:
        info = DatasetInfo(features=FEATURES[name], config_name=name)
        info.splits = SplitDict()
        info.splits.add(SplitInfo(name="train", num_examples=report.rows_out, num_bytes=report.num_bytes.get(name, 0)))
        infos[name] = info
    return DatasetInfosDict(infos)


def render_dataset_card(output_dir: str | Path, report: BuildReport) -> DatasetCard:
    """The card for a built output folder; metadata written with `datasets`' own YAML helpers so it round-trips."""
    card_data = DatasetCardData(
        license="apache-2.0",
        language="en",
        pretty_name="WeThink Multimodal Reasoning",
        task_categories=["image-text-to-text", "visual-question-answering"],
        size_categories=_size_category(report.rows_out),
        source_datasets=[RELEASE_REPO_ID, IMAGE_BUNDLE_REPO_ID],
        tags=["reasoning", "multimodal", "grpo", "sft", "vision-language"],
    )
    MetadataConfigs(
        {
            name: {
                "data_files": [{"split": "train", "path": f"{name}/*.parquet"}],
                **({"default": True} if name == "default" else {}),
            }
            for name in CONFIG_NAMES
        }
    ).to_dataset_card_data(card_data)
    _dataset_infos(report).to_dataset_card_data(card_data)
    config_table = "\n".join(
        ["| config | rows | contents |", "|---|---:|---|"]
        + [f"| `{name}` | {report.rows_out} | {CONFIG_DESCRIPTIONS[name]} |" for name in CONFIG_NAMES]
    )
    statistics = report.to_markdown().split("\n", 2)[2]  # the report without its title
    charts = "\n".join(
        f"![{name.removesuffix('.png')}]({name})" for name in report.charts if (Path(output_dir) / name).is_file()
    )
    content = CARD_TEMPLATE.format(
        card_data=card_data.to_yaml(),
        release=RELEASE_REPO_ID,
        bundle=IMAGE_BUNDLE_REPO_ID,
        config_table=config_table,
        system_prompt=SYSTEM_PROMPT,
        statistics=statistics.replace("\n## ", "\n### "),
        charts=charts,
    )
    return DatasetCard(content)


def _size_category(rows: int) -> str:
    for bound, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if rows < bound:
            return label
    return "n>1M"
