"""Small PIL drawings for the generated benchmark rows: they show what the question asks about (a count of squares
of one colour, a word), so the generated gold answers are right for them."""

from __future__ import annotations

import random

from PIL import Image, ImageDraw

COLORS = {"red": (220, 30, 30), "green": (30, 160, 60), "blue": (30, 60, 220), "yellow": (230, 200, 20)}
WORDS = ("STOP", "OPEN", "EXIT", "CAFE", "SALE", "PARK")


def squares(count: int, color: str = "red", size: int = 48) -> Image.Image:
    image = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(image)
    for i in range(count):
        x, y = 4 + (i % 4) * 11, 4 + (i // 4) * 11
        draw.rectangle([x, y, x + 7, y + 7], fill=COLORS[color])
    return image


def word(text: str, size: int = 48) -> Image.Image:
    image = Image.new("RGB", (size, size), "white")
    ImageDraw.Draw(image).text((4, 18), text, fill="black")
    return image


def count_item(rng: random.Random) -> tuple[int, str, Image.Image]:
    count, color = rng.randint(1, 9), rng.choice(list(COLORS))
    return count, color, squares(count, color)


def count_options(rng: random.Random, count: int, k: int = 4) -> tuple[list[str], int]:
    """k distinct counts including `count`, shuffled, and the position of `count`."""
    values = rng.sample([v for v in range(1, 13) if v != count], k - 1) + [count]
    rng.shuffle(values)
    return [str(v) for v in values], values.index(count)
