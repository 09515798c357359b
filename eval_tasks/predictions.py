"""`OUT/predictions.jsonl`: every completion a run generates, written as it goes, so runs resume and scoring can
happen elsewhere (`python -m eval_tasks score`).

One JSON object per line: `{"task": "mathvista", "row": 12, "completion": "..."}`, `row` the 0-based row of the
task's evaluation data (its splits in order, after the task's row filter). An item that could not be generated is
written as `{"task", "row", "completion": null, "error": "..."}`: it is counted as failed, never scored, and
generated again by the next run. Lines are appended and fsynced one by one; a line cut short by a crash is dropped
when the file is opened again (that item is generated again). A retried item's new line supersedes its failed one;
the file is rewritten with one line per item when a run ends (and when it is opened), so readers that take the
first line of an item (`python -m eval_tasks score`) see the final one.

`predictions.meta.json` beside it records what the predictions belong to (model, tasks, generation settings); a
run with other settings refuses the folder unless told to overwrite it.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

logger = logging.getLogger(__name__)

PREDICTIONS_FILE = "predictions.jsonl"
META_FILE = "predictions.meta.json"


class PredictionsMismatch(ValueError):
    """The output folder holds predictions of another model, task set or generation setting."""


def read_predictions(path: Path) -> dict[tuple[str, int], dict]:
    """(task, row) -> the last record written for it. A malformed line names the file and line."""
    records: dict[tuple[str, int], dict] = {}
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                key = (str(record["task"]), int(record["row"]))
                if record.get("completion") is not None and not isinstance(record["completion"], str):
                    raise TypeError("completion is not a string")
            except (ValueError, KeyError, TypeError) as err:
                raise ValueError(f"{path}: line {number}: not a prediction record ({err})") from err
            records[key] = record
    return records


class PredictionStore:
    """The predictions of one output folder: what is done, and an append-only writer for new results."""

    def __init__(self, output_dir: str | Path, meta: dict, *, overwrite: bool = False):
        self.output_dir = Path(output_dir)
        self.path = self.output_dir / PREDICTIONS_FILE
        self.meta_path = self.output_dir / META_FILE
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self._claim(meta, overwrite)
        self._drop_cut_line()
        self.records = read_predictions(self.path) if self.path.exists() else {}
        self._compact()
        self._handle = open(self.path, "a", encoding="utf-8")

    def _claim(self, meta: dict, overwrite: bool) -> None:
        meta = json.loads(json.dumps(meta))  # compare in the form it is stored
        if self.path.exists() and not overwrite:
            stored = json.loads(self.meta_path.read_text()) if self.meta_path.exists() else None
            if stored != meta:
                differing = sorted(k for k in set(meta) | set(stored or {}) if (stored or {}).get(k) != meta.get(k))
                raise PredictionsMismatch(
                    f"{self.path} holds predictions of another run (differs in {differing or 'metadata'}: "
                    f"stored {stored}, this run {meta}); use another --output-dir, or --overwrite to start over"
                )
        if overwrite and self.path.exists():
            logger.warning("--overwrite: discarding %s", self.path)
            self.path.unlink()
        self.meta_path.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")

    def _drop_cut_line(self) -> None:
        if not self.path.exists() or self.path.stat().st_size == 0:
            return
        with open(self.path, "rb+") as handle:
            data = handle.read()
            if data.endswith(b"\n"):
                return
            keep = data.rfind(b"\n") + 1
            logger.warning(
                "%s: dropping a line cut short (%d bytes) by an interrupted run", self.path, len(data) - keep
            )
            handle.truncate(keep)

    def completion(self, task: str, row: int) -> str | None:
        """The stored completion, or None when the item is still to generate (never written, or failed)."""
        record = self.records.get((task, row))
        return record.get("completion") if record else None

    def write(self, task: str, row: int, completion: str | None, error: str | None = None) -> None:
        record = {"task": task, "row": row, "completion": completion}
        if completion is None:
            record["error"] = error or "failed"
        self._handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self.records[(task, row)] = record

    def _compact(self) -> None:
        """Rewrite the file with one line per item (the last written), atomically, when it holds superseded ones."""
        if not self.path.exists():
            return
        with open(self.path, "rb") as handle:
            if sum(1 for _ in handle) == len(self.records):
                return
        scratch = self.path.with_suffix(".jsonl.tmp")
        with open(scratch, "w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(record, ensure_ascii=False) + "\n" for record in self.records.values())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(scratch, self.path)

    def close(self) -> None:
        if self._handle.closed:
            return
        self._handle.close()
        self._compact()
