"""Filtered copies are complete datasets: `decontaminate --write-clean` output loads with `load_dataset` in every
config, and its card and build report describe the rows kept and what was removed, by which test."""

from __future__ import annotations

import json

import pytest
from datasets import load_dataset
from huggingface_hub import DatasetCard

from dataset_builder.build import build_dataset
from dataset_builder.filtered import write_filtered_copy
from dataset_builder.synthetic import write_synthetic_release

CONFIGS = ("default", "rl", "sft")
STAT_KEYS = ("by_question_type", "by_reward_method", "by_source", "by_ability", "image_pixels", "image_width")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("clean")
    release = write_synthetic_release(root / "release", 12, seed=11)
    report = build_dataset(release.records_path, release.images_root, root / "built", max_shard_size="20KB")
    return root, release, report


def test_filtered_copy_loads_and_its_report_matches_a_fresh_build_of_the_rows_kept(built):
    root, release, source = built
    rows = list(load_dataset(str(root / "built"), "default", split="train"))
    dropped = {rows[1]["id"], rows[4]["id"], rows[7]["id"]}
    removed = {"mmstar": {"image": 1, "text": 1}, "ai2d": {"image+text": 1}}
    report = write_filtered_copy(root / "built", root / "copy", dropped, removed=removed, removal_note="Test note.")

    for config in CONFIGS:  # the source card's row counts would raise NonMatchingSplitsSizesError here
        ids = [row["id"] for row in load_dataset(str(root / "copy"), config, split="train")]
        assert len(ids) == 9 and not dropped & set(ids)
    card = DatasetCard.load(root / "copy" / "README.md")
    assert {info["splits"][0]["num_examples"] for info in card.data.dataset_info} == {9}
    assert "## Removed rows" in (root / "copy" / "build_report.md").read_text()
    assert "### Removed rows" in card.text and "Test note." in card.text and "| ai2d | 0 | 1 | 0 | 1 |" in card.text
    assert f"filtered copy of `{root / 'built'}`: 3 of its 12 rows" in card.text
    saved = json.loads((root / "copy" / "build_report.json").read_text())
    assert (saved["rows_in"], saved["rows_out"], saved["removed_total"]) == (12, 9, 3)
    sharegpt = json.loads((root / "copy" / "sharegpt" / "wethink_sft.json").read_text())
    assert len(sharegpt) == 9

    # The regenerated statistics are those a build of the kept records gives.
    kept_lines = [
        line for line, row in zip(release.records_path.read_text().splitlines(), rows) if row["id"] not in dropped
    ]
    kept_records = root / "kept.jsonl"
    kept_records.write_text("\n".join(kept_lines) + "\n")
    fresh = build_dataset(kept_records, release.images_root, root / "fresh", export_sharegpt_json=False)
    assert fresh.rows_out == report.rows_out == 9
    for key in STAT_KEYS:
        assert report.to_dict()[key] == fresh.to_dict()[key], key


def test_filtered_copy_refuses_to_overwrite_its_source(built):
    root, _, _ = built
    with pytest.raises(ValueError, match="new folder"):
        write_filtered_copy(root / "built", root / "built", set(), removed={})


def test_decontaminate_write_clean_is_a_complete_dataset(built, tmp_path):
    from datasets import load_dataset as load

    from eval_tasks.decontaminate import DecontaminationConfig, decontaminate
    from eval_tasks.fixtures import write_benchmark_fixtures

    root, release, _ = built
    benchmarks = write_benchmark_fixtures(tmp_path / "benchmarks", n_per_benchmark=2, seed=0, names=["mmstar"])
    mmstar = load(str(benchmarks / "mmstar"), "default")["val"]
    mmstar[0]["image"].resize((96, 96)).save(release.images_root / "coco/train2017/copied.png")
    leaked = dict(json.loads(release.records_path.read_text().splitlines()[0]), image_path="coco/train2017/copied.png",
                  problem="Describe the picture.")  # fmt: skip
    records = tmp_path / "records.jsonl"
    records.write_text(release.records_path.read_text() + json.dumps(leaked) + "\n")
    build_dataset(records, release.images_root, tmp_path / "built", export_sharegpt_json=False)

    config = DecontaminationConfig(dataset=str(tmp_path / "built"), benchmarks="mmstar", data_dir=str(benchmarks),
                                   output_dir=str(tmp_path / "report"), write_clean=str(tmp_path / "clean"))  # fmt: skip
    report = decontaminate(config)
    assert len(report.overlapping_ids()) == 1 and report.kept_rows == {name: 12 for name in CONFIGS}
    for name in CONFIGS:
        assert len(load(str(tmp_path / "clean"), name, split="train")) == 12
    card = DatasetCard.load(tmp_path / "clean" / "README.md").text
    assert "| mmstar | 1 | 1 |" in card and "pHash and dHash" in card
