"""Judge calibration: how often the model judge agrees with the grading rules where the rules can decide.

On rule-scorable rows (multiple-choice and fill-in-the-blank) the rule verdict is trustworthy, so those rows make a
labelled test set for the judge. For each sampled row the candidates are:

- the gold answer in equivalent forms (`B`, `(B)`, `Option B`, the option's text; `1,234` / `1234`; ...), kept only
  when the rules accept them;
- answers of other rows of the same question type, kept only when the rules reject them;
- optionally real policy completions of the row (a `predictions.jsonl` keyed by dataset `id` or `row`, or TRL's
  completion logs `completions/completions_*.parquet`, matched to rows by their question text).

Each candidate is graded by the rules (`accuracy_reward`) and by the judge through `JudgeReward.grade`, the code path
and prompt training uses. A judge failure (no grade, an unreachable endpoint) is counted and left out of the agreement
figures, never scored. `report.md`, `report.json`, `candidates.jsonl` and `calibration.png` go to the output folder.
"""

from __future__ import annotations

import json
import logging
import random
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from reward_funcs.answer_format import completion_text
from reward_funcs.calibration_report import agreement, write_report
from reward_funcs.grading import extract_answer, parse_gold, parse_options
from reward_funcs.rewards import JudgeConfig, JudgeReward, accuracy_reward, route

logger = logging.getLogger(__name__)

RULE_TYPES = ("multiple-choice", "fill-in-the-blank")
OUTPUT_FILES = ("report.md", "report.json", "candidates.jsonl", "calibration.png")
# The judge settings training uses unless told otherwise, so a calibration measures the judge the recipes run.
_JUDGE_DEFAULTS = {f.name: f.default for f in fields(JudgeConfig)}
_NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


@dataclass
class CalibrationConfig:
    """`python -m reward_funcs calibrate`: the dataset, the judge, the sample and where the report goes."""

    dataset: str = field(metadata={"help": "A `dataset_builder build` folder, a Hub id, or a .jsonl/.parquet file."})
    judge_base_url: str = field(
        metadata={"help": "OpenAI-compatible base URL of the judge, e.g. http://HOST:8001/v1."}
    )
    judge_model: str = field(metadata={"help": "Model name served at judge_base_url."})
    output_dir: str = field(metadata={"help": "Where report.md, report.json, candidates.jsonl, calibration.png go."})
    config: str | None = field(default="rl", metadata={"help": "Dataset config (the `rl` view of the build)."})
    split: str = field(default="train", metadata={"help": "Dataset split."})
    n: int = field(default=500, metadata={"help": "Rule-scorable rows to sample (fewer if the split has fewer)."})
    positives_per_row: int = field(default=2, metadata={"help": "Equivalent forms of the gold answer per row."})
    negatives_per_row: int = field(default=2, metadata={"help": "Other rows' answers (same type) per row."})
    predictions: list[str] = field(
        default_factory=list,
        metadata={
            "help": "Policy completions to add: JSONL files of {'id' or 'row', 'completion'} for rows of this split, "
            "or TRL completion logs (a run's completions/ folder or its completions_*.parquet files)."
        },
    )
    seed: int = field(default=0, metadata={"help": "Seed of the row sample and of the forms chosen."})
    partial_counts_as: str = field(
        default="incorrect",
        metadata={"help": "How a PARTIAL grade counts against the binary rule verdict: 'incorrect' or 'correct'."},
    )
    judge_api_key_env: str | None = field(
        default=_JUDGE_DEFAULTS["api_key_env"],
        metadata={"help": "Environment variable with the judge API key (never stored)."},
    )
    judge_timeout: float = field(
        default=_JUDGE_DEFAULTS["timeout"], metadata={"help": "Seconds one judge request may take."}
    )
    judge_max_concurrency: int = field(
        default=_JUDGE_DEFAULTS["max_concurrency"], metadata={"help": "Judge requests in flight at once."}
    )
    judge_max_retries: int = field(
        default=_JUDGE_DEFAULTS["max_retries"], metadata={"help": "Retries of a failed judge request."}
    )
    judge_max_tokens: int = field(
        default=_JUDGE_DEFAULTS["max_tokens"], metadata={"help": "Most tokens the judge may write."}
    )
    judge_prompt_version: str = field(
        default=_JUDGE_DEFAULTS["prompt_version"],
        metadata={"help": "Judge prompt reward_funcs/prompts/judge_<v>.txt."},
    )
    overwrite: bool = field(default=False, metadata={"help": "Replace a report already in output_dir."})

    def __post_init__(self):
        if self.partial_counts_as not in ("incorrect", "correct"):
            raise ValueError(f"partial_counts_as must be 'incorrect' or 'correct', got {self.partial_counts_as!r}")
        if self.n < 1 or self.positives_per_row < 0 or self.negatives_per_row < 0:
            raise ValueError("n must be >= 1 and positives_per_row / negatives_per_row >= 0")

    def judge_config(self) -> JudgeConfig:
        return JudgeConfig(
            base_url=self.judge_base_url,
            model=self.judge_model,
            api_key_env=self.judge_api_key_env,
            timeout=self.judge_timeout,
            max_concurrency=self.judge_max_concurrency,
            max_retries=self.judge_max_retries,
            prompt_version=self.judge_prompt_version,
            max_tokens=self.judge_max_tokens,
        )


