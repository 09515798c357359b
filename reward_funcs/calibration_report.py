"""The figures of a judge calibration (confusion matrix, agreement, Cohen's kappa, per type / source / tier) and its
report: report.json, report.md with the disagreements listed, calibration.png."""

from __future__ import annotations

import json
from pathlib import Path

TIER_NAMES = {1.0: "CORRECT", 0.5: "PARTIAL", 0.0: "INCORRECT"}
JUDGE_COLUMNS = ("CORRECT", "PARTIAL", "INCORRECT", "failed")
MAX_LISTED = 100  # disagreements shown in report.md (all of them are in report.json)

# Landis & Koch (1977), the usual reading of kappa: upper bound -> name.
_KAPPA_BANDS = ((0.2, "slight"), (0.4, "fair"), (0.6, "moderate"), (0.8, "substantial"))


def kappa_band(kappa: float | None) -> str:
    if kappa is None:
        return "undefined"
    if kappa < 0:
        return "poor (below chance)"
    return next((name for upper, name in _KAPPA_BANDS if kappa <= upper), "almost perfect")


def judge_says_correct(score: float, partial_counts_as: str) -> bool:
    return score == 1.0 or (score == 0.5 and partial_counts_as == "correct")


def cohen_kappa(tp: int, fp: int, fn: int, tn: int) -> float | None:
    """Cohen's kappa of two binary raters; None when chance agreement is 1 (both raters constant and equal)."""
    n = tp + fp + fn + tn
    if not n:
        return None
    observed = (tp + tn) / n
    rule_yes, judge_yes = (tp + fn) / n, (tp + fp) / n
    expected = rule_yes * judge_yes + (1 - rule_yes) * (1 - judge_yes)
    return None if expected == 1 else (observed - expected) / (1 - expected)


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def figures(candidates: list, partial_counts_as: str) -> dict:
    """The agreement figures of a group of candidates; judge failures are counted, never scored."""
    confusion = {side: dict.fromkeys(JUDGE_COLUMNS, 0) for side in ("rule correct", "rule incorrect")}
    tp = fp = fn = tn = 0
    for c in candidates:
        side = "rule correct" if c.rule else "rule incorrect"
        if c.judge is None:
            confusion[side]["failed"] += 1
            continue
        confusion[side][TIER_NAMES[c.judge]] += 1
        says = judge_says_correct(c.judge, partial_counts_as)
        if says and c.rule:
            tp += 1
        elif says:
            fp += 1
        elif c.rule:
            fn += 1
        else:
            tn += 1
    judged = tp + fp + fn + tn
    kappa = cohen_kappa(tp, fp, fn, tn)
    return {
        "n": len(candidates),
        "judged": judged,
        "failures": len(candidates) - judged,
        "failure_rate": _ratio(len(candidates) - judged, len(candidates)),
        "confusion": confusion,
        "binary": {"tp": tp, "fp": fp, "fn": fn, "tn": tn},
        "agreement": _ratio(tp + tn, judged),
        "kappa": kappa,
        "kappa_band": kappa_band(kappa),
        "precision": _ratio(tp, tp + fp),  # of the judge's CORRECT (binary) calls, the share the rules accept
        "recall": _ratio(tp, tp + fn),  # of the rule-correct answers, the share the judge accepts
        "specificity": _ratio(tn, tn + fp),  # of the rule-wrong answers, the share the judge rejects
    }


def agreement(candidates: list, partial_counts_as: str) -> dict:
    """Overall figures, per question type, per candidate source, per judge tier, and the disagreements."""
    by = {}
    for key in ("question_type", "source"):
        values = sorted({getattr(c, key) for c in candidates})
        by[key] = {v: figures([c for c in candidates if getattr(c, key) == v], partial_counts_as) for v in values}
    tiers = {}
    for score, name in TIER_NAMES.items():
        graded = [c for c in candidates if c.judge == score]
        accepted = sum(1 for c in graded if c.rule)
        tiers[name] = {
            "judge_score": score,
            "n": len(graded),
            "rule_correct": accepted,
            "rate": _ratio(accepted, len(graded)),
        }
    disagreements = [
        {"row": c.row, "id": c.id, "question_type": c.question_type, "source": c.source, "answer": c.answer[:300],
         "rule": c.rule, "judge": TIER_NAMES[c.judge]}
        for c in candidates
        if c.judge is not None and judge_says_correct(c.judge, partial_counts_as) != c.rule
    ]  # fmt: skip
    overall = figures(candidates, partial_counts_as)
    return {
        "overall": overall,
        "summary": summary(overall),
        "by_question_type": by["question_type"],
        "by_source": by["source"],
        "by_tier": tiers,
        "disagreements": disagreements,
    }


def summary(overall: dict) -> str:
    n, judged = overall["n"], overall["judged"]
    if not judged:
        return (
            f"The judge graded none of the {n} candidates ({overall['failures']} failures): no agreement can be "
            "measured, and this judge cannot be trusted as configured."
        )
    text = (
        f"The judge graded {judged} of {n} candidates ({overall['failures']} failures, left out). On those it agrees "
        f"with the rules on {100 * overall['agreement']:.1f}%"
    )
    kappa = overall["kappa"]
    if kappa is None:
        return text + "; kappa is undefined (the judge and the rules each gave one verdict only)."
    text += f", Cohen's kappa {kappa:.2f} ({kappa_band(kappa)})."
    if kappa < 0.2:
        text += " That is no better than chance: on these rows its grades are noise."
    return text


