"""The synthetic release is a faithful stand-in: release schema, bundle layout, and answers true to the images."""

from __future__ import annotations

import json
import re
import zipfile

from PIL import Image

from dataset_builder.schema import RELEASE_FIELDS
from dataset_builder.synthetic import COLORS, write_synthetic_release


def _count_shapes(image: Image.Image, color: str, shape: str, cell: int = 16) -> int:
    """Counts grid cells holding a shape of that color: squares fill their corners, circles do not."""
    target = COLORS[color]

    def near(pixel):
        return sum(abs(a - b) for a, b in zip(pixel, target)) < 90

    count = 0
    for x0 in range(0, image.width - cell + 1, cell):
        for y0 in range(0, image.height - cell + 1, cell):
            if near(image.getpixel((x0 + cell // 2, y0 + cell // 2))):
                corner = near(image.getpixel((x0 + cell // 8 + 1, y0 + cell // 8 + 1)))
                count += corner == (shape == "square")
    return count


def test_records_follow_the_release_schema_and_answers_match_the_images(tmp_path):
    release = write_synthetic_release(tmp_path, 60, seed=11)
    records = [json.loads(line) for line in release.records_path.read_text().splitlines()]
    assert len(records) == 60 and all(tuple(record) == RELEASE_FIELDS for record in records)
    checked = 0
    for record in records:
        question = re.search(r"(?:How many|Count the) (\w+) (square|circle)s", record["problem"])
        if not question or record["reward"] != "rule":
            continue
        color, shape = question.groups()
        with Image.open(release.images_root / record["image_path"]) as image:
            count = _count_shapes(image.convert("RGB"), color, shape)
        answer = re.sub(r"</?answer>", "", record["answer"])
        if answer.isdigit():
            assert int(answer) == count, record
        else:  # multiple choice: the answer letter's option is the count
            options = dict(re.findall(r"^([A-D])\. (\d+)$", record["problem"], re.MULTILINE))
            assert int(options[answer]) == count, record
        checked += 1
    assert checked >= 30
    spellings = {record["category"] for record in records}
    assert len(spellings) > 3 and {"rule", "model"} == {record["reward"] for record in records}


def test_zip_parts_hold_every_image(tmp_path):
    release = write_synthetic_release(tmp_path, 25, seed=12, zip_parts=3)
    parts = sorted(release.images_root.iterdir())
    assert [part.name for part in parts] == ["image.zip.part-aa", "image.zip.part-ab", "image.zip.part-ac"]
    joined = tmp_path / "joined.zip"
    joined.write_bytes(b"".join(part.read_bytes() for part in parts))
    records = [json.loads(line) for line in release.records_path.read_text().splitlines()]
    with zipfile.ZipFile(joined) as archive:
        assert sorted(archive.namelist()) == sorted(record["image_path"] for record in records)
