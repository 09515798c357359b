"""Render the Hub model card and dataset card with huggingface_hub's card classes.

The YAML metadata (base_model, datasets, model-index, configs, dataset_info) is built through `ModelCardData` /
`DatasetCardData` so it round-trips: `ModelCard.load(path).data.eval_results` gives back the results written here.
The markdown body comes from the Jinja templates beside this file.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huggingface_hub import DatasetCard, DatasetCardData, EvalResult, ModelCard, ModelCardData
from huggingface_hub.repocard_data import model_index_to_eval_results

from dataset_builder.schema import SYSTEM_PROMPT

TEMPLATES_DIR = Path(__file__).parent / "templates"

WETHINK_CITATION = """@article{yang2025wethink,
  title   = {WeThink: Toward General-purpose Vision-Language Reasoning via Reinforcement Learning},
  author  = {Yang, Jie and others},
  journal = {arXiv preprint arXiv:2506.07905},
  year    = {2025}
}"""

# Image sources of the WeThink release (the LLaVA-CoT-100k bundle; ShareGPT4V pools several collections).
# Licenses as stated by each source's own page; "unknown" where no statement could be verified.
IMAGE_SOURCES = [
    ("ShareGPT4V", "CC BY-NC 4.0", "captions; images pooled from the collections below"),
    ("COCO", "CC BY 4.0 (annotations)", "images: Flickr terms of use, per-image licenses"),
    ("SAM (SA-1B)", "SA-1B Dataset Research License", "research use only"),
    ("LLaVA-Pretrain (LCS-558K)", "unknown", "images from LAION / CC / SBU keep their original terms"),
    ("WikiArt", "unknown", "artworks; rights held by the artists / museums"),
    ("Celebrity, Landmark (ShareGPT4V web images)", "unknown", "web images"),
    ("TextVQA", "CC BY 4.0", "images from OpenImages (CC BY 2.0)"),
    ("GQA", "CC BY 4.0", "images from Visual Genome"),
    ("OCR-VQA", "unknown", "book cover images"),
    ("Visual Genome", "CC BY 4.0", ""),
    ("ChartQA", "GPL-3.0", "charts crawled from Statista, Pew, OWID, OECD"),
    ("A-OKVQA", "Apache-2.0", "images from COCO 2017"),
    ("AI2D", "unknown", "diagrams from school science material"),
    ("GeoQA+", "unknown", "geometry problems"),
    ("ScienceQA", "CC BY-NC-SA 4.0", ""),
    ("DocVQA", "unknown", "documents from the UCSF Industry Documents Library"),
    ("PISC", "unknown", "people-in-social-context images"),
    ("CLEVR", "CC BY 4.0", "rendered scenes"),
    ("CLEVR-Math", "unknown", "built on CLEVR (CC BY 4.0)"),
    ("In-the-wild images (later WeThink version)", "unknown", "not documented by the authors"),
]

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


def load_training_run(run_dir: str | Path) -> TrainingRun:
    """Read `trainer_state.json` (log history) and the training arguments of a finished trainer run."""
    run_dir = Path(run_dir)
    state_path = run_dir / "trainer_state.json"
    if not state_path.is_file():
        raise FileNotFoundError(f"{state_path} not found: pass the output_dir of a finished SFT/GRPO run")
    try:
        state = json.loads(state_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{state_path}: not valid JSON ({err})") from err
    args = load_training_args(run_dir)
    hyperparameters = {key: args[key] for key in HYPERPARAMETER_KEYS if args.get(key) is not None}
    return TrainingRun(run_dir, hyperparameters, state.get("log_history", []), state.get("global_step"))


def plot_training_curves(run: TrainingRun, output_dir: str | Path, prefix: str) -> list[dict[str, str]]:
    """Write reward, KL and loss curves (PNG) from the log history; return [{"title", "path"}] for the card.

    Each figure groups the logged keys that share a scale: every `reward` / `rewards/<name>/mean` curve in one,
    `kl` in another, `loss` in a third. Keys the run never logged produce no figure.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = {
        "reward": lambda k: k == "reward" or (k.startswith("rewards/") and k.endswith("/mean")),
        "kl": lambda k: k == "kl",
        "loss": lambda k: k == "loss",
    }
    output_dir = Path(output_dir)
    plots = []
    for group, matches in groups.items():
        keys = sorted({k for entry in run.log_history for k in entry if matches(k)})
        if not keys:
            continue
        fig, ax = plt.subplots(figsize=(6, 3.5))
        for key in keys:
            points = [(e["step"], e[key]) for e in run.log_history if key in e and "step" in e]
            ax.plot(*zip(*points), marker="o", markersize=3, label=key)
        ax.set_xlabel("step")
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
    """Normalize evaluation results to EvalResult: accepts EvalResult objects, EvalResult keyword dicts, or
    Hub model-index entries ({"name", "results": [...]}) as `eval_tasks.results.model_index` returns."""
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


