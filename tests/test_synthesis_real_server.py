"""The synthesis pipeline end to end against a real OpenAI-compatible server: `transformers serve` serving the tiny
model (the `tiny_server` session fixture). The tiny model's replies are noise, so this checks the plumbing: requests
with images reach the server, replies are journaled, unparseable replies become rejections with their reason, the
statistics agree with the files, and a rerun resumes from the journal without sending anything again."""

from __future__ import annotations

import json

from dataset_builder.synthesis import list_images, parse_config, synthesize
from dataset_builder.synthetic import write_synthetic_release

ROLES = ("vlm", "reasoner", "judge")


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_synthesis_against_transformers_serve(tiny_server, tmp_path):
    images = write_synthetic_release(tmp_path / "release", 3, seed=21).images_root
    endpoint = {
        "base_url": tiny_server.base_url,
        "model": tiny_server.model,
        "max_concurrency": 2,
        "timeout": 120,
        "sampling": {"max_tokens": 8, "temperature": 0.0},
    }
    config = parse_config(
        {
            "roles": {role: {"endpoints": [endpoint]} for role in ROLES},
            "pipeline": {"max_retries": 1, "backoff_base": 0.1, "max_refinement_turns": 1},
        }
    )
    out = tmp_path / "out"
    summary = synthesize(config, images, out, progress=False)
    log = f"\nserver log:\n{tiny_server.log_tail()}"
    assert summary.images_failed == 0, (out / "failed.jsonl").read_text() + log

    journal = read_jsonl(out / "checkpoint" / "journal.jsonl")
    replies = [row for row in journal if row["kind"] == "reply"]
    done = [row for row in journal if row["kind"] == "image_done"]
    # Every image's first request (the VLM's coarse caption, with the image) was answered by the real model...
    assert {row["image"] for row in done} == set(list_images(images))
    captions = [row for row in replies if "|coarse_caption#" in row["key"]]
    assert len(captions) == 3 and all(row["reply"]["completion_tokens"] >= 1 for row in captions)
    assert all(row["reply"]["prompt_tokens"] > 50 for row in captions)  # the prompt and the image's patches
    stats = summary.stats
    per_role = sum(stats["tokens_per_role"][role]["requests"] for role in ROLES)
    assert stats["run"]["requests_sent"] == len(replies) == per_role
    vlm_completion_tokens = sum(row["reply"]["completion_tokens"] for row in replies if row["role"] == "vlm")
    assert stats["tokens_per_role"]["vlm"]["completion_tokens"] == vlm_completion_tokens

    # ... and a reply without the stage's tags is a rejection with its reason, not a crash or a silent drop.
    records, rejected = read_jsonl(out / "records.jsonl"), read_jsonl(out / "rejected.jsonl")
    assert stats["records"] == len(records)
    assert sum(stats["rejection_reasons"].values()) == len(rejected) > 0
    for entry in rejected:
        assert entry["reason"] in ("malformed_reply", "unverifiable", "open-ended", "forced", "judged_incorrect")
        assert entry["detail"] or entry["reason"] != "malformed_reply"
    first = next(entry for entry in rejected if entry["stage"] == "coarse_caption")
    assert first["reason"] == "malformed_reply" and "no <caption>...</caption> in reply" in first["detail"]
    assert stats["stages"]["coarse_caption"]["passed"] + stats["stages"]["coarse_caption"]["rejected"] == 3

    # Resume: forget that the last image finished; the rerun replays its journaled replies, sends nothing.
    path = out / "checkpoint" / "journal.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    last_done = max(i for i, line in enumerate(lines) if '"kind": "image_done"' in line)
    path.write_text("".join(line for i, line in enumerate(lines) if i != last_done))
    again = synthesize(config, images, out, progress=False)
    assert again.stats["run"]["requests_sent"] == 0 and again.stats["run"]["requests_replayed"] >= 1
    assert again.stats["run"]["images_processed"] == 1 and again.stats["run"]["images_done_before"] == 2
    assert read_jsonl(out / "rejected.jsonl") == rejected and again.stats["records"] == len(records)
