"""The dataset card (OUT/README.md), the one renderer of it: YAML `configs:` so `load_dataset(OUT_or_repo, "<config>")`
needs no code, `dataset_info` with the row counts, the features of every config, the build report's tables and
charts, the synthesis statistics of the records' `synthesize` runs, the image sources' licenses and the citation.

The metadata goes through `DatasetCardData` and `datasets`' own YAML helpers so it round-trips; the body is the
Jinja template `templates/dataset_card.md`. `build`, `decontaminate --write-clean` and `python -m model_cards render
--dataset-dir` all call `render_dataset_card`.
"""

from __future__ import annotations

import json
from pathlib import Path

import jinja2
from datasets import DatasetInfo, SplitDict, SplitInfo
from datasets.info import DatasetInfosDict
from datasets.utils.metadata import MetadataConfigs
from huggingface_hub import DatasetCard, DatasetCardData

from dataset_builder.report import BuildReport
from dataset_builder.schema import IMAGE_BUNDLE_REPO_ID, RELEASE_REPO_ID, WETHINK_CITATION
from dataset_builder.synthesis.stats import render_markdown as render_synthesis_stats
from dataset_builder.views import CONFIG_NAMES, FEATURES
from reward_funcs.answer_format import SYSTEM_PROMPT

TEMPLATE_PATH = Path(__file__).parent / "templates" / "dataset_card.md"
LOADING_PLACEHOLDER = "<this repo or folder>"

CONFIG_DESCRIPTIONS = {
    "default": "one row per question: image, problem, answer, reasoning path and metadata",
    "rl": "TRL GRPO-ready: conversational `prompt` (system prompt + image placeholder), `image`, `solution`",
    "sft": "TRL SFT-ready: `messages` whose assistant turn is `<think>reasoning</think><answer>answer</answer>`, "
    "plus `images`",
}

# Image sources of the WeThink release (the LLaVA-CoT-100k bundle; ShareGPT4V pools several collections), keyed by the
# `source` value records.derive_source gives an image path. Licenses as stated by each source's own page;
# "unknown" where no statement could be verified.
IMAGE_SOURCES = {
    "coco": ("COCO", "CC BY 4.0 (annotations)", "images: Flickr terms of use, per-image licenses"),
    "sam": ("SAM (SA-1B)", "SA-1B Dataset Research License", "research use only"),
    "llava-pretrain": ("LLaVA-Pretrain (LCS-558K)", "unknown", "images from LAION / CC / SBU keep their own terms"),
    "wikiart": ("WikiArt", "unknown", "artworks; rights held by the artists / museums"),
    "web-celebrity": ("ShareGPT4V web celebrity images", "unknown", "photos of real people"),
    "web-landmark": ("ShareGPT4V web landmark images", "unknown", "web images"),
    "textvqa": ("TextVQA", "CC BY 4.0", "images from OpenImages (CC BY 2.0)"),
    "gqa": ("GQA", "CC BY 4.0", "images from Visual Genome"),
    "ocr-vqa": ("OCR-VQA", "unknown", "book cover images"),
    "visual-genome": ("Visual Genome", "CC BY 4.0", ""),
    "chartqa": ("ChartQA", "GPL-3.0", "charts crawled from Statista, Pew, OWID, OECD"),
    "a-okvqa": ("A-OKVQA", "Apache-2.0", "images from COCO 2017"),
    "ai2d": ("AI2D", "unknown", "diagrams from school science material"),
    "geoqa+": ("GeoQA+", "unknown", "geometry problems"),
    "scienceqa": ("ScienceQA", "CC BY-NC-SA 4.0", ""),
    "docvqa": ("DocVQA", "unknown", "documents from the UCSF Industry Documents Library"),
    "pisc": ("PISC", "unknown", "people-in-social-context images"),
    "clevr": ("CLEVR", "CC BY 4.0", "rendered scenes"),
    "clevr-math": ("CLEVR-Math", "unknown", "built on CLEVR (CC BY 4.0)"),
    "in-the-wild": ("In-the-wild images (later WeThink version)", "unknown", "not documented by the authors"),
}


def image_source_rows(rows_by_source: dict[str, int]) -> list[dict]:
    """The license table: every known source with its row count in this build, plus any source the table does not
    know (listed as unknown rather than left out)."""
    rows = [
        {"name": name, "license": lic, "notes": notes, "rows": rows_by_source.get(key, 0)}
        for key, (name, lic, notes) in IMAGE_SOURCES.items()
    ]
    rows += [
        {"name": key, "license": "unknown", "notes": "not a source of the WeThink release", "rows": count}
        for key, count in rows_by_source.items()
        if key not in IMAGE_SOURCES
    ]
    return rows


