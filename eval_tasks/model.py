"""The project's lighteval model: Qwen-style prompts, three generation backends, predictions written as it goes.

lighteval's Pipeline drives it like any `LightevalModel` (tasks, metrics and details stay lighteval's), but the chat
messages are built here (`eval_tasks.backends.messages`): system prompt where the task asks for it, image(s) first,
MMMU's images at their `<image k>` markers, each image resized to its task's pixel budget. The same messages go to
whichever backend runs (`transformers`, `endpoint`, `vllm`), so the same prompt reaches the model.

Every finished item is appended to `OUT/predictions.jsonl` at once (`eval_tasks.predictions`); items already there
are not generated again. Items that could not be generated (server down, retries exhausted, empty completion) are
written as failed, returned with an empty text and listed in `failed`, so the runner leaves them out of scoring.
"""

from __future__ import annotations

import logging

from lighteval.models.abstract_model import LightevalModel, ModelConfig
from lighteval.models.model_output import ModelResponse
from lighteval.tasks.requests import Doc
from pydantic import Field
from tqdm import tqdm

from eval_tasks.backends import BACKENDS, Completion, GenerationRequest
from eval_tasks.backends.messages import PixelBudget, build_messages, paper_budgets, resize
from eval_tasks.predictions import PredictionStore

logger = logging.getLogger(__name__)


class WeThinkModelConfig(ModelConfig):
    """What lighteval logs as the model config; `model_name` is the checkpoint (or the served name's source)."""

    model_name: str
    backend: str = "transformers"
    output_dir: str
    overwrite: bool = False
    run_meta: dict = Field(default_factory=dict)  # what the predictions file must belong to
    max_new_tokens: int = 2048
    min_pixels: int = 1280 * 28 * 28
    max_pixels: int = 16384 * 28 * 28
    # transformers
    batch_size: int = 1
    device: str | None = None
    dtype: str | None = None
    # endpoint
    base_urls: list[str] = Field(default_factory=list)
    served_model_name: str | None = None
    concurrency: int = 16
    api_key_env: str | None = "OPENAI_API_KEY"
    request_timeout: float = 600.0
    max_retries: int = 5
    backoff_base: float = 0.5
    # vllm
    tensor_parallel: int = 1
    data_parallel: int = 1
    gpu_memory_utilization: float = 0.9

    def budgets(self) -> dict[str, PixelBudget]:
        return paper_budgets(self.min_pixels, self.max_pixels)


def benchmark_of(doc: Doc) -> str:
    """`wethink_mathvista|0` -> `mathvista` (the name predictions and results use)."""
    return doc.task_name.split("|")[0].removeprefix("wethink_")


def generation_request(doc: Doc, budgets: dict[str, PixelBudget], max_new_tokens: int) -> GenerationRequest:
    """The chat messages of one item, its images resized to its task's budget (`"*"` unless the task has its own)."""
    budget = budgets.get(benchmark_of(doc), budgets["*"])
    images = [resize(image, budget) for image in (doc.images or [])]
    return GenerationRequest(
        messages=build_messages(doc.query, images, doc.instruction),
        max_new_tokens=min(max_new_tokens, doc.generation_size or max_new_tokens),
    )


class _NoSampleCache:
    """lighteval's sample cache cannot read VLM responses back (lighteval 0.13); predictions.jsonl is this model's
    cache. The Pipeline only registers its task registry with it."""

    def _init_registry(self, registry) -> None:
        return None


