"""The synthetic release is a faithful stand-in and a learnable task: release schema, bundle layout, answers true to
the pixels, every question type and reward method, and a held-out split that training never sees."""

from __future__ import annotations

import json
import re
import zipfile

from datasets import load_dataset
from PIL import Image

from dataset_builder.schema import QUESTION_TYPES, RELEASE_FIELDS
from dataset_builder.synthetic import (
    COLORS,
    HELDOUT_COLUMNS,
    POSITIONS,
    heldout_items,
    iter_scene_questions,
    write_heldout_split,
    write_synthetic_release,
)


def _cell_color(image: Image.Image, pos: str) -> str | None:
    """The colour at the centre of a grid cell, read from the pixels (None: background)."""
    col, row = POSITIONS[pos]
    pixel = image.getpixel((col * image.width // 2 + image.width // 4, row * image.height // 2 + image.height // 4))
    for name, rgb in COLORS.items():
        if sum(abs(a - b) for a, b in zip(pixel, rgb)) < 90:
            return name
    return None


def _gold_value(record: dict) -> str:
    answer = re.sub(r"</?answer>", "", record["answer"])
    options = dict(re.findall(r"^([A-D])\. (.+)$", record["problem"], re.MULTILINE))
    return options.get(answer, answer)


def test_records_follow_the_release_schema_and_answers_match_the_pixels(tmp_path):
    release = write_synthetic_release(tmp_path, 120, seed=11)
    records = [json.loads(line) for line in release.records_path.read_text().splitlines()]
    assert len(records) == 120 and all(tuple(record) == RELEASE_FIELDS for record in records)
    checked = {"colour": 0, "count": 0}
    for record in records:
        with Image.open(release.images_root / record["image_path"]) as image:
            image = image.convert("RGB")
            colors = {pos: _cell_color(image, pos) for pos in POSITIONS}
        asked = re.search(r"(?:colour is the shape in|The shape in) the (\w+ \w+)", record["problem"])
        if asked:
            assert _gold_value(record) == colors[asked.group(1)], record
            checked["colour"] += 1
        elif "How many shapes" in record["problem"] or "There are ___ shapes" in record["problem"]:
            assert int(_gold_value(record)) == sum(c is not None for c in colors.values()), record
            checked["count"] += 1
    assert min(checked.values()) >= 5
    spellings = {record["category"] for record in records}
    assert len(spellings) > 3 and {"rule", "model"} == {record["reward"] for record in records}


def test_every_question_type_and_kind_with_a_short_reasoning_path():
    questions = [q for _, q, _ in iter_scene_questions(400, seed=3)]
    assert {q.question_type for q in questions} == set(QUESTION_TYPES)
    assert {q.kind for q in questions} == {"colour", "shape", "count", "position", "description"}
    assert {q.reward_method for q in questions if q.question_type == "descriptive"} == {"model"}
    assert {q.reward_method for q in questions if q.question_type != "descriptive"} == {"rule"}
    assert max(len(q.reasoning.split()) for q in questions) <= 32  # the grid, the asked cell, the answer
    for q in questions:
        assert q.answer in q.answer_space, q


def test_the_answering_step_names_the_asked_cell_right_before_the_answer():
    """The reasoning ends on the asked cell as the scene has it (then the option letter for multiple choice), so the
    answer copies the words just before it."""
    checked = set()
    for scene, q, _ in iter_scene_questions(400, seed=5):
        options = dict(re.findall(r"^([A-D])\. (.+)$", q.problem, re.MULTILINE))
        value = options.get(q.answer, q.answer)
        steps = q.reasoning.split(". ")
        named = steps[-2] if q.question_type == "multiple-choice" else steps[-1]
        if q.kind == "position":
            color, shape = scene.cells[value]
            assert named.rstrip(".") == f"The {color} {shape} is in the {value}", q
        elif q.kind in ("colour", "shape", "description"):
            pos = re.search(r"(top|bottom) (left|right)", q.problem).group(0)
            color, shape = scene.cells[pos]
            assert named.rstrip(".") == f"The {pos} holds a {color} {shape}", q
            assert value in (color, shape, f"a {color} {shape}"), q
        else:
            assert named.rstrip(".") == f"That makes {value}", q
        checked.add(q.kind)
    assert checked == {"colour", "shape", "count", "position", "description"}


def test_heldout_split_is_disjoint_from_training_and_loads(tmp_path):
    train = {(scene.key(), q.problem, q.answer) for scene, q, _ in iter_scene_questions(500, seed=0)}
    items = heldout_items(200, seed=0, train_n=500, train_seed=0)
    assert len(items) == 200 and not train & {(scene.key(), q.problem, q.answer) for scene, q in items}

    folder = write_heldout_split(tmp_path / "synthetic", 30, seed=0, train_n=500, train_seed=0)
    rows = load_dataset(str(folder), split="test")
    assert rows.num_rows == 30 and set(rows.column_names) == set(HELDOUT_COLUMNS)
    row = rows[0]
    assert row["answer"] in row["answer_space"] and row["image"].size == (64, 64)


def test_zip_parts_hold_every_image(tmp_path):
    release = write_synthetic_release(tmp_path, 25, seed=12, zip_parts=3)
    parts = sorted(release.images_root.iterdir())
    assert [part.name for part in parts] == ["image.zip.part-aa", "image.zip.part-ab", "image.zip.part-ac"]
    joined = tmp_path / "joined.zip"
    joined.write_bytes(b"".join(part.read_bytes() for part in parts))
    records = [json.loads(line) for line in release.records_path.read_text().splitlines()]
    with zipfile.ZipFile(joined) as archive:
        assert sorted(archive.namelist()) == sorted(record["image_path"] for record in records)