def read_synthesis_stats(path: str | Path) -> str:
    """The synthesis pipeline's statistics (`synthesize` writes OUT/stats.json and OUT/stats.md) as a card section:
    stats.md as written, stats.json through the pipeline's own renderer; the title is dropped and headings demoted
    to sit under the card's "Synthesis statistics" heading."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"synthesis statistics {path} not found (`synthesize` writes OUT/stats.json, stats.md)"
        )
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        try:
            text = render_synthesis_stats(json.loads(text))
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: not valid JSON ({err})") from err
        except (KeyError, TypeError) as err:
            raise ValueError(f"{path}: not the synthesis pipeline's stats.json (missing {err})") from err
    lines = text.strip().splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    return "\n".join("#" + line if line.startswith("## ") else line for line in lines).strip()


def find_synthesis_stats(record_files: list[str]) -> list[Path]:
    """stats.md (else stats.json) beside each record file the build read: a `synthesize` output folder holds both."""
    found = []
    for folder in dict.fromkeys(Path(f).parent for f in record_files):
        stats = next((p for p in (folder / "stats.md", folder / "stats.json") if p.is_file()), None)
        if stats:
            found.append(stats)
    return found


def load_report(dataset_dir: str | Path) -> BuildReport:
    """The build report of a dataset_builder output folder (OUT/build_report.json); errors name the file."""
    path = Path(dataset_dir) / "build_report.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: pass a `python -m dataset_builder build` output folder")
    try:
        return BuildReport.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from err


def _dataset_infos(report: BuildReport) -> DatasetInfosDict:
    infos = {}
    for name in CONFIG_NAMES:
        info = DatasetInfo(features=FEATURES[name], config_name=name)
        info.splits = SplitDict()
        info.splits.add(SplitInfo(name="train", num_examples=report.rows_out, num_bytes=report.num_bytes.get(name, 0)))
        infos[name] = info
    return DatasetInfosDict(infos)


def _card_data(report: BuildReport) -> DatasetCardData:
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
    return card_data


def render_dataset_card(
    dataset_dir: str | Path,
    report: BuildReport | dict | None = None,
    *,
    repo_id: str | None = None,
    synthesis_stats: list[str | Path] | None = None,
) -> DatasetCard:
    """Renders and writes `dataset_dir/README.md` for a dataset_builder output folder; returns the card.

    Args:
        dataset_dir: folder with default/, rl/, sft/ parquet shards and build_report.json.
        report: the `BuildReport` (or its dict); defaults to dataset_dir/build_report.json.
        repo_id: Hub id for the `load_dataset` snippet; defaults to a placeholder.
        synthesis_stats: statistics files of the synthesis pipeline (stats.md or stats.json); by default those
            found beside the record files the build read (a `synthesize` output folder).
    """
    dataset_dir = Path(dataset_dir)
    if report is None:
        report = load_report(dataset_dir)
    elif isinstance(report, dict):
        report = BuildReport.from_dict(report)
    if synthesis_stats is None:
        synthesis_stats = find_synthesis_stats(report.record_files)
    statistics = report.to_markdown().split("\n", 2)[2]  # the report without its title
    template = jinja2.Template(TEMPLATE_PATH.read_text(encoding="utf-8"), keep_trailing_newline=True)
    content = template.render(
        card_data=_card_data(report).to_yaml(),
        release=RELEASE_REPO_ID,
        bundle=IMAGE_BUNDLE_REPO_ID,
        report=report,
        configs=[(name, CONFIG_DESCRIPTIONS[name]) for name in CONFIG_NAMES],
        repo_id=repo_id or LOADING_PLACEHOLDER,
        system_prompt=SYSTEM_PROMPT,
        statistics=statistics.replace("\n## ", "\n### ").strip(),
        charts="\n".join(
            f"![{name.removesuffix('.png')}]({name})" for name in report.charts if (dataset_dir / name).is_file()
        ),
        synthesis_stats=[(Path(p).parent.name, read_synthesis_stats(p)) for p in synthesis_stats],
        image_sources=image_source_rows(report.by_source),
        citation=WETHINK_CITATION,
    )
    card = DatasetCard(content)
    card.save(dataset_dir / "README.md")
    return card


def _size_category(rows: int) -> str:
    for bound, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if rows < bound:
            return label
    return "n>1M"
