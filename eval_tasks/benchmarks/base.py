"""The `Benchmark` config every benchmark file fills in, and the lighteval glue (metric, task config) built from it.

A benchmark file (`eval_tasks/benchmarks/<name>.py`) defines, for rows in its Hub schema:
`item(line) -> dict` (what scoring needs: gold, options, group keys; no images), `prompt_fn(line, task_name) -> Doc`
(lighteval's prompt function: the question/options prompt, the images, `Doc.specific = item(line)`),
`score(completion, item) -> record`, `aggregate(records) -> metrics`, optionally a `group_key(item)` (items a
dataset-level rule scores together), `fixture_rows(rng, n)` (small generated rows in the same schema), then
`BENCHMARK = Benchmark(...)` and, at the bottom, `TASKS_TABLE` as in lighteval's own task files.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lighteval.metrics.metrics_corpus import CorpusLevelComputation
from lighteval.metrics.metrics_sample import SampleLevelComputation
from lighteval.metrics.utils.metric_utils import CorpusLevelMetric
from lighteval.tasks.lighteval_task import LightevalTaskConfig
from lighteval.tasks.requests import Doc, SamplingMethod

from eval_tasks.data_files import local_dataset
from eval_tasks.judge import JudgeSettings, judge_mmvet, judge_unparsed
from reward_funcs.answer_format import SYSTEM_PROMPT

TASK_PREFIX = "wethink_"
GENERATION_SIZE = 2048  # max_new_tokens of the reported numbers
MCQ_INSTRUCTION = "Please select the correct answer from the options above."
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
REFERENCE_MODELS = ("WeThink-VL-7B", "Qwen2.5-VL-7B")  # OpenCompass leaderboards 2025-05-30 (paper Table 1)


class RowError(ValueError):
    """A data row the benchmark cannot read; the message names the file (or benchmark), row and column."""


def mcq_prompt(question: str, options: dict[str, str], hint: str | None = None) -> str:
    """VLMEvalKit's multiple-choice layout (ImageMCQDataset.build_prompt)."""
    prompt = f"Hint: {hint}\n" if hint else ""
    prompt += f"Question: {question}\n"
    if options:
        prompt += "Options:\n" + "".join(f"{letter}. {text}\n" for letter, text in options.items())
        prompt += MCQ_INSTRUCTION
    return prompt.rstrip("\n")


def make_doc(task_name: str, query: str, images: list, item: dict, *, system_prompt: bool = True) -> Doc:
    gold = item["answer"]
    return Doc(
        task_name=task_name,
        query=query,
        choices=[str(gold[0] if isinstance(gold, list) else gold)],
        gold_index=0,
        images=[image.convert("RGB") if image.mode != "RGB" else image for image in images if image is not None],
        specific=item,
        instruction=SYSTEM_PROMPT if system_prompt else None,
    )


@dataclass(frozen=True)
class Benchmark:
    name: str  # short key; the task is f"wethink_{name}"
    column: str  # the paper's column header
    position: int  # place in the paper's column order (reasoning leaderboard, then general; MME last)
    hub_repo: str
    hub_subset: str
    splits: tuple[str, ...]
    size: int  # items in the full evaluation set
    item: Callable[[dict], dict]
    prompt_fn: Callable[[dict, str], Doc]
    score: Callable[[str, dict], dict]
    aggregate: Callable[[list[dict]], dict]
    fixture_rows: Callable
    group_key: Callable[[dict], object] | None = None
    row_filter: Callable[[dict], bool] | None = None  # rows of the split that belong to the benchmark
    needs_judge: bool = False  # only a judge can score it (MM-Vet)
    judge_extracts: bool = True  # with a judge configured, it extracts answers the rules could not read
    metric_name: str = "accuracy"
    reference: dict[str, float] = field(default_factory=dict)  # model -> leaderboard score
    # Metric key of the figure the reference toolkit's own rule gives, where a deliberate choice here differs.
    reference_rule_metric: str | None = None
    # (column label, reference cells comparable) from the aggregate; default: (column, True).
    label: Callable[[dict], tuple[str, bool]] | None = None
    # Full-set size by the aggregate, where the data may be another release than the Hub default's (MMBench v1.1).
    size_of: Callable[[dict], int | None] | None = None
    moved_from: str | None = None  # the Hub id before the repo moved (the old id redirects)
    # What decontamination compares with training items: the question text and the image column(s).
    question_column: str = "question"
    image_columns: tuple[str, ...] = ("image",)
    # One of the paper's columns (or MME, the usual extra): covered by `--tasks all`, `eval_tasks fixtures`, the
    # results table beside the reference rows and the model-index. False: the task runs only when named.
    paper_column: bool = True

    @property
    def task_name(self) -> str:
        return TASK_PREFIX + self.name

    @property
    def hf_filter(self):  # the name lighteval and decontamination use
        return self.row_filter

    @property
    def prompt_function(self):
        return self.prompt_fn

    def read_item(self, line: dict, where: str = "", row: object = None) -> dict:
        """`item(line)`, with a row it cannot read reported as `<where>: row <row>: missing column '<c>'`."""
        try:
            return self.item(line)
        except KeyError as error:
            raise RowError(f"{where or self.name}: row {_row(line, row)}: missing column {error}") from error
        except (ValueError, TypeError, AttributeError, SyntaxError) as error:
            raise RowError(f"{where or self.name}: row {_row(line, row)}: {error}") from error

    def expected_size(self, metrics: dict) -> int | None:
        """Items of the full set the scored data should have; None where it is not known (another release)."""
        return self.size_of(metrics) if self.size_of else self.size

    def column_label(self, metrics: dict) -> tuple[str, bool]:
        return self.label(metrics) if self.label else (self.column, True)

    def score_corpus(self, records: list[dict], judge: JudgeSettings | None = None) -> dict[str, float]:
        """The dataset-level rule over per-item records; with a judge, MM-Vet is graded by it and answers the rules
        could not read elsewhere are extracted by it (then graded by the rules) first."""
        if judge is not None and self.needs_judge:
            judge_mmvet(records, judge)
        if judge is not None and self.judge_extracts:
            judge_unparsed(records, judge, self.score)
        return self.aggregate(records)


