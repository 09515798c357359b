# ruff: noqa: E402  (lighteval is imported after the grad mode is recorded; see below)
"""`python -m eval_tasks run`: lighteval's Pipeline in-process, with only this project's tasks loaded.

lighteval's `Registry` always imports every built-in task module (some of which reach the Hub at import time, which
fails offline); `ProjectRegistry` is built from this project's task configs alone, and `ProjectPipeline` uses it.
Generation is lighteval's `VLMTransformersModel` (HF `generate`, greedy decoding).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import torch

# lighteval's transformers model module switches autograd off process-wide when imported (and again when a model
# loads). Evaluation needs no gradients, but a process that imports the runner and later trains (a notebook, the test
# suite) must not inherit that: the grad mode is put back after the import and after each evaluation.
_GRAD_MODE_BEFORE_LIGHTEVAL = torch.is_grad_enabled()

from lighteval.logging.evaluation_tracker import EvaluationTracker
from lighteval.models.model_input import GenerationParameters
from lighteval.models.transformers.vlm_transformers_model import VLMTransformersModelConfig
from lighteval.pipeline import ParallelismManager, Pipeline, PipelineParameters
from lighteval.tasks.lighteval_task import LightevalTask, LightevalTaskConfig
from lighteval.tasks.registry import Registry
from transformers.image_processing_utils import SizeDict

from eval_tasks.judge import JudgeSettings
from eval_tasks.results import benchmark_result, markdown_table, model_index
from eval_tasks.scoring import whole_groups
from eval_tasks.tasks import BENCHMARKS, TASK_PREFIX, TaskOptions, build_task_configs

torch.set_grad_enabled(_GRAD_MODE_BEFORE_LIGHTEVAL)

logger = logging.getLogger(__name__)


class ProjectRegistry(Registry):
    """A lighteval Registry holding the given task configs only (no built-in task module is imported)."""

    def __init__(self, tasks: str, configs: list[LightevalTaskConfig]):
        self.tasks_list = self._get_full_task_list_from_input_string(tasks)
        self._load_multilingual = False
        self._custom_tasks = None
        self._task_registry = {config.name: config for config in configs}
        self.task_to_configs = self._update_task_configs()


class ProjectPipeline(Pipeline):
    """lighteval's Pipeline, with task loading going through `ProjectRegistry` (same steps as the parent's)."""

    def __init__(self, *, task_configs: list[LightevalTaskConfig], **kwargs):
        self._project_task_configs = task_configs
        super().__init__(**kwargs)

    def _init_tasks_and_requests(self, tasks: str):
        self.registry = ProjectRegistry(tasks, self._project_task_configs)
        self.tasks_dict: dict[str, LightevalTask] = self.registry.load_tasks()
        LightevalTask.load_datasets(self.tasks_dict, self.pipeline_parameters.dataset_loading_processes)
        self.documents_dict = {task.full_name: self._sample_docs(task) for task in self.tasks_dict.values()}
        self.sampling_docs = {}
        for docs in self.documents_dict.values():
            for doc in docs:
                for sampling in doc.sampling_methods:
                    self.sampling_docs.setdefault(sampling, []).append(doc)
        self.evaluation_tracker.task_config_logger.log(self.tasks_dict)

    def _sample_docs(self, task: LightevalTask) -> list:
        """lighteval's seeded shuffle, then --max-samples items taken as whole groups (all rotations of an MMBench
        question, all variants of a DynaMath seed, ...) so that partial runs still apply the group rules."""
        docs = task.get_docs(None)
        max_samples = self.pipeline_parameters.max_samples
        if not max_samples:
            return docs
        return whole_groups(task.name.removeprefix(TASK_PREFIX), docs, max_samples, lambda doc: doc.specific)


@dataclass
class RunConfig:
    model: str = field(metadata={"help": "Local folder or Hub id of a Qwen2.5-VL-style image-text-to-text model."})
    tasks: str = field(
        default="all", metadata={"help": "'all' or comma-separated benchmark names (e.g. mathvista,mme)."}
    )
    output_dir: str = field(default="outputs/eval", metadata={"help": "Where results.json and results.md go."})
    data_dir: str | None = field(default=None, metadata={"help": "Local benchmark Parquet folders (default: Hub)."})
    max_samples: int | None = field(
        default=None,
        metadata={"help": "About this many items per benchmark, whole rule groups (partial, for smoke runs)."},
    )
    max_new_tokens: int = field(default=2048, metadata={"help": "Generation budget per answer (paper: 2048)."})
    batch_size: int = field(default=1, metadata={"help": "Generation batch size."})
    device: str | None = field(default=None, metadata={"help": "cuda or cpu (default: cuda when available)."})
    dtype: str | None = field(default=None, metadata={"help": "Model dtype, e.g. bfloat16 (default: from the model)."})
    min_pixels: int | None = field(
        default=None, metadata={"help": "Image processor min pixels (paper: 1003520 = 1280*28*28; OCRBench 78400)."}
    )
    max_pixels: int | None = field(
        default=None, metadata={"help": "Image processor max pixels (paper: 12845056 = 16384*28*28)."}
    )
    model_name: str | None = field(default=None, metadata={"help": "Name shown in the results table."})
    judge_base_url: str | None = field(
        default=None,
        metadata={"help": "OpenAI-compatible judge URL: grades MM-Vet, extracts unreadable answers elsewhere."},
    )
    judge_model: str | None = field(default=None, metadata={"help": "Judge model name served at judge_base_url."})
    judge_api_key_env: str = field(default="OPENAI_API_KEY", metadata={"help": "Env var with the judge API key."})

    def benchmark_names(self) -> list[str]:
        if self.tasks == "all":
            return list(BENCHMARKS)
        names = [name.strip().removeprefix(TASK_PREFIX) for name in self.tasks.split(",") if name.strip()]
        unknown = [name for name in names if name not in BENCHMARKS]
        if unknown:
            raise ValueError(f"unknown benchmark(s) {unknown}; choose from {list(BENCHMARKS)}")
        return names

    def judge(self) -> JudgeSettings | None:
        if bool(self.judge_base_url) != bool(self.judge_model):
            raise ValueError("--judge-base-url and --judge-model go together")
        if not self.judge_base_url:
            return None
        return JudgeSettings(self.judge_base_url, self.judge_model, api_key_env=self.judge_api_key_env)


def run_evaluation(config: RunConfig) -> dict:
    """Generate with the model on the chosen benchmarks, score them, write results.json and results.md."""
    grad_mode = torch.is_grad_enabled()
    try:
        return _run_evaluation(config)
    finally:
        torch.set_grad_enabled(grad_mode)


def _run_evaluation(config: RunConfig) -> dict:
    names = config.benchmark_names()
    output_dir = Path(config.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    options = TaskOptions(data_dir=config.data_dir, judge=config.judge(), generation_size=config.max_new_tokens)
    task_configs = build_task_configs(names, options)
    device = config.device or ("cuda" if torch.cuda.is_available() else "cpu")
    model_config = VLMTransformersModelConfig(
        model_name=config.model,
        device=device,
        dtype=config.dtype,
        batch_size=config.batch_size,
        generation_parameters=GenerationParameters(temperature=0.0),
    )
    tracker = EvaluationTracker(output_dir=str(output_dir / "lighteval"), save_details=True)
    pipeline = ProjectPipeline(
        task_configs=task_configs,
        tasks=",".join(f"{TASK_PREFIX}{name}|0" for name in names),
        pipeline_parameters=PipelineParameters(
            launcher_type=ParallelismManager.ACCELERATE, max_samples=config.max_samples, bootstrap_iters=0
        ),
        evaluation_tracker=tracker,
        model_config=model_config,
    )
    set_pixel_budget(pipeline.model.processor.image_processor, config.min_pixels, config.max_pixels)
    # lighteval 0.13's sample cache cannot read back VLM responses (ModelResponse(**row) TypeError on the stored
    # token arrays), so generations are not cached: with no cache the model's methods run directly.
    # lighteval joins the model name onto its cache folder, so for a local model the (empty) cache folder it made is
    # inside the model folder: remove it rather than leave it in a checkpoint that may be pushed to the Hub.
    unused_cache_dir = pipeline.model._cache.cache_dir
    pipeline.model._cache = None
    with contextlib.suppress(OSError):
        unused_cache_dir.rmdir()
    pipeline.evaluate()
    pipeline.save_and_push_results()
    aggregated = pipeline.get_results()["results"]

    results = {
        "model": config.model_name or Path(config.model).name or config.model,
        "model_path": config.model,
        "max_samples": config.max_samples,
        "data": config.data_dir or "hub",
        "judge": {"base_url": config.judge_base_url, "model": config.judge_model} if config.judge_base_url else None,
        "benchmarks": {
            name: benchmark_result(name, aggregated[f"{TASK_PREFIX}{name}:0"], partial=bool(config.max_samples))
            for name in names
        },
    }
    results["model_index"] = model_index(results, results["model"])
    write_results(results, output_dir)
    return results


def set_pixel_budget(image_processor, min_pixels: int | None, max_pixels: int | None) -> None:
    """Qwen2.5-VL resizes every image to between min_pixels and max_pixels (the paper's settings differ from the
    processor defaults); lighteval builds the processor itself, so the budget is set on it afterwards."""
    if not (min_pixels or max_pixels):
        return
    size = image_processor.size
    image_processor.size = SizeDict(
        shortest_edge=min_pixels or size.shortest_edge, longest_edge=max_pixels or size.longest_edge
    )


def write_results(results: dict, output_dir: Path) -> None:
    def clean(value):
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    (output_dir / "results.json").write_text(json.dumps(clean(results), indent=2) + "\n")
    (output_dir / "results.md").write_text(markdown_table(results))
    logger.info("wrote %s and %s", output_dir / "results.json", output_dir / "results.md")
