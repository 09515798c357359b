"""Generation backends behind the project's lighteval model (`eval_tasks.model`).

Each backend takes `GenerationRequest`s (Qwen-style chat messages with images already resized, see `messages`) and
yields `(index, Completion)` pairs as items finish, in any order, so the model can write each prediction at once.

- `transformers`: in-process batched greedy generation (CPU/test default);
- `endpoint`: any OpenAI-compatible chat server (`vllm serve`, SGLang, `transformers serve`), images as data URLs;
- `vllm`: the vLLM engine in process (optional GPU extra, imported only when chosen).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

BACKENDS = ("transformers", "endpoint", "vllm")


@dataclass
class GenerationRequest:
    messages: list[dict]  # chat messages; image parts hold PIL images
    max_new_tokens: int


@dataclass
class Completion:
    text: str | None  # None when the item failed
    error: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @classmethod
    def checked(cls, text: str, prompt_tokens: int = 0, completion_tokens: int = 0) -> Completion:
        """A model output, without surrounding whitespace (`transformers serve` strips it, vLLM does not; stripping
        everywhere keeps backends comparable and never changes a verdict). An empty one is a failure, never scored."""
        text = text.strip()
        if not text:
            return cls(None, "empty completion", prompt_tokens, completion_tokens)
        return cls(text, None, prompt_tokens, completion_tokens)


class Backend(Protocol):
    tokenizer: object | None

    def generate(self, requests: list[GenerationRequest]) -> Iterator[tuple[int, Completion]]: ...

    def close(self) -> None: ...
