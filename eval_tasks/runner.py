# ruff: noqa: E402  (lighteval is imported after the grad mode is recorded; see below)
"""`python -m eval_tasks run`: lighteval's Pipeline in-process, with only this project's tasks loaded.

lighteval's `Registry` always imports every built-in task module (some of which reach the Hub at import time, which
fails offline); `ProjectRegistry` is built from this project's task configs alone, and `ProjectPipeline` uses it.
Generation is the project's own lighteval model (`eval_tasks.model`: Qwen-style prompts; `--backend transformers`,
`endpoint` or `vllm`), which writes `OUT/predictions.jsonl` as it goes; a rerun into the same folder generates only
what is missing or failed. Items that failed are counted per benchmark (`n_failed`) and never scored.
"""

from __future__ import annotations

import json
import logging
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import torch

# lighteval's transformers model module switches autograd off process-wide when imported (and again when a model
# loads). Evaluation needs no gradients, but a process that imports the runner and later trains (a notebook, the test
# suite) must not inherit that: the grad mode is put back after the import and after each evaluation.
_GRAD_MODE_BEFORE_LIGHTEVAL = torch.is_grad_enabled()

from lighteval.logging.evaluation_tracker import EvaluationTracker
from lighteval.pipeline import ParallelismManager, Pipeline, PipelineParameters
from lighteval.tasks.lighteval_task import LightevalTask, LightevalTaskConfig
from lighteval.tasks.registry import Registry

from eval_tasks.backends import BACKENDS
from eval_tasks.backends.messages import PAPER_MAX_PIXELS, PAPER_MIN_PIXELS
from eval_tasks.benchmarks import resolve_names
from eval_tasks.judge import JudgeSettings
from eval_tasks.model import WeThinkModel, WeThinkModelConfig, benchmark_of
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
        row_filters = {}
        for name, task in self.tasks_dict.items():  # filtered below, after the rows are numbered
            row_filters[name], task.dataset_filter = task.dataset_filter, None
        LightevalTask.load_datasets(self.tasks_dict, self.pipeline_parameters.dataset_loading_processes)
        for name, task in self.tasks_dict.items():
            number_rows(task, row_filters[name])
        self.documents_dict = {task.full_name: self._sample_docs(task) for task in self.tasks_dict.values()}
        self.sampling_docs = {}
        for docs in self.documents_dict.values():
            for doc in docs:
                for sampling in doc.sampling_methods:
                    self.sampling_docs.setdefault(sampling, []).append(doc)
        self.evaluation_tracker.task_config_logger.log(self.tasks_dict)

    def _sample_docs(self, task: LightevalTask) -> list:
        """lighteval's seeded shuffle, then --max-samples items taken as whole groups (all rotations of an MMBench
        question, all variants of a DynaMath seed, ...) so that partial runs still apply the group rules.

        Each doc's id is its row (see `number_rows`), the key of predictions.jsonl."""
        docs = task.get_docs(None)
        max_samples = self.pipeline_parameters.max_samples
        if not max_samples:
            return docs
        return whole_groups(task.name.removeprefix(TASK_PREFIX), docs, max_samples, lambda doc: doc.specific)

    def _compute_metrics(self, sampling_method_responses: dict):
        """lighteval's metric step over the items that were generated: failed items are never scored."""
        failed = set(self.model.failed)
        for method, responses in sampling_method_responses.items():
            pairs = [
                (doc, response)
                for doc, response in zip(self.sampling_docs[method], responses)
                if (benchmark_of(doc), int(doc.id)) not in failed
            ]
            self.sampling_docs[method] = [doc for doc, _ in pairs]
            sampling_method_responses[method] = [response for _, response in pairs]
        if not any(sampling_method_responses.values()):
            raise NothingGenerated(f"every item failed ({len(failed)}); see predictions.jsonl for the errors")
        super()._compute_metrics(sampling_method_responses)


ROW_COLUMN = "__wethink_row"


