"""The project's client against a real `transformers serve` (the `tiny_server` session fixture)."""

from __future__ import annotations

import base64
import io

from PIL import Image

from reward_funcs.client import ChatClient, EndpointConfig


def png_data_url(size: tuple[int, int], color=(200, 30, 30)) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def image_question(size: tuple[int, int]) -> list[dict]:
    return [
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": png_data_url(size)}},
                {"type": "text", "text": "What colour is the square?"},
            ],
        }
    ]


def test_chat_completion_with_an_image_data_url(tiny_server):
    client = ChatClient([EndpointConfig(base_url=tiny_server.base_url, model=tiny_server.model, timeout=120)])
    try:
        small, large = client.chat_many_sync([image_question((56, 56)), image_question((112, 112))], max_tokens=8)
    finally:
        client.close()
    for result in (small, large):
        assert not isinstance(result, Exception), f"{result}\nserver log:\n{tiny_server.log_tail()}"
        assert result.completion_tokens == 8 and result.finish_reason == "length"
    # The image reached the model: Qwen2.5-VL spends one token per 28x28 patch, 2x2 vs 4x4 here.
    assert large.prompt_tokens - small.prompt_tokens == 16 - 4
