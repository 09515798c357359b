"""`python -m eval_tasks COMMAND ...`: run, score, decontaminate, fixtures (each parses its dataclass with
HfArgumentParser; see `python -m eval_tasks COMMAND --help`)."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

from transformers import HfArgumentParser


@dataclass
class FixturesConfig:
    data_dir: str = field(metadata={"help": "Where the generated benchmark folders go."})
    n: int = field(default=4, metadata={"help": "Items (or groups) per benchmark."})
    seed: int = field(default=0, metadata={"help": "Random seed of the generated rows."})
    tasks: str = field(
        default="all", metadata={"help": "'all' (the paper's columns + MME) and/or benchmark names, comma-separated."}
    )


def _run(argv: list[str]) -> int:
    from eval_tasks.runner import RunConfig, run_evaluation

    (config,) = _parse(RunConfig, "run", argv)
    results = run_evaluation(config)
    print((Path(config.output_dir) / "results.md").read_text())
    # A run that completed exits 0 even when items failed: results.json counts them, and a rerun retries them.
    return 0 if results["benchmarks"] else 1


def _decontaminate(argv: list[str]) -> int:
    from eval_tasks.decontaminate import DecontaminationConfig, decontaminate

    (config,) = _parse(DecontaminationConfig, "decontaminate", argv)
    print(decontaminate(config).summary())
    return 0


def _fixtures(argv: list[str]) -> int:
    from eval_tasks.benchmarks import resolve_names
    from eval_tasks.fixtures import write_benchmark_fixtures

    (config,) = _parse(FixturesConfig, "fixtures", argv)
    print(write_benchmark_fixtures(config.data_dir, config.n, config.seed, resolve_names(config.tasks)))
    return 0


def _score(argv: list[str]) -> int:
    from eval_tasks.rescore import ScoreArguments
    from eval_tasks.rescore import main as score_main

    (config,) = _parse(ScoreArguments, "score", argv)
    score_main(config)
    print((Path(config.output_dir) / "results.md").read_text())
    return 0


COMMANDS = {
    "run": (_run, "Evaluate a model on the benchmarks (lighteval Pipeline, --backend transformers|endpoint|vllm)."),
    "decontaminate": (_decontaminate, "Find (and drop) training items that overlap the benchmarks."),
    "score": (_score, "Score saved predictions offline (no model, no images): --task --data --predictions."),
    "fixtures": (_fixtures, "Write small generated benchmark sets for offline runs."),
}


def _parse(config_class, command: str, argv: list[str]):
    parser = HfArgumentParser(config_class, prog=f"python -m eval_tasks {command}", description=COMMANDS[command][1])
    return parser.parse_args_into_dataclasses(argv)


def _usage() -> str:
    lines = [f"  {name:<14} {help_text}" for name, (_, help_text) in COMMANDS.items()]
    return "usage: python -m eval_tasks COMMAND [--help] ...\n\ncommands:\n" + "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] not in COMMANDS:
        print(_usage(), file=sys.stderr if argv and argv[0] not in ("-h", "--help") else sys.stdout)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    command, *rest = argv
    return COMMANDS[command][0](rest)


if __name__ == "__main__":
    sys.exit(main())
