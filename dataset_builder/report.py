"""The build report: what went in, what came out, what was rejected and why, and charts of the distributions."""

from __future__ import annotations

import bisect
import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

# Image size buckets by pixel count (width * height): label -> upper bound (exclusive).
PIXEL_BUCKETS = (
    ("< 64K px", 64_000),
    ("64K-256K px", 256_000),
    ("256K-512K px", 512_000),
    ("512K-1M px", 1_000_000),
    ("1M-4M px", 4_000_000),
    (">= 4M px", float("inf")),
)
# The bucket of a pixel count is the first whose bound exceeds it: bisect_right over the bounds.
_PIXEL_BUCKET_LABELS = tuple(label for label, _ in PIXEL_BUCKETS)
_PIXEL_BUCKET_BOUNDS = tuple(bound for _, bound in PIXEL_BUCKETS)
CHARTS = {
    "question_types": ("Question types", "by_question_type"),
    "reward_methods": ("Reward methods", "by_reward_method"),
    "sources": ("Image sources", "by_source"),
    "abilities": ("Required abilities", "by_ability"),
    "image_sizes": ("Image sizes", "image_pixels"),
}


@dataclass
class BuildReport:
    rows_in: int = 0
    rows_out: int = 0
    rows_rejected: int = 0
    by_question_type: dict[str, int] = field(default_factory=dict)
    by_reward_method: dict[str, int] = field(default_factory=dict)
    by_source: dict[str, int] = field(default_factory=dict)
    by_ability: dict[str, int] = field(default_factory=dict)
    image_pixels: dict[str, int] = field(default_factory=dict)
    image_width: dict[str, float] = field(default_factory=dict)
    image_height: dict[str, float] = field(default_factory=dict)
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    record_files: list[str] = field(default_factory=list)
    data_files: dict[str, list[str]] = field(default_factory=dict)
    num_bytes: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)
    charts: list[str] = field(default_factory=list)
    # A filtered copy (decontaminate --write-clean): the folder it was made from, why rows were removed, and how
    # many per group (e.g. benchmark) and test; rows_in = rows_out + rows_rejected + removed_total.
    derived_from: str | None = None
    removal_note: str = ""
    removed: dict[str, dict[str, int]] = field(default_factory=dict)
    removed_total: int = 0

    def add_row(self, row: dict, width: int, height: int) -> None:
        # Called once per written row, so written flat (no per-call tuples or generators).
        self.rows_out += 1
        _count(self.by_question_type, row["question_type"])
        _count(self.by_reward_method, row["reward_method"])
        _count(self.by_source, row["source"])
        for ability in row["abilities"]:
            _count(self.by_ability, ability)
        _count(self.image_pixels, _PIXEL_BUCKET_LABELS[bisect.bisect_right(_PIXEL_BUCKET_BOUNDS, width * height)])
        _add_to_stats(self.image_width, width, self.rows_out)
        _add_to_stats(self.image_height, height, self.rows_out)

    def add_rejected(self, reason: str) -> None:
        self.rows_rejected += 1
        self.rejected_by_reason[reason] = self.rejected_by_reason.get(reason, 0) + 1

    def to_dict(self) -> dict:
        data = asdict(self)
        data["image_pixels"] = {label: self.image_pixels.get(label, 0) for label, _ in PIXEL_BUCKETS}
        for key in ("by_question_type", "by_reward_method", "by_source", "by_ability", "rejected_by_reason"):
            data[key] = dict(Counter(data[key]).most_common())
        return data

    @classmethod
    def from_dict(cls, data: dict) -> BuildReport:
        return cls(**{key: value for key, value in data.items() if key in cls.__dataclass_fields__})

    def to_markdown(self) -> str:
        if self.derived_from:
            lines = [
                "# Build report",
                "",
                f"- Filtered copy of: `{self.derived_from}` ({self.rows_in} rows)",
                f'- Rows removed: {self.removed_total} (see "Removed rows")',
                f"- Rows kept: {self.rows_out}",
                "",
            ]
        else:
            lines = [
                "# Build report",
                "",
                f"- Records read: {self.rows_in}",
                f"- Rows written: {self.rows_out}",
                f"- Records rejected: {self.rows_rejected} (see `rejected.jsonl`)",
                f"- Build time: {self.seconds:.1f} s",
                "",
            ]
        data = self.to_dict()
        for title, key in [(title, key) for title, key in CHARTS.values()] + [("Rejected", "rejected_by_reason")]:
            counts = data[key]
            if not counts:
                continue
            lines += [f"## {title}", "", "| value | rows |", "|---|---:|"]
            lines += [f"| {name} | {count} |" for name, count in counts.items()]
            lines.append("")
        if self.derived_from:
            lines += self._removed_markdown()
        if self.image_width:
            lines += [
                "Image width min/mean/max: {min:.0f} / {mean:.0f} / {max:.0f}".format(**self.image_width),
                "Image height min/mean/max: {min:.0f} / {mean:.0f} / {max:.0f}".format(**self.image_height),
                "",
            ]
        return "\n".join(lines)

    def _removed_markdown(self) -> list[str]:
        tests = sorted({test for counts in self.removed.values() for test in counts})
        lines = ["## Removed rows", "", self.removal_note, ""] if self.removal_note else ["## Removed rows", ""]
        lines += ["| group | " + " | ".join(tests) + " | rows |", "|---|" + "---:|" * (len(tests) + 1)]
        for group, counts in self.removed.items():
            cells = " | ".join(str(counts.get(test, 0)) for test in tests)
            lines.append(f"| {group} | {cells} | {sum(counts.values())} |")
        lines += ["", f"{self.removed_total} distinct rows removed (a row can match several groups).", ""]
        return lines

    def write(self, output_dir: Path) -> None:
        (output_dir / "build_report.json").write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        (output_dir / "build_report.md").write_text(self.to_markdown())


def _count(counts: dict[str, int], key: str) -> None:
    counts[key] = counts.get(key, 0) + 1


def _add_to_stats(stats: dict[str, float], value: int, count: int) -> None:
    """Running min / max / mean of an image dimension; `count` includes `value`."""
    if not stats:
        stats.update(min=value, max=value, mean=0.0)
    elif value < stats["min"]:
        stats["min"] = value
    elif value > stats["max"]:
        stats["max"] = value
    stats["mean"] += (value - stats["mean"]) / count


def write_charts(report: BuildReport, output_dir: Path, top: int = 20) -> list[str]:
    """One horizontal bar chart per distribution, `OUT/<name>.png`; returns the file names written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = report.to_dict()
    written = []
    for name, (title, key) in CHARTS.items():
        counts = list(data[key].items())[:top]
        if not any(count for _, count in counts):
            continue
        labels, values = zip(*reversed(counts))
        figure, axis = plt.subplots(figsize=(6, 0.35 * len(labels) + 1.2))
        axis.barh(labels, values, color="#4c72b0")
        for y, value in enumerate(values):
            axis.text(value, y, f" {value}", va="center", fontsize=8)
        axis.set_title(f"{title} ({report.rows_out} rows)")
        axis.set_xlabel("rows")
        axis.margins(x=0.15)
        figure.tight_layout()
        figure.savefig(output_dir / f"{name}.png", dpi=100)
        plt.close(figure)
        written.append(f"{name}.png")
    report.charts = written
    return written