@dataclass
class Row:
    index: int  # 0-based row of the split
    id: str
    problem: str
    solution: str
    question_type: str


@dataclass
class Candidate:
    row: int
    id: str
    question_type: str
    source: str  # "gold form", "other row", "policy"
    completion: str
    answer: str
    rule: bool | None = None
    judge: float | None = None  # 1 / 0.5 / 0 by tier; None when the judge failed


# ------------------------------------------------------------------------------------------------------ rows


def load_rows(config: CalibrationConfig) -> list[dict]:
    from datasets import load_dataset

    path = Path(config.dataset)
    if path.is_file():
        kind = {".jsonl": "json", ".json": "json", ".parquet": "parquet"}.get(path.suffix)
        if kind is None:
            raise ValueError(f"{path}: a dataset file must be .jsonl, .json or .parquet")
        dataset = load_dataset(kind, data_files=str(path), split="train")
    else:
        dataset = load_dataset(config.dataset, name=config.config, split=config.split)
    missing = [c for c in ("problem", "solution", "question_type") if c not in dataset.column_names]
    if missing:
        raise ValueError(
            f"dataset {config.dataset!r} (config {config.config!r}, split {config.split!r}) lacks the column(s) "
            f"{missing}; calibration reads the `rl` view: problem, solution, question_type (reward_method, id)"
        )
    columns = [c for c in ("id", "problem", "solution", "question_type", "reward_method") if c in dataset.column_names]
    return dataset.select_columns(columns).to_list()


def rule_scorable(records: list[dict]) -> tuple[list[Row], Counter]:
    """The rows the rules can grade, and why the others were left out (counted, by reason)."""
    rows, skipped = [], Counter()
    for index, record in enumerate(records):
        qtype, gold = record.get("question_type"), record.get("solution")
        if qtype not in RULE_TYPES:
            skipped[f"question_type {qtype!r}"] += 1
        elif route(record.get("reward_method"), qtype) != "rule":
            skipped["reward_method model"] += 1
        elif gold is None or not str(gold).strip():
            skipped["no gold answer"] += 1
        else:
            rows.append(Row(index, str(record.get("id", index)), record.get("problem") or "", str(gold), qtype))
    return rows, skipped


# ------------------------------------------------------------------------------------------------ candidates


def _as_completion(answer: str) -> str:
    return f"<think>Checking the image against the question.</think><answer>{answer}</answer>"


def equivalent_forms(row: Row) -> list[str]:
    """Ways of writing the row's gold answer that mean the same; the literal gold first. Not every form is accepted
    by the rules for every gold: the caller keeps those that are."""
    options = parse_options(row.problem) if row.question_type == "multiple-choice" else {}
    gold = parse_gold(row.solution, row.question_type, options or None)
    forms = [gold.answer]
    if gold.kind == "choice":
        letters = ", ".join(gold.letters)
        forms += [f"({letters})", f"Option {letters}", letters.lower()]
        if len(gold.letters) == 1 and dict(gold.options).get(gold.letters[0]):
            text = dict(gold.options)[gold.letters[0]]
            forms += [f"{letters}. {text}", text]
    elif gold.kind == "number" and gold.number is not None:
        value = gold.number.value
        forms += [f"{value:g}", f"{value:,.{gold.number.decimals}f}", f"${gold.answer}$"]
        if value.is_integer() and 0 <= value < len(_NUMBER_WORDS) and not gold.number.unit:
            forms.append(_NUMBER_WORDS[int(value)])
    elif gold.kind == "yes_no":
        forms += [gold.answer.lower(), f"{gold.answer.capitalize()}."]
    elif gold.kind == "math":
        forms += [f"${gold.answer}$", f"\\({gold.answer}\\)"]
    else:
        forms += [gold.answer.upper(), f"{gold.answer}."]
    return list(dict.fromkeys(form for form in forms if form))


