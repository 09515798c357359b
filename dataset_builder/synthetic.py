"""A synthetic WeThink release for tests, the demo and the benchmarks: a small task that can be learned from pixels.

Every image is a 2x2 grid of cells, each empty or holding one shape (square, circle, triangle) in one of four colours.
Every question is answerable from the pixels alone: the colour or the shape in a cell, where a shape is, how many shapes
there are, or a short description of a cell. Questions come in the release's three question types (multiple-choice
and fill-in-the-blank are rule-rewarded, descriptive ones model-rewarded), each with a short reasoning path that first
says what it sees, then answers.

The records mimic the published release closely enough to exercise the builder: release-schema records (JSONL or a
JSON array) whose `image_path` points into a LLaVA-CoT-style image bundle (an unpacked folder, or `image.zip` split
into `image.zip.part-aa`, `-ab`, ... exactly like `split -b`), the spellings the release uses for question types,
answers and reasoning already wrapped in <think>/<answer> on some rows, literal `<image>` text in some questions, and
abilities given either as a list or as a comma-separated string.

`write_heldout_split` draws a held-out evaluation split from the same generator under another seed, leaving out every
(scene, question) pair the training release holds, so a model trained on the release never sees its items.
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
SHAPES = ("square", "circle", "triangle")
# The grid's cells in reading order, (column, row).
POSITIONS = {"top left": (0, 0), "top right": (1, 0), "bottom left": (0, 1), "bottom right": (1, 1)}
# Each cell's background grey. A small model has no other cue to tell the cells apart: its vision tokens carry only
# rotary (relative) positions, which a randomly initialised model takes far longer to learn to read than a shade.
CELL_SHADES = {"top left": 250, "top right": 200, "bottom left": 150, "bottom right": 100}
# What a question asks about; each kind comes in every question type.
KINDS = ("colour", "shape", "count", "position")  # descriptive questions are kind "description"
LETTERS = "ABCD"
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
QUESTION_TYPE_WEIGHTS = (5, 3, 2)
OTHER_ABILITIES = ("Recognition", "OCR", "Knowledge", "Language generation", "Spatial awareness", "Math")
# Columns of the held-out split (one Parquet file, read by the `synthetic` evaluation task).
HELDOUT_COLUMNS = ("id", "image", "question", "answer", "question_type", "reward_method", "kind", "answer_space")


@dataclass
class SyntheticRelease:
    records_path: Path
    # An unpacked image folder, or the folder holding the `image.zip.part-*` files when zip_parts is set.
    images_root: Path


@dataclass(frozen=True)
class Scene:
    cells: dict[str, tuple[str, str]]  # position -> (color, shape), occupied cells only

    def key(self) -> tuple:
        return tuple(sorted(self.cells.items()))


@dataclass(frozen=True)
class Question:
    kind: str
    question_type: str
    problem: str
    answer: str
    reasoning: str
    answer_space: tuple[str, ...]  # every answer a guess could give (option letters for multiple choice)

    @property
    def reward_method(self) -> str:
        return "model" if self.question_type == "descriptive" else "rule"


def random_scene(rng: random.Random) -> Scene:
    positions = rng.sample(list(POSITIONS), rng.randint(1, len(POSITIONS)))
    return Scene({pos: (rng.choice(list(COLORS)), rng.choice(SHAPES)) for pos in POSITIONS if pos in positions})


def draw_scene(scene: Scene, size: tuple[int, int] = (64, 64)) -> Image.Image:
    width, height = size
    cell_w, cell_h = width // 2, height // 2
    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    for pos, (col, row) in POSITIONS.items():
        shade = CELL_SHADES[pos]
        draw.rectangle((col * cell_w, row * cell_h, (col + 1) * cell_w - 1, (row + 1) * cell_h - 1), fill=(shade,) * 3)
    for pos, (color, shape) in scene.cells.items():
        col, row = POSITIONS[pos]
        pad_w, pad_h = max(1, cell_w // 8), max(1, cell_h // 8)
        x0, y0 = col * cell_w + pad_w, row * cell_h + pad_h
        x1, y1 = (col + 1) * cell_w - pad_w - 1, (row + 1) * cell_h - pad_h - 1
        fill = COLORS[color]
        if shape == "square":
            draw.rectangle((x0, y0, x1, y1), fill=fill)
        elif shape == "circle":
            draw.ellipse((x0, y0, x1, y1), fill=fill)
        else:
            draw.polygon([((x0 + x1) / 2, y0), (x1, y1), (x0, y1)], fill=fill)
    return image


def describe_grid(scene: Scene) -> str:
    """The reasoning path's first step, the same for every question: what each cell holds, in reading order, in the
    questions' own words (" top left", not "Top left"), so that the answering step can look the cell up."""
    cells = (f"{pos} {' '.join(scene.cells[pos]) if pos in scene.cells else 'empty'}" for pos in POSITIONS)
    return f"I see: {', '.join(cells)}."


