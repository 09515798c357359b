"""End-to-end tests of `dataset_builder build`: configs round-trip, zip parts, bad input, report, card, ShareGPT."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from datasets import load_dataset
from datasets.utils.metadata import MetadataConfigs
from huggingface_hub import DatasetCard
from PIL import Image

from dataset_builder.__main__ import main as cli_main
from dataset_builder.build import build_dataset
from dataset_builder.schema import QUESTION_TYPES, REWARD_METHODS
from dataset_builder.sources import BadInputError, BadRecordError
from dataset_builder.synthetic import write_synthetic_release
from reward_funcs.answer_format import SYSTEM_PROMPT

N = 40


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, object, Path]:
    """One build from split zip parts, shared by the read-back tests."""
    root = tmp_path_factory.mktemp("release")
    release = write_synthetic_release(root / "release", N, seed=1, zip_parts=3)
    out = root / "out"
    report = build_dataset(release.records_path, release.images_root, out, max_shard_size="20KB", writer_batch_size=10)
    return out, report, release.records_path


def _rows(out: Path, config: str) -> tuple[list[dict], list[dict]]:
    dataset = load_dataset(str(out), config, split="train")
    streamed = load_dataset(str(out), config, split="train", streaming=True)
    return list(dataset), list(streamed)


def _comparable(row: dict) -> dict:
    def plain(value):
        if isinstance(value, Image.Image):
            return (value.size, value.tobytes())
        if isinstance(value, list):
            return [plain(item) for item in value]
        if isinstance(value, dict):
            return {key: plain(item) for key, item in value.items()}
        return value

    return plain(row)


@pytest.mark.parametrize("config", ["default", "rl", "sft"])
def test_configs_round_trip_with_load_dataset_and_streaming(built, config):
    out, report, _ = built
    assert len(list((out / config).glob("train-*-of-*.parquet"))) > 1  # the small shard size forces several shards
    rows, streamed = _rows(out, config)
    assert len(rows) == N == report.rows_out
    assert [_comparable(r) for r in rows] == [_comparable(r) for r in streamed]
    assert len({row["id"] for row in rows}) == N


def test_default_rows_are_normalized_and_match_the_release(built):
    out, _, records_path = built
    rows, _ = _rows(out, "default")
    release = [json.loads(line) for line in records_path.read_text().splitlines()]
    assert any("<think>" in r["refined_cot"] for r in release) and any("<image>" in r["problem"] for r in release)
    assert any("<answer>" in r["answer"] for r in release)
    for row, record in zip(rows, release):
        assert row["image_path"] == record["image_path"]
        assert "<think>" not in row["reasoning"] and "</think>" not in row["reasoning"]
        assert "<answer>" not in row["answer"]
        assert "<image>" not in row["problem"]
        assert row["question_type"] in QUESTION_TYPES and row["reward_method"] in REWARD_METHODS
        assert isinstance(row["abilities"], list) and "Reasoning" in row["abilities"]
        assert row["source"] == {"coco": "coco", "sam": "sam", "chartqa": "chartqa", "ai2d": "ai2d"}.get(
            record["image_path"].split("/")[0], row["source"]
        )
        assert row["image"].size == (64, 64)
    assert {row["source"] for row in rows} >= {"coco", "sam", "chartqa", "ai2d", "geoqa+", "scienceqa", "textvqa"}


def test_image_bytes_are_stored_as_published(built, tmp_path):
    out, _, records_path = built
    import pyarrow.parquet as pq

    table = pq.read_table(next((out / "default").glob("*.parquet")), columns=["image", "image_path"])
    first = table.to_pylist()[0]
    # Rebuild the same release as a folder: the stored bytes must be the file's bytes (no re-encoding).
    release = write_synthetic_release(tmp_path / "again", N, seed=1)
    assert first["image"]["bytes"] == (release.images_root / first["image_path"]).read_bytes()


def test_rl_and_sft_views(built):
    out, _, _ = built
    defaults = {row["id"]: row for row in load_dataset(str(out), "default", split="train")}
    for row in load_dataset(str(out), "rl", split="train"):
        system, user = row["prompt"]
        assert system == {"role": "system", "content": [{"type": "text", "text": SYSTEM_PROMPT}]}
        assert user["content"][0] == {"type": "image", "text": None}
        assert user["content"][1] == {"type": "text", "text": defaults[row["id"]]["problem"]}
        assert row["solution"] == defaults[row["id"]]["answer"]
        assert isinstance(row["image"], Image.Image)
    for row in load_dataset(str(out), "sft", split="train"):
        source = defaults[row["id"]]
        assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant"]
        expected = f"<think>{source['reasoning']}</think><answer>{source['answer']}</answer>"
        assert row["messages"][2]["content"] == [{"type": "text", "text": expected}]
        assert len(row["images"]) == 1 and row["images"][0].size == source["image"].size


def test_sharegpt_export_is_llama_factory_shaped(built):
    out, _, _ = built
    entries = json.loads((out / "sharegpt" / "wethink_sft.json").read_text())
    info = json.loads((out / "sharegpt" / "dataset_info.json").read_text())
    assert info["wethink_sft"]["formatting"] == "sharegpt" and info["wethink_sft"]["file_name"] == "wethink_sft.json"
    defaults = list(load_dataset(str(out), "default", split="train"))
    assert len(entries) == len(defaults)
    for entry, row in zip(entries, defaults):
        user, assistant = entry["messages"]
        assert user == {"role": "user", "content": "<image>" + row["problem"]}
        assert user["content"].count("<image>") == len(entry["images"]) == 1
        assert assistant["content"] == f"<think>{row['reasoning']}</think><answer>{row['answer']}</answer>"
        assert entry["images"] == [row["image_path"]] and entry["system"] == SYSTEM_PROMPT


def test_report_charts_and_card(built):
    out, report, _ = built
    data = json.loads((out / "build_report.json").read_text())
    assert data["rows_in"] == data["rows_out"] == N and data["rows_rejected"] == 0
    assert sum(data["by_question_type"].values()) == N == sum(data["by_reward_method"].values())
    assert sum(data["by_source"].values()) == N and data["by_ability"]["Reasoning"] == N
    assert data["image_pixels"]["< 64K px"] == N and data["image_width"]["max"] == 64
    for chart in ("question_types", "reward_methods", "sources", "abilities", "image_sizes"):
        with Image.open(out / f"{chart}.png") as image:
            assert image.format == "PNG" and image.size[0] > 100
    assert "## Question types" in (out / "build_report.md").read_text()
    card = DatasetCard.load(out / "README.md")
    assert card.data.license == "apache-2.0"
    configs = MetadataConfigs.from_dataset_card_data(card.data)
    assert {name: cfg["data_files"][0]["path"] for name, cfg in configs.items()} == {
        name: f"{name}/*.parquet" for name in ("default", "rl", "sft")
    }
    assert "![question_types](question_types.png)" in card.text
    assert (out / "rejected.jsonl").read_text() == ""


# ------------------------------------------------------------------------------------------------------ bad input
def _release_with(tmp_path: Path, case: str) -> tuple[Path, Path, int, str]:
    """A 6-record release with one bad record appended; returns (records, images, bad line, field named)."""
    release = write_synthetic_release(tmp_path / "release", 6, seed=2)
    lines = release.records_path.read_text().splitlines()
    good = json.loads(lines[0])
    bad, field = dict(good, problem="What is shown here?"), None
    if case == "missing image":
        bad["image_path"], field = "coco/train2017/not-there.jpg", "image_path"
    elif case == "corrupt image":
        (release.images_root / "coco/train2017/broken.jpg").write_bytes(b"this is not a jpeg")
        bad["image_path"], field = "coco/train2017/broken.jpg", "image_path"
    elif case == "truncated image":
        data = (release.images_root / good["image_path"]).read_bytes()
        (release.images_root / "coco/train2017/cut.jpg").write_bytes(data[: len(data) // 2])
        bad["image_path"], field = "coco/train2017/cut.jpg", "image_path"
    elif case == "missing field":
        del bad["refined_cot"]
        field = "refined_cot"
    elif case == "empty answer":
        bad["answer"], field = "  ", "answer"
    elif case == "empty answer after wrappers":
        bad["answer"], field = "<answer></answer>", "answer"
    elif case == "unknown question type":
        bad["category"], field = "true/false", "category"
    elif case == "unknown reward":
        bad["reward"], field = "vibes", "reward"
    elif case == "duplicate id":
        bad, field = good, "id"
    elif case == "abilities not a list":
        bad["abilities"], field = {"Reasoning": 1}, "abilities"
    elif case == "image path escapes the bundle":
        bad["image_path"], field = "../../etc/passwd", "image_path"
    lines.insert(3, json.dumps(bad) if case != "malformed json" else '{"problem": "unterminated')
    release.records_path.write_text("\n".join(lines) + "\n")
    return release.records_path, release.images_root, 4, field


BAD_CASES = [
    "missing image",
    "corrupt image",
    "truncated image",
    "missing field",
    "empty answer",
    "empty answer after wrappers",
    "unknown question type",
    "unknown reward",
    "duplicate id",
    "abilities not a list",
    "image path escapes the bundle",
    "malformed json",
]


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_record_stops_the_build_naming_file_line_and_field(tmp_path, case):
    records, images, line, field = _release_with(tmp_path, case)
    with pytest.raises(BadRecordError) as caught:
        build_dataset(records, images, tmp_path / "out", export_sharegpt_json=False)
    error = caught.value
    assert (error.file, error.line, error.field) == (str(records), line, field)
    assert str(error).startswith(f"{records}:{line}: ")
    if field:
        assert f"field {field!r}" in str(error)


def test_skip_mode_keeps_every_bad_record_aside(tmp_path):
    release = write_synthetic_release(tmp_path / "release", 10, seed=3)
    lines = release.records_path.read_text().splitlines()
    good = json.loads(lines[0])
    (release.images_root / "sam/images/broken.jpg").write_bytes(b"\xff\xd8 not really")
    bad = [
        json.dumps(dict(good, image_path="coco/train2017/absent.jpg", problem="q1")),
        json.dumps(dict(good, image_path="sam/images/broken.jpg", problem="q2")),
        json.dumps({key: value for key, value in good.items() if key != "answer"}),
        json.dumps(dict(good, answer="", problem="q3")),
        "{not json",
        json.dumps(good),  # duplicate of line 1
        json.dumps(dict(good, category="ranking", problem="q4")),
        "[1, 2]",
    ]
    release.records_path.write_text("\n".join(lines + bad) + "\n")
    out = tmp_path / "out"
    report = build_dataset(release.records_path, release.images_root, out, on_error="skip")
    rejected = [json.loads(line) for line in (out / "rejected.jsonl").read_text().splitlines()]
    assert report.rows_in == 18 == report.rows_out + report.rows_rejected
    assert report.rows_out == 10 and report.rows_rejected == len(rejected) == len(bad)
    assert [entry["line"] for entry in rejected] == list(range(11, 19))
    assert [entry["field"] for entry in rejected] == [
        "image_path",
        "image_path",
        "answer",
        "answer",
        None,
        "id",
        "category",
        None,
    ]
    assert rejected[4]["record"] == "{not json" and "malformed JSON" in rejected[4]["reason"]
    assert "first seen at" in rejected[5]["reason"] and rejected[0]["record"]["problem"] == "q1"
    assert sum(report.rejected_by_reason.values()) == len(bad)
    assert len(load_dataset(str(out), "rl", split="train")) == 10
    saved = json.loads((out / "build_report.json").read_text())
    assert saved["rows_rejected"] == len(bad) and saved["rejected_by_reason"]["image_path: missing image"] == 1


# ------------------------------------------------------------------------------------------------ input formats
def test_json_array_release_and_several_sources_merge(tmp_path):
    first = write_synthetic_release(tmp_path / "a", 5, seed=4, records_format="json")
    second = write_synthetic_release(tmp_path / "b", 9, seed=5, zip_parts=2)
    # Keep the second release's records 5..8: their images exist only in its zip parts, so both roots are searched.
    lines = second.records_path.read_text().splitlines()[5:]
    second.records_path.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    report = build_dataset([first.records_path, second.records_path], [first.images_root, second.images_root], out)
    assert report.rows_in == report.rows_out == 9
    assert report.record_files == [str(first.records_path), str(second.records_path)]
    paths = [row["image_path"] for row in load_dataset(str(out), "default", split="train")]
    assert paths[-4:] == [json.loads(line)["image_path"] for line in lines]


def test_malformed_json_array_names_file_and_line(tmp_path):
    path = tmp_path / "records.json"
    path.write_text('[\n  {"problem": "a"},\n  {"problem": oops}\n]\n')
    # Past a syntax error a JSON array cannot be resynchronized: fatal even when skipping bad records.
    with pytest.raises(BadInputError, match=rf"{re.escape(str(path))}:3: malformed JSON"):
        build_dataset(path, tmp_path, tmp_path / "out", on_error="skip")


def test_missing_zip_part_is_named(tmp_path):
    release = write_synthetic_release(tmp_path / "release", 30, seed=6, zip_parts=4)
    (release.images_root / "image.zip.part-ab").unlink()
    with pytest.raises(BadInputError, match=r"image\.zip\.part-ab is missing"):
        build_dataset(release.records_path, release.images_root, tmp_path / "out")


def test_missing_last_zip_part_is_reported(tmp_path):
    release = write_synthetic_release(tmp_path / "release", 30, seed=6, zip_parts=4)
    (release.images_root / "image.zip.part-ad").unlink()
    with pytest.raises(BadInputError, match="last part missing"):
        build_dataset(release.records_path, release.images_root / "image.zip.part-aa", tmp_path / "out")


# --------------------------------------------------------------------------------------------------------- CLI / Hub
def test_cli_build_and_error_exit(tmp_path, capsys):
    release = write_synthetic_release(tmp_path / "release", 6, seed=7)
    out = tmp_path / "out"
    argv = ["build", "--source", str(release.records_path), "--images", str(release.images_root)]
    assert cli_main([*argv, "--output-dir", str(out), "--no-sharegpt"]) == 0
    assert "6 rows written, 0 rejected" in capsys.readouterr().out
    assert not (out / "sharegpt").exists() and len(load_dataset(str(out), "sft", split="train")) == 6
    with open(release.records_path, "a") as handle:
        handle.write('{"broken"\n')
    assert cli_main([*argv, "--output-dir", str(tmp_path / "out2")]) == 1
    assert f"{release.records_path}:7: malformed JSON" in capsys.readouterr().err


def test_built_folder_is_what_the_one_push_path_uploads(tmp_path, monkeypatch):
    """`build` writes the full Hub card once; the upload is `python -m model_cards push --dataset-dir OUT`."""
    from model_cards.push import PushError, plan_push, push

    release = write_synthetic_release(tmp_path / "release", 6, seed=3)
    out = tmp_path / "out"
    build_dataset(release.records_path, release.images_root, out, export_sharegpt_json=False, repo_id="someone/wt")
    text = (out / "README.md").read_text()
    assert "license: apache-2.0" in text and "## Licenses" in text  # the full Hub card, licenses included
    assert 'load_dataset("someone/wt", "rl", split="train")' in text
    plan = plan_push(out, "dataset")
    assert {"README.md", "build_report.json", "default/train-00000-of-00001.parquet"} <= {f for f, _ in plan.files}
    monkeypatch.setenv("HF_TOKEN", "hf_not_a_real_token")
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    with pytest.raises(PushError, match="HF_HUB_OFFLINE") as caught:
        push(plan, "someone/wethink")
    assert "hf_not_a_real_token" not in str(caught.value)
