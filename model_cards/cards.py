"""Render the Hub model card with huggingface_hub's card classes.

The YAML metadata (base_model, datasets, model-index) is built through `ModelCardData` so it round-trips:
`ModelCard.load(path).data.eval_results` gives back the results written here. The markdown body comes from the Jinja
template beside this file. The dataset card has one renderer, `dataset_builder.card.render_dataset_card` (the
dataset builder sits below this package), re-exported here for `python -m model_cards render --dataset-dir`.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData
from huggingface_hub.repocard_data import model_index_to_eval_results

from dataset_builder.card import render_dataset_card as render_dataset_card  # re-exported: the one dataset card
from dataset_builder.schema import WETHINK_CITATION
from reward_funcs.answer_format import SYSTEM_PROMPT

TEMPLATES_DIR = Path(__file__).parent / "templates"

# Training arguments worth showing on the card, in this order, when the run recorded them.
HYPERPARAMETER_KEYS = (
    "learning_rate",
    "lr_scheduler_type",
    "warmup_ratio",
    "weight_decay",
    "num_train_epochs",
    "max_steps",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "num_generations",
    "max_completion_length",
    "max_length",
    "temperature",
    "top_p",
    "beta",
    "epsilon",
    "loss_type",
    "reward_weights",
    "scale_rewards",
    "gradient_checkpointing",
    "bf16",
    "seed",
)

# The only packages whose classes may be rebuilt when reading a run's training_args.bin (a pickle).
_TRUSTED_PICKLE_PACKAGES = ("transformers.", "trl.", "accelerate.", "peft.")


@dataclass
class TrainingRun:
    """What the card needs from one trainer output folder."""

    output_dir: Path
    hyperparameters: dict[str, Any]
    log_history: list[dict[str, Any]]
    global_step: int | None
    dataset_subset: dict[str, Any] | None = None  # what the recipe's dataset_fraction kept (dataset_subset.json)


def load_training_args(run_dir: str | Path) -> dict[str, Any]:
    """The run's TrainingArguments (`training_args.bin`) as a dict, or {} when the run did not save them.

    The file is a pickle, so it is read with torch's weights-only loader and only classes from the training
    libraries are allowed in; anything else is refused instead of executed.
    """
    import torch

    path = Path(run_dir) / "training_args.bin"
    if not path.is_file():
        return {}
    allowed = []
    for name in torch.serialization.get_unsafe_globals_in_checkpoint(str(path)):
        module, _, attr = name.rpartition(".")
        obj = (
            getattr(importlib.import_module(module), attr, None) if name.startswith(_TRUSTED_PICKLE_PACKAGES) else None
        )
        if not isinstance(obj, type):
            raise ValueError(f"{path}: refusing to unpickle {name!r} (not a training-library class)")
        allowed.append(obj)
    with torch.serialization.safe_globals(allowed):
        args = torch.load(path, weights_only=True)
    return args.to_dict()


def _read_json(path: Path, hint: str):
    """A JSON file the card needs; a missing or broken one is an error naming it (and what to pass instead)."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: {hint}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from err


def load_training_run(run_dir: str | Path) -> TrainingRun:
    """Read `trainer_state.json` (log history) and the training arguments of a finished trainer run."""
    run_dir = Path(run_dir)
    state = _read_json(run_dir / "trainer_state.json", "pass the output_dir of a finished SFT/GRPO run")
    args = load_training_args(run_dir)
    hyperparameters = {key: args[key] for key in HYPERPARAMETER_KEYS if args.get(key) is not None}
    if hyperparameters.get("max_steps", -1) > 0:  # max_steps overrides the epoch count
        hyperparameters.pop("num_train_epochs", None)
    subset_path = run_dir / "dataset_subset.json"
    subset = _read_json(subset_path, "") if subset_path.is_file() else None
    return TrainingRun(run_dir, hyperparameters, state.get("log_history", []), state.get("global_step"), subset)


PAPER_REWARD_WEIGHTS = [0.7, 0.3]  # accuracy (hybrid), format