def _multiple_choice(values: list[str], answer: str, stem: str, reasoning: str, kind: str) -> Question:
    # Options keep their natural order (colours as in COLORS, cells in reading order, counts ascending), as many
    # benchmarks' fixed option lists do: the question tests seeing, not matching a shuffled letter to a value.
    options = "\n".join(f"{letter}. {value}" for letter, value in zip(LETTERS, values))
    letter = LETTERS[values.index(answer)]
    return Question(
        kind,
        "multiple-choice",
        f"{stem}\nOptions:\n{options}",
        letter,
        f"{reasoning} {answer.capitalize()} is option {letter}.",
        tuple(LETTERS[: len(values)]),
    )


def make_question(rng: random.Random, scene: Scene, question_type: str, kind: str) -> Question:
    """One question of `kind` in `question_type` about `scene`, with its gold answer and a short reasoning path: the
    grid as seen (`describe_grid`), then the step that answers. The answering step names the asked cell again next to
    the answer ("The top right holds a green square."), so the answer copies the words just before it rather than
    searching the grid's description. Descriptive questions ask for a short description of one cell (kind
    "description")."""
    seen = describe_grid(scene)

    def said(pos: str) -> str:
        return f" The {pos} holds a {' '.join(scene.cells[pos])}."

    pos = rng.choice(list(scene.cells))
    color, shape = scene.cells[pos]
    if question_type == "descriptive":  # a free-form answer: a judge grades it in training
        problem = rng.choice((f"Describe the shape in the {pos}.", f"What does the {pos} of the image show?"))
        space = tuple(f"a {c} {s}" for c in COLORS for s in SHAPES)
        return Question("description", question_type, problem, f"a {color} {shape}", seen + said(pos), space)
    unique = [p for p in scene.cells if list(scene.cells.values()).count(scene.cells[p]) == 1]
    if kind == "position" and not unique:  # every shape appears twice: "where is it" has no single answer
        kind = "colour"
    if kind in ("colour", "shape"):
        seen += said(pos)
    if kind == "colour":
        stem, blank = f"What colour is the shape in the {pos}?", f"The shape in the {pos} is ___."
        values, answer = list(COLORS), color
    elif kind == "shape":
        stem, blank = f"Which shape is in the {pos}?", f"The {pos} holds a ___."
        values, answer = list(SHAPES), shape
    elif kind == "count":
        stem, blank = "How many shapes are in the image?", "There are ___ shapes in the image."
        values, answer = [str(n) for n in range(1, len(POSITIONS) + 1)], str(len(scene.cells))
        seen += f" That makes {answer}."
    else:
        pos = rng.choice(unique)
        color, shape = scene.cells[pos]
        stem, blank = f"Where is the {color} {shape}?", f"The {color} {shape} is in the ___."
        seen += f" The {color} {shape} is in the {pos}."
        values, answer = list(POSITIONS), pos
    if question_type == "multiple-choice":
        return _multiple_choice(values, answer, stem, seen, kind)
    return Question(kind, question_type, blank, answer, seen, tuple(values))


def _abilities(rng: random.Random, question: Question) -> list[str]:
    abilities = ["Reasoning", "Recognition"]
    abilities += ["Math"] if question.kind == "count" else ["Spatial awareness"] if question.kind == "position" else []
    if question.question_type == "descriptive":
        abilities.append("Language generation")
    extra = rng.choice(OTHER_ABILITIES)
    return abilities if extra in abilities else [*abilities, extra]


