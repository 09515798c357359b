"""Sweeps over recipe arguments: one training per grid point, each evaluated, compared in one table and plot.

    python recipes/sweep.py --config recipes/Qwen2.5-VL-7B-Instruct/grpo/config_wethink.yaml \
        --grid reward_weights='[[0.5,0.5],[0.7,0.3],[0.9,0.1]]' [--grid dataset_fraction='[0.25,0.5,1.0]'] \
        --then-eval all --output-dir outputs/sweep [--launcher local|slurm] [RECIPE OVERRIDES ...]

    python recipes/sweep.py --sweep-config recipes/Qwen2.5-VL-7B-Instruct/grpo/sweep_reward_weights.yaml \
        --output-dir outputs/sweep-weights

The grid is the cartesian product of the `--grid KEY=JSON_LIST` values; a key must be an argument of the recipe
script (checked, with every point's full argument set, before anything runs). Arguments the sweep does not know are
passed to every training run (`--model_name_or_path DIR --dataset_name DATA`). Each point gets
`OUT/points/<name>/` with its recipe (`recipe.yaml`), `run.sh` (training through `accelerate launch`, then
`python -m eval_tasks run`), logs, `train/` and `eval/`. `--launcher local` runs the points one after another;
`--launcher slurm` writes `OUT/sweep.sbatch`, an array job of the same `run.sh` files, for `sbatch`. Rerun the same
command (or with `--report-only`) to collect: finished points are reused, unfinished ones rerun (training resumes
from its newest checkpoint). The comparison goes to `OUT/sweep.md`, `OUT/sweep.json` and `OUT/sweep.png`.
"""

from __future__ import annotations

import difflib
import importlib.util
import itertools
import json
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field, fields
from pathlib import Path

import yaml
from transformers import HfArgumentParser

from recipes.sweep_report import write_comparison

POINT_FILE = "point.json"
PAPER_REWARD_WEIGHTS = [0.7, 0.3]


@dataclass
class SweepArguments:
    output_dir: str = field(metadata={"help": "Sweep folder: points/, sweep.md, sweep.json, sweep.png."})
    config: str | None = field(default=None, metadata={"help": "The recipe YAML every point starts from."})
    grid: list[str] = field(
        default_factory=list,
        metadata={"help": "KEY=JSON_LIST, repeatable: a recipe argument and its values (the grid is their product)."},
    )
    sweep_config: str | None = field(
        default=None, metadata={"help": "YAML with these arguments (grid as a mapping KEY: [values]); flags override."}
    )
    script: str = field(default="recipes/grpo.py", metadata={"help": "Recipe script to train with."})
    then_eval: str | None = field(
        default=None, metadata={"help": "Benchmarks to evaluate each point on ('all' or a,b,c); none: no eval."}
    )
    launcher: str = field(default="local", metadata={"help": "'local' (run here, in turn) or 'slurm' (write sbatch)."})
    accelerate_config: str | None = field(
        default=None, metadata={"help": "accelerate config file (recipes/accelerate_configs/*.yaml)."}
    )
    eval_data_dir: str | None = field(default=None, metadata={"help": "eval_tasks --data-dir (default: the Hub)."})
    eval_max_samples: int | None = field(default=None, metadata={"help": "eval_tasks --max-samples (smoke runs)."})
    eval_max_new_tokens: int | None = field(default=None, metadata={"help": "eval_tasks --max-new-tokens."})
    eval_args: str = field(default="", metadata={"help": "More `eval_tasks run` flags, one shell-quoted string."})
    slurm_header: list[str] = field(
        default_factory=list,
        metadata={"help": "Extra #SBATCH options without their dashes: partition=gpu gres=gpu:8."},
    )
    report_only: bool = field(default=False, metadata={"help": "Only collect finished points into the table."})
    overwrite: bool = field(default=False, metadata={"help": "Rerun points whose folder holds a different point."})


@dataclass
class Point:
    name: str
    values: dict
    folder: Path

    @property
    def train_dir(self) -> Path:
        return self.folder / "train"

    @property
    def eval_dir(self) -> Path:
        return self.folder / "eval"

    def done(self, stage: str) -> bool:
        return (self.folder / f"{stage}.done").is_file()


# ------------------------------------------------------------------------------------------------ arguments