def _fmt(value) -> str:
    if value is None:
        return "n/a"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _figures_table(title: str, groups: dict[str, dict]) -> list[str]:
    lines = [f"## {title}", "", "| group | candidates | judged | failures | agreement | kappa | precision | recall |"]
    lines.append("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, f in groups.items():
        cells = (f["n"], f["judged"], f["failures"], f["agreement"], f["kappa"], f["precision"], f["recall"])
        lines.append(f"| {name} | " + " | ".join(_fmt(v) for v in cells) + " |")
    return [*lines, ""]


def render_markdown(report: dict) -> str:
    overall = report["overall"]
    lines = [
        "# Judge calibration",
        "",
        f"Judge `{report['judge']['model']}` (prompt {report['prompt_version']}) against the grading rules on "
        f"{report['rows']['sampled']} rule-scorable rows of `{report['dataset']}` (config {report['config']}, split "
        f"{report['split']}; {report['rows']['rule_scorable']} of {report['rows']['total']} rows are "
        "rule-scorable). PARTIAL counts as " + report["partial_counts_as"] + ".",
        "",
        f"**{report['summary']}**",
        "",
        "## Confusion matrix",
        "",
        "| | " + " | ".join(JUDGE_COLUMNS) + " |",
        "|---|" + "---:|" * len(JUDGE_COLUMNS),
    ]
    for side, counts in overall["confusion"].items():
        lines.append(f"| {side} | " + " | ".join(str(counts[c]) for c in JUDGE_COLUMNS) + " |")
    lines += ["", *_figures_table("Overall", {"all": overall})]
    lines += _figures_table("By question type", report["by_question_type"])
    lines += _figures_table("By candidate source", report["by_source"])
    lines += [
        "## By judge tier",
        "",
        "| tier | candidates | rule-correct | share rule-correct |",
        "|---|---:|---:|---:|",
    ]
    for name, tier in report["by_tier"].items():
        lines.append(f"| {name} | {tier['n']} | {tier['rule_correct']} | {_fmt(tier['rate'])} |")
    lines += ["", "![calibration](calibration.png)", "", "## Left out", ""]
    lines.append(f"- rows not rule-scorable: {report['skipped_rows'] or 'none'}")
    lines.append(f"- candidates dropped while building: {report['dropped_candidates'] or 'none'}")
    lines.append(f"- policy completions: {report['policy']}")
    disagreements = report["disagreements"]
    lines += ["", f"## Disagreements ({len(disagreements)})", ""]
    if disagreements:
        lines += ["| row id | type | source | answer | rule | judge |", "|---|---|---|---|---|---|"]
        for d in disagreements[:MAX_LISTED]:
            answer = d["answer"].replace("|", "\\|").replace("\n", " ")[:120]
            lines.append(
                f"| {d['id']} | {d['question_type']} | {d['source']} | {answer} | "
                f"{'correct' if d['rule'] else 'incorrect'} | {d['judge']} |"
            )
        if len(disagreements) > MAX_LISTED:
            lines.append(f"\n{len(disagreements) - MAX_LISTED} more in report.json.")
    else:
        lines.append("None.")
    return "\n".join(lines) + "\n"


def plot_calibration(report: dict, path: Path) -> None:
    """Left: the share of rule-correct answers per judge tier (a well-calibrated judge sits on the diagonal).
    Right: the confusion matrix, failures included."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    tiers = [t for t in report["by_tier"].values() if t["n"]]
    left.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    if tiers:
        xs, ys = [t["judge_score"] for t in tiers], [t["rate"] for t in tiers]
        errors = [(t["rate"] * (1 - t["rate"]) / t["n"]) ** 0.5 for t in tiers]
        left.errorbar(xs, ys, yerr=errors, marker="o", capsize=4, label="judge tier")
        for x, y, t in zip(xs, ys, tiers):
            left.annotate(f"n={t['n']}", (x, y), textcoords="offset points", xytext=(6, -12), fontsize=8)
    left.set_xticks([0, 0.5, 1], ["INCORRECT", "PARTIAL", "CORRECT"])
    left.set_xlim(-0.15, 1.15)
    left.set_ylim(-0.05, 1.05)
    left.set_ylabel("share the rules grade correct")
    left.set_title(f"kappa {_fmt(report['overall']['kappa'])}, {report['overall']['failures']} failures")
    left.legend(fontsize=8, loc="upper left")
    confusion = report["overall"]["confusion"]
    matrix = [[confusion[side][c] for c in JUDGE_COLUMNS] for side in confusion]
    right.imshow(matrix, cmap="Blues")
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            right.text(j, i, str(value), ha="center", va="center")
    right.set_xticks(range(len(JUDGE_COLUMNS)), JUDGE_COLUMNS)
    right.set_yticks(range(len(confusion)), list(confusion))
    right.set_xlabel("judge")
    right.set_title("rule verdict x judge grade")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_report(report: dict, output_dir: Path) -> None:
    (output_dir / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (output_dir / "report.md").write_text(render_markdown(report), encoding="utf-8")
    plot_calibration(report, output_dir / "calibration.png")
