"""Bad input to the build: every case is an error naming the file and line (or the zip part and offset), and under
`--on-error skip` a counted rejection, so rows in = rows out + rows rejected. Image lookup is exact: a zip entry or
a file can never stand in for another one."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from datasets import load_dataset
from PIL import Image

from dataset_builder.build import build_dataset
from dataset_builder.builder import inspect_image
from dataset_builder.images import AmbiguousImageError, ImageStore
from dataset_builder.sources import BadRecordError
from dataset_builder.synthetic import write_synthetic_release


def _jpeg(color=(200, 30, 30), size=(48, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="JPEG")
    return buffer.getvalue()


def _build(records, images, out, **kwargs):
    return build_dataset(records, images, out, export_sharegpt_json=False, **kwargs)


# ------------------------------------------------------------------------------------------------ exact lookup
def test_a_zip_entry_never_takes_another_entrys_place(tmp_path):
    archive = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w") as writer:
        writer.writestr("extra/coco/1.jpg", b"wrong image")  # strips to coco/1.jpg, and comes first
        writer.writestr("coco/1.jpg", b"right image")
        writer.writestr("LLaVA-CoT-100k/sam/2.jpg", b"wrapped")
        writer.writestr("a/gqa/3.jpg", b"first")
        writer.writestr("b/gqa/3.jpg", b"second")
    store = ImageStore([archive])
    assert store.read("coco/1.jpg") == b"right image"
    assert store.read("extra/coco/1.jpg") == b"wrong image"
    assert store.read("sam/2.jpg") == b"wrapped"  # the top-folder fallback, when only one entry matches
    with pytest.raises(AmbiguousImageError, match="'a/gqa/3.jpg' and 'b/gqa/3.jpg'"):
        store.read("gqa/3.jpg")
    with pytest.raises(FileNotFoundError, match="bundle.zip"):
        store.read("coco/2.jpg")
    store.close()


def test_names_whose_keys_collide_are_told_apart(tmp_path):
    archive = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w") as writer:  # the two names have the same CRC-32, the index's key
        writer.writestr("coco/plumless.jpg", b"plumless")
        writer.writestr("coco/buckeroo.jpg", b"buckeroo")
    store = ImageStore([archive])
    assert store.read("coco/plumless.jpg") == b"plumless" and store.read("coco/buckeroo.jpg") == b"buckeroo"
    assert store.read("buckeroo.jpg") == b"buckeroo"  # and without their top folder
    store.close()


def test_folders_follow_the_same_rule(tmp_path):
    for relative, data in [("coco/1.jpg", b"exact"), ("top/coco/1.jpg", b"wrapped"), ("top/sam/2.jpg", b"only"),
                           ("x/gqa/3.jpg", b"one"), ("y/gqa/3.jpg", b"two")]:  # fmt: skip
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_bytes(data)
    store = ImageStore([tmp_path])
    assert store.read("coco/1.jpg") == b"exact" and store.read("sam/2.jpg") == b"only"
    assert store.contains("sam/2.jpg") and not store.contains("sam/9.jpg")
    with pytest.raises(AmbiguousImageError, match=r"x/gqa/3.jpg and .*y/gqa/3.jpg"):
        store.read("gqa/3.jpg")


def test_an_ambiguous_image_is_a_rejection_naming_both_entries(tmp_path):
    release = write_synthetic_release(tmp_path / "release", 4, seed=8)
    good = json.loads(release.records_path.read_text().splitlines()[0])
    for folder in ("one", "two"):
        (release.images_root / folder / "gqa").mkdir(parents=True)
        (release.images_root / folder / "gqa" / "7.jpg").write_bytes(_jpeg())
    with open(release.records_path, "a") as handle:
        handle.write(json.dumps(dict(good, image_path="gqa/7.jpg", problem="Which one?")) + "\n")
    with pytest.raises(BadRecordError, match=r"records.jsonl:5: field 'image_path': ambiguous image: .*one/gqa/7.jpg"):
        _build(release.records_path, release.images_root, tmp_path / "out")


def test_jpeg_validity_is_decided_by_decoding():
    data = _jpeg()
    assert inspect_image(data + b"\x00" * 4096) == (48, 40)  # trailing bytes after the end marker: fine
    assert inspect_image(data + b"<html>tracking pixel</html>" * 100) == (48, 40)
    noisy = io.BytesIO()
    Image.effect_noise((64, 64), 80).convert("RGB").save(noisy, format="JPEG")
    with pytest.raises(OSError, match="truncated"):
        inspect_image(noisy.getvalue()[: len(noisy.getvalue()) // 2])


# ----------------------------------------------------------------------------------------------- record files
def test_bom_torn_last_line_and_unsafe_image_paths_are_counted_under_skip(tmp_path):
    release = write_synthetic_release(tmp_path / "release", 6, seed=9)
    lines = release.records_path.read_text().splitlines()
    good = json.loads(lines[0])
    bad = [
        json.dumps(dict(good, image_path="/abs/coco/1.jpg", problem="q1")),
        json.dumps(dict(good, image_path="coco\\train2017\\1.jpg", problem="q2")),
        json.dumps(dict(good, image_path="coco/../../etc/passwd", problem="q3")),
        json.dumps(dict(good, image_path="C:/images/1.jpg", problem="q4")),
        b'{"problem": "latin-1 \xe9"}'.decode("latin-1"),  # written below as raw bytes: not UTF-8
        '{"problem": "cut sho',  # the torn last line, without a newline
    ]
    body = "\n".join(lines + bad).encode("utf-8").replace("latin-1 \xe9".encode(), b"latin-1 \xe9")
    release.records_path.write_bytes(b"\xef\xbb\xbf" + body)  # a BOM, as some editors write
    out = tmp_path / "out"
    report = _build(release.records_path, release.images_root, out, on_error="skip")
    assert report.rows_in == 12 == report.rows_out + report.rows_rejected and report.rows_out == 6
    rejected = [json.loads(line) for line in (out / "rejected.jsonl").read_text().splitlines()]
    assert [(entry["line"], entry["field"]) for entry in rejected] == [
        (7, "image_path"), (8, "image_path"), (9, "image_path"), (10, "image_path"), (11, None), (12, None)
    ]  # fmt: skip
    reasons = [entry["reason"] for entry in rejected]
    assert reasons[0].startswith("absolute path") and reasons[1].startswith("has a backslash")
    assert "'..'" in reasons[2] and reasons[3].startswith("absolute path")
    assert reasons[4].startswith("not valid UTF-8") and "torn last line" in reasons[5]
    assert report.rejected_by_reason["image_path: absolute path"] == 2
    assert len(load_dataset(str(out), "rl", split="train")) == 6


def test_torn_last_line_stops_a_default_build_naming_file_and_line(tmp_path):
    release = write_synthetic_release(tmp_path / "release", 3, seed=9)
    release.records_path.write_text(release.records_path.read_text() + '{"problem": "cut')
    with pytest.raises(BadRecordError, match=r"records.jsonl:4: malformed JSON.*torn last line"):
        _build(release.records_path, release.images_root, tmp_path / "out")


# ------------------------------------------------------------------------------------------------ zip parts
def _entry_spans(parts: list[Path]) -> dict[str, tuple[int, int]]:
    """Absolute (start of local header, end of data) of every entry, from the intact parts."""
    whole = b"".join(part.read_bytes() for part in parts)
    with zipfile.ZipFile(io.BytesIO(whole)) as archive:
        return {
            info.filename: (info.header_offset, info.header_offset + 30 + len(info.filename) + 64 + info.compress_size)
            for info in archive.infolist()
        }


def test_a_truncated_zip_part_rejects_exactly_the_images_past_the_damage(tmp_path):
    release = write_synthetic_release(tmp_path / "release", 30, seed=10, zip_parts=3)
    parts = sorted(release.images_root.glob("image.zip.part-*"))
    spans = _entry_spans(parts)
    cut_at = parts[0].stat().st_size + parts[1].stat().st_size // 2  # absolute offset of the cut, in part-ab
    data = parts[1].read_bytes()
    parts[1].write_bytes(data[: len(data) // 2] + data[len(data) // 2 + 300 :])  # 300 bytes lost mid-part
    damaged = {name for name, (start, end) in spans.items() if end > cut_at}
    intact = {name for name, (start, end) in spans.items() if end <= cut_at - 64}
    assert damaged and intact

    out = tmp_path / "out"
    report = _build(release.records_path, release.images_root, out, on_error="skip")
    rejected = [json.loads(line) for line in (out / "rejected.jsonl").read_text().splitlines()]
    rejected_paths = {entry["record"]["image_path"] for entry in rejected}
    assert report.rows_in == 30 == report.rows_out + report.rows_rejected
    assert intact.isdisjoint(rejected_paths) and rejected_paths <= damaged
    assert len(rejected_paths) >= len(damaged) - 1  # the entry the cut lands in may keep its header
    reason = rejected[-1]["reason"]
    assert reason.startswith("unreadable image") and "image.zip.part-a" in reason and "offset" in reason
    assert "300 bytes shorter" in reason and "image.zip.part-ab differs in size" in reason
    with pytest.raises(BadRecordError, match=r"records.jsonl:\d+: field 'image_path': unreadable image: .*offset"):
        _build(release.records_path, release.images_root, tmp_path / "out2")