def _rule_verdicts(candidates: list[Candidate], rows_by_index: dict[int, Row]) -> list[bool | None]:
    rows = [rows_by_index[c.row] for c in candidates]
    scores = accuracy_reward(
        [c.completion for c in candidates],
        solution=[r.solution for r in rows],
        question_type=[r.question_type for r in rows],
        problem=[r.problem for r in rows],
    )
    return [None if score is None else score == 1.0 for score in scores]


def build_candidates(
    rows: list[Row], config: CalibrationConfig, rng: random.Random
) -> tuple[list[Candidate], Counter]:
    """Gold forms the rules accept and other rows' answers the rules reject, `positives_per_row` and
    `negatives_per_row` per row. Returns the candidates and the counts of forms/answers dropped (by reason)."""
    by_index = {row.index: row for row in rows}
    by_type: dict[str, list[Row]] = {}
    for row in rows:
        by_type.setdefault(row.question_type, []).append(row)
    dropped: Counter = Counter()
    candidates = []
    for row in rows:
        forms = equivalent_forms(row)
        trial = [Candidate(row.index, row.id, row.question_type, "gold form", _as_completion(f), f) for f in forms]
        accepted = [c for c, ok in zip(trial, _rule_verdicts(trial, by_index)) if ok]
        dropped["gold form the rules reject"] += len(trial) - len(accepted)
        chosen = accepted[:1] + rng.sample(accepted[1:], min(len(accepted) - 1, config.positives_per_row - 1))
        candidates += chosen[: config.positives_per_row]

        others = list(dict.fromkeys(o.solution for o in by_type[row.question_type] if o.solution != row.solution))
        rng.shuffle(others)
        others = others[: 4 * config.negatives_per_row + 4]  # enough to survive the rule check, without O(n^2) grading
        trial = [Candidate(row.index, row.id, row.question_type, "other row", _as_completion(o), o) for o in others]
        rejected = [c for c, ok in zip(trial, _rule_verdicts(trial, by_index)) if ok is False]
        candidates += rejected[: config.negatives_per_row]
        if len(rejected) < config.negatives_per_row:
            dropped["rows short of negatives"] += 1
    return candidates, dropped


def _prompt_question(prompt) -> str:
    """The user's text of a logged conversational prompt (TRL logs prompts with the images stripped)."""
    if isinstance(prompt, str):
        return prompt
    users = [m for m in (prompt or []) if isinstance(m, dict) and m.get("role") == "user"]
    return completion_text(users[-1:]) if users else ""


def read_policy_completions(paths: list[str], rows: list[Row], all_records: list[dict]) -> tuple[list, Counter]:
    """(row, completion) pairs from predictions JSONL files or TRL completion logs; unmatched lines are counted."""
    import pyarrow.parquet as pq

    sampled = {row.index: row for row in rows}
    by_id = {str(record.get("id", i)): i for i, record in enumerate(all_records)}
    by_question = {(record.get("problem") or "").strip(): i for i, record in enumerate(all_records)}
    pairs, skipped = [], Counter()

    def add(index: int | None, completion: str, where: str) -> None:
        if index is None:
            skipped[f"{where}: no matching row"] += 1
        elif index not in sampled:
            skipped["row not sampled or not rule-scorable"] += 1
        else:
            pairs.append((index, completion))

    for path in map(Path, paths):
        files = sorted(path.glob("completions_*.parquet")) if path.is_dir() else [path]
        if not files:
            raise ValueError(f"{path}: no completions_*.parquet in this folder (TRL writes them with log_completions)")
        for file in files:
            if file.suffix == ".parquet":
                for logged in pq.read_table(file, columns=["prompt", "completion"]).to_pylist():
                    question = _prompt_question(logged["prompt"]).strip()
                    add(by_question.get(question), completion_text(logged["completion"]), file.name)
                continue
            for line_no, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
                if not line.strip():
                    continue
                where = f"{file}:{line_no}"
                try:
                    item = json.loads(line)
                except json.JSONDecodeError as err:
                    raise ValueError(f"{where}: not JSON ({err})") from err
                if "task" in item:
                    raise ValueError(
                        f"{where}: a line of `eval_tasks run` predictions (task {item['task']!r}) refers to "
                        "benchmark rows, not to this dataset; give {'id' or 'row', 'completion'} lines of this split"
                    )
                if not isinstance(item.get("completion"), str):
                    raise ValueError(f"{where}: field 'completion' missing or not a string")
                index = by_id.get(str(item["id"])) if "id" in item else item.get("row")
                add(index if isinstance(index, int) else None, item["completion"], str(file))
    return pairs, skipped


