"""Qwen-style chat messages for one benchmark item, the same for every backend.

lighteval's prompt manager puts the question before the image; Qwen2.5-VL's own examples, the WeThink training data
and VLMEvalKit put the image first, and MMMU's images go where the question names them (`<image k>`, VLMEvalKit's
`split_MMMU`). Images are resized here, with `qwen_vl_utils` (Qwen's own `smart_resize` to multiples of 28 within the
task's pixel budget), so an in-process processor and a remote server receive the same pixels and produce the same
number of image tokens.
"""

from __future__ import annotations

import base64
import io
import re
from dataclasses import dataclass

from PIL import Image
from qwen_vl_utils import fetch_image

# The paper's budget (Qwen2.5-VL evaluation settings), and OCRBench's own minimum (small crops of text).
PAPER_MIN_PIXELS = 1280 * 28 * 28
PAPER_MAX_PIXELS = 16384 * 28 * 28
OCRBENCH_MIN_PIXELS = 10 * 10 * 28 * 28

IMAGE_MARKER = re.compile(r"<image (\d+)>")


@dataclass(frozen=True)
class PixelBudget:
    min_pixels: int
    max_pixels: int

    def __post_init__(self):
        if not 0 < self.min_pixels <= self.max_pixels:
            raise ValueError(f"pixel budget needs 0 < min_pixels <= max_pixels, got {self}")


def paper_budgets(min_pixels: int = PAPER_MIN_PIXELS, max_pixels: int = PAPER_MAX_PIXELS) -> dict[str, PixelBudget]:
    """Per-benchmark budgets: `"*"` for every task, OCRBench with its own minimum (never above the maximum)."""
    return {
        "*": PixelBudget(min_pixels, max_pixels),
        "ocrbench": PixelBudget(min(OCRBENCH_MIN_PIXELS, max_pixels), max_pixels),
    }


def resize(image: Image.Image, budget: PixelBudget) -> Image.Image:
    """Qwen's resize: RGB, each side a multiple of 28, pixels within the budget, aspect ratio kept."""
    return fetch_image({"image": image, "min_pixels": budget.min_pixels, "max_pixels": budget.max_pixels})


def _interleaved(query: str, images: list[Image.Image]) -> list[dict] | None:
    """MMMU: text and images in the order the question names them; None when the markers do not fit the images.

    The prompt function keeps the referenced images in order of first mention, so marker k is image number
    `first_mentions.index(k)`; a repeated marker repeats its image, as VLMEvalKit's split_MMMU does."""
    first_mentions: list[int] = []
    for number in IMAGE_MARKER.findall(query):
        if int(number) not in first_mentions:
            first_mentions.append(int(number))
    if not first_mentions or len(first_mentions) != len(images):
        return None
    parts: list[dict] = []
    pieces = IMAGE_MARKER.split(query)  # text, k, text, k, ..., text
    for position, piece in enumerate(pieces):
        if position % 2:
            parts.append({"type": "image", "image": images[first_mentions.index(int(piece))]})
        elif piece:
            parts.append({"type": "text", "text": piece})
    return parts


def build_messages(query: str, images: list[Image.Image], system_prompt: str | None) -> list[dict]:
    """Chat messages with images as PIL objects (`{"type": "image", "image": ...}` parts)."""
    content = _interleaved(query, images)
    if content is None:
        content = [{"type": "image", "image": image} for image in images] + [{"type": "text", "text": query}]
    messages = [{"role": "user", "content": content}]
    if system_prompt:
        messages.insert(0, {"role": "system", "content": [{"type": "text", "text": system_prompt}]})
    return messages


def data_url(image: Image.Image) -> str:
    """PNG (lossless, so the server decodes exactly the resized pixels) as a data URL."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def to_openai(messages: list[dict]) -> list[dict]:
    """The same messages for an OpenAI-compatible server: images become `image_url` data URLs."""

    def part(item: dict) -> dict:
        if item["type"] == "image":
            return {"type": "image_url", "image_url": {"url": data_url(item["image"])}}
        return item

    return [{"role": m["role"], "content": [part(item) for item in m["content"]]} for m in messages]


def images_of(messages: list[dict]) -> list[Image.Image]:
    return [item["image"] for m in messages for item in m["content"] if item["type"] == "image"]