class WeThinkModel(LightevalModel):
    def __init__(self, config: WeThinkModelConfig):
        if config.backend not in BACKENDS:
            raise ValueError(f"--backend must be one of {BACKENDS}, got {config.backend!r}")
        self.config = config
        self.model_name = config.model_name
        self._cache = _NoSampleCache()
        self.budgets = config.budgets()
        self.predictions = PredictionStore(config.output_dir, config.run_meta, overwrite=config.overwrite)
        self._backend = None  # started on first need: a rerun with every item done needs no model or server
        self.failed: dict[tuple[str, int], str] = {}  # (task, row) -> why; left out of scoring
        self.generated = self.resumed = 0

    @property
    def backend(self):
        if self._backend is None:
            self._backend = make_backend(self.config, list(self.budgets.values()))
        return self._backend

    @property
    def tokenizer(self):
        return self.backend.tokenizer

    @property
    def add_special_tokens(self) -> bool:
        return False  # the chat template writes the special tokens

    @property
    def max_length(self) -> int:
        return 32768

    def request(self, doc: Doc) -> GenerationRequest:
        return generation_request(doc, self.budgets, self.config.max_new_tokens)

    def greedy_until(self, docs: list[Doc]) -> list[ModelResponse]:
        keys = [(benchmark_of(doc), int(doc.id)) for doc in docs]
        texts: list[str | None] = [self.predictions.completion(*key) for key in keys]
        todo = [i for i, text in enumerate(texts) if text is None]
        self.resumed += len(docs) - len(todo)
        if len(todo) < len(docs):
            logger.info("%d of %d items already in %s", len(docs) - len(todo), len(docs), self.predictions.path)
        requests = [self.request(docs[i]) for i in todo]
        if not requests:
            return self._responses(docs, keys, texts)
        with tqdm(total=len(todo), desc=f"Generating ({self.config.backend})", unit="item") as progress:
            for position, completion in self.backend.generate(requests):
                index = todo[position]
                self._record(keys[index], completion)
                texts[index] = completion.text
                progress.update(1)
        return self._responses(docs, keys, texts)

    def _responses(self, docs: list[Doc], keys: list, texts: list[str | None]) -> list[ModelResponse]:
        for key, text in zip(keys, texts):
            if text is None:
                self.failed.setdefault(key, "not generated")
        return [ModelResponse(input=doc.query, text=[text or ""]) for doc, text in zip(docs, texts)]

    def _record(self, key: tuple[str, int], completion: Completion) -> None:
        self.predictions.write(*key, completion.text, completion.error)
        if completion.text is None:
            self.failed[key] = completion.error or "failed"
            logger.warning("%s row %d failed: %s", *key, completion.error)
        else:
            self.generated += 1

    def loglikelihood(self, docs: list[Doc]) -> list[ModelResponse]:
        raise NotImplementedError("the WeThink tasks are generative only")

    def loglikelihood_rolling(self, docs: list[Doc]) -> list[ModelResponse]:
        raise NotImplementedError("the WeThink tasks are generative only")

    def cleanup(self) -> None:
        if self._backend is not None:
            self._backend.close()
            self._backend = None
        self.predictions.close()


def make_backend(config: WeThinkModelConfig, budgets: list[PixelBudget]):
    if config.backend == "transformers":
        from eval_tasks.backends.transformers_backend import TransformersBackend

        return TransformersBackend(
            config.model_name, budgets=budgets, batch_size=config.batch_size, device=config.device, dtype=config.dtype
        )
    if config.backend == "endpoint":
        from eval_tasks.backends.endpoint import EndpointBackend
        from reward_funcs.client import EndpointConfig

        if not config.base_urls:
            raise ValueError("--backend endpoint needs --base-url (one or more OpenAI-compatible /v1 URLs)")
        endpoints = [
            EndpointConfig(
                base_url=url,
                model=config.served_model_name or config.model_name,
                api_key_env=config.api_key_env,
                max_concurrency=config.concurrency,
                timeout=config.request_timeout,
            )
            for url in config.base_urls
        ]
        return EndpointBackend(endpoints, max_retries=config.max_retries, backoff_base=config.backoff_base)
    from eval_tasks.backends.vllm_backend import VLLMBackend

    return VLLMBackend(
        config.model_name,
        budgets=budgets,
        tensor_parallel=config.tensor_parallel,
        data_parallel=config.data_parallel,
        gpu_memory_utilization=config.gpu_memory_utilization,
        dtype=config.dtype,
    )