def _row(line: dict, row: object) -> object:
    return row if row is not None else line.get("__index", "?")


def prompt_with_context(benchmark: Benchmark, line: dict, task_name: str = "") -> Doc:
    """The benchmark's prompt function; a row it cannot read is reported with the benchmark, row and column."""
    benchmark.read_item(line)  # raises RowError naming the row and column
    return benchmark.prompt_fn(line, task_name)


class BenchmarkItemScore(SampleLevelComputation):
    """Per item: the benchmark's record (verdict, status, group keys) from the raw generated text."""

    def __init__(self, benchmark: Benchmark):
        self.benchmark = benchmark

    def compute(self, doc: Doc, model_response, **kwargs) -> dict:
        return self.benchmark.score(model_response.text[0], doc.specific)


class BenchmarkAggregate(CorpusLevelComputation):
    """Over the corpus: `Benchmark.score_corpus` (judge steps, then the benchmark's dataset-level rule)."""

    def __init__(self, benchmark: Benchmark, judge: JudgeSettings | None = None):
        self.benchmark = benchmark
        self.judge = judge

    def compute_corpus(self, items: list[dict]) -> dict[str, float]:
        return self.benchmark.score_corpus(items, self.judge)


def benchmark_metric(benchmark: Benchmark, judge: JudgeSettings | None = None) -> CorpusLevelMetric:
    return CorpusLevelMetric(
        metric_name=benchmark.task_name,
        higher_is_better=True,
        category=SamplingMethod.GENERATIVE,
        sample_level_fn=BenchmarkItemScore(benchmark),
        corpus_level_fn=BenchmarkAggregate(benchmark, judge),
    )


@dataclass
class TaskOptions:
    data_dir: str | None = field(
        default=None,
        metadata={"help": "Local data: DIR/<name>/ (Parquet in the Hub schema) or a VLMEvalKit TSV (see README)."},
    )
    judge: JudgeSettings | None = field(default=None, metadata={"help": "Judge endpoint (MM-Vet, unparsed)."})
    generation_size: int = field(default=GENERATION_SIZE, metadata={"help": "max_new_tokens per answer."})


def options_from_env() -> TaskOptions:
    """`WETHINK_EVAL_DATA_DIR`, `WETHINK_JUDGE_BASE_URL`, `WETHINK_JUDGE_MODEL` (for `lighteval --custom-tasks`)."""
    judge = None
    if os.environ.get("WETHINK_JUDGE_BASE_URL") and os.environ.get("WETHINK_JUDGE_MODEL"):
        judge = JudgeSettings(base_url=os.environ["WETHINK_JUDGE_BASE_URL"], model=os.environ["WETHINK_JUDGE_MODEL"])
    return TaskOptions(data_dir=os.environ.get("WETHINK_EVAL_DATA_DIR") or None, judge=judge)


def task_config(benchmark: Benchmark, options: TaskOptions | None = None) -> LightevalTaskConfig:
    options = options or TaskOptions()
    repo, subset = benchmark.hub_repo, benchmark.hub_subset
    if options.data_dir:
        repo, subset = str(local_dataset(benchmark, Path(options.data_dir))), "default"
    elif not repo:
        raise ValueError(
            f"{benchmark.name} has no Hub dataset: pass --data-dir DIR with its data in DIR/{benchmark.name}/ "
            f"(see eval_tasks/benchmarks/{benchmark.name}.py)"
        )
    return LightevalTaskConfig(
        name=benchmark.task_name,
        prompt_function=functools.partial(prompt_with_context, benchmark),
        hf_repo=repo,
        hf_subset=subset,
        hf_filter=benchmark.row_filter,
        hf_avail_splits=list(benchmark.splits),
        evaluation_splits=list(benchmark.splits),
        few_shots_split=None,
        few_shots_select=None,
        generation_size=options.generation_size,
        metrics=[benchmark_metric(benchmark, options.judge)],
        stop_sequence=[],
        version=0,
    )
