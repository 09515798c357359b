"""The main job end to end on an embedded default, fully offline: `make demo`.

    python -m recipes.demo --output_dir outputs/demo [--small] [--overwrite]

A small real experiment: a randomly initialised model learns a task it can only solve from the pixels, and the
held-out figures say whether it did. Each stage runs the real component the way a user runs it, and logs to
OUTPUT_DIR/logs/<stage>.log; stages that do not depend on each other run side by side (recipes/demo_stages.py):

1. a tiny random Qwen2.5-VL (`recipes/tiny_model.py --size demo`), a synthetic WeThink release (2x2 grids of coloured
   shapes; colour / shape / count / position questions whose gold answers are right for the image, split into
   `image.zip.part-*` like the LLaVA-CoT bundle) and a held-out split of the same generator that training never sees
   (`eval-data/synthetic_heldout`), beside small generated slices of every paper benchmark (`eval-data/<name>`);
2. `python -m dataset_builder build` -> Parquet configs default / rl / sft, report, charts, card;
3. `accelerate launch recipes/sft.py` (cold start, `recipes/tiny/sft_demo.yaml`, data parallel on
   `accelerate_configs/cpu_ddp.yaml`); then `accelerate launch recipes/grpo.py` from the SFT checkpoint with the hybrid
   + format rewards (`recipes/tiny/grpo_demo.yaml`; model-rewarded rows need a judge: pass
   --judge_base_url/--judge_model, without one they get the format reward only);
4. side by side: `python -m recipes.demo_heldout` scores the SFT checkpoint on the held-out split, and
   `python -m eval_tasks run` the GRPO model on small generated slices of every benchmark (a pipeline check) and on the
   whole held-out split (`--tasks synthetic_heldout`, the lighteval task of the same scorer) for the final figures;
5. the model and dataset cards with the real results and curves, then `python -m model_cards push --dry-run`.

It ends with one summary (also OUTPUT_DIR/summary.json): the held-out figures after GRPO and after SFT, GRPO's
reward in its first and last quarter, where each artifact is, and the evaluation table. The benchmark numbers of a
tiny model on generated slices only show that the pipeline runs; they say nothing about WeThink.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from recipes.demo_stages import StageError, StageRunner

REPO_ROOT = Path(__file__).resolve().parents[1]
# The folders the demo writes under --output_dir; a new run replaces them so no stale artifact is reported.
STAGE_DIRS = ("model-init", "release", "heldout", "data", "sft", "grpo", "eval-data", "eval", "eval-heldout", "logs")
SUMMARY_FILE = "summary.json"
TINY_RECIPES = REPO_ROOT / "recipes" / "tiny"
CPU_ACCELERATE_CONFIG = REPO_ROOT / "recipes" / "accelerate_configs" / "cpu.yaml"
CPU_DDP_ACCELERATE_CONFIG = REPO_ROOT / "recipes" / "accelerate_configs" / "cpu_ddp.yaml"
# Hub ids the cards and the push dry-run name; nothing is uploaded.
DEMO_MODEL_ID = "your-org/wethink-tiny-demo"
DEMO_DATASET_ID = "your-org/wethink-demo-data"
HELDOUT_TASK = "synthetic_heldout"  # eval_tasks/benchmarks/synthetic_heldout.py; reads eval-data/<its name>/


@dataclass
class DemoConfig:
    output_dir: str = field(default="outputs/demo", metadata={"help": "where every artifact of the run goes"})
    num_records: int = field(default=2000, metadata={"help": "records in the synthetic WeThink release"})
    heldout_records: int = field(default=200, metadata={"help": "items of the held-out split (never trained on)"})
    model_size: str = field(default="demo", metadata={"help": "tiny model preset: demo or tiny"})
    sft_steps: int = field(
        default=800, metadata={"help": "SFT optimizer steps (overrides max_steps of recipes/tiny/sft_demo.yaml)"}
    )
    grpo_steps: int = field(
        default=40, metadata={"help": "GRPO optimizer steps (overrides max_steps of recipes/tiny/grpo_demo.yaml)"}
    )
    eval_samples: int = field(default=4, metadata={"help": "generated items per benchmark, all of them evaluated"})
    eval_max_new_tokens: int = field(
        default=32, metadata={"help": "generation budget per benchmark answer (a random model rarely stops by itself)"}
    )
    eval_tasks: str = field(default="all", metadata={"help": "benchmarks to evaluate: all, or name,name,..."})
    judge_base_url: str | None = field(
        default=None, metadata={"help": "OpenAI-compatible judge for model-rewarded rows (GRPO) and judged benchmarks"}
    )
    judge_model: str | None = field(default=None, metadata={"help": "model name served at --judge_base_url"})
    seed: int = field(default=0, metadata={"help": "seed for the tiny model and the synthetic release"})
    small: bool = field(
        default=False,
        metadata={"help": "the test-sized run: tiny model, 64 records, 2 SFT + 2 GRPO steps, 1 item per benchmark"},
    )
    overwrite: bool = field(default=False, metadata={"help": "replace a previous run in --output_dir"})
    stage_timeout: int = field(default=600, metadata={"help": "seconds any one stage may run before it is stopped"})

    def __post_init__(self):
        if self.small:
            self.num_records, self.heldout_records, self.sft_steps, self.grpo_steps = 64, 16, 2, 2
            self.eval_samples, self.model_size = 1, "tiny"


@dataclass
class Demo:
    config: DemoConfig

    def __post_init__(self):
        self.out = Path(self.config.output_dir).resolve()
        previous = [name for name in (*STAGE_DIRS, SUMMARY_FILE) if (self.out / name).exists()]
        if previous and not self.config.overwrite:
            raise FileExistsError(
                f"{self.out} holds a previous demo run ({', '.join(previous)}); pass --overwrite to replace it, "
                "or choose another --output_dir"
            )
        (self.out / SUMMARY_FILE).unlink(missing_ok=True)
        for name in STAGE_DIRS:
            shutil.rmtree(self.out / name, ignore_errors=True)
        self.logs = self.out / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        # Nothing is uploaded, so no stage needs a Hub token (and none can print one into a log).
        self.env = {
            **{k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")},
            "HF_HUB_OFFLINE": "1",
            "HF_DATASETS_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
        }
        self.stages = StageRunner(self.logs, self.env, REPO_ROOT, self.config.stage_timeout)

    def path(self, name: str) -> Path:
        return self.out / name

    @property
    def heldout_dir(self) -> Path:
        """The held-out split, where `eval_tasks run --data-dir eval-data` finds the synthetic_heldout task's data."""
        return self.path("eval-data") / HELDOUT_TASK

    # ------------------------------------------------------------------------------------------------- stages

    def prepare_inputs(self) -> None:
        from dataset_builder.synthetic import write_heldout_split, write_synthetic_release
        from eval_tasks.fixtures import write_benchmark_fixtures

        cfg = self.config
        self.release = self.stages.timed(
            "synthetic-release",
            write_synthetic_release,
            self.path("release"),
            cfg.num_records,
            seed=cfg.seed,
            zip_parts=2,
        )
        self.stages.timed(
            "heldout-split",
            write_heldout_split,
            self.heldout_dir,
            cfg.heldout_records,
            seed=cfg.seed,
            train_n=cfg.num_records,
            train_seed=cfg.seed,
        )
        # Generated slices of every paper benchmark (what `python -m eval_tasks fixtures` writes), for the eval stage.
        self.stages.timed(
            "eval-fixtures", write_benchmark_fixtures, self.path("eval-data"), cfg.eval_samples, cfg.seed
        )

    def tiny_model_command(self) -> list[str]:
        cfg = self.config
        return [
            sys.executable,
            str(REPO_ROOT / "recipes" / "tiny_model.py"),
            "--output-dir",
            str(self.path("model-init")),
            "--seed",
            str(cfg.seed),
            "--size",
            cfg.model_size,
            "--overwrite",
        ]

    def build_dataset_command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "dataset_builder",
            "build",
            "--source",
            str(self.release.records_path),
            "--images",
            str(self.release.images_root),
            "--output-dir",
            str(self.path("data")),
        ]

    def train_command(
        self, name: str, script: str, model_dir: Path, steps: int, extra: list[str] = (), data_parallel: bool = False
    ) -> list[str]:
        """`accelerate launch` of a training script; data_parallel: a process per core (cpu_ddp.yaml)."""
        if data_parallel:
            launch = ["--config_file", str(CPU_DDP_ACCELERATE_CONFIG), "--main_process_port", str(free_port())]
            extra = ["--use_cpu", "true", *extra]  # torchrun does not tell the trainer it is on CPU
        else:
            launch = ["--config_file", str(CPU_ACCELERATE_CONFIG)]
        return [
            sys.executable,
            "-m",
            "accelerate.commands.accelerate_cli",
            "launch",
            *launch,
            str(REPO_ROOT / "recipes" / script),
            "--config",
            # --small is the smoke test: the tiny model on the smoke recipes (the demo's learning rates would
            # collapse it in two steps); the full demo trains the demo model on recipes/tiny/*_demo.yaml.
            str(TINY_RECIPES / script.replace(".py", ".yaml" if self.config.small else "_demo.yaml")),
            "--model_name_or_path",
            str(model_dir),
            "--dataset_name",
            str(self.path("data")),
            "--output_dir",
            str(self.path(name)),
            "--max_steps",
            str(steps),
            "--seed",
            str(self.config.seed),
            *extra,
        ]

    def heldout_command(self, stage: str, model_dir: Path) -> list[str]:
        """Scores a checkpoint on the held-out split (`python -m recipes.demo_heldout`) into heldout/<stage>.json."""
        self.path("heldout").mkdir(exist_ok=True)
        return [
            sys.executable,
            "-m",
            "recipes.demo_heldout",
            "--model",
            str(model_dir),
            "--data",
            str(self.heldout_dir),
            "--output",
            str(self.path("heldout") / f"{stage}.json"),
        ]

    def read_heldout(self, stage: str) -> dict:
        return json.loads((self.path("heldout") / f"{stage}.json").read_text(encoding="utf-8"))

    def judge_args(self, flag_style: str) -> list[str]:
        cfg = self.config
        if not cfg.judge_base_url:
            return []
        if flag_style == "trl":
            return ["--judge_base_url", cfg.judge_base_url, "--judge_model", cfg.judge_model or ""]
        return ["--judge-base-url", cfg.judge_base_url, "--judge-model", cfg.judge_model or ""]

    def evaluate(self) -> None:
        """The SFT checkpoint on the held-out split, and the GRPO model on the benchmark slices and the held-out
        split: three evaluations side by side, one thread each."""
        from recipes.demo_heldout import HeldoutConfig, heldout_figures

        cfg = self.config
        self.stages.together(
            ("heldout-sft", self.heldout_command("sft", self.path("sft"))),
            ("eval", self.eval_command(cfg.eval_tasks, self.path("eval"), cfg.eval_max_new_tokens, cfg.eval_samples)),
            # The whole held-out split, with the generation budget demo_heldout gives the SFT checkpoint.
            ("eval-heldout", self.eval_command(HELDOUT_TASK, self.path("eval-heldout"), HeldoutConfig.max_new_tokens)),
            threads=1,
        )
        self.sft_heldout = self.read_heldout("sft")
        results = json.loads((self.path("eval-heldout") / "results.json").read_text(encoding="utf-8"))
        self.heldout = heldout_figures(results["benchmarks"][HELDOUT_TASK], self.heldout_dir)

    def eval_command(self, tasks: str, output_dir: Path, max_new_tokens: int, max_samples: int = 0) -> list[str]:
        from recipes.demo_heldout import HeldoutConfig

        return [
            sys.executable,
            "-m",
            "eval_tasks",
            "run",
            "--model",
            str(self.path("grpo")),
            "--tasks",
            tasks,
            *(["--max-samples", str(max_samples)] if max_samples else []),
            "--model-name",
            DEMO_MODEL_ID.split("/")[-1],
            "--max-new-tokens",
            str(max_new_tokens),
            "--batch-size",
            str(HeldoutConfig.batch_size),  # the batching demo_heldout scores the SFT checkpoint with
            "--data-dir",
            str(self.path("eval-data")),
            "--output-dir",
            str(output_dir),
            *model_pixel_budget(self.path("grpo")),
            *self.judge_args("cli"),
        ]

    def render_cards(self) -> None:
        from model_cards.cards import load_eval_outputs, render_dataset_card, render_model_card

        def render():
            results, table = load_eval_outputs(self.path("eval"), DEMO_MODEL_ID.split("/")[-1])
            render_model_card(
                self.path("grpo"),
                repo_id=DEMO_MODEL_ID,
                base_model=str(self.path("model-init")),
                datasets=[DEMO_DATASET_ID],
                sft_dir=self.path("sft"),
                eval_results=results,
                eval_table=table,
                eval_note=" ".join(
                    [
                        "Demo run (`make demo`): a tiny model trained from random weights on a synthetic task.",
                        *self.figures_text(),
                        "The benchmark columns come from a few generated items per benchmark and only show that "
                        "the pipeline runs.",
                    ]
                ),
            )
            render_dataset_card(self.path("data"), repo_id=DEMO_DATASET_ID)

        self.stages.timed("cards", render)

    def dry_run_push(self) -> None:
        self.stages.together(
            *(
                (
                    f"push-{kind}",
                    [sys.executable, "-m", "model_cards", "push", f"--{kind}-dir", str(folder), "--repo-id", repo_id]
                    + ["--dry-run"],
                )
                for kind, folder, repo_id in (
                    ("model", self.path("grpo"), DEMO_MODEL_ID),
                    ("dataset", self.path("data"), DEMO_DATASET_ID),
                )
            )
        )

    # ------------------------------------------------------------------------------------------------- run

    def run(self) -> int:
        missing = missing_components()
        if missing:
            raise StageError("the main job needs components missing from this checkout: " + "; ".join(missing))
        cfg = self.config
        started = time.perf_counter()
        self.prepare_inputs()
        self.stages.together(
            ("tiny-model", self.tiny_model_command()), ("dataset-build", self.build_dataset_command())
        )
        # On a tiny model a process per core trains faster than threads; GRPO's generation does not, so one process.
        sft = self.train_command("sft", "sft.py", self.path("model-init"), cfg.sft_steps, data_parallel=True)
        self.stages.stage("sft", sft)
        grpo = self.train_command("grpo", "grpo.py", self.path("sft"), cfg.grpo_steps, self.judge_args("trl"))
        self.stages.stage("grpo", grpo)
        self.evaluate()  # sets self.sft_heldout and self.heldout (the SFT and GRPO models on the held-out split)
        self.summary = self.experiment_summary(time.perf_counter() - started)  # the card shows it
        self.render_cards()
        self.dry_run_push()
        self.summary["seconds"] = round(time.perf_counter() - started, 1)
        (self.out / SUMMARY_FILE).write_text(json.dumps(self.summary, indent=2) + "\n", encoding="utf-8")
        self.print_summary(self.summary["seconds"])
        return 0

    def experiment_summary(self, seconds: float) -> dict:
        """summary.json: held-out figures after GRPO and after SFT, GRPO's reward/accuracy over its first and last
        quarter of steps (accuracy: the hybrid reward's mean, i.e. the rule-graded rows)."""
        history = json.loads((self.path("grpo") / "trainer_state.json").read_text(encoding="utf-8"))["log_history"]
        steps = [entry for entry in history if "reward" in entry and "step" in entry]
        quarter = max(1, len(steps) // 4)

        def mean(entries, key):
            values = [e[key] for e in entries if e.get(key) is not None and e[key] == e[key]]
            return round(sum(values) / len(values), 4) if values else None

        accuracy_key = "rewards/hybrid_reward/mean"
        return {
            "seconds": round(seconds, 1),
            "heldout": {key: round(self.heldout[key], 4) for key in ("n", "format", "accuracy", "chance")},
            "sft": {
                "heldout_accuracy": round(self.sft_heldout["accuracy"], 4),
                "heldout_format": round(self.sft_heldout["format"], 4),
            },
            "grpo": {
                "steps": len(steps),
                "reward_first": mean(steps[:quarter], "reward"),
                "reward_last": mean(steps[-quarter:], "reward"),
                "accuracy_first": mean(steps[:quarter], accuracy_key),
                "accuracy_last": mean(steps[-quarter:], accuracy_key),
            },
        }

    def figures_text(self) -> list[str]:
        s = self.summary
        held, grpo = s["heldout"], s["grpo"]
        return [
            f"Held-out split ({held['n']} items never trained on), after GRPO: format {held['format']:.2f}, "
            f"accuracy {held['accuracy']:.2f} (chance {held['chance']:.2f}); after SFT: format "
            f"{s['sft']['heldout_format']:.2f}, accuracy {s['sft']['heldout_accuracy']:.2f}.",
            f"GRPO ({grpo['steps']} steps): mean reward {grpo['reward_first']} in the first quarter -> "
            f"{grpo['reward_last']} in the last; rule-graded accuracy {grpo['accuracy_first']} -> "
            f"{grpo['accuracy_last']}.",
        ]

    def print_summary(self, total_seconds: float) -> None:
        artifacts = [
            ("synthetic release", self.path("release")),
            ("held-out split and scores", self.path("heldout")),
            ("experiment summary", self.out / SUMMARY_FILE),
            ("dataset (default/rl/sft Parquet)", self.path("data")),
            ("dataset card", self.path("data") / "README.md"),
            ("SFT checkpoint", self.path("sft")),
            ("GRPO model", self.path("grpo")),
            ("model card", self.path("grpo") / "README.md"),
            ("training curves", self.path("grpo") / "grpo_reward.png"),
            ("evaluation", self.path("eval") / "results.json"),
            ("push dry-runs", self.logs / "push-model.log"),
            ("logs", self.logs),
        ]
        width = max(len(label) for label, _ in artifacts)
        lines = ["", "=" * 100, f"WeThink demo finished in {total_seconds:.0f} s", ""]
        lines += [f"  {label:<{width}}  {path}" for label, path in artifacts]
        lines += ["", *self.figures_text(), "", *self.notes()]
        lines += ["", "Stage times: " + ", ".join(f"{k} {v:.0f} s" for k, v in self.stages.timings.items()), ""]
        lines += ["Evaluation (tiny model, generated benchmark slices; pipeline check only):", ""]
        lines += [(self.path("eval") / "results.md").read_text(encoding="utf-8").strip(), "=" * 100]
        print("\n".join(lines), flush=True)

    def notes(self) -> list[str]:
        """What a reader of the summary would otherwise have to dig out of the logs."""
        from huggingface_hub import ModelCard

        results = ModelCard.load(self.path("grpo") / "README.md").data.eval_results or []
        notes = [
            f"Model card model-index: {len(results)} result(s) (partial --max-samples scores stay out of it).",
            *(
                f"Push dry-run ({kind}): " + (self.logs / f"push-{kind}.log").read_text().splitlines()[0]
                for kind in ("model", "dataset")
            ),
        ]
        if not self.config.judge_base_url:
            notes.append(
                "No judge endpoint: GRPO gave model-rewarded (descriptive) rows the format reward only and MM-Vet "
                "is unscored; pass --judge_base_url/--judge_model to use one."
            )
        return notes


def free_port() -> int:
    """A free TCP port on 127.0.0.1 for torchrun's rendezvous (two runs side by side must not share one)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def model_pixel_budget(model_dir: Path) -> list[str]:
    """`--min-pixels/--max-pixels` of the model's own image processor: the eval defaults are the paper's (a 7B's
    budget, >= 1M pixels), which would scale the demo's small images far beyond what the demo model was trained on."""
    processor = json.loads((model_dir / "processor_config.json").read_text())
    size = processor.get("image_processor", processor).get("size", {})
    return ["--min-pixels", str(size["shortest_edge"]), "--max-pixels", str(size["longest_edge"])]


def missing_components() -> list[str]:
    """The parts of the main job that are not in this checkout, named so the gap is obvious."""
    needed = {
        "dataset_builder.build": "python -m dataset_builder build",
        "reward_funcs.registry": "reward_funcs.get_reward_funcs (hybrid reward)",
        "eval_tasks.__main__": "python -m eval_tasks run",
        "eval_tasks.fixtures": "eval_tasks.fixtures.write_benchmark_fixtures",
        "eval_tasks.results": "eval_tasks.results.model_index",
    }
    missing = [label for module, label in needed.items() if importlib.util.find_spec(module) is None]
    missing += [f"recipes/{s}" for s in ("sft.py", "grpo.py") if not (REPO_ROOT / "recipes" / s).is_file()]
    return missing


def main(argv: list[str] | None = None) -> int:
    from transformers import HfArgumentParser

    (config,) = HfArgumentParser(DemoConfig).parse_args_into_dataclasses(args=argv)
    try:
        return Demo(config).run()
    except (StageError, FileNotFoundError, FileExistsError, ModuleNotFoundError) as err:
        print(f"[demo] error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