def number_rows(task: LightevalTask, row_filter) -> None:
    """Give every doc of the task its row: the 0-based position in the task's data (its evaluation splits one after
    another, rows the benchmark's filter leaves out included), as `python -m eval_tasks score --data` counts rows.

    lighteval numbers docs within a split after filtering; so the rows are numbered in a column first, filtered
    after, and the formatter is wrapped to carry the column's value into `Doc.id`."""
    offset = 0
    for split in task.evaluation_split:
        rows = task.dataset[split]
        numbered = rows.add_column(ROW_COLUMN, list(range(offset, offset + len(rows))))
        offset += len(rows)
        task.dataset[split] = numbered.filter(row_filter) if row_filter is not None else numbered
    formatter = task.formatter

    def numbered_formatter(line: dict, task_name: str):
        row = line.pop(ROW_COLUMN)
        doc = formatter(line, task_name)
        if doc is not None:
            rows_of_docs[id(doc)] = row  # lighteval sets doc.id after this returns
        return doc

    rows_of_docs: dict[int, int] = {}
    task.formatter = numbered_formatter
    for doc in task.eval_docs():
        doc.id = str(rows_of_docs[id(doc)])


class NothingGenerated(RuntimeError):
    """No item could be generated, so lighteval has nothing to score (it cannot aggregate an empty run)."""


@dataclass
class RunConfig:
    model: str = field(
        metadata={"help": "Local folder or Hub id of a Qwen2.5-VL-style model (with --backend endpoint: its name)."}
    )
    tasks: str = field(
        default="all",
        metadata={
            "help": "'all' (the paper's columns + MME), benchmark names (e.g. mathvista,mme) or both "
            "(all,synthetic_heldout: the demo's held-out split, read from --data-dir)."
        },
    )
    output_dir: str = field(
        default="outputs/eval", metadata={"help": "Where predictions.jsonl, results.json and results.md go."}
    )
    data_dir: str | None = field(default=None, metadata={"help": "Local benchmark Parquet folders (default: Hub)."})
    max_samples: int | None = field(
        default=None,
        metadata={"help": "About this many items per benchmark, whole rule groups (partial, for smoke runs)."},
    )
    max_new_tokens: int = field(default=2048, metadata={"help": "Generation budget per answer (paper: 2048)."})
    backend: str = field(
        default="transformers",
        metadata={
            "help": "transformers (in process), endpoint (OpenAI-compatible server) or vllm (engine in process).",
            "choices": list(BACKENDS),
        },
    )
    overwrite: bool = field(
        default=False, metadata={"help": "Discard predictions of another model/task set found in --output-dir."}
    )
    min_pixels: int = field(
        default=PAPER_MIN_PIXELS,
        metadata={"help": "Image pixel floor (paper: 1280*28*28); OCRBench keeps its own 10*10*28*28."},
    )
    max_pixels: int = field(default=PAPER_MAX_PIXELS, metadata={"help": "Image pixel ceiling (paper: 16384*28*28)."})
    batch_size: int = field(default=1, metadata={"help": "transformers: generation batch size."})
    device: str | None = field(default=None, metadata={"help": "transformers: cuda or cpu (default: cuda if any)."})
    dtype: str | None = field(default=None, metadata={"help": "transformers/vllm: model dtype, e.g. bfloat16."})
    base_url: list[str] = field(
        default_factory=list,
        metadata={
            "help": "endpoint: OpenAI-compatible base URL(s), e.g. http://localhost:8000/v1; several spread load."
        },
    )
    served_model_name: str | None = field(
        default=None, metadata={"help": "endpoint: the model name the server serves (default: --model)."}
    )
    concurrency: int = field(default=16, metadata={"help": "endpoint: requests in flight per base URL."})
    api_key_env: str = field(
        default="OPENAI_API_KEY", metadata={"help": "endpoint: environment variable holding the API key."}
    )
    request_timeout: float = field(default=600.0, metadata={"help": "endpoint: seconds per request."})
    max_retries: int = field(
        default=5, metadata={"help": "endpoint: retries per item (with backoff) before it fails."}
    )
    tensor_parallel: int = field(default=1, metadata={"help": "vllm: GPUs per engine."})
    data_parallel: int = field(default=1, metadata={"help": "vllm: engines (each on --tensor-parallel GPUs)."})
    gpu_memory_utilization: float = field(default=0.9, metadata={"help": "vllm: share of GPU memory per engine."})
    model_name: str | None = field(default=None, metadata={"help": "Name shown in the results table."})
    judge_base_url: str | None = field(
        default=None,
        metadata={"help": "OpenAI-compatible judge URL: grades MM-Vet, extracts unreadable answers elsewhere."},
    )
    judge_model: str | None = field(default=None, metadata={"help": "Judge model name served at judge_base_url."})
    judge_api_key_env: str = field(default="OPENAI_API_KEY", metadata={"help": "Env var with the judge API key."})

    def benchmark_names(self) -> list[str]:
        return resolve_names(self.tasks)

    def judge(self) -> JudgeSettings | None:
        return JudgeSettings.from_flags(self.judge_base_url, self.judge_model, self.judge_api_key_env)


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
    model = WeThinkModel(model_config(config, names))
    try:
        pipeline = ProjectPipeline(
            task_configs=task_configs,
            tasks=",".join(f"{TASK_PREFIX}{name}|0" for name in names),
            pipeline_parameters=PipelineParameters(
                launcher_type=ParallelismManager.NONE, max_samples=config.max_samples, bootstrap_iters=0
            ),
            evaluation_tracker=EvaluationTracker(output_dir=str(output_dir / "lighteval"), save_details=True),
            model=model,
        )
        pipeline.evaluate()
        scored = True
    except NothingGenerated as err:
        logger.error("%s", err)
        scored = False
    finally:
        model.cleanup()
    aggregated = {}
    if scored:
        pipeline.save_and_push_results()
        aggregated = pipeline.get_results()["results"]
    failed = Counter(task for task, _ in model.failed)
    results = {
        "model": config.model_name or Path(config.model).name or config.model,
        "model_path": config.model,
        "max_samples": config.max_samples,
        "data": config.data_dir or "hub",
        "judge": {"base_url": config.judge_base_url, "model": config.judge_model} if config.judge_base_url else None,
        "generation": {"backend": config.backend, "generated": model.generated, "resumed": model.resumed,
                       "failed": sum(failed.values())},
        "benchmarks": {name: _benchmark_entry(name, aggregated, failed[name], config) for name in names},
    }  # fmt: skip
    results["model_index"] = model_index(results, results["model"])
    write_results(results, output_dir)
    return results