def recipe_notes(run: TrainingRun) -> list[str]:
    """Sentences for the card when a GRPO run departs from the paper's data or reward weights."""
    notes = []
    if any(key.startswith("rewards/") for entry in run.log_history for key in entry):
        weights = run.hyperparameters.get("reward_weights")
        if weights is None:
            notes.append(
                f"No reward_weights were set (TRL weighs every reward 1.0); the paper's are {PAPER_REWARD_WEIGHTS}."
            )
        elif [float(w) for w in weights] != PAPER_REWARD_WEIGHTS:
            notes.append(
                f"The reward weights {list(weights)} differ from the paper's {PAPER_REWARD_WEIGHTS} (accuracy, format)."
            )
    subset = run.dataset_subset
    if subset and subset.get("dataset_fraction", 1) != 1:
        per_type = ", ".join(f"{t} {c['kept']}/{c['of']}" for t, c in subset.get("question_type", {}).items())
        notes.append(
            f"Trained on {100 * subset['dataset_fraction']:g}% of the training rows ({subset['rows']} of "
            f"{subset['of']}): a subset stratified by question type, seed {subset['seed']} ({per_type})."
        )
    return notes


def load_sweep_table(sweep_dir: str | Path, model_dir: str | Path) -> str:
    """The comparison table of `recipes/sweep.py` (SWEEP_DIR/sweep.md) as a card section; its plot is copied beside
    the card so the image link resolves on the Hub."""
    import shutil

    sweep_dir = Path(sweep_dir)
    table = sweep_dir / "sweep.md"
    if not table.is_file():
        raise FileNotFoundError(f"{table} not found: pass the --output-dir of `python recipes/sweep.py`")
    if (sweep_dir / "sweep.png").is_file():
        shutil.copyfile(sweep_dir / "sweep.png", Path(model_dir) / "sweep.png")
    lines = table.read_text(encoding="utf-8").strip().splitlines()
    return "\n".join("#" + line if line.startswith("## ") else line for line in lines)


