"""`recipes/sweep.py`: the tiny sweep end to end (two grid points, two GRPO steps each through `accelerate launch`,
two MMStar items each through `python -m eval_tasks run`), reuse of finished points, rerun of unfinished ones, the
Slurm array script (written, not run) and the refusals that happen before anything runs."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from recipes import sweep

REPO_ROOT = Path(__file__).resolve().parents[1]
TINY_SWEEP = str(REPO_ROOT / "recipes" / "tiny" / "sweep.yaml")


@pytest.fixture(scope="module")
def wethink_dir(tmp_path_factory) -> Path:
    from dataset_builder.build import build_dataset
    from dataset_builder.synthetic import write_synthetic_release

    root = tmp_path_factory.mktemp("wethink")
    release = write_synthetic_release(root / "release", 12, seed=0)
    build_dataset(release.records_path, release.images_root, root / "built", export_sharegpt_json=False)
    return root / "built"


@pytest.fixture(scope="module")
def benchmark_dir(tmp_path_factory) -> Path:
    from eval_tasks.fixtures import write_benchmark_fixtures

    return write_benchmark_fixtures(tmp_path_factory.mktemp("benchmarks"), n_per_benchmark=2, seed=0)


def _sweep_args(output_dir: Path, model_dir: Path, data_dir: Path, *extra: str) -> list[str]:
    return ["--sweep-config", TINY_SWEEP, "--output-dir", str(output_dir), *extra,
            "--model_name_or_path", str(model_dir), "--dataset_name", str(data_dir)]  # fmt: skip


def test_dataset_fraction_is_stratified_seeded_and_nested():
    from datasets import Dataset

    from recipes.data import stratified_fraction

    types = ["multiple-choice"] * 40 + ["fill-in-the-blank"] * 12 + ["descriptive"] * 3
    dataset = Dataset.from_dict({"id": [str(i) for i in range(len(types))], "question_type": types})
    half, record = stratified_fraction(dataset, 0.5, seed=0)
    quarter, _ = stratified_fraction(dataset, 0.25, seed=0)
    assert record["question_type"] == {
        "descriptive": {"kept": 2, "of": 3},  # round(1.5) = 2
        "fill-in-the-blank": {"kept": 6, "of": 12},
        "multiple-choice": {"kept": 20, "of": 40},
    }
    assert record["rows"] == len(half) == 28
    assert set(quarter["id"]) < set(half["id"])  # one seed: the smaller subset lies inside the larger
    assert stratified_fraction(dataset, 0.5, seed=0)[0]["id"] == half["id"]
    assert stratified_fraction(dataset, 0.5, seed=1)[0]["id"] != half["id"]
    with pytest.raises(ValueError, match="dataset_fraction"):
        stratified_fraction(dataset, 0.0, seed=0)


def test_unknown_grid_key_is_refused_before_anything_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO_ROOT)
    out = tmp_path / "sweep"
    with pytest.raises(ValueError) as refused:
        sweep.main(["--config", "recipes/tiny/sweep_grpo.yaml", "--grid", "reward_weight=[[0.5,0.5]]",
                    "--output-dir", str(out)])  # fmt: skip
    message = str(refused.value)
    assert "'reward_weight' is not an argument of recipes/grpo.py" in message
    assert "did you mean reward_weights" in message
    assert "valid keys:" in message and "dataset_fraction" in message and "learning_rate" in message
    assert not out.exists()

    # A value the recipe refuses (three weights for two rewards) is caught for its grid point, before anything runs.
    with pytest.raises(ValueError, match=r"grid point reward_weights-0.5-0.3-0.2: .*one weight per reward"):
        sweep.main(["--config", "recipes/tiny/sweep_grpo.yaml", "--grid", "reward_weights=[[0.7,0.3],[0.5,0.3,0.2]]",
                    "--output-dir", str(out)])  # fmt: skip
    assert not out.exists()


def test_tiny_sweep_runs_reuses_finished_points_and_reruns_unfinished(
    tiny_model_dir, wethink_dir, benchmark_dir, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(REPO_ROOT)
    out = tmp_path / "sweep"
    overrides = ["--model_name_or_path", str(tiny_model_dir), "--dataset_name", str(wethink_dir)]
    args = ["--sweep-config", TINY_SWEEP, "--output-dir", str(out), "--eval-data-dir", str(benchmark_dir), *overrides]
    code = sweep.main(args)

    comparison = json.loads((out / "sweep.json").read_text())
    assert comparison["grid_keys"] == ["reward_weights", "dataset_fraction"]
    points = {p["name"]: p for p in comparison["points"]}
    assert list(points) == [
        "reward_weights-0.5-0.5_dataset_fraction-0.5",
        "reward_weights-0.9-0.1_dataset_fraction-0.5",
    ]
    folders = [Path(p["folder"]) for p in points.values()]
    # An evaluation in which every item failed (the random model may stop at once: an empty completion) exits
    # non-zero, so its point stays unfinished and the sweep says so.
    unfinished = [folder.name for folder in folders if not (folder / "eval.done").is_file()]
    assert comparison["unfinished"] == unfinished and code == (1 if unfinished else 0), _logs(out)
    for point in points.values():
        assert point["steps"] == 2 and point["trained"]
        assert set(point["reward_curves"]) == {"hybrid_reward", "format_reward"}
        results = json.loads((Path(point["folder"]) / "eval" / "results.json").read_text())
        mmstar = results["benchmarks"]["mmstar"]  # both items scored, or counted as failed
        assert mmstar["n"] + mmstar.get("n_failed", 0) == 2, _logs(out)
        train_dir = Path(point["folder"]) / "train"
        subset = json.loads((train_dir / "dataset_subset.json").read_text())
        assert subset["dataset_fraction"] == 0.5 and subset["rows"] < subset["of"]
        card = (train_dir / "README.md").read_text()
        assert "differ from the paper's" in card and "50% of the training rows" in card
    table = (out / "sweep.md").read_text()
    assert "| [0.5, 0.5] | 0.5 | 2 |" in table and "| [0.9, 0.1] | 0.5 | 2 |" in table
    assert (out / "sweep.png").read_bytes().startswith(b"\x89PNG")

    # The sweep's table embedded in a point's card, its plot copied beside it; the card still parses.
    from huggingface_hub import ModelCard

    from model_cards.__main__ import main as cards_main

    assert cards_main(["render", "--model-dir", str(folders[0] / "train"), "--sweep-dir", str(out)]) == 0
    card = ModelCard.load(folders[0] / "train" / "README.md")
    assert (
        "### Sweep over `reward_weights`, `dataset_fraction`" in card.text and "| [0.9, 0.1] | 0.5 | 2 |" in card.text
    )
    assert (folders[0] / "train" / "sweep.png").is_file()

    # A rerun never retrains a trained point; an evaluation that did not finish runs again.
    (folders[1] / "eval.done").unlink(missing_ok=True)
    train_logs = {folder: (folder / "train.log").stat().st_mtime_ns for folder in folders}
    eval_logs = {folder: (folder / "eval.log").stat().st_mtime_ns for folder in folders}
    capsys.readouterr()
    sweep.main(args)
    printed = capsys.readouterr().out
    assert f"{folders[1].name}: running" in printed
    for folder in folders:
        assert (folder / "train.log").stat().st_mtime_ns == train_logs[folder]
        reused = folder.name not in unfinished and folder != folders[1]
        assert (f"{folder.name}: finished earlier, reused" in printed) == reused
        assert ((folder / "eval.log").stat().st_mtime_ns == eval_logs[folder]) == reused

    # The same grid without an evaluation: both points are finished, reused as they are, and the sweep succeeds.
    grid = ["--grid", "reward_weights=[[0.5,0.5],[0.9,0.1]]", "--grid", "dataset_fraction=[0.5]"]
    assert sweep.main(["--config", "recipes/tiny/sweep_grpo.yaml", *grid, "--output-dir", str(out), *overrides]) == 0
    printed = capsys.readouterr().out
    assert all(f"{folder.name}: finished earlier, reused" in printed for folder in folders)
    assert all((folder / "train.log").stat().st_mtime_ns == train_logs[folder] for folder in folders)


def test_slurm_array_script_is_written_not_run_and_other_arguments_are_refused(
    tiny_model_dir, wethink_dir, tmp_path, monkeypatch
):
    monkeypatch.chdir(REPO_ROOT)
    out = tmp_path / "sweep"
    args = _sweep_args(out, tiny_model_dir, wethink_dir, "--launcher", "slurm", "--slurm-header", "partition=gpu")
    assert sweep.main(args) == 0
    script = (out / "sweep.sbatch").read_text()
    assert "#SBATCH --array=0-1" in script and "#SBATCH --partition=gpu" in script and "--report-only" in script
    for path in (out / "sweep.sbatch", *out.glob("points/*/run.sh")):
        subprocess.run(["bash", "-n", str(path)], check=True)  # valid bash
    run_sh = next(out.glob("points/*/run.sh")).read_text()
    assert "accelerate.commands.launch" in run_sh and "-m eval_tasks run" in run_sh
    assert not list(out.glob("points/*/train"))  # nothing ran
    # Collecting before the array ran: the table lists both points as unfinished, and the exit code says so.
    assert sweep.main([*args, "--report-only"]) == 1
    assert json.loads((out / "sweep.json").read_text())["unfinished"] == sorted(p.name for p in out.glob("points/*"))
    assert "not trained" in (out / "sweep.md").read_text()
    with pytest.raises(ValueError, match="holds a run with other arguments"):
        sweep.main([*args, "--learning_rate", "1e-4"])


def _logs(out: Path) -> str:
    return "\n".join(f"--- {log}\n{log.read_text()[-3000:]}" for log in sorted(out.glob("points/*/*.log")))