def policy_candidates(pairs: list, rows: list[Row]) -> tuple[list[Candidate], int]:
    """Candidates from policy completions, graded by the rules; those without a final answer are left out (the judge
    is never asked about them), and their number returned."""
    by_index = {row.index: row for row in rows}
    candidates, no_answer = [], 0
    for index, completion in pairs:
        answer = extract_answer(completion)
        if not answer:
            no_answer += 1
            continue
        row = by_index[index]
        candidates.append(Candidate(row.index, row.id, row.question_type, "policy", completion, answer))
    return candidates, no_answer


# ------------------------------------------------------------------------------------------------------- run


def sample_rows(rows: list[Row], n: int, rng: random.Random) -> list[Row]:
    """`n` rows stratified by question type (proportional, every type present when n allows), in dataset order."""
    by_type: dict[str, list[Row]] = {}
    for row in rows:
        by_type.setdefault(row.question_type, []).append(row)
    ranked = []
    for group in by_type.values():
        rng.shuffle(group)
        ranked += [(rank / len(group), row.index, row) for rank, row in enumerate(group)]
    return sorted((row for *_, row in sorted(ranked, key=lambda item: item[:2])[:n]), key=lambda row: row.index)


def ask_judge(candidates: list[Candidate], rows_by_index: dict[int, Row], judge: JudgeReward) -> int:
    """Grade every candidate through the judge reward's own batch path; returns the requests sent."""
    rows = [rows_by_index[c.row] for c in candidates]
    batch = judge.grade([r.problem for r in rows], [r.solution for r in rows], [c.answer for c in candidates])
    for candidate, score in zip(candidates, batch.scores):
        candidate.judge = score
    return batch.requests


def prepare_output_dir(config: CalibrationConfig) -> Path:
    output_dir = Path(config.output_dir)
    existing = [name for name in OUTPUT_FILES if (output_dir / name).exists()]
    if existing and not config.overwrite:
        raise FileExistsError(f"{output_dir} already holds a calibration report ({existing}); pass --overwrite")
    output_dir.mkdir(parents=True, exist_ok=True)
    return output_dir


def run_calibration(config: CalibrationConfig, judge: JudgeReward | None = None) -> dict:
    """Build the candidates, grade them by rule and by judge, write the report; returns report.json's content."""
    output_dir = prepare_output_dir(config)
    records = load_rows(config)
    rows, skipped_rows = rule_scorable(records)
    if not rows:
        raise ValueError(f"dataset {config.dataset!r}: no rule-scorable row (skipped: {dict(skipped_rows)})")
    rng = random.Random(config.seed)
    scorable = len(rows)
    rows = sample_rows(rows, config.n, rng)
    candidates, dropped = build_candidates(rows, config, rng)
    pairs, skipped_policy = read_policy_completions(config.predictions, rows, records)
    policy, no_answer = policy_candidates(pairs, rows)
    candidates += policy
    rows_by_index = {row.index: row for row in rows}
    for candidate, verdict in zip(candidates, _rule_verdicts(candidates, rows_by_index)):
        candidate.rule = verdict
    judge = judge or JudgeReward(config.judge_config())
    try:
        requests = ask_judge(candidates, rows_by_index, judge)
    finally:
        judge.close()

    report = {
        "dataset": config.dataset,
        "config": config.config,
        "split": config.split,
        "judge": {"base_url": config.judge_base_url, "model": config.judge_model, "requests": requests},
        "prompt_version": config.judge_prompt_version,
        "partial_counts_as": config.partial_counts_as,
        "seed": config.seed,
        "rows": {"sampled": len(rows), "rule_scorable": scorable, "total": len(records)},
        "skipped_rows": dict(skipped_rows),
        "dropped_candidates": dict(dropped),
        "policy": {"completions": len(pairs), "no_final_answer": no_answer, "skipped": dict(skipped_policy)},
        **agreement(candidates, config.partial_counts_as),
    }
    with open(output_dir / "candidates.jsonl", "w", encoding="utf-8") as out:
        for candidate in candidates:
            out.write(json.dumps(asdict(candidate), ensure_ascii=False) + "\n")
    write_report(report, output_dir)
    return report