def plot_training_curves(run: TrainingRun, output_dir: str | Path, prefix: str) -> list[dict[str, str]]:
    """Write reward, KL and loss curves (PNG) from the log history; return [{"title", "path"}] for the card.

    Each figure groups the logged keys that share a scale: every `reward` / `rewards/<name>/mean` curve in one,
    `kl` in another, `loss` in a third. Keys the run never logged produce no figure.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    groups = {
        "reward": lambda k: k == "reward" or (k.startswith("rewards/") and k.endswith("/mean")),
        "kl": lambda k: k == "kl",
        "loss": lambda k: k == "loss",
    }
    output_dir = Path(output_dir)
    plots = []
    for group, matches in groups.items():
        series = {}
        for entry in run.log_history:
            for key, value in entry.items():
                if matches(key) and "step" in entry:
                    series.setdefault(key, []).append((entry["step"], value))
        if not series:
            continue
        fig, ax = plt.subplots(figsize=(6, 3.5))
        for key in sorted(series):
            steps, values = zip(*series[key])
            ax.plot(steps, values, marker="o", markersize=3, label=key)
        ax.set_xlabel("step")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(group)
        ax.set_title(f"{prefix.upper()} {group}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        path = output_dir / f"{prefix}_{group}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        plots.append({"title": f"{prefix.upper()} {group} curve", "path": path.name})
    return plots


def as_eval_results(results: list[EvalResult | dict], model_name: str) -> list[EvalResult]:
    """Normalize evaluation results to EvalResult. Accepts EvalResult objects, EvalResult keyword dicts, model-index
    result entries ({"task", "dataset", "metrics"}, what `eval_tasks.results.model_index` returns) and whole
    model-index entries ({"name", "results": [...]})."""
    normalized = []
    for i, item in enumerate(results):
        if isinstance(item, EvalResult):
            normalized.append(item)
        elif isinstance(item, dict) and "results" in item:
            normalized.extend(model_index_to_eval_results([{"name": model_name, **item}])[1])
        elif isinstance(item, dict) and "task" in item:
            normalized.extend(model_index_to_eval_results([{"name": model_name, "results": [item]}])[1])
        elif isinstance(item, dict):
            try:
                normalized.append(EvalResult(**item))
            except TypeError as err:
                raise ValueError(f"eval result #{i}: not EvalResult fields ({err}): {item}") from err
        else:
            raise ValueError(f"eval result #{i}: expected EvalResult or dict, got {type(item).__name__}")
    return normalized


def load_eval_outputs(eval_dir: str | Path, model_name: str) -> tuple[list[EvalResult], str]:
    """Read `python -m eval_tasks run` outputs: results.json -> EvalResults (via eval_tasks' model_index) and
    results.md, the markdown table beside the reference rows."""
    from eval_tasks.results import model_index

    eval_dir = Path(eval_dir)
    results_path, table_path = eval_dir / "results.json", eval_dir / "results.md"
    for path in (results_path, table_path):
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found: pass the --output-dir of `python -m eval_tasks run`")
    results = json.loads(results_path.read_text(encoding="utf-8"))
    return as_eval_results(model_index(results, model_name), model_name), table_path.read_text(encoding="utf-8")


def _link(repo_id: str | None, repo_type: str = "model") -> str:
    """Markdown link to a Hub repo; a local folder (e.g. the tiny demo model) has no page and is shown as a path."""
    if not repo_id:
        return "not recorded"
    if Path(repo_id).exists():
        return f"`{repo_id}` (local folder)"
    return f"[{repo_id}](https://huggingface.co/{'datasets/' if repo_type == 'dataset' else ''}{repo_id})"


def render_model_card(
    model_dir: str | Path,
    *,
    repo_id: str | None = None,
    base_model: str | None = None,
    datasets: list[str] | None = None,
    sft_dir: str | Path | None = None,
    eval_results: list[EvalResult | dict] | None = None,
    eval_table: str | None = None,
    eval_note: str | None = None,
    extra_limitations: list[str] | None = None,
    license: str = "apache-2.0",
    sweep_table: str | None = None,
) -> ModelCard:
    """Render `model_dir/README.md` for a trained checkpoint and write its training curves beside it.

    Args:
        model_dir: the GRPO (or SFT) output_dir: model, processor, trainer_state.json, training_args.bin.
        repo_id: Hub id the card's usage snippet loads; defaults to the folder name.
        base_model: Hub id of the model training started from (Qwen/Qwen2.5-VL-7B-Instruct for the release).
        datasets: Hub ids of the training data.
        sft_dir: output_dir of the SFT stage when GRPO started from it: its hyperparameters and loss curve are added.
        eval_results: EvalResult objects or dicts (see `as_eval_results`), written to the `model-index` metadata.
        eval_table: markdown evaluation table (eval_tasks' results.md, with the reference rows).
        sweep_table: a sweep's comparison (`load_sweep_table`), shown under the evaluation.
    """
    import transformers
    import trl

    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise FileNotFoundError(f"model folder {model_dir} does not exist")
    model_name = (repo_id or model_dir.name).split("/")[-1]
    datasets = list(datasets or [])

    stages = []
    for title, run_dir, description in (
        ("Stage 1: SFT", sft_dir, "Supervised fine-tuning on the `sft` config (reasoning traces)."),
        (
            "Stage 2: GRPO" if sft_dir else "GRPO",
            model_dir,
            "GRPO on the `rl` config with the hybrid reward (rule-based accuracy for multiple-choice and "
            "fill-in-the-blank, model judge for descriptive questions) plus the format reward.",
        ),
    ):
        if run_dir is None:
            continue
        run = load_training_run(run_dir)  # a card without the recipe that produced the weights is refused
        prefix = "sft" if run_dir == sft_dir else "grpo"
        plots = plot_training_curves(run, model_dir, prefix)
        reward_names = sorted({k.split("/")[1] for e in run.log_history for k in e if k.startswith("rewards/")})
        summary = f"Trained for {run.global_step} steps." if run.global_step is not None else ""
        summary += f" Reward functions: {', '.join(reward_names)}." if reward_names else ""
        summary += "".join(f" {note}" for note in recipe_notes(run))
        stages.append(
            {
                "title": title,
                "description": description,
                "hyperparameters": run.hyperparameters,
                "summary": summary,
                "plots": plots,
            }
        )

    results = as_eval_results(eval_results or [], model_name)
    card_data = ModelCardData(
        base_model=base_model if base_model and not Path(base_model).exists() else None,
        datasets=[d for d in datasets if not Path(d).exists()] or None,
        license=license,
        library_name="transformers",
        pipeline_tag="image-text-to-text",
        tags=["wethink", "vision-language", "reasoning", "grpo", "trl"],
        model_name=model_name if results else None,
        eval_results=results or None,
    )
    card = ModelCard.from_template(
        card_data,
        template_path=str(TEMPLATES_DIR / "model_card.md"),
        model_name=model_name,
        repo_id=repo_id or model_name,
        base_model_link=_link(base_model),
        dataset_links=", ".join(_link(d, "dataset") for d in datasets) or "not recorded",
        trl_version=trl.__version__,
        transformers_version=transformers.__version__,
        system_prompt=SYSTEM_PROMPT,
        system_prompt_literal=json.dumps(SYSTEM_PROMPT),
        eval_table=eval_table.strip() if eval_table else None,
        eval_note=eval_note,
        sweep_table=sweep_table.strip() if sweep_table else None,
        stages=stages,
        extra_limitations=extra_limitations or [],
        citation=WETHINK_CITATION,
    )
    card.save(model_dir / "README.md")
    return card