def model_config(config: RunConfig, names: list[str]) -> WeThinkModelConfig:
    return WeThinkModelConfig(
        model_name=config.model,
        backend=config.backend,
        output_dir=config.output_dir,
        overwrite=config.overwrite,
        run_meta=run_meta(config, names),
        max_new_tokens=config.max_new_tokens,
        min_pixels=config.min_pixels,
        max_pixels=config.max_pixels,
        batch_size=config.batch_size,
        device=config.device,
        dtype=config.dtype,
        base_urls=config.base_url,
        served_model_name=config.served_model_name,
        concurrency=config.concurrency,
        api_key_env=config.api_key_env,
        request_timeout=config.request_timeout,
        max_retries=config.max_retries,
        tensor_parallel=config.tensor_parallel,
        data_parallel=config.data_parallel,
        gpu_memory_utilization=config.gpu_memory_utilization,
    )


def run_meta(config: RunConfig, names: list[str]) -> dict:
    """What a predictions file belongs to: the same model, tasks, data and generation settings (not the backend:
    the same prompt reaches the model whichever backend runs it)."""
    return {
        "model": config.model,
        "tasks": names,
        "data": config.data_dir or "hub",
        "max_new_tokens": config.max_new_tokens,
        "min_pixels": config.min_pixels,
        "max_pixels": config.max_pixels,
    }


def _benchmark_entry(name: str, aggregated: dict, n_failed: int, config: RunConfig) -> dict:
    """The benchmark's result; failed items make it partial (scored on fewer items, kept out of the model-index)."""
    metrics = aggregated.get(f"{TASK_PREFIX}{name}:0")
    if metrics is None:  # every item failed: nothing was scored
        counts = dict.fromkeys(("n", "n_rule", "n_judge", "n_unparsed", "n_needs_judge", "n_judge_failed"), 0)
        return {"column": BENCHMARKS[name].column, "score": None, "status": "failed", **counts, "n_failed": n_failed}
    entry = benchmark_result(name, metrics, partial=bool(config.max_samples) or n_failed > 0)
    entry["n_failed"] = n_failed
    return entry


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