def iter_scene_questions(n: int, seed: int) -> Iterator[tuple[Scene, Question, random.Random]]:
    """n (scene, question, rng) triples, deterministic for a seed; no image is drawn."""
    rng = random.Random(seed)
    for index in range(n):
        scene = random_scene(rng)
        question_type = rng.choices(list(CATEGORY_SPELLINGS), weights=QUESTION_TYPE_WEIGHTS)[0]
        yield scene, make_question(rng, scene, question_type, KINDS[index % len(KINDS)]), rng


def iter_synthetic_records(n: int, *, seed: int = 0, image_size: tuple[int, int] = (64, 64)) -> Iterator[tuple]:
    """Yields (release record, PIL image, image suffix) n times, deterministically for a seed."""
    for index, (scene, question, rng) in enumerate(iter_scene_questions(n, seed)):
        folder, suffix = SOURCE_LAYOUTS[index % len(SOURCE_LAYOUTS)]
        problem, answer, reasoning = question.problem, question.answer, question.reasoning
        if rng.random() < 0.2:  # the release has literal <image> text in some questions
            problem = "<image>\n" + problem
        if rng.random() < 0.15:
            reasoning = f"<think>{reasoning}</think>"
        if rng.random() < 0.1:
            answer = f"<answer>{answer}</answer>"
        abilities = _abilities(rng, question)
        record = {
            "problem": problem,
            "answer": answer,
            "category": rng.choice(CATEGORY_SPELLINGS[question.question_type]),
            "abilities": ", ".join(abilities) if rng.random() < 0.1 else abilities,
            "refined_cot": reasoning,
            "image_path": f"{folder}/{index:08d}.{suffix}",
            "reward": question.reward_method,
        }
        yield record, draw_scene(scene, image_size), suffix


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


def heldout_seed(seed: int) -> str:
    """The held-out split's seed: a different random stream from every training release's integer seed."""
    return f"heldout-{seed}"


def heldout_items(n: int, *, seed: int = 0, train_n: int = 0, train_seed: int = 0) -> list[tuple[Scene, Question]]:
    """n held-out (scene, question) pairs from the generator, none of them in the training release
    `write_synthetic_release(..., train_n, seed=train_seed)` (same scene and same question text)."""
    seen = {(scene.key(), q.problem, q.answer) for scene, q, _ in iter_scene_questions(train_n, train_seed)}
    items = []
    for scene, question, _ in iter_scene_questions(10 * n + 100, heldout_seed(seed)):
        key = (scene.key(), question.problem, question.answer)
        if key not in seen:
            seen.add(key)
            items.append((scene, question))
            if len(items) == n:
                return items
    raise ValueError(f"could not draw {n} held-out items unseen in training; ask for fewer")


def write_heldout_split(
    out_dir: str | Path,
    n: int,
    *,
    seed: int = 0,
    train_n: int = 0,
    train_seed: int = 0,
    image_size: tuple[int, int] = (64, 64),
) -> Path:
    """Writes the held-out split as `out_dir/data/test-00000-of-00001.parquet` (columns HELDOUT_COLUMNS, the layout
    `load_dataset(out_dir)` reads); returns out_dir."""
    from datasets import Dataset, Features, Sequence, Value
    from datasets import Image as ImageFeature

    features = Features(
        {
            **{column: Value("string") for column in HELDOUT_COLUMNS},
            "image": ImageFeature(),
            "answer_space": Sequence(Value("string")),
        }
    )
    rows = [
        {
            "id": f"heldout-{index:05d}",
            "image": draw_scene(scene, image_size),
            "question": question.problem,
            "answer": question.answer,
            "question_type": question.question_type,
            "reward_method": question.reward_method,
            "kind": question.kind,
            "answer_space": list(question.answer_space),
        }
        for index, (scene, question) in enumerate(heldout_items(n, seed=seed, train_n=train_n, train_seed=train_seed))
    ]
    out_dir = Path(out_dir)
    (out_dir / "data").mkdir(parents=True, exist_ok=True)
    Dataset.from_list(rows, features=features).to_parquet(str(out_dir / "data" / "test-00000-of-00001.parquet"))
    return out_dir