def _hub_url(repo_id: str, repo_type: str = "model") -> str:
    if Path(repo_id).exists():  # a local path (e.g. the tiny demo model): no Hub page to link
        return Path(repo_id).as_posix()
    return f"https://huggingface.co/{'datasets/' if repo_type == 'dataset' else ''}{repo_id}"


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
        if run_dir is None or not (Path(run_dir) / "trainer_state.json").is_file():
            continue
        run = load_training_run(run_dir)
        prefix = "sft" if run_dir == sft_dir else "grpo"
        plots = plot_training_curves(run, model_dir, prefix)
        reward_names = sorted({k.split("/")[1] for e in run.log_history for k in e if k.startswith("rewards/")})
        summary = f"Trained for {run.global_step} steps." if run.global_step is not None else ""
        summary += f" Reward functions: {', '.join(reward_names)}." if reward_names else ""
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
        base_model=base_model,
        base_model_url=_hub_url(base_model) if base_model else None,
        datasets=datasets,
        dataset_urls={d: _hub_url(d, "dataset") for d in datasets},
        trl_version=trl.__version__,
        transformers_version=transformers.__version__,
        system_prompt=SYSTEM_PROMPT,
        system_prompt_literal=json.dumps(SYSTEM_PROMPT),
        eval_table=eval_table.strip() if eval_table else None,
        eval_note=eval_note,
        stages=stages,
        extra_limitations=extra_limitations or [],
        citation=WETHINK_CITATION,
    )
    card.save(model_dir / "README.md")
    return card


# --------------------------------------------------------------------------------------------- dataset card

CONFIG_USES = {
    "default": "every release field, for inspection and custom formats",
    "rl": "GRPO (`recipes/grpo.py`): conversational `prompt` + `image` + `solution`",
    "sft": "SFT (`recipes/sft.py`): `messages` + `images`",
}


def _split_of(parquet_file: Path) -> str:
    """`train-00000-of-00002.parquet` -> `train` (the datasets/Hub shard naming)."""
    return parquet_file.name.split("-")[0].split(".")[0]


def describe_configs(dataset_dir: Path) -> tuple[list[dict], list[dict], list[dict]]:
    """Scan OUT/<config>/*.parquet into the README `configs`, the `dataset_info` features/splits and a summary."""
    import pyarrow.parquet as pq
    from datasets import Features

    configs, infos, summary = [], [], []
    for name in CONFIG_USES:
        files = sorted((dataset_dir / name).glob("*.parquet"))
        if not files:
            continue
        splits: dict[str, int] = {}
        for file in files:
            splits[_split_of(file)] = splits.get(_split_of(file), 0) + pq.ParquetFile(file).metadata.num_rows
        features = Features.from_arrow_schema(pq.read_schema(files[0]))
        config = {"config_name": name, "data_files": [{"split": s, "path": f"{name}/{s}-*"} for s in splits]}
        if name == "default":
            config["default"] = True
        configs.append(config)
        infos.append(
            {
                "config_name": name,
                "features": features._to_yaml_list(),
                "splits": [{"name": s, "num_examples": n} for s, n in splits.items()],
            }
        )
        summary.append(
            {
                "name": name,
                "rows": ", ".join(f"{s}: {n}" for s, n in splits.items()),
                "use": CONFIG_USES[name],
                "columns": ", ".join(f"`{c}`" for c in features),
                "features": [(c, _feature_type(f)) for c, f in features.items()],
            }
        )
    if not configs:
        raise FileNotFoundError(
            f"{dataset_dir}: no default/, rl/ or sft/ parquet files: pass a dataset_builder output"
        )
    return configs, infos, summary


