"""`python -m dataset_builder check`: a preflight of a release before a build, in one pass over every record.

It reads every record the way `build` does (same reader, same normalizer, same image lookup, without decoding any
image) and reports at once what a build would otherwise stop on one record at a time: the spellings of each
normalised field with counts, the unknown ones with example lines, duplicates, missing fields and images, and the
build command that would succeed. A default build (`--on-error raise`) succeeds exactly when `check` finds nothing.
"""

from __future__ import annotations

import json
import shlex
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from dataset_builder.images import AmbiguousImageError, ImageStore
from dataset_builder.records import CHECK_HINT, normalize_record, reason_key
from dataset_builder.schema import SPELLING_FIELDS, Spellings
from dataset_builder.sources import BadRecordError, iter_raw_records, list_record_files

MAX_EXAMPLES = 3


@dataclass
class Problems:
    """Counts of one kind of problem, with the first few places it occurs (file:line: message)."""

    count: int = 0
    examples: list[str] = field(default_factory=list)

    def add(self, where: str, message: str = "") -> None:
        self.count += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(f"{where}: {message}" if message else where)


@dataclass
class CheckReport:
    record_files: list[str]
    images_checked: bool
    records: int = 0
    rows_ok: int = 0
    files_with_bom: list[str] = field(default_factory=list)
    spellings: dict[str, Counter] = field(default_factory=lambda: {name: Counter() for name in SPELLING_FIELDS})
    unknown_spellings: dict[str, dict[str, Problems]] = field(default_factory=lambda: {n: {} for n in SPELLING_FIELDS})
    abilities: Counter = field(default_factory=Counter)
    ability_forms: Counter = field(default_factory=Counter)
    problems: dict[str, Problems] = field(default_factory=dict)  # reason key -> occurrences (unknown spellings too)
    first_problem: str | None = None

    @property
    def bad_records(self) -> int:
        return sum(problems.count for problems in self.problems.values())

    @property
    def build_would_succeed(self) -> bool:
        return self.bad_records == 0

    def add_problem(self, error: BadRecordError) -> None:
        reason = error.reason.replace(f"; {CHECK_HINT}", "")  # the build's pointer to this very command
        self.problems.setdefault(reason_key(error), Problems()).add(f"{error.file}:{error.line}", reason)
        self.first_problem = self.first_problem or str(error).replace(f"; {CHECK_HINT}", "")


def check_release(
    sources: list[str | Path], images: list[str | Path] | None = None, spellings: Spellings | None = None
) -> CheckReport:
    """Reads every record of sources (and looks up every image in images, when given) without building."""
    spellings = spellings or Spellings()
    files = list_record_files(sources)
    report = CheckReport(record_files=[str(path) for path in files], images_checked=bool(images))
    store = ImageStore(images) if images else None
    seen: dict[str, str] = {}
    try:
        for path in files:
            with open(path, "rb") as handle:
                has_bom = handle.read(3) == b"\xef\xbb\xbf"
            if has_bom:
                report.files_with_bom.append(str(path))
            for raw in iter_raw_records(path):
                report.records += 1
                where = f"{raw.file}:{raw.line}"
                if raw.record is not None:
                    _count_spellings(report, raw.record, spellings, where)
                try:
                    row = normalize_record(raw, spellings)
                    _check_row(row, raw, seen, store)
                except BadRecordError as error:
                    report.add_problem(error)
                    continue
                seen[row["id"]] = where
                report.rows_ok += 1
    finally:
        if store is not None:
            store.close()
    return report


def _count_spellings(report: CheckReport, record: dict, spellings: Spellings, where: str) -> None:
    for name in SPELLING_FIELDS:
        if name not in record:
            continue
        value = record[name]
        report.spellings[name][_shown(value)] += 1
        if spellings.lookup(name, value) is None:
            report.unknown_spellings[name].setdefault(_shown(value), Problems()).add(where)
    abilities = record.get("abilities")
    form = "missing" if abilities is None else type(abilities).__name__
    report.ability_forms["comma-separated string" if form == "str" else form] += 1
    if isinstance(abilities, str):
        abilities = abilities.split(",")
    if isinstance(abilities, list):
        report.abilities.update(str(item).strip() for item in abilities if str(item).strip())