def _pop_repeated(argv: list[str], names: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """Values of a flag that may be repeated (`--grid a=.. --grid b=..`, or `--grid a=.. b=..`), and the rest."""
    values, rest, index = [], [], 0
    while index < len(argv):
        arg = argv[index]
        flag, eq, inline = arg.partition("=")
        if flag in names:
            if eq:
                values.append(inline)
            index += 1
            while index < len(argv) and not argv[index].startswith("--"):
                values.append(argv[index])
                index += 1
            continue
        rest.append(arg)
        index += 1
    return values, rest


def parse_sweep_args(argv: list[str]) -> tuple[SweepArguments, list[str]]:
    """The sweep's arguments (from --sweep-config, then the flags) and the recipe overrides left over."""
    grid, argv = _pop_repeated(argv, ("--grid",))
    parser = HfArgumentParser(SweepArguments)
    sweep_config = next(
        (argv[i + 1] for i, a in enumerate(argv[:-1]) if a in ("--sweep_config", "--sweep-config")), None
    )
    file_grid = []
    if sweep_config:
        values = yaml.safe_load(Path(sweep_config).read_text(encoding="utf-8")) or {}
        unknown = set(values) - {f.name for f in fields(SweepArguments)}
        if unknown:
            raise ValueError(f"{sweep_config}: unknown sweep argument(s) {sorted(unknown)}")
        file_grid = [f"{key}={json.dumps(vals)}" for key, vals in (values.pop("grid", None) or {}).items()]
        parser.set_defaults(**values)
        for action in parser._actions:
            if action.dest in values:
                action.required = False
    args, overrides = parser.parse_args_into_dataclasses(args=argv, return_remaining_strings=True)
    cli_keys = {item.partition("=")[0] for item in grid}
    args.grid = [item for item in file_grid if item.partition("=")[0] not in cli_keys] + grid
    args.config, args.script = resolve_repo_path(args.config), resolve_repo_path(args.script)
    args.accelerate_config = resolve_repo_path(args.accelerate_config)
    if args.config is None:
        raise ValueError("give the recipe YAML with --config (or `config:` in --sweep-config)")
    if args.launcher not in ("local", "slurm"):
        raise ValueError(f"--launcher must be 'local' or 'slurm', got {args.launcher!r}")
    return args, overrides


def resolve_repo_path(path: str | None) -> str | None:
    """A file as given, else relative to the repository: the recipes' paths work from any folder."""
    if path is None or Path(path).is_file():
        return path
    in_repo = Path(__file__).resolve().parents[1] / path
    if not in_repo.is_file():
        raise FileNotFoundError(f"{path} not found (neither here nor in the repository {in_repo.parents[0]})")
    return str(in_repo)


def load_recipe(script: str):
    """The recipe script as a module: its `make_parser()` (grid keys and values are checked against what it accepts)
    and, where it has one, its `build_reward_funcs` (reward names against weights, judge settings)."""
    spec = importlib.util.spec_from_file_location(f"sweep_recipe_{Path(script).stem}", script)
    if spec is None or not Path(script).is_file():
        raise ValueError(f"recipe script {script!r} not found")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parse_grid(grid: list[str], valid_keys: set[str], script: str) -> dict[str, list]:
    parsed = {}
    for item in grid:
        key, eq, raw = item.partition("=")
        if not eq:
            raise ValueError(f"--grid {item!r}: expected KEY=JSON_LIST, e.g. reward_weights='[[0.5,0.5],[0.7,0.3]]'")
        if key not in valid_keys:
            close = difflib.get_close_matches(key, valid_keys, n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise ValueError(
                f"grid key {key!r} is not an argument of {script}{hint}; valid keys: {', '.join(sorted(valid_keys))}"
            )
        try:
            values = json.loads(raw)
        except json.JSONDecodeError as err:
            raise ValueError(f"--grid {key}: {raw!r} is not JSON ({err})") from err
        if not isinstance(values, list) or not values:
            raise ValueError(f"--grid {key}: expected a non-empty JSON list of values, got {raw!r}")
        parsed[key] = values
    if not parsed:
        raise ValueError("no --grid given: name at least one KEY=JSON_LIST")
    return parsed


def _value_slug(value) -> str:
    text = "-".join(map(str, value)) if isinstance(value, list) else str(value)
    return re.sub(r"[^A-Za-z0-9.+-]+", "-", text).strip("-")


def plan_points(grid: dict[str, list], output_dir: Path) -> list[Point]:
    points = []
    for combo in itertools.product(*grid.values()):
        values = dict(zip(grid, combo))
        name = "_".join(f"{key}-{_value_slug(value)}" for key, value in values.items())
        points.append(Point(name, values, output_dir / "points" / name))
    return points


# ------------------------------------------------------------------------------------------------- commands


def train_command(args: SweepArguments, point: Point, overrides: list[str]) -> list[str]:
    launch = [sys.executable, "-m", "accelerate.commands.launch"]
    if args.accelerate_config:
        launch += ["--config_file", str(Path(args.accelerate_config).resolve())]
    return [*launch, str(Path(args.script).resolve()), "--config", str(point.folder / "recipe.yaml"), *overrides]


def eval_command(args: SweepArguments, point: Point) -> list[str]:
    command = [sys.executable, "-m", "eval_tasks", "run", "--model", str(point.train_dir), "--tasks", args.then_eval]
    command += ["--output-dir", str(point.eval_dir), "--model-name", point.name]
    for flag, value in (
        ("--data-dir", args.eval_data_dir and str(Path(args.eval_data_dir).resolve())),
        ("--max-samples", args.eval_max_samples),
        ("--max-new-tokens", args.eval_max_new_tokens),
    ):
        if value is not None:
            command += [flag, str(value)]
    return command + shlex.split(args.eval_args)


def run_script(args: SweepArguments, point: Point, overrides: list[str]) -> str:
    """The shell script of one point; it skips the stages already done, so reruns only finish what is missing."""
    q = shlex.quote
    folder = q(str(point.folder))
    lines = [
        "#!/bin/bash",
        f"# Sweep point {point.name}: {json.dumps(point.values)}",
        "set -euo pipefail",
        f"cd {q(str(Path.cwd()))}",
        f"POINT={folder}",
        'if [ ! -f "$POINT/train.done" ]; then',
        '  rm -f "$POINT/eval.done"',
        "  RESUME=()",
        '  if compgen -G "$POINT/train/checkpoint-*" > /dev/null; then RESUME=(--resume_from_checkpoint last); fi',
        f'  {shlex.join(train_command(args, point, overrides))} ${{RESUME[@]+"${{RESUME[@]}}"}} > "$POINT/train.log" 2>&1',
        '  touch "$POINT/train.done"',
        "fi",
    ]
    if args.then_eval:
        lines += [
            'if [ ! -f "$POINT/eval.done" ]; then',
            f'  {shlex.join(eval_command(args, point))} > "$POINT/eval.log" 2>&1',
            '  touch "$POINT/eval.done"',
            "fi",
        ]
    return "\n".join(lines) + "\n"


def slurm_script(args: SweepArguments, points: list[Point], output_dir: Path, collect: str) -> str:
    names = " ".join(shlex.quote(point.name) for point in points)
    header = [f"#SBATCH --{option.lstrip('-')}" for option in args.slurm_header]
    return (
        "\n".join(
            [
                "#!/bin/bash",
                "#SBATCH --job-name=wethink-sweep",
                f"#SBATCH --array=0-{len(points) - 1}",
                f"#SBATCH --output={output_dir / 'points'}/slurm-%A_%a.log",
                *header,
                "# One array task per grid point; each runs its points/<name>/run.sh (train, then evaluate).",
                f"# After the array finishes, collect the table and plot: {collect}",
                "set -euo pipefail",
                f"POINTS=({names})",
                f'bash {shlex.quote(str(output_dir / "points"))}/"${{POINTS[$SLURM_ARRAY_TASK_ID]}}"/run.sh',
            ]
        )
        + "\n"
    )


# ----------------------------------------------------------------------------------------------- preparing


def prepare_points(args: SweepArguments, overrides: list[str]) -> list[Point]:
    """Check the grid and every point's full recipe against the recipe parser, then write each point's files.
    Nothing runs before all points pass."""
    for flag in ("--output_dir", "--output-dir", "--config"):
        if flag in overrides:
            raise ValueError(f"{flag} is set by the sweep for each point; do not pass it as a recipe override")
    recipe = load_recipe(args.script)
    recipe_parser = recipe.make_parser()
    valid_keys = {f.name for dataclass_type in recipe_parser.dataclass_types for f in fields(dataclass_type)}
    grid = parse_grid(args.grid, valid_keys, args.script)
    given = {arg.lstrip("-").split("=")[0].replace("-", "_") for arg in overrides if arg.startswith("--")}
    if given & set(grid):
        raise ValueError(f"{sorted(given & set(grid))} set both by --grid and as a recipe override")
    base = yaml.safe_load(Path(args.config).read_text(encoding="utf-8")) or {}
    output_dir = Path(args.output_dir).resolve()
    points = plan_points(grid, output_dir)
    recipes = {}
    for point in points:
        values = {**base, **point.values, "output_dir": str(point.train_dir)}
        recipes[point.name] = values
        _check_recipe(recipe, recipe_parser, values, overrides, point, here=args.launcher == "local")
        _check_recorded(point, values, overrides, args.overwrite)
    for point in points:
        point.folder.mkdir(parents=True, exist_ok=True)
        record = {"name": point.name, "values": point.values, "recipe": recipes[point.name], "overrides": overrides}
        (point.folder / POINT_FILE).write_text(json.dumps(record, indent=2) + "\n")
        (point.folder / "recipe.yaml").write_text(yaml.safe_dump(recipes[point.name], sort_keys=False))
        (point.folder / "run.sh").write_text(run_script(args, point, overrides))
    return points


def _check_recipe(module, recipe_parser, recipe: dict, overrides: list[str], point: Point, here: bool) -> None:
    """Parse the point's full arguments with the recipe's parser (nothing is written to the sweep folder yet). For a
    Slurm sweep the machine writing the script is not the one that trains, so the trainer's hardware checks (bf16
    needs a GPU) are left to each run."""
    with tempfile.TemporaryDirectory() as scratch:
        check_file = Path(scratch) / "recipe.yaml"
        check_file.write_text(yaml.safe_dump(recipe if here else {**recipe, "use_cpu": True}, sort_keys=False))
        try:
            script_args, training_args, *_ = recipe_parser.parse_args_and_config(
                ["--config", str(check_file), *overrides]
            )
            if hasattr(module, "build_reward_funcs"):
                module.build_reward_funcs(script_args, training_args)
        except (ValueError, SystemExit) as err:
            raise ValueError(f"grid point {point.name}: the recipe refuses its arguments ({err})") from err


def _check_recorded(point: Point, recipe: dict, overrides: list[str], overwrite: bool) -> None:
    """A point folder from an earlier sweep is reused only if it was run with exactly these arguments."""
    record_path = point.folder / POINT_FILE
    if not record_path.is_file():
        return
    record = json.loads(record_path.read_text())
    if record.get("recipe") == recipe and record.get("overrides") == overrides:
        return
    if not overwrite:
        raise ValueError(
            f"{point.folder} holds a run with other arguments (see its {POINT_FILE}); use another --output-dir "
            "or pass --overwrite to rerun it"
        )
    shutil.rmtree(point.folder)


def run_points(points: list[Point], then_eval: bool) -> list[str]:
    """Run the unfinished points here, in turn; returns the names of those that failed (the others go on)."""
    failed = []
    for point in points:
        if point.done("train") and (point.done("eval") or not then_eval):
            print(f"[sweep] {point.name}: finished earlier, reused", flush=True)
            continue
        print(f"[sweep] {point.name}: running (logs in {point.folder})", flush=True)
        if subprocess.run(["bash", str(point.folder / "run.sh")]).returncode != 0:
            print(f"[sweep] {point.name}: FAILED, see {point.folder}/train.log and eval.log", flush=True)
            failed.append(point.name)
    return failed


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args, overrides = parse_sweep_args(argv)
    points = prepare_points(args, overrides)
    output_dir = Path(args.output_dir).resolve()
    if args.launcher == "slurm" and not args.report_only:
        path = output_dir / "sweep.sbatch"
        collect = shlex.join(["python", "recipes/sweep.py", *argv, "--report-only"])
        path.write_text(slurm_script(args, points, output_dir, collect))
        print(f"[sweep] wrote {path} ({len(points)} array tasks): submit it with `sbatch {path}`")
        return 0
    failed = [] if args.report_only else run_points(points, bool(args.then_eval))
    comparison = write_comparison(points, output_dir, bool(args.then_eval))
    print(comparison["markdown"])
    return 1 if failed or comparison["unfinished"] else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
