"""Unit tests of the builder's normalizers and readers."""

from __future__ import annotations

import json
import zipfile

import pytest

from dataset_builder.images import ConcatenatedParts, ImageStore, find_zip_parts
from dataset_builder.records import derive_source, neutralize_image_tokens, normalize_record, record_id, strip_wrappers
from dataset_builder.schema import normalize_question_type, normalize_reward_method
from dataset_builder.sources import BadInputError, BadRecordError, RawRecord, iter_raw_records
from dataset_builder.synthetic import split_into_parts


@pytest.mark.parametrize(
    "spelling, expected",
    [
        ("multiple-choice", "multiple-choice"),
        ("multiple choice", "multiple-choice"),
        ("MC", "multiple-choice"),
        ("Multiple_Choice", "multiple-choice"),
        ("fill in the blank", "fill-in-the-blank"),
        ("FIB", "fill-in-the-blank"),
        ("Fill-in-the-Blank", "fill-in-the-blank"),
        ("descriptive", "descriptive"),
        ("open-ended", "descriptive"),
        ("DES", "descriptive"),
    ],
)
def test_question_type_spellings(spelling, expected):
    assert normalize_question_type(spelling) == expected


@pytest.mark.parametrize("spelling", ["true/false", "", "ranking", None])
def test_unknown_question_type_is_rejected(spelling):
    with pytest.raises(ValueError, match="unknown question type"):
        normalize_question_type(spelling)


def test_reward_method_spellings():
    assert [normalize_reward_method(s) for s in ("rule", "Rule-based", "model", "reward model", "LLM judge")] == [
        "rule",
        "rule",
        "model",
        "model",
        "model",
    ]
    with pytest.raises(ValueError, match="unknown reward method"):
        normalize_reward_method("vibes")


def test_strip_wrappers_and_image_tokens():
    assert strip_wrappers("<think>\n step one </think>", "think") == "step one"
    assert strip_wrappers("<think>a</think><answer>B</answer>", "think") == "a"
    assert strip_wrappers("<answer> 42 </answer>", "answer") == "42"
    assert strip_wrappers("reasoning then </think>", "think") == "reasoning then"
    assert strip_wrappers("plain", "answer") == "plain"
    assert neutralize_image_tokens("<image>\nHow many?") == "How many?"
    assert neutralize_image_tokens("Compare <image> and <|image_pad|> here") == "Compare [image] and [image] here"


def test_derive_source():
    assert derive_source("chartqa/train/png/1.png") == "chartqa"
    assert derive_source("share_textvqa/images/x.jpg") == "textvqa"
    assert derive_source("CLEVR_v1.0/images/train/x.png") == "clevr"
    assert derive_source("sqa/train/1/image.png") == "scienceqa"
    assert derive_source("geoqa+/images/3.png") == "geoqa+"
    assert derive_source("new_source/a.jpg") == "new_source"


def _raw(**overrides) -> RawRecord:
    record = {
        "problem": "<image>\nHow many red squares?",
        "answer": "<answer>3</answer>",
        "category": "FIB",
        "abilities": "Reasoning, Math, Reasoning",
        "refined_cot": "<think>Count them: 3.</think>",
        "image_path": "coco/train2017/1.jpg",
        "reward": "rule",
    }
    record.update(overrides)
    return RawRecord("release.jsonl", 7, record)


def test_normalize_record():
    row = normalize_record(_raw())
    assert row == {
        "id": record_id("coco/train2017/1.jpg", "How many red squares?", "3"),
        "problem": "How many red squares?",
        "answer": "3",
        "reasoning": "Count them: 3.",
        "question_type": "fill-in-the-blank",
        "abilities": ["Reasoning", "Math"],
        "reward_method": "rule",
        "source": "coco",
        "image_path": "coco/train2017/1.jpg",
    }
    assert normalize_record(_raw(id=12, source="synthesis"))["id"] == "12"
    assert normalize_record(_raw(source="synthesis"))["source"] == "synthesis"
    assert normalize_record(_raw())["id"] == row["id"]  # stable


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"answer": ""}, "answer"),
        ({"problem": 3}, "problem"),
        ({"category": "essay"}, "category"),
        ({"abilities": [1, 2]}, "abilities"),
        ({"refined_cot": "<think></think>"}, "refined_cot"),
    ],
)
def test_normalize_record_errors_name_the_field(overrides, field):
    with pytest.raises(BadRecordError, match=rf"^release\.jsonl:7: field '{field}': "):
        normalize_record(_raw(**overrides))


def test_json_array_streaming_matches_json_load(tmp_path):
    records = [{"problem": f"q{i}", "text": "x" * (i * 37)} for i in range(200)]
    path = tmp_path / "records.json"
    path.write_text("[\n" + ",\n".join(json.dumps(r) for r in records) + "\n]\n")
    with open(path) as handle:
        from dataset_builder.sources import _iter_json_array

        raws = list(_iter_json_array(path, handle, chunk_size=256))  # tiny chunks: objects straddle refills
    assert [raw.record for raw in raws] == records
    assert [raw.line for raw in raws] == list(range(2, 202))
    assert [raw.record for raw in iter_raw_records(path)] == records


def test_multipart_file_reads_like_the_concatenation(tmp_path):
    payload = bytes(range(256)) * 40
    whole = tmp_path / "blob.zip"
    whole.write_bytes(payload)
    parts = split_into_parts(whole, 3)
    assert [p.name for p in parts] == ["blob.zip.part-aa", "blob.zip.part-ab", "blob.zip.part-ac"]
    stream = ConcatenatedParts(parts)
    assert stream.read_at(0, len(payload) + 5) == payload
    assert stream.read_at(3400, 500) == payload[3400:3900]  # crosses a part boundary
    assert stream.read_at(len(payload) - 10, 100) == payload[-10:]
    assert stream.locate(3420) == "blob.zip.part-ab offset 6"  # parts of 3414 bytes
    stream.close()


def test_image_store_reads_zip_parts_with_or_without_a_top_folder(tmp_path):
    archive = tmp_path / "image.zip"
    with zipfile.ZipFile(archive, "w") as writer:
        writer.writestr("bundle/coco/train2017/a.jpg", b"A" * 5000)
        writer.writestr("chartqa/train/png/b.png", b"B" * 5000)
    split_into_parts(archive, 3)
    archive.unlink()
    assert [p.name for p in find_zip_parts(tmp_path)] == [
        "image.zip.part-aa",
        "image.zip.part-ab",
        "image.zip.part-ac",
    ]
    store = ImageStore([tmp_path])
    assert store.read("coco/train2017/a.jpg") == b"A" * 5000
    assert store.read("chartqa/train/png/b.png") == b"B" * 5000
    with pytest.raises(FileNotFoundError, match="image.zip.part-"):
        store.read("coco/missing.jpg")
    store.close()
    (tmp_path / "image.zip.part-ab").unlink()
    with pytest.raises(BadInputError, match="part-ab is missing"):
        ImageStore([tmp_path / "image.zip.part-aa"])