def _feature_type(feature: Any) -> str:
    from datasets import Image, List, Value

    if isinstance(feature, Value):
        return feature.dtype
    if isinstance(feature, Image):
        return "image"
    if isinstance(feature, List):
        return f"list[{_feature_type(feature.feature)}]"
    if isinstance(feature, dict):
        return "{" + ", ".join(f"{k}: {_feature_type(v)}" for k, v in feature.items()) + "}"
    return type(feature).__name__


def _flatten_report(report: dict, prefix: str = "") -> list[tuple[str, Any]]:
    """Scalar and short-list entries of the build report as (dotted key, value) rows."""
    rows = []
    for key, value in report.items():
        label = f"{prefix}{key}"
        if isinstance(value, dict):
            rows.extend(_flatten_report(value, f"{label}."))
        elif isinstance(value, (str, int, float, bool)) or value is None:
            rows.append((label, value))
        elif isinstance(value, list) and len(value) <= 10 and all(isinstance(v, (str, int, float)) for v in value):
            rows.append((label, ", ".join(map(str, value))))
    return rows


def _size_category(n: int) -> str:
    for bound, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < bound:
            return label
    return "1M<n<10M"


def _read_synthesis_stats(path: Path) -> str:
    """Synthesis statistics as markdown: a .md file verbatim, a JSON file as a key/value table."""
    text = path.read_text(encoding="utf-8")
    if path.suffix != ".json":
        return text.strip()
    try:
        stats = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from err
    rows = _flatten_report(stats) if isinstance(stats, dict) else []
    return "| Statistic | Value |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows)


def render_dataset_card(
    dataset_dir: str | Path,
    report: dict | str | Path | None = None,
    *,
    repo_id: str | None = None,
    pretty_name: str = "WeThink Multimodal Reasoning",
    synthesis_stats: str | Path | None = None,
) -> DatasetCard:
    """Render `dataset_dir/README.md` for a dataset_builder output folder.

    Args:
        dataset_dir: folder with default/, rl/, sft/ parquet shards, build_report.json and the *.png charts.
        report: the build report (dict, or a path to its JSON); defaults to dataset_dir/build_report.json if present.
        repo_id: Hub id for the `load_dataset` snippet; defaults to the folder name.
        synthesis_stats: statistics of the synthesis pipeline (.json or .md); also picked up automatically from
            dataset_dir/synthesis_stats.{json,md}.
    """
    dataset_dir = Path(dataset_dir)
    if not dataset_dir.is_dir():
        raise FileNotFoundError(f"dataset folder {dataset_dir} does not exist")
    if report is None and (dataset_dir / "build_report.json").is_file():
        report = dataset_dir / "build_report.json"
    if isinstance(report, (str, Path)):
        try:
            report = json.loads(Path(report).read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise ValueError(f"{report}: not valid JSON ({err})") from err
    if synthesis_stats is None:
        synthesis_stats = next(
            (p for p in (dataset_dir / "synthesis_stats.json", dataset_dir / "synthesis_stats.md") if p.is_file()),
            None,
        )

    configs, infos, summary = describe_configs(dataset_dir)
    total_rows = max(sum(s["num_examples"] for s in info["splits"]) for info in infos)
    card_data = DatasetCardData(
        license="apache-2.0",
        language=["en"],
        pretty_name=pretty_name,
        task_categories=["image-text-to-text", "visual-question-answering"],
        tags=["wethink", "multimodal", "reasoning", "grpo", "synthetic"],
        size_categories=[_size_category(total_rows)],
        configs=configs,
        dataset_info=infos,
    )
    charts = [{"title": p.stem.replace("_", " "), "path": p.name} for p in sorted(dataset_dir.glob("*.png"))]
    card = DatasetCard.from_template(
        card_data,
        template_path=str(TEMPLATES_DIR / "dataset_card.md"),
        repo_id=repo_id or dataset_dir.name,
        configs_summary=summary,
        system_prompt=SYSTEM_PROMPT,
        build_stats=_flatten_report(report) if isinstance(report, dict) else [],
        charts=charts,
        synthesis_stats=_read_synthesis_stats(Path(synthesis_stats)) if synthesis_stats else None,
        image_sources=[{"name": n, "license": lic, "notes": notes} for n, lic, notes in IMAGE_SOURCES],
        citation=WETHINK_CITATION,
    )
    card.save(dataset_dir / "README.md")
    return card
