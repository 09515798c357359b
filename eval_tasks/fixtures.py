"""Small generated benchmark sets in each benchmark's real Hub schema and split names, for offline runs.

`write_benchmark_fixtures(data_dir, n_per_benchmark)` writes `data_dir/<benchmark>/data/<split>-00000-of-00001.parquet`
(the layout `push_to_hub` produces, so `load_dataset(data_dir/<benchmark>)` finds the split names) for all 14
benchmarks. Images are small PIL drawings that show what the question asks about (a count of squares, a colour, a
word), so the gold answers are right for them. Group structure follows the real sets: MMBench questions come with
their circular rotations, DynaMath seeds with 10 variants, WeMath problems with sub-problems and a composite, MME images
with two questions, HallusionBench figures with several questions.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from pathlib import Path

from datasets import Dataset, Features, Image, Sequence, Value
from PIL import Image as PILImage
from PIL import ImageDraw

from eval_tasks.tasks import BENCHMARKS, DYNAMATH_SPLITS

COLORS = {"red": (220, 30, 30), "green": (30, 160, 60), "blue": (30, 60, 220), "yellow": (230, 200, 20)}
WORDS = ("STOP", "OPEN", "EXIT", "CAFE", "SALE", "PARK")


def _squares(count: int, color: str = "red", size: int = 48) -> PILImage.Image:
    image = PILImage.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(image)
    for i in range(count):
        x, y = 4 + (i % 4) * 11, 4 + (i // 4) * 11
        draw.rectangle([x, y, x + 7, y + 7], fill=COLORS[color])
    return image


def _word(text: str, size: int = 48) -> PILImage.Image:
    image = PILImage.new("RGB", (size, size), "white")
    ImageDraw.Draw(image).text((4, 18), text, fill="black")
    return image


def _count_item(rng: random.Random) -> tuple[int, str, PILImage.Image]:
    count, color = rng.randint(1, 9), rng.choice(list(COLORS))
    return count, color, _squares(count, color)


def _count_options(rng: random.Random, count: int, k: int = 4) -> tuple[list[str], int]:
    values = rng.sample([v for v in range(1, 13) if v != count], k - 1) + [count]
    rng.shuffle(values)
    return [str(v) for v in values], values.index(count)


def mathvista_rows(rng, n):
    rows = []
    for i in range(n):
        count, color, image = _count_item(rng)
        question = f"How many {color} squares are in the image?"
        kind = ("multi_choice", "integer", "float")[i % 3]
        choices, precision, answer = None, None, str(count)
        if kind == "multi_choice":
            choices, gold = _count_options(rng, count)
            answer = choices[gold]
            hint = "Please answer the question and provide the correct option letter, e.g., A, B, C, D, at the end."
            query = f"Hint: {hint}\nQuestion: {question}\nChoices:\n" + "".join(
                f"({string.ascii_uppercase[j]}) {c}\n" for j, c in enumerate(choices)
            )
        elif kind == "integer":
            query = f"Hint: Please answer the question requiring an integer answer.\nQuestion: {question}"
        else:
            precision, answer = 1.0, f"{count / 2:.1f}"
            question = f"What is half the number of {color} squares?"
            query = f"Hint: Please answer the question requiring a floating-point number with one decimal place.\nQuestion: {question}"
        rows.append(
            {
                "pid": str(i + 1),
                "question": question,
                "image": f"images/{i + 1}.jpg",
                "decoded_image": image,
                "choices": choices,
                "unit": None,
                "precision": precision,
                "answer": answer,
                "question_type": "multi_choice" if kind == "multi_choice" else "free_form",
                "answer_type": "text" if kind == "multi_choice" else kind,
                "metadata": {
                    "category": "math-targeted-vqa",
                    "context": "synthetic scene",
                    "grade": "elementary",
                    "img_height": 48,
                    "img_width": 48,
                    "language": "english",
                    "skills": ["arithmetic reasoning"],
                    "source": "fixture",
                    "split": "testmini",
                    "task": "figure question answering",
                },
                "query": query,
            }
        )
    features = Features(
        {
            "pid": Value("string"),
            "question": Value("string"),
            "image": Value("string"),
            "decoded_image": Image(),
            "choices": Sequence(Value("string")),
            "unit": Value("string"),
            "precision": Value("float64"),
            "answer": Value("string"),
            "question_type": Value("string"),
            "answer_type": Value("string"),
            "metadata": {
                "category": Value("string"),
                "context": Value("string"),
                "grade": Value("string"),
                "img_height": Value("int64"),
                "img_width": Value("int64"),
                "language": Value("string"),
                "skills": Sequence(Value("string")),
                "source": Value("string"),
                "split": Value("string"),
                "task": Value("string"),
            },
            "query": Value("string"),
        }
    )
    return {"testmini": rows}, features


def mathvision_rows(rng, n):
    rows = []
    for i in range(n):
        count, color, image = _count_item(rng)
        options, answer = [], str(count)
        if i % 2 == 0:
            options, gold = _count_options(rng, count, 5)
            answer = string.ascii_uppercase[gold]
        rows.append(
            {
                "id": str(i + 1),
                "question": f"<image1>\nHow many {color} squares are there?",
                "options": options,
                "image": f"images/{i + 1}.jpg",
                "decoded_image": image,
                "answer": answer,
                "solution": None,
                "level": 1 + i % 5,
                "subject": "counting",
            }
        )
    features = Features(
        {
            "id": Value("string"),
            "question": Value("string"),
            "options": Sequence(Value("string")),
            "image": Value("string"),
            "decoded_image": Image(),
            "answer": Value("string"),
            "solution": Value("string"),
            "level": Value("int64"),
            "subject": Value("string"),
        }
    )
    return {"test": rows}, features


def mathverse_rows(rng, n):
    rows = []
    versions = ("Text Dominant", "Vision Only")
    for i in range(n):
        count, color, image = _count_item(rng)
        for version in versions:  # the real set has five versions per problem; the task keeps "Vision Only"
            mc = i % 2 == 0
            answer = "ABCD"[count % 4] if mc else str(count)
            instruction = (
                "According to the question shown in the image, please directly answer the question and provide the "
                "correct option letter, e.g., A, B, C, D."
                if mc
                else "According to the question shown in the image, please directly answer the question and provide "
                "the final value, e.g., 1, 2.5, 300."
            )
            rows.append(
                {
                    "sample_index": str(len(rows) + 1),
                    "problem_index": str(i + 1),
                    "problem_version": version,
                    "question": "" if version == "Vision Only" else f"How many {color} squares are there?",
                    "image": image,
                    "answer": answer,
                    "question_type": "multi-choice" if mc else "free-form",
                    "metadata": {"split": "testmini", "source": "fixture", "subject": "counting", "subfield": "count"},
                    "query_wo": instruction,
                    "query_cot": instruction.replace("directly answer", "first conduct reasoning, and then answer"),
                    "question_for_eval": f"How many {color} squares are there?",
                }
            )
    features = Features(
        {
            "sample_index": Value("string"),
            "problem_index": Value("string"),
            "problem_version": Value("string"),
            "question": Value("string"),
            "image": Image(),
            "answer": Value("string"),
            "question_type": Value("string"),
            "metadata": {
                "split": Value("string"),
                "source": Value("string"),
                "subject": Value("string"),
                "subfield": Value("string"),
            },
            "query_wo": Value("string"),
            "query_cot": Value("string"),
            "question_for_eval": Value("string"),
        }
    )
    return {"testmini": rows}, features


def dynamath_rows(rng, n):
    splits = {split: [] for split in DYNAMATH_SPLITS}
    for qid in range(1, n + 1):
        kind = ("float", "multiple choice", "free form")[qid % 3]
        for variant, split in enumerate(DYNAMATH_SPLITS, start=1):
            count, color, image = _count_item(rng)
            if kind == "float":
                question, truth = f"What is one third of the number of {color} squares?", f"{count / 3:.3f}"
            elif kind == "multiple choice":
                options, gold = _count_options(rng, count)
                question = f"How many {color} squares are there?\nChoices: " + " ".join(
                    f"({string.ascii_uppercase[j]}) {o}" for j, o in enumerate(options)
                )
                truth = string.ascii_uppercase[gold]
            else:
                question, truth = "What color are the squares?", color
            splits[split].append(
                {
                    "id": f"{qid}-{variant}",
                    "question": question,
                    "image": f"images/{qid}-{variant}.png",
                    "decoded_image": image,
                    "ground_truth": truth,
                    "answer_type": kind,
                    "subject": "arithmetic",
                    "knowledge_level": "elementary school",
                    "qid": qid,
                }
            )
    features = Features(
        {
            "id": Value("string"),
            "question": Value("string"),
            "image": Value("string"),
            "decoded_image": Image(),
            "ground_truth": Value("string"),
            "answer_type": Value("string"),
            "subject": Value("string"),
            "knowledge_level": Value("string"),
            "qid": Value("int64"),
        }
    )
    return splits, features


def wemath_rows(rng, n):
    rows = []
    for group in range(1, n + 1):
        steps = 2 + group % 2
        keys = [f"{steps}steps_{i}" for i in range(1, steps + 1)] + [f"{steps}steps_multi"]
        for key in keys:
            count, color, image = _count_item(rng)
            options, gold = _count_options(rng, count, 5)
            rows.append(
                {
                    "ID": f"{group}",
                    "split": "testmini",
                    "knowledge concept": "Counting",
                    "question": f"How many {color} squares are there?",
                    "option": "; ".join(f"{string.ascii_uppercase[j]}. {o}" for j, o in enumerate(options)),
                    "answer": string.ascii_uppercase[gold],
                    "image_path": image,
                    "key": key,
                    "question number": len(rows) + 1,
                    "knowledge concept description": "Count objects of one colour.",
                }
            )
    features = Features(
        {
            "ID": Value("string"),
            "split": Value("string"),
            "knowledge concept": Value("string"),
            "question": Value("string"),
            "option": Value("string"),
            "answer": Value("string"),
            "image_path": Image(),
            "key": Value("string"),
            "question number": Value("int64"),
            "knowledge concept description": Value("string"),
        }
    )
    return {"testmini": rows}, features


def logicvista_rows(rng, n):
    rows = []
    for i in range(n):
        count, color, image = _count_item(rng)
        options, gold = _count_options(rng, count, 4)
        letters = [string.ascii_uppercase[gold]]
        question = f"Which options give the number of {color} squares?\n" + "\n".join(
            f"{string.ascii_uppercase[j]}. {o}" for j, o in enumerate(options)
        )
        if i % 2:  # a multi-select item: "none of A-D is wrong" style, two letters right
            options.append(str(count))
            question += f"\nE. {count}"
            letters.append("E")
        rows.append(
            {
                "question": question,
                "answer": ", ".join(sorted(letters)),
                "reasoning": "Count the squares.",
                "image": image,
                "skill": "numerical",
                "broad_capability": "reasoning",
                "specific_capability": "counting",
                "imagesource": "fixture",
                "sourcelink": "",
                "liscenced": "yes",
                "id": str(i + 1),
            }
        )
    features = Features({k: Image() if k == "image" else Value("string") for k in rows[0]})
    return {"test": rows}, features


def mmbench_rows(rng, n):
    rows = []
    for question_id in range(n):
        count, color, image = _count_item(rng)
        options, gold = _count_options(rng, count)
        for rotation in range(len(options)):  # CircularEval copies: options rotated, index + k * 1_000_000
            rotated = options[rotation:] + options[:rotation]
            letter = string.ascii_uppercase[rotated.index(options[gold])]
            rows.append(
                {
                    "index": question_id + rotation * 1_000_000,
                    "question": f"How many {color} squares are in the image?",
                    "hint": None if question_id % 2 else "Count carefully.",
                    "answer": letter,
                    "A": rotated[0],
                    "B": rotated[1],
                    "C": rotated[2],
                    "D": rotated[3],
                    "category": "object_localization",
                    "image": image,
                    "source": "fixture",
                    "l2-category": ("fine-grained_perception", "logic_reasoning")[question_id % 2],
                    "comment": None,
                    "split": "dev",
                }
            )
    features = Features(
        {k: (Image() if k == "image" else Value("int64") if k == "index" else Value("string")) for k in rows[0]}
    )
    return {"dev": rows}, features


def mmstar_rows(rng, n):
    rows = []
    for i in range(n):
        count, color, image = _count_item(rng)
        options, gold = _count_options(rng, count)
        question = f"How many {color} squares are there?\nOptions: " + ", ".join(
            f"{string.ascii_uppercase[j]}: {o}" for j, o in enumerate(options)
        )
        rows.append(
            {
                "index": i,
                "question": question,
                "image": image,
                "answer": string.ascii_uppercase[gold],
                "category": ("coarse perception", "math")[i % 2],
                "l2_category": "counting",
                "meta_info": {"source": "fixture", "split": "val", "image_path": f"images/{i}.jpg"},
            }
        )
    features = Features(
        {
            "index": Value("int64"),
            "question": Value("string"),
            "image": Image(),
            "answer": Value("string"),
            "category": Value("string"),
            "l2_category": Value("string"),
            "meta_info": {"source": Value("string"), "split": Value("string"), "image_path": Value("string")},
        }
    )
    return {"val": rows}, features


def mmmu_rows(rng, n):
    rows = []
    for i in range(n):
        count, color, image = _count_item(rng)
        row = {f"image_{k}": None for k in range(1, 8)}
        row["image_1"] = image
        if i % 3 == 2:  # open question
            row.update(
                question=f"<image 1> How many {color} squares are there?",
                options="[]",
                answer=str(count),
                question_type="open",
            )
        else:
            options, gold = _count_options(rng, count)
            row.update(
                question=f"How many {color} squares are in <image 1>?",
                options=repr(options),
                answer=string.ascii_uppercase[gold],
                question_type="multiple-choice",
            )
        row.update(
            id=f"validation_Math_{i + 1}",
            explanation="",
            img_type="['Diagrams']",
            topic_difficulty="Easy",
            subfield="Counting",
        )
        rows.append(row)
    features = Features(
        {
            **{k: Value("string") for k in ("id", "question", "options", "explanation")},
            **{f"image_{k}": Image() for k in range(1, 8)},
            **{k: Value("string") for k in ("img_type", "answer", "topic_difficulty", "question_type", "subfield")},
        }
    )
    return {"validation": rows}, features


def hallusionbench_rows(rng, n):
    rows = []
    for set_id in range(n):
        for figure_id in range(2):  # the original figure and an edited one
            count, color, image = _count_item(rng)
            for question_id, asked in enumerate((count, count + 1)):
                rows.append(
                    {
                        "category": ("VD", "VS")[set_id % 2],
                        "subcategory": "figure",
                        "visual_input": "1" if figure_id == 0 else "2",
                        "set_id": str(set_id),
                        "figure_id": str(figure_id),
                        "sample_note": "fixture",
                        "question_id": str(question_id),
                        "question": f"Are there {asked} {color} squares in the image?",
                        "gt_answer_details": f"There are {count} {color} squares.",
                        "gt_answer": "1" if asked == count else "0",
                        "filename": f"images/{set_id}_{figure_id}.png",
                        "image": image,
                    }
                )
    features = Features({k: Image() if k == "image" else Value("string") for k in rows[0]})
    return {"image": rows}, features


def ai2d_rows(rng, n):
    rows = []
    for _ in range(n):
        count, color, image = _count_item(rng)
        options, gold = _count_options(rng, count)
        rows.append(
            {
                "question": f"How many {color} squares does the diagram show?",
                "options": options,
                "answer": str(gold),
                "image": image,
            }
        )
    features = Features(
        {
            "question": Value("string"),
            "options": Sequence(Value("string")),
            "answer": Value("string"),
            "image": Image(),
        }
    )
    return {"test": rows}, features


def ocrbench_rows(rng, n):
    rows = []
    for i in range(n):
        if i % 4 == 3:
            expression = f"{rng.randint(1, 9)} + {rng.randint(1, 9)}"
            rows.append(
                {
                    "dataset": "HME100k",
                    "question": "Please write out the expression of the formula in the image using LaTeX format.",
                    "question_type": "Handwritten Mathematical Expression Recognition",
                    "answer": [expression],
                    "image": _word(expression),
                }
            )
        else:
            word = rng.choice(WORDS)
            rows.append(
                {
                    "dataset": "IIIT5K",
                    "question": "what is written in the image?",
                    "question_type": "Regular Text Recognition",
                    "answer": [word],
                    "image": _word(word),
                }
            )
    features = Features(
        {
            "dataset": Value("string"),
            "question": Value("string"),
            "question_type": Value("string"),
            "answer": Sequence(Value("string")),
            "image": Image(),
        }
    )
    return {"test": rows}, features


def mmvet_rows(rng, n):
    rows = []
    for i in range(n):
        count, color, image = _count_item(rng)
        rows.append(
            {
                "question_id": f"v1_{i}",
                "image": image,
                "question": f"How many {color} squares are there?",
                "answer": f"{count}<OR>{count} squares",
                "image_source": "fixture",
                "capability": ["rec", "math"],
            }
        )
    features = Features(
        {
            "question_id": Value("string"),
            "image": Image(),
            "question": Value("string"),
            "answer": Value("string"),
            "image_source": Value("string"),
            "capability": Sequence(Value("string")),
        }
    )
    return {"test": rows}, features


def mme_rows(rng, n):
    rows = []
    categories = ("existence", "count", "color", "code_reasoning")
    for i in range(n):
        count, color, image = _count_item(rng)
        category = categories[i % len(categories)]
        for asked in (count, count + 2):  # every MME image has one "Yes" and one "No" question
            rows.append(
                {
                    "question_id": f"{category}/{i:04d}.png",
                    "question": f"Are there {asked} {color} squares in the image? Please answer yes or no.",
                    "answer": "Yes" if asked == count else "No",
                    "category": category,
                    "image": image,
                }
            )
    features = Features(
        {
            "question_id": Value("string"),
            "question": Value("string"),
            "answer": Value("string"),
            "category": Value("string"),
            "image": Image(),
        }
    )
    return {"test": rows}, features


GENERATORS: dict[str, Callable] = {
    "mathvista": mathvista_rows,
    "mathvision": mathvision_rows,
    "mathverse": mathverse_rows,
    "dynamath": dynamath_rows,
    "wemath": wemath_rows,
    "logicvista": logicvista_rows,
    "mmbench": mmbench_rows,
    "mmstar": mmstar_rows,
    "mmmu": mmmu_rows,
    "hallusionbench": hallusionbench_rows,
    "ai2d": ai2d_rows,
    "ocrbench": ocrbench_rows,
    "mmvet": mmvet_rows,
    "mme": mme_rows,
}


def benchmark_rows(name: str, n: int, seed: int = 0) -> tuple[dict[str, list[dict]], Features]:
    """Rows per split and the features of one benchmark (`n` items, or `n` groups where the benchmark has groups)."""
    return GENERATORS[name](random.Random(f"{name}-{seed}"), n)


def write_benchmark_fixtures(data_dir, n_per_benchmark: int = 4, seed: int = 0, names=None) -> Path:
    """Write every benchmark (or `names`) under `data_dir/<benchmark>/data/<split>-00000-of-00001.parquet`."""
    data_dir = Path(data_dir)
    for name in names or BENCHMARKS:
        splits, features = benchmark_rows(name, n_per_benchmark, seed)
        folder = data_dir / name / "data"
        folder.mkdir(parents=True, exist_ok=True)
        for split, rows in splits.items():
            Dataset.from_list(rows, features=features).to_parquet(str(folder / f"{split}-00000-of-00001.parquet"))
    return data_dir
