"""The dataset card, its one renderer (dataset_builder.card), and the layering it sits in: dataset_builder imports
none of the packages above it (model_cards, eval_tasks, recipes), not even inside a function."""

from __future__ import annotations

import ast
import json

import pytest
from huggingface_hub import DatasetCard

from dataset_builder.card import image_source_rows, render_dataset_card

ABOVE_DATASET_BUILDER = ("model_cards", "eval_tasks", "recipes")


@pytest.fixture(scope="module")
def built_dataset(tmp_path_factory):
    """A dataset_builder output folder built from records that sit, like `synthesize` output, beside the
    synthesis pipeline's stats.json / stats.md."""
    from dataset_builder.build import build_dataset
    from dataset_builder.synthesis.stats import build_stats, write_stats
    from dataset_builder.synthetic import write_synthetic_release

    root = tmp_path_factory.mktemp("dataset")
    release = write_synthetic_release(root / "release", 12, seed=0)
    counters = [
        {"records": 3, "passed.formulate": 4, "agreement.agree": 3, "agreement.disagree": 1},
        {"records": 2, "passed.formulate": 3, "agreement.agree": 1, "agreement.disagree": 1},
    ]
    run = {"wall_s": 2.0, "cpu_s": 0.5, "images_processed": 2, "images_done_before": 0, "images_failed": 0}
    write_stats(build_stats(counters, {**run, "client": {}}, counters), release.records_path.parent)
    out = root / "out"
    report = build_dataset([release.records_path], release.images_root, out)
    return out, report


def test_dataset_card_configs_features_and_licenses(built_dataset):
    out, report = built_dataset

    render_dataset_card(out, report, repo_id="org/wethink-data")

    card = DatasetCard.load(out / "README.md")
    configs = {c["config_name"]: c for c in card.data.configs}
    assert set(configs) == {"default", "rl", "sft"} and configs["default"].get("default") is True
    infos = {i["config_name"]: i for i in card.data.dataset_info}
    rl_features = {f["name"] for f in infos["rl"]["features"]}
    assert {"prompt", "image", "solution", "question_type", "reward_method"} <= rl_features
    assert card.data.license == "apache-2.0"
    text = card.text
    # the synthesis statistics found beside the records: 5 records, 4 of 6 answers agreed
    assert "## Synthesis statistics" in text and "5 records from 2 images" in text and "66.7%" in text
    assert "\n### Last run" in text and "\n# Synthesis statistics" not in text
    assert f"| ChartQA | GPL-3.0 | {report.by_source['chartqa']} |" in text
    assert "| GeoQA+ | unknown |" in text and "| DocVQA | unknown | 0 |" in text
    assert "arXiv:2506.07905" in text
    assert report.charts and all(f"]({chart})" in text for chart in report.charts)
    assert 'load_dataset("org/wethink-data", "rl", split="train")' in text


def test_dataset_card_from_report_file_loads_with_datasets(built_dataset, tmp_path):
    """Re-rendered from build_report.json alone; the README `configs:` is what `load_dataset` follows."""
    from datasets import load_dataset

    out, report = built_dataset
    card = render_dataset_card(out, synthesis_stats=[])
    assert "## Synthesis statistics" not in card.text and "## Licenses" in card.text
    rl = load_dataset(str(out), "rl", split="train")
    assert rl.num_rows == report.rows_out and "prompt" in rl.column_names

    bad = tmp_path / "stats.json"
    bad.write_text(json.dumps({"images": 1}))
    with pytest.raises(ValueError, match="not the synthesis pipeline's stats.json"):
        render_dataset_card(out, synthesis_stats=[bad])


def test_dataset_card_needs_a_build_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="build_report.json"):
        render_dataset_card(tmp_path)


def test_license_table_keeps_sources_it_does_not_know():
    rows = {row["name"]: row for row in image_source_rows({"chartqa": 5, "my-crawl": 2})}
    assert rows["ChartQA"]["rows"] == 5 and rows["COCO"]["rows"] == 0
    assert rows["my-crawl"] == {
        "name": "my-crawl",
        "license": "unknown",
        "notes": "not a source of the WeThink release",
        "rows": 2,
    }


def test_model_cards_render_command_uses_the_same_renderer(built_dataset, capsys):
    import model_cards.cards
    from model_cards.__main__ import main

    assert model_cards.cards.render_dataset_card is render_dataset_card  # one renderer, re-exported
    out, report = built_dataset
    assert main(["render", "--dataset-dir", str(out), "--repo-id", "org/again"]) == 0
    card = DatasetCard.load(out / "README.md")
    assert 'load_dataset("org/again", "sft", split="train")' in card.text
    assert card.text.count("## Licenses") == 1 and card.text.count("## Configs") == 1  # rendered once, not appended


def test_dataset_builder_imports_nothing_above_it(repo_root):
    """Every import statement, at module level or inside a function, of every dataset_builder module."""
    offenders = []
    for path in sorted((repo_root / "dataset_builder").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            offenders += [f"{path.relative_to(repo_root)}:{node.lineno} {n}" for n in names
                          if n.split(".")[0] in ABOVE_DATASET_BUILDER]  # fmt: skip
    assert offenders == []
