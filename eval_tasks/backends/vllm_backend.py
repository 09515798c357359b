"""The vLLM engine in process: `LLM.generate` with `multi_modal_data`, data-parallel over the visible GPUs.

vLLM is an optional GPU extra (`pip install -e .[vllm]`); CI never installs it, so it is imported only when this
backend is chosen. The prompt is the model's own chat template over the same messages the other backends send, and
the images are the already-resized PIL images, so vLLM's processor keeps their size. With `data_parallel` > 1 each
worker process owns `tensor_parallel` GPUs (CUDA_VISIBLE_DEVICES) and a contiguous shard of the items.
"""

from __future__ import annotations

import importlib.util
import multiprocessing
import os
from collections.abc import Iterator

from eval_tasks.backends import Completion, GenerationRequest
from eval_tasks.backends.messages import PixelBudget, images_of

CHUNK = 512  # items per LLM.generate call

MISSING_VLLM = (
    "--backend vllm needs the vLLM engine, which is not installed (it is an optional GPU extra: "
    "`pip install -e .[vllm]` on a CUDA machine). Alternatively start `vllm serve MODEL` and use "
    "--backend endpoint --base-url http://HOST:PORT/v1."
)


def require_vllm() -> None:
    if importlib.util.find_spec("vllm") is None:
        raise RuntimeError(MISSING_VLLM)


class VLLMBackend:
    def __init__(
        self,
        model: str,
        *,
        budgets: list[PixelBudget],
        tensor_parallel: int = 1,
        data_parallel: int = 1,
        gpu_memory_utilization: float = 0.9,
        dtype: str | None = None,
        max_model_len: int | None = None,
    ):
        require_vllm()
        from transformers import AutoProcessor

        self.processor = AutoProcessor.from_pretrained(model)
        self.tokenizer = self.processor.tokenizer
        self.engine_args = {
            "model": model,
            "tensor_parallel_size": tensor_parallel,
            "gpu_memory_utilization": gpu_memory_utilization,
            "dtype": dtype or "auto",
            "max_model_len": max_model_len,
            "limit_mm_per_prompt": {"image": 8},  # MMMU items carry up to 7 images
            # Images arrive resized to the task's budget; this range keeps vLLM's processor from resizing again.
            "mm_processor_kwargs": {
                "min_pixels": min(b.min_pixels for b in budgets),
                "max_pixels": max(b.max_pixels for b in budgets),
            },
            "seed": 0,
        }
        self.data_parallel = data_parallel
        self.tensor_parallel = tensor_parallel
        self._engine = self._pool = None
        if data_parallel > 1:
            context = multiprocessing.get_context("spawn")  # CUDA cannot be re-initialised in a forked child
            ranks = context.Queue()
            for rank in range(data_parallel):
                ranks.put(rank)
            self._pool = context.Pool(
                data_parallel, initializer=_start_worker, initargs=(ranks, tensor_parallel, self.engine_args)
            )
        else:
            self._engine = _engine(self.engine_args)

    def _inputs(self, requests: list[GenerationRequest]) -> list[dict]:
        return [
            {
                "prompt": self.processor.apply_chat_template(r.messages, add_generation_prompt=True, tokenize=False),
                "multi_modal_data": {"image": images_of(r.messages)},
            }
            for r in requests
        ]

    def generate(self, requests: list[GenerationRequest]) -> Iterator[tuple[int, Completion]]:
        # In chunks, so predictions are written as the run goes; vLLM batches continuously inside each chunk.
        for start in range(0, len(requests), CHUNK):
            chunk = requests[start : start + CHUNK]
            inputs, budgets = self._inputs(chunk), [r.max_new_tokens for r in chunk]
            if self._pool is None:
                outputs = _generate(self._engine, inputs, budgets)
            else:
                part = -(-len(inputs) // self.data_parallel)
                parts = [(inputs[i : i + part], budgets[i : i + part]) for i in range(0, len(inputs), part)]
                outputs = [c for done in self._pool.imap(_worker_generate, parts) for c in done]
            yield from enumerate(outputs, start=start)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool.join()
        self._engine = self._pool = None


def _engine(engine_args: dict):
    from vllm import LLM

    return LLM(**{k: v for k, v in engine_args.items() if v is not None})


def _generate(engine, inputs: list[dict], budgets: list[int]) -> list[Completion]:
    from vllm import SamplingParams

    # Greedy, with the checkpoint's repetition penalty (its generation_config), which transformers' generate and
    # `vllm serve` apply by default too; an explicit SamplingParams would drop it.
    penalty = engine.get_default_sampling_params().repetition_penalty
    params = [SamplingParams(temperature=0.0, max_tokens=b, repetition_penalty=penalty) for b in budgets]
    outputs = engine.generate(inputs, params, use_tqdm=True)
    return [
        Completion.checked(out.outputs[0].text, len(out.prompt_token_ids or []), len(out.outputs[0].token_ids))
        for out in outputs
    ]


_WORKER_ENGINE = None  # one engine per data-parallel worker process


def _start_worker(ranks, tensor_parallel: int, engine_args: dict) -> None:
    global _WORKER_ENGINE
    rank = ranks.get()
    os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(str(rank * tensor_parallel + k) for k in range(tensor_parallel))
    _WORKER_ENGINE = _engine(engine_args)


def _worker_generate(part: tuple[list[dict], list[int]]) -> list[Completion]:
    return _generate(_WORKER_ENGINE, *part)
