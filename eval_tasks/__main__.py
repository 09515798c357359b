"""`python -m eval_tasks {run,decontaminate,fixtures} ...` (see each subcommand's --help)."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys


def _add_dataclass_arguments(parser: argparse.ArgumentParser, cls) -> None:
    for f in dataclasses.fields(cls):
        flag = "--" + f.name.replace("_", "-")
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if str(f.type) == "bool":
            parser.add_argument(flag, dest=f.name, action="store_true", help=f.metadata.get("help"))
            continue
        kind = {"int": int, "int | None": int, "float": float}.get(str(f.type), str)
        default = None if required else f.default
        parser.add_argument(
            flag, dest=f.name, type=kind, required=required, default=default, help=f.metadata.get("help")
        )


def main(argv: list[str] | None = None) -> int:
    from eval_tasks.decontaminate import DecontaminationConfig, decontaminate
    from eval_tasks.runner import RunConfig, run_evaluation

    parser = argparse.ArgumentParser(prog="python -m eval_tasks", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    _add_dataclass_arguments(commands.add_parser("run", help="Evaluate a model (lighteval)."), RunConfig)
    _add_dataclass_arguments(
        commands.add_parser("decontaminate", help="Find (and drop) training items that overlap the benchmarks."),
        DecontaminationConfig,
    )
    fixtures = commands.add_parser("fixtures", help="Write small generated benchmark sets for offline runs.")
    fixtures.add_argument("--data-dir", required=True)
    fixtures.add_argument("--n", type=int, default=4, help="Items (or groups) per benchmark.")
    fixtures.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    if args.command == "run":
        config = RunConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(RunConfig)})
        results = run_evaluation(config)
        print((__import__("pathlib").Path(config.output_dir) / "results.md").read_text())
        return 0 if results["benchmarks"] else 1
    if args.command == "decontaminate":
        config = DecontaminationConfig(
            **{f.name: getattr(args, f.name) for f in dataclasses.fields(DecontaminationConfig)}
        )
        report = decontaminate(config)
        print(report.summary())
        return 0
    from eval_tasks.fixtures import write_benchmark_fixtures

    print(write_benchmark_fixtures(args.data_dir, args.n, args.seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
