"""One push path for training: the Trainer never calls the Hub; the project's checked push uploads after training
(and at each save when asked), with the project's card; a push that cannot happen is refused before training."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from model_cards.push import PushError
from tests import test_recipes
from tests.test_model_cards_push import LocalHub, hub_that_accepts
from tests.test_recipes import ACCELERATE, BOGUS_MODEL, CPU_CONFIG, REPO_ROOT, _run_in_process

wethink_dir = test_recipes.wethink_dir  # the built synthetic dataset, shared with the recipe tests

# The endpoints of `model_cards.push`, plus the read-only registry huggingface_hub fetches once for its user-agent
# header (`/api/agent-harnesses`, cached in HF_HOME).
OUR_PUSH = ("/api/whoami-v2", "/api/repos/create", "/api/validate-yaml", "/preupload/", "/commit/",
            "/api/agent-harnesses")  # fmt: skip


def test_push_without_a_token_is_refused_before_the_model_loads(wethink_dir, tmp_path, monkeypatch):
    from recipes import grpo

    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(PushError, match="no Hub token"):
        _run_in_process(grpo, "grpo.yaml", "--model_name_or_path", BOGUS_MODEL, "--dataset_name", str(wethink_dir),
                        "--output_dir", str(tmp_path / "run"), "--push_to_hub", "true")  # fmt: skip


@pytest.mark.parametrize(
    "args, message",
    [
        (["--hub_token", "hf_on_the_command_line"], "read from HF_TOKEN only"),
        (["--log_completions", "true", "--log_completions_hub_repo", "org/logs"], "outside the checked push"),
        (["--push_at_save", "true"], "need --push_to_hub true"),
    ],
)
def test_hub_paths_around_the_checked_push_are_refused(wethink_dir, tmp_path, args, message):
    from recipes import grpo

    with pytest.raises(ValueError, match=message):
        _run_in_process(grpo, "grpo.yaml", "--model_name_or_path", BOGUS_MODEL, "--dataset_name", str(wethink_dir),
                        "--output_dir", str(tmp_path / "run"), *args)  # fmt: skip


def test_the_trainer_makes_no_hub_call_of_its_own(tiny_model_dir, wethink_dir, tmp_path):
    run_dir = tmp_path / "grpo"
    cmd = [str(ACCELERATE), "launch", "--config_file", str(CPU_CONFIG), str(REPO_ROOT / "recipes" / "grpo.py"),
           "--config", str(REPO_ROOT / "recipes" / "tiny" / "grpo.yaml"), "--model_name_or_path", str(tiny_model_dir),
           "--dataset_name", str(wethink_dir), "--output_dir", str(run_dir), "--max_steps", "2", "--save_steps", "1",
           "--push_to_hub", "true", "--hub_model_id", "org/wethink-tiny", "--push_at_save", "true"]  # fmt: skip
    with LocalHub(hub_that_accepts()) as hub:
        env = {**os.environ, "HF_HUB_OFFLINE": "0", "HF_DATASETS_OFFLINE": "1", "HF_ENDPOINT": hub.endpoint,
               "HF_TOKEN": "hf_dummy_token_value", "HF_HOME": str(tmp_path / "hf_home")}  # fmt: skip
        result = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    # Every request belongs to one of the project's pushes: 2 saves + the final push, each its own repo check.
    stray = [(method, path) for method, path, _ in hub.requests if not any(part in path for part in OUR_PUSH)]
    assert stray == []
    assert all(method == "GET" for method, path, _ in hub.requests if path == "/api/agent-harnesses")
    commits = [body for _, path, body in hub.requests if path == "/api/models/org/wethink-tiny/commit/main"]
    assert len(commits) == 3
    assert sum(path == "/api/repos/create" for _, path, _ in hub.requests) == 3
    headers = [json.loads(body.decode().splitlines()[0])["value"]["summary"] for body in commits]
    assert headers == ["Checkpoint at step 1 (wethink-recipes)", "Checkpoint at step 2 (wethink-recipes)",
                       "Upload model with wethink-recipes"]  # fmt: skip
    for body in commits:
        lines = [json.loads(line) for line in body.decode().splitlines()]
        paths = {line["value"]["path"] for line in lines if line["key"] == "file"}
        assert {"README.md", "model.safetensors", "config.json"} <= paths
        assert not any(p.startswith("checkpoint-") or p in ("optimizer.pt", "scheduler.pt") for p in paths)
        assert not any(p.startswith("rng_state") for p in paths)
    # The card pushed is the project's, not TRL's generic one.
    final_card = (run_dir / "README.md").read_text()
    assert "WeThink" in final_card and "org/wethink-tiny" in final_card
    assert "hf_dummy_token_value" not in result.stdout + result.stderr
    assert not any("hf_dummy_token_value" in p.read_text(errors="ignore") for p in Path(run_dir).rglob("*.json"))


def test_a_push_can_include_the_checkpoints_when_asked(tmp_path):
    from model_cards.push import plan_push

    run = tmp_path / "run"
    (run / "checkpoint-2").mkdir(parents=True)
    for name in ("model.safetensors", "checkpoint-2/model.safetensors", "checkpoint-2/optimizer.pt"):
        (run / name).write_bytes(b"\0" * 8)
    for card in (run / "README.md", run / "checkpoint-2" / "README.md"):
        card.write_text("---\nlicense: apache-2.0\n---\n# run\n")
    default = [relative for relative, _ in plan_push(run, "model").files]
    assert default == ["README.md", "model.safetensors"]
    with_checkpoints = [relative for relative, _ in plan_push(run, "model", include_checkpoints=True).files]
    assert "checkpoint-2/optimizer.pt" in with_checkpoints and "checkpoint-2/model.safetensors" in with_checkpoints
    one_checkpoint = [r for r, _ in plan_push(run / "checkpoint-2", "model", training_state=False).files]
    assert one_checkpoint == ["README.md", "model.safetensors"]  # a checkpoint pushed as a model: no optimizer
