"""What lets a synthesis run resume safely: one run per output folder at a time (a lock the OS drops when the holder
dies), the record of what started the folder (image folder, shard and the config that decides the replies'
content) checked on every resume, and journal compaction.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
from pathlib import Path

from dataset_builder.synthesis.config import SynthesisConfig
from dataset_builder.synthesis.journal import DurableJsonl
from dataset_builder.synthesis.prompts import prompt_versions

logger = logging.getLogger(__name__)


def config_identity(config: SynthesisConfig) -> dict:
    """What decides the content of a run's replies: per role the models, sampling settings and whether it sees the
    image; the prompt template versions; the pipeline settings that shape questions and answers. Addresses,
    concurrency, timeouts and retries are left out: they change how fast a run goes, not what it writes."""
    pipeline = config.pipeline
    return {
        "roles": {
            name: {
                "models": sorted({endpoint.model for endpoint in role.endpoints}),
                "sampling": sorted({json.dumps(endpoint.sampling, sort_keys=True) for endpoint in role.endpoints}),
                "sees_image": role.sees_image,
            }
            for name, role in config.roles.items()
        },
        "prompts": prompt_versions(),
        "pipeline": {
            "questions_per_image": pipeline.questions_per_image,
            "question_types": list(pipeline.question_types),
            "max_refinement_turns": pipeline.max_refinement_turns,
            "max_reply_chars": pipeline.max_reply_chars,
            "max_fib_answer_words": pipeline.max_fib_answer_words,
        },
    }


def check_same_run(output_dir: Path, identity: dict, config: dict, allow_config_change: bool) -> None:
    """Resuming into an output folder made for another image folder or shard would mix two runs: refuse. One made
    with another config would mix replies of two configs in one record set: refuse unless allowed."""
    marker = output_dir / "checkpoint" / "run.json"
    current = {**identity, "config": config}
    if marker.exists():
        previous = json.loads(marker.read_text())
        started = {key: previous.get(key) for key in identity}
        if started != identity:
            raise ValueError(f"{output_dir} holds a run for {started}, not {identity}; use another --output-dir")
        changes = _differences(previous.get("config"), config)
        if not changes:
            return
        if not allow_config_change:
            raise ValueError(
                f"{output_dir} was started with another synthesis config: {'; '.join(changes)}. Resume with "
                "--allow-config-change to go on with this one (changed stages send new requests; images already "
                "finished keep their records), or use another --output-dir"
            )
        logger.warning("resuming %s with a changed config: %s", output_dir, "; ".join(changes))
        current["earlier_configs"] = [*previous.get("earlier_configs", []), previous.get("config")]
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps(current, indent=1))


def _differences(before, after, path: str = "") -> list[str]:
    """`path: before -> after` for every leaf that differs (a run.json without a config differs in everything)."""
    if before is None:
        return [f"{path or 'config'}: not recorded -> {json.dumps(after)[:200]}"]
    if isinstance(before, dict) and isinstance(after, dict):
        changes = []
        for key in sorted(set(before) | set(after)):
            changes += _differences(before.get(key), after.get(key), f"{path}.{key}" if path else key)
        return changes
    return [] if before == after else [f"{path}: {json.dumps(before)} -> {json.dumps(after)}"]


def compact_journal(path: Path) -> None:
    """Drops the replies of finished images (their records and rejections are written), so the journal holds only
    the work in progress plus one small row per finished image. Runs before any worker starts appending."""
    journal = DurableJsonl(path)  # also cuts a torn tail
    journal.close()
    finished: set[str] = set()
    replied: set[str] = set()
    for row in journal:
        if row.get("kind") == "image_done":
            finished.add(row["image"])
        elif row.get("kind") == "reply":
            replied.add(row["image"])
    if finished.isdisjoint(replied):
        return
    compacted = path.with_name(path.name + ".compacting")
    with open(compacted, "w", encoding="utf-8") as out:
        for row in journal:
            if row.get("kind") != "reply" or row["image"] not in finished:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(compacted, path)  # atomic: a kill leaves either the old or the new journal
    directory = os.open(path.parent, os.O_RDONLY)
    os.fsync(directory)
    os.close(directory)


@contextlib.contextmanager
def exclusive(output_dir: Path):
    """One run per output folder at a time; the OS drops the lock when the holder dies, even by kill -9."""
    lock_path = output_dir / "checkpoint" / "lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ValueError(f"{output_dir} is in use by another synthesize run") from None
        yield
