"""The comparison a sweep writes (`recipes/sweep.py`): one table (sweep.md, sweep.json) and one plot (sweep.png) of
the score per benchmark per grid point, beside each point's reward curves from its trainer_state.json.

Rewards are compared per function (`rewards/<name>/mean`), not as TRL's weighted `reward`: with different
`reward_weights` the weighted sums are on different scales.
"""

from __future__ import annotations

import json
from pathlib import Path


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def reward_curves(log_history: list[dict]) -> dict[str, list[tuple[int, float]]]:
    curves: dict[str, list[tuple[int, float]]] = {}
    for entry in log_history:
        for key, value in entry.items():
            if key.startswith("rewards/") and key.endswith("/mean") and "step" in entry and value is not None:
                curves.setdefault(key.split("/")[1], []).append((entry["step"], value))
    return curves


def _last_quarter_mean(curve: list[tuple[int, float]]) -> float | None:
    values = [value for _, value in curve if value == value]  # NaN (a reward that scored nothing) left out
    if not values:
        return None
    tail = values[-max(1, len(values) // 4) :]
    return sum(tail) / len(tail)


def point_summary(point) -> dict:
    """What the table shows for one grid point: its values, training steps, rewards and benchmark scores."""
    state = _read_json(point.train_dir / "trainer_state.json") if point.done("train") else None
    results = _read_json(point.eval_dir / "results.json") if point.done("eval") else None
    curves = reward_curves(state.get("log_history", [])) if state else {}
    summary = {
        "name": point.name,
        "values": point.values,
        "trained": state is not None,
        "evaluated": results is not None,
        "steps": state.get("global_step") if state else None,
        "rewards_last_quarter": {name: _last_quarter_mean(curve) for name, curve in curves.items()},
        "reward_curves": curves,
        "benchmarks": {},
        "folder": str(point.folder),
    }
    for name, entry in (results or {}).get("benchmarks", {}).items():
        summary["benchmarks"][name] = {
            "column": entry.get("column", name),
            **{k: entry.get(k) for k in ("score", "status", "n", "n_failed")},
        }
    return summary


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return json.dumps(value) if isinstance(value, list | dict) else str(value)


def markdown_table(summaries: list[dict], grid_keys: list[str]) -> str:
    benchmarks = list(dict.fromkeys(b for s in summaries for b in s["benchmarks"]))
    rewards = list(dict.fromkeys(r for s in summaries for r in s["rewards_last_quarter"]))
    columns = {b: next(s["benchmarks"][b]["column"] for s in summaries if b in s["benchmarks"]) for b in benchmarks}
    header = [*grid_keys, "steps", *(f"{r} (last 1/4)" for r in rewards), *columns.values()]
    lines = [
        f"## Sweep over {', '.join(f'`{k}`' for k in grid_keys)}",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(grid_keys) + "---:|" * (len(header) - len(grid_keys)),
    ]
    partial = False
    for s in summaries:
        cells = [json.dumps(s["values"][k]) for k in grid_keys]
        cells.append(_cell(s["steps"] if s["trained"] else "not trained"))
        cells += [_cell(s["rewards_last_quarter"].get(r)) for r in rewards]
        for b in benchmarks:
            entry = s["benchmarks"].get(b)
            mark = "*" if entry and entry["status"] == "partial" else ""
            partial |= bool(mark)
            if entry is None:
                cells.append("-" if s["evaluated"] else "not evaluated")
            else:  # a benchmark without a score says why (failed, needs judge)
                cells.append(_cell(entry["score"]) + mark if entry["score"] is not None else str(entry["status"]))
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Rewards: mean of each reward function over the last quarter of logged steps (unweighted)."]
    if partial:
        lines.append("\\* evaluated on a subset (`--eval-max-samples`): not comparable with published numbers.")
    lines += ["", "![sweep](sweep.png)"]
    return "\n".join(lines) + "\n"


def plot_sweep(summaries: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    benchmarks = list(dict.fromkeys(b for s in summaries for b in s["benchmarks"]))
    fig, axes = plt.subplots(1, 2 if benchmarks else 1, figsize=(12 if benchmarks else 6, 4), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    if benchmarks:
        bars = axes[0][0]
        width = 0.8 / max(1, len(summaries))
        for i, s in enumerate(summaries):
            scores = [(s["benchmarks"].get(b) or {}).get("score") for b in benchmarks]
            xs = [j + i * width for j in range(len(benchmarks))]
            bars.bar(
                xs,
                [float("nan") if v is None else v for v in scores],
                width,
                label=s["name"],
                color=colors[i % len(colors)],
            )
        bars.set_xticks([j + 0.4 - width / 2 for j in range(len(benchmarks))], benchmarks, rotation=30, ha="right")
        bars.set_ylabel("score")
        bars.set_title("score per benchmark")
        bars.legend(fontsize=7)
    curves_ax = axes[0][-1]
    styles = ["-", "--", ":", "-."]
    names = list(dict.fromkeys(r for s in summaries for r in s["reward_curves"]))
    for i, s in enumerate(summaries):
        for j, reward in enumerate(names):
            curve = s["reward_curves"].get(reward)
            if curve:
                steps, values = zip(*curve)
                curves_ax.plot(steps, values, styles[j % len(styles)], marker="o", markersize=3,
                               color=colors[i % len(colors)], label=f"{s['name']}: {reward}")  # fmt: skip
    curves_ax.set_xlabel("step")
    curves_ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    curves_ax.set_ylabel("reward (per function, unweighted)")
    curves_ax.set_title("reward curves")
    if names:
        curves_ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_comparison(points: list, output_dir: Path, then_eval: bool) -> dict:
    grid_keys = list(points[0].values) if points else []
    summaries = [point_summary(point) for point in points]
    unfinished = [s["name"] for s in summaries if not s["trained"] or (then_eval and not s["evaluated"])]
    markdown = markdown_table(summaries, grid_keys)
    if unfinished:
        markdown += f"\nUnfinished points (rerun the sweep to finish them): {', '.join(unfinished)}\n"
    comparison = {"grid_keys": grid_keys, "points": summaries, "unfinished": unfinished}
    (output_dir / "sweep.json").write_text(json.dumps(comparison, indent=2) + "\n")
    (output_dir / "sweep.md").write_text(markdown)
    plot_sweep(summaries, output_dir / "sweep.png")
    return {**comparison, "markdown": markdown}
