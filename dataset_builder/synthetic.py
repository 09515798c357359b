"""A small synthetic WeThink release for tests, the demo and the benchmarks.

It mimics the published release closely enough to exercise the builder: release-schema records (JSONL or a JSON
array) whose `image_path` points into a LLaVA-CoT-style image bundle (an unpacked folder, or `image.zip` split into
`image.zip.part-aa`, `-ab`, ... exactly like `split -b`), the spellings the release uses for question types, answers
and reasoning already wrapped in <think>/<answer> on some rows, literal `<image>` text in some questions, and
abilities given either as a list or as a comma-separated string. Every gold answer is right for its generated image:
the image is drawn from the same random scene the question is asked about.
"""

from __future__ import annotations

import io
import json
import random
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

# name -> RGB, kept to colors that survive JPEG compression and are easy to tell apart.
COLORS = {"red": (220, 30, 30), "blue": (30, 60, 220), "green": (30, 170, 60), "yellow": (235, 200, 20)}
SHAPES = ("square", "circle")
# The LLaVA-CoT-100k bundle's folder layout: (relative folder, file suffix) per image source.
SOURCE_LAYOUTS = (
    ("coco/train2017", "jpg"),
    ("sam/images", "jpg"),
    ("chartqa/train/png", "png"),
    ("ai2d/images", "png"),
    ("geoqa+/images", "png"),
    ("sqa/train", "jpg"),
    ("share_textvqa/images", "jpg"),
    ("CLEVR_v1.0/images/train", "png"),
)
# Spellings seen for the `category` field; the builder normalizes them to QUESTION_TYPES.
CATEGORY_SPELLINGS = {
    "multiple-choice": ("multiple-choice", "multiple choice", "MC"),
    "fill-in-the-blank": ("fill-in-the-blank", "fill in the blank", "FIB"),
    "descriptive": ("descriptive", "open-ended", "DES"),
}
OTHER_ABILITIES = ("Recognition", "OCR", "Knowledge", "Language generation", "Spatial awareness", "Math")


@dataclass
class SyntheticRelease:
    records_path: Path
    # An unpacked image folder, or the folder holding the `image.zip.part-*` files when zip_parts is set.
    images_root: Path


@dataclass
class _Scene:
    shapes: list[tuple[str, str, tuple[int, int, int, int]]]  # (shape, color name, box)


