"""`python -m eval_tasks score`: score saved predictions offline (no model, no images), with the same scoring path
as `run`.

    python -m eval_tasks score --task mathvista --data testmini.parquet --predictions preds.jsonl --output-dir OUT

`--data` holds the benchmark's rows in its Hub schema (`.jsonl`, `.json`, `.parquet`) or an OpenCompass/VLMEvalKit
`.tsv` (the base64 `image` column is not needed); a benchmark with several splits takes them from a `split` column
(DynaMath's `sample_variant1..10` in one file). `--predictions` is JSONL, one `{"row": i, "completion": "..."}` per
line, `i` the 0-based row of `--data`; a line with a `task` other than `--task` is skipped (and counted), so a run's
`predictions.jsonl` of several tasks can be scored task by task. It writes `OUT/results.json` (the runner's format:
`benchmarks.<task>.score`, the counts, the metrics, plus what was wrong with the predictions), `OUT/results.md` and
`OUT/items.jsonl` (row, correct, status, extracted).

Bad input never passes silently: a row missing a column the task needs stops with the file, row and column; a
prediction for a row that does not exist, a second prediction for a row, and a row without a prediction are counted
and named in `results.json` (`predictions`), and a row without a prediction is scored as unparsed.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from eval_tasks.benchmarks import BENCHMARKS, TASK_PREFIX
from eval_tasks.data_files import DataFileError, read_rows
from eval_tasks.judge import JudgeSettings
from eval_tasks.results import benchmark_result, finite_json, markdown_table, model_index

logger = logging.getLogger(__name__)

MAX_LISTED_ROWS = 20  # rows named per problem in results.json (all are counted)
ITEM_FIELDS = ("row", "correct", "status", "extracted")


@dataclass
class ScoreArguments:
    task: str = field(metadata={"help": f"Benchmark to score: one of {', '.join(BENCHMARKS)}."})
    data: str = field(metadata={"help": "Benchmark rows: Hub-schema .jsonl/.json/.parquet, or a VLMEvalKit .tsv."})
    predictions: str = field(metadata={"help": 'JSONL, one {"row": i, "completion": "..."} per line.'})
    output_dir: str = field(default="outputs/score", metadata={"help": "Where results.json and items.jsonl go."})
    model_name: str | None = field(default=None, metadata={"help": "Name in results (default: predictions file)."})
    judge_base_url: str | None = field(
        default=None, metadata={"help": "OpenAI-compatible judge: grades MM-Vet, extracts unreadable answers."}
    )
    judge_model: str | None = field(default=None, metadata={"help": "Judge model name served at judge_base_url."})
    judge_api_key_env: str = field(default="OPENAI_API_KEY", metadata={"help": "Env var with the judge API key."})

    def judge(self) -> JudgeSettings | None:
        return JudgeSettings.from_flags(self.judge_base_url, self.judge_model, self.judge_api_key_env)


@dataclass
class Predictions:
    """Completions by data row, and what the file held besides (all counted, none silently dropped)."""

    completions: dict[int, str | None] = field(default_factory=dict)
    duplicate_rows: list[int] = field(default_factory=list)  # a second line for a row (the first one is used)
    other_task_lines: int = 0


def read_predictions(path: str | Path, task: str) -> Predictions:
    """The predictions of `task` in a JSONL file; a line that is not a prediction names the file and line."""
    path = Path(path)
    result = Predictions()
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                line_task = entry.get("task")
                row, completion = entry["row"], entry["completion"]
                if isinstance(row, bool) or not isinstance(row, int):
                    raise TypeError(f"row {row!r} is not an integer")
                if completion is not None and not isinstance(completion, str):
                    raise TypeError("completion is not a string")
            except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as error:
                detail = f"missing field {error}" if isinstance(error, KeyError) else str(error)
                raise DataFileError(f"{path}: line {number}: not a prediction ({detail})") from error
            if line_task is not None and str(line_task).removeprefix(TASK_PREFIX) != task:
                result.other_task_lines += 1
            elif row in result.completions:
                result.duplicate_rows.append(row)
            else:
                result.completions[row] = completion
    return result


def score_predictions(
    task: str,
    rows: list[dict],
    completions_by_row: dict[int, str | None],
    judge: JudgeSettings | None = None,
    *,
    where: str = "",
) -> dict:
    """Score completions of `task` for `rows` (Hub schema; `completions_by_row` keyed by 0-based row).

    Rows the benchmark does not evaluate (its row filter: MathVerse keeps Vision Only, HallusionBench the rows with
    a figure) are skipped. A row without a completion (or with None: a failed generation) is scored as unparsed.
    The result is "partial" (kept out of the model-index) when a completion is missing or fewer rows than the full
    set were scored.
    Returns {"entry": the results.json entry of the task, "items": one dict per scored row}; the entry's
    `predictions` counts and names missing, out-of-range and filtered-row predictions.
    """
    benchmark = BENCHMARKS[task]
    records, missing, filtered = [], [], []
    for index, row in enumerate(rows):
        if benchmark.row_filter is not None and not benchmark.row_filter(row):
            filtered.append(index)
            continue
        item = benchmark.read_item(row, where or task, index)
        completion = completions_by_row.get(index)
        if completion is None:
            missing.append(index)
        scored = benchmark.score(completion or "", item)
        scored["row"] = index
        records.append(scored)
    aggregated = benchmark.score_corpus(records, judge)
    expected = benchmark.expected_size(aggregated)
    entry = benchmark_result(task, aggregated, partial=bool(missing) or expected not in (None, len(records)))
    out_of_range = sorted(r for r in completions_by_row if not 0 <= r < len(rows))
    filtered_with_prediction = [r for r in filtered if r in completions_by_row]
    entry["predictions"] = {
        **_listed("missing", missing),
        **_listed("out_of_range", out_of_range),
        **_listed("for_filtered_rows", filtered_with_prediction),
        "n_rows": len(rows),
        "n_filtered_rows": len(filtered),
    }
    items = [{key: r.get(key) for key in ITEM_FIELDS} | _flags(r, missing) for r in records]
    return {"entry": entry, "items": items}


def _listed(name: str, rows: list[int]) -> dict:
    return {f"n_{name}": len(rows), f"{name}_rows": rows[:MAX_LISTED_ROWS]}


def _flags(record: dict, missing: list[int]) -> dict:
    flags = {"unwinnable": True} if record.get("unwinnable") else {}
    if record["row"] in missing:
        flags["no_prediction"] = True
    return flags


def main(args: ScoreArguments) -> dict:
    """Read, score and write OUT/results.json, OUT/results.md, OUT/items.jsonl; returns the results."""
    task = args.task.removeprefix(TASK_PREFIX)
    if task not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {args.task!r}; choose from {list(BENCHMARKS)}")
    rows = read_rows(args.data)
    predictions = read_predictions(args.predictions, task)
    scored = score_predictions(task, rows, predictions.completions, args.judge(), where=args.data)
    entry = scored["entry"]
    entry["predictions"].update(
        **_listed("duplicate", predictions.duplicate_rows), n_other_task_lines=predictions.other_task_lines
    )
    _warn(task, entry["predictions"])
    results = {
        "model": args.model_name or Path(args.predictions).stem,
        "max_samples": None,
        "data": args.data,
        "predictions": args.predictions,
        "judge": {"base_url": args.judge_base_url, "model": args.judge_model} if args.judge_base_url else None,
        "benchmarks": {task: entry},
    }
    results["model_index"] = model_index(results, results["model"])
    output_dir = Path(args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "results.json").write_text(json.dumps(finite_json(results), indent=2) + "\n")
    (output_dir / "results.md").write_text(markdown_table(results))
    with (output_dir / "items.jsonl").open("w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(item) + "\n" for item in scored["items"])
    return results


def _warn(task: str, problems: dict) -> None:
    for name in ("missing", "out_of_range", "duplicate", "for_filtered_rows"):
        if problems.get(f"n_{name}"):
            logger.warning(
                "%s: %d predictions %s (rows %s%s)",
                task,
                problems[f"n_{name}"],
                name.replace("_", " "),
                problems[f"{name}_rows"],
                ", ..." if problems[f"n_{name}"] > MAX_LISTED_ROWS else "",
            )
