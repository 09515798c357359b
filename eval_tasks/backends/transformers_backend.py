"""In-process batched greedy generation with transformers (`AutoModelForImageTextToText.generate`)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import torch
from transformers import AutoModelForImageTextToText, AutoProcessor
from transformers.image_processing_utils import SizeDict

from eval_tasks.backends import Completion, GenerationRequest
from eval_tasks.backends.messages import PixelBudget, images_of

logger = logging.getLogger(__name__)


class TransformersBackend:
    def __init__(
        self,
        model: str,
        *,
        budgets: list[PixelBudget],
        batch_size: int = 1,
        device: str | None = None,
        dtype: str | None = None,
        revision: str = "main",
    ):
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.batch_size = batch_size
        self.processor = AutoProcessor.from_pretrained(model, revision=revision)
        self.processor.tokenizer.padding_side = "left"  # batched generation continues every row at the right end
        self._accept_resized_images(budgets)
        torch_dtype = getattr(torch, dtype) if dtype and dtype != "auto" else dtype
        self.model = AutoModelForImageTextToText.from_pretrained(model, revision=revision, dtype=torch_dtype)
        self.model.to(self.device).eval()
        self.tokenizer = self.processor.tokenizer

    def _accept_resized_images(self, budgets: list[PixelBudget]) -> None:
        """Images arrive already resized to the task's budget (multiples of 28); widening the processor's own range
        to cover every budget makes its smart_resize keep them as they are, as a server's processor does."""
        image_processor = self.processor.image_processor
        image_processor.size = SizeDict(
            shortest_edge=min(b.min_pixels for b in budgets), longest_edge=max(b.max_pixels for b in budgets)
        )

    def generate(self, requests: list[GenerationRequest]) -> Iterator[tuple[int, Completion]]:
        # Longest prompts first, so each batch holds prompts of similar length (less padding) and memory peaks early.
        order = sorted(range(len(requests)), key=lambda i: -self._size(requests[i]))
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            yield from zip(batch, self._generate_batch([requests[i] for i in batch]))

    @staticmethod
    def _size(request: GenerationRequest) -> int:
        pixels = sum(image.width * image.height for image in images_of(request.messages))
        text = sum(len(item.get("text", "")) for m in request.messages for item in m["content"])
        return pixels // (28 * 28) + text // 4

    @torch.inference_mode()
    def _generate_batch(self, batch: list[GenerationRequest]) -> list[Completion]:
        texts = [
            self.processor.apply_chat_template(r.messages, add_generation_prompt=True, tokenize=False) for r in batch
        ]
        images = [images_of(r.messages) for r in batch]
        inputs = self.processor(
            text=texts, images=images if any(images) else None, padding=True, return_tensors="pt"
        ).to(self.device)
        max_new_tokens = max(r.max_new_tokens for r in batch)
        output = self.model.generate(**inputs, do_sample=False, max_new_tokens=max_new_tokens)
        generated = output[:, inputs["input_ids"].shape[1] :]
        prompt_lengths = inputs["attention_mask"].sum(dim=1).tolist()
        completions = []
        for row, request in enumerate(batch):
            tokens = self._until_eos(generated[row, : request.max_new_tokens])
            text = self.processor.decode(tokens, skip_special_tokens=True)
            completions.append(Completion.checked(text, int(prompt_lengths[row]), len(tokens)))
        return completions

    def _until_eos(self, tokens: torch.Tensor) -> torch.Tensor:
        """A row that stopped early is padded to the batch's length; keep it up to its end-of-sequence token."""
        eos = self.model.generation_config.eos_token_id
        eos = [eos] if isinstance(eos, int) else list(eos or [])
        hits = torch.isin(tokens, torch.tensor(eos, device=tokens.device)).nonzero()
        return tokens[: int(hits[0]) + 1] if len(hits) else tokens

    def close(self) -> None:
        self.model = None
