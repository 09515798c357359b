"""kill -9 a running `python -m dataset_builder synthesize`, start it again, and check the resumed run: no finished
request is sent twice, no record is lost or duplicated, and the output builds into the Parquet dataset."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
import yaml

from dataset_builder.synthesis import list_images
from dataset_builder.synthetic import write_synthetic_release
from tests.doubles.scripted_server import ScriptedOpenAIServer
from tests.doubles.synthesis_roles import ScriptedRoles

CONCURRENCY = 2
NONCE = re.compile(r"<!-- req:(\w+) -->")


def read_rows(path):
    """JSONL rows, tolerating a torn last line (the process was killed mid-write)."""
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            pass
    return rows


def synthesize_command(images, config, out, workers):
    return [sys.executable, "-m", "dataset_builder", "synthesize", "--images", str(images), "--config", str(config),
            "--output-dir", str(out), "--workers", str(workers), "--no-progress"]  # fmt: skip


# With --workers 2 the kill hits the parent only: its workers must exit too, or they would race the rerun.
@pytest.mark.parametrize("workers", [1, 2], ids=["one-process", "two-workers"])
def test_kill_9_mid_run_then_resume(tmp_path, repo_root, workers):
    images = write_synthetic_release(tmp_path / "release", 10, seed=5).images_root
    paths = list_images(images)
    roles = ScriptedRoles(images, quirks={paths[0]: {"vlm_disagrees", "judge_rejects"}}, delay_s=0.05)
    out, config_path = tmp_path / "out", tmp_path / "synthesis.yaml"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(repo_root)}
    with ScriptedOpenAIServer(roles) as server:
        endpoint = {"base_url": server.base_url, "max_concurrency": CONCURRENCY, "timeout": 10}
        config = {"roles": {r: {"endpoints": [endpoint]} for r in ("vlm", "reasoner", "judge")}}
        config_path.write_text(yaml.safe_dump({**config, "pipeline": {"max_refinement_turns": 2}}))
        journal = out / "checkpoint" / "journal.jsonl"

        first = subprocess.Popen(synthesize_command(images, config_path, out, workers), env=env, cwd=repo_root)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and first.poll() is None:
            if journal.exists() and journal.read_text().count('"kind": "reply"') >= 80:
                break
            time.sleep(0.05)
        assert first.poll() is None, "the first run ended before it could be killed"
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        time.sleep(0.5)  # requests already on the wire may still arrive; after that, nothing may be sending
        sent_after_kill = len(server.requests)
        time.sleep(0.5)
        assert len(server.requests) == sent_after_kill, "something outlived the killed run and is still sending"
        journaled = [
            NONCE.search(row["reply"]["text"]).group(1) for row in read_rows(journal) if row["kind"] == "reply"
        ]
        records_before_kill = len(read_rows(out / "records.jsonl"))
        sent_before_kill = len(server.requests)

        second = subprocess.run(
            synthesize_command(images, config_path, out, workers), env=env, cwd=repo_root, capture_output=True, text=True,
            timeout=120,
        )  # fmt: skip
        assert second.returncode == 0, second.stderr[-2000:]

    assert 80 <= len(journaled) < sent_before_kill + 1 and records_before_kill < 27
    # Every request whose reply was journaled before the kill was sent exactly once over both runs; only requests
    # in flight at the kill (at most the three roles' concurrency) could be sent again.
    assert all(roles.by_hash[nonce] == 1 for nonce in journaled)
    resent = sum(count - 1 for count in roles.by_hash.values())
    assert resent <= 3 * CONCURRENCY

    records = read_rows(out / "records.jsonl")
    ids = [r["provenance"]["record_id"] for r in records]
    assert len(ids) == len(set(ids)) == 27  # 9 clean images x 3 questions; paths[0]'s 3 are judged incorrect
    rejected = read_rows(out / "rejected.jsonl")
    assert sorted(r["image_path"] for r in rejected) == [paths[0]] * 3
    stats = json.loads((out / "stats.json").read_text())
    assert stats["records"] == 27 and stats["images"] == 10 and stats["run"]["requests_replayed"] >= 80

    from dataset_builder.build import build_dataset

    report = build_dataset(out / "records.jsonl", images, tmp_path / "built", export_sharegpt_json=False)
    assert report.rows_out == 27 and report.rows_rejected == 0