def _random_scene(rng: random.Random, size: tuple[int, int]) -> _Scene:
    width, height = size
    cell = max(8, min(width, height) // 4)
    cells = [(x, y) for x in range(width // cell) for y in range(height // cell)]
    rng.shuffle(cells)
    shapes = []
    for cx, cy in cells[: rng.randint(1, min(6, len(cells)))]:
        pad = max(1, cell // 8)
        box = (cx * cell + pad, cy * cell + pad, (cx + 1) * cell - pad, (cy + 1) * cell - pad)
        shapes.append((rng.choice(SHAPES), rng.choice(list(COLORS)), box))
    return _Scene(shapes)


def _draw(scene: _Scene, size: tuple[int, int]) -> Image.Image:
    image = Image.new("RGB", size, (250, 250, 245))
    draw = ImageDraw.Draw(image)
    for shape, color, box in scene.shapes:
        (draw.rectangle if shape == "square" else draw.ellipse)(box, fill=COLORS[color])
    return image


def _count(scene: _Scene, shape: str, color: str) -> int:
    return sum(1 for s, c, _ in scene.shapes if s == shape and c == color)


def _question(rng: random.Random, scene: _Scene) -> tuple[str, str, str, str, list[str]]:
    """Returns (question type, problem, answer, reasoning, abilities) for a scene."""
    shape, color, _ = rng.choice(scene.shapes)
    count = _count(scene, shape, color)
    kind = rng.choices(list(CATEGORY_SPELLINGS), weights=(5, 3, 2))[0]
    plural = f"{color} {shape}s"
    reasoning = (
        f"I look at every shape in the image. Counting the {plural} one by one, I find {count}. "
        f"The image shows {len(scene.shapes)} shapes in total."
    )
    if kind == "multiple-choice":
        wrong = rng.sample([n for n in range(0, 8) if n != count], 3)
        values = [count, *wrong]
        rng.shuffle(values)
        letters = "ABCD"
        options = "\n".join(f"{letter}. {value}" for letter, value in zip(letters, values))
        problem = f"How many {plural} are there in the image?\nOptions:\n{options}"
        answer = letters[values.index(count)]
        reasoning += f" So the right option is {answer}."
        abilities = ["Reasoning", "Recognition", "Math"]
    elif kind == "fill-in-the-blank":
        problem = f"Count the {plural} in the image. There are ___ {plural}."
        answer = str(count)
        abilities = ["Reasoning", "Math"]
    else:
        described = ", ".join(f"a {c} {s}" for s, c, _ in scene.shapes)
        problem = "Describe the shapes in the image and how many of each color there are."
        answer = f"The image shows {len(scene.shapes)} shapes on a light background: {described}."
        reasoning = f"I list each shape with its color: {described}."
        abilities = ["Reasoning", "Language generation"]
    extra = rng.choice(OTHER_ABILITIES)
    if extra not in abilities:
        abilities.append(extra)
    return kind, problem, answer, reasoning, abilities


def iter_synthetic_records(n: int, *, seed: int = 0, image_size: tuple[int, int] = (64, 64)) -> Iterator[tuple]:
    """Yields (release record, PIL image, image suffix) n times, deterministically for a seed."""
    rng = random.Random(seed)
    for index in range(n):
        scene = _random_scene(rng, image_size)
        kind, problem, answer, reasoning, abilities = _question(rng, scene)
        folder, suffix = SOURCE_LAYOUTS[index % len(SOURCE_LAYOUTS)]
        if rng.random() < 0.2:  # the release has literal <image> text in some questions
            problem = "<image>\n" + problem
        if rng.random() < 0.15:
            reasoning = f"<think>{reasoning}</think>"
        if rng.random() < 0.1:
            answer = f"<answer>{answer}</answer>"
        record = {
            "problem": problem,
            "answer": answer,
            "category": rng.choice(CATEGORY_SPELLINGS[kind]),
            "abilities": ", ".join(abilities) if rng.random() < 0.1 else abilities,
            "refined_cot": reasoning,
            "image_path": f"{folder}/{index:08d}.{suffix}",
            "reward": "model" if kind == "descriptive" else "rule",
        }
        yield record, _draw(scene, image_size), suffix


def _encode(image: Image.Image, suffix: str) -> bytes:
    buffer = io.BytesIO()
    if suffix == "jpg":
        image.save(buffer, format="JPEG", quality=85)
    else:
        image.save(buffer, format="PNG")
    return buffer.getvalue()


def split_into_parts(zip_path: Path, k: int) -> list[Path]:
    """Splits a file into k byte ranges named `<name>.part-aa`, `-ab`, ... (what `split -n k` writes)."""
    total = zip_path.stat().st_size
    part_size = -(-total // k)
    parts = []
    with open(zip_path, "rb") as source:
        for index in range(k):
            name = chr(ord("a") + index // 26) + chr(ord("a") + index % 26)
            part = zip_path.with_name(f"{zip_path.name}.part-{name}")
            part.write_bytes(source.read(part_size))
            parts.append(part)
    return parts


def write_synthetic_release(
    out_dir: str | Path,
    n: int,
    *,
    seed: int = 0,
    image_size: tuple[int, int] = (64, 64),
    zip_parts: int | None = None,
    records_format: str = "jsonl",
) -> SyntheticRelease:
    """Writes n release records and their images under out_dir.

    Records go to `out_dir/records.jsonl` (or `records.json`, a JSON array, with records_format="json"). Images go to
    `out_dir/images/<source folder>/<file>`, or with zip_parts=k into `out_dir/image_zip/image.zip.part-aa..` (the
    folder is then the `images_root`).
    """
    if records_format not in ("jsonl", "json"):
        raise ValueError(f"records_format must be 'jsonl' or 'json', got {records_format!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    records_path = out_dir / f"records.{records_format}"
    if zip_parts:
        images_root = out_dir / "image_zip"
        images_root.mkdir(exist_ok=True)
        zip_path = images_root / "image.zip"
        archive = zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_STORED)
    else:
        images_root = out_dir / "images"
        archive = None
    with open(records_path, "w", encoding="utf-8") as records:
        if records_format == "json":
            records.write("[\n")
        for index, (record, image, suffix) in enumerate(iter_synthetic_records(n, seed=seed, image_size=image_size)):
            data = _encode(image, suffix)
            if archive is not None:
                archive.writestr(record["image_path"], data)
            else:
                path = images_root / record["image_path"]
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
            line = json.dumps(record, ensure_ascii=False)
            if records_format == "json":
                records.write(("  " if index == 0 else ",\n  ") + line)
            else:
                records.write(line + "\n")
        if records_format == "json":
            records.write("\n]\n")
    if archive is not None:
        archive.close()
        split_into_parts(zip_path, zip_parts)
        zip_path.unlink()
    return SyntheticRelease(records_path=records_path, images_root=images_root)