def _shown(value: object) -> str:
    return value if isinstance(value, str) else repr(value)


def _check_row(row: dict, raw, seen: dict[str, str], store: ImageStore | None) -> None:
    if row["id"] in seen:
        raise BadRecordError(raw.file, raw.line, "id", f"duplicate id {row['id']!r} (first seen at {seen[row['id']]})")
    if store is None:
        return
    try:
        found = store.contains(row["image_path"])
    except AmbiguousImageError as error:
        raise BadRecordError(raw.file, raw.line, "image_path", f"ambiguous image: {error}") from None
    if not found:
        roots = ", ".join(store.root_names())
        raise BadRecordError(raw.file, raw.line, "image_path", f"missing image: {row['image_path']!r} not in {roots}")


def build_command(
    sources: list[str], images: list[str] | None, output_dir: str, spellings_file: str | None, skip: bool
) -> str:
    words = ["python", "-m", "dataset_builder", "build", "--source", *sources]
    words += ["--images", *(images or ["IMAGES"]), "--output-dir", output_dir]
    words += ["--spellings", spellings_file] if spellings_file else []
    words += ["--on-error", "skip"] if skip else []
    return shlex.join(words).replace("IMAGES", "<image folder or zip parts>")


def format_report(
    report: CheckReport, *, sources: list[str], images: list[str] | None, output_dir: str, spellings_file: str | None
) -> str:
    lines = [f"{report.records} records in {len(report.record_files)} file(s): {', '.join(report.record_files)}"]
    lines += [f"  {path}: starts with a UTF-8 byte order mark (skipped)" for path in report.files_with_bom]
    for name, (what, allowed, _) in SPELLING_FIELDS.items():
        lines += ["", f"{name} ({what}; canonical: {', '.join(allowed)}): spellings seen"]
        unknown = report.unknown_spellings[name]
        for spelling, count in report.spellings[name].most_common():
            mark = "  UNKNOWN, e.g. " + ", ".join(unknown[spelling].examples) if spelling in unknown else ""
            lines.append(f"  {count:8d}  {spelling!r}{mark}")
    lines += ["", "abilities: " + ", ".join(f"{form} {n}" for form, n in report.ability_forms.most_common())]
    lines += [f"  {count:8d}  {ability!r}" for ability, count in report.abilities.most_common(30)]
    if len(report.abilities) > 30:
        lines.append(f"  ... and {len(report.abilities) - 30} more")
    lines += ["", "problems (each record counted once, under its first problem, as the build would reject it):"]
    for reason, problems in sorted(report.problems.items(), key=lambda item: -item[1].count):
        lines.append(f"  {problems.count:8d}  {reason}")
        lines += [f"            e.g. {example}" for example in problems.examples]
    if not report.problems:
        lines.append("  none")
    if not report.images_checked:
        lines += ["", "images: not checked (pass --images to look up every image without decoding it)"]
    lines.append("")
    if report.build_would_succeed:
        lines += [
            "A default build will succeed:",
            "  " + build_command(sources, images, output_dir, spellings_file, False),
        ]
        return "\n".join(lines)
    lines += [
        f"A default build (--on-error raise) stops at the first problem: {report.first_problem}",
        f"This build succeeds, keeping the {report.bad_records} bad records aside in {output_dir}/rejected.jsonl "
        f"({report.rows_ok} rows):",
        "  " + build_command(sources, images, output_dir, spellings_file, True),
    ]
    if any(report.unknown_spellings.values()):
        lines += ["", "To keep the records with unknown spellings, say what each means in a YAML file and pass it as"]
        lines += ["--spellings FILE to check and build, e.g.:", ""]
        for name, unknown in report.unknown_spellings.items():
            if unknown:
                _, allowed, _ = SPELLING_FIELDS[name]
                spellings = json.dumps([*unknown][:5], ensure_ascii=False)
                lines += [f"{name}:", f"  {allowed[0]}: {spellings}  # move each under the value it means"]
    return "\n".join(lines)
