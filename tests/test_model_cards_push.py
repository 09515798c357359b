"""`python -m model_cards push`: dry run, and every refusal happens before anything is created on the Hub."""

from __future__ import annotations

import http.server
import json
import os
import socket
import subprocess
import sys
import threading

import pytest

from model_cards.__main__ import main
from model_cards.push import PushError, check_no_secret, plan_push
from tests.test_model_cards import write_run


@pytest.fixture
def model_dir(tmp_path):
    """A finished run folder with weights and a rendered card."""
    from model_cards.cards import render_model_card

    run_dir = write_run(tmp_path / "run")
    (run_dir / "model.safetensors").write_bytes(b"\0" * 2048)
    (run_dir / "checkpoint-2").mkdir()
    (run_dir / "checkpoint-2" / "model.safetensors").write_bytes(b"\0" * 16)
    (run_dir / ".cache").mkdir()
    (run_dir / ".cache" / "samples.json").write_text("{}")
    render_model_card(run_dir, repo_id="org/wethink-tiny")
    return run_dir


def run_cli(args, env_overrides, cwd):
    env = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")}
    env.update(env_overrides, HF_HOME=str(cwd / "hf_home"))  # huggingface_hub caches registry files there
    return subprocess.run(
        [sys.executable, "-m", "model_cards", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120
    )


def test_dry_run_lists_files_and_prints_card(model_dir, capsys):
    assert main(["push", "--model-dir", str(model_dir), "--repo-id", "org/wethink-tiny", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "to model org/wethink-tiny" in out
    assert "model.safetensors" in out and "2.0 KB" in out and "grpo_reward.png" in out
    assert "checkpoint-2" not in out and ".cache" not in out  # intermediate checkpoints and caches stay local
    assert "----- README.md -----" in out and "base_model" not in out.split("-----", 2)[0]
    assert "# wethink-tiny" in out


def test_plan_refuses_folders_that_would_fail(tmp_path, model_dir):
    with pytest.raises(PushError, match="is not a folder"):
        plan_push(tmp_path / "nope", "model")
    (model_dir / "model.safetensors").unlink()
    with pytest.raises(PushError, match="no \\*.safetensors"):
        plan_push(model_dir, "model")
    (model_dir / "README.md").unlink()
    with pytest.raises(PushError, match="render the card first"):
        plan_push(model_dir, "model")


def test_refuses_a_file_containing_the_token(model_dir):
    (model_dir / "notes.txt").write_text("HF_TOKEN=hf_secret_value")
    with pytest.raises(PushError, match="notes.txt contains the Hub token"):
        check_no_secret(plan_push(model_dir, "model"), "hf_secret_value")


def test_missing_token_fails_clearly(model_dir, tmp_path):
    result = run_cli(["push", "--model-dir", str(model_dir), "--repo-id", "org/x"], {"HF_HUB_OFFLINE": "0"}, tmp_path)
    assert result.returncode == 1
    assert "no Hub token: set HF_TOKEN or HUGGING_FACE_HUB_TOKEN" in result.stderr


def test_offline_mode_fails_clearly(model_dir, tmp_path):
    env = {"HF_HUB_OFFLINE": "1", "HF_TOKEN": "hf_dummy_token_value"}
    result = run_cli(["push", "--model-dir", str(model_dir), "--repo-id", "org/x"], env, tmp_path)
    assert result.returncode == 1
    assert "HF_HUB_OFFLINE is set" in result.stderr
    assert "hf_dummy_token_value" not in result.stderr + result.stdout


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_hub_fails_clearly(model_dir, tmp_path):
    port = _free_port()  # bound then closed: nothing listens there
    env = {"HF_HUB_OFFLINE": "0", "HF_ENDPOINT": f"http://127.0.0.1:{port}", "HF_TOKEN": "hf_dummy_token_value"}
    result = run_cli(["push", "--model-dir", str(model_dir), "--repo-id", "org/x"], env, tmp_path)
    assert result.returncode == 1
    assert f"cannot reach the Hub at http://127.0.0.1:{port}" in result.stderr
    assert "nothing was uploaded" in result.stderr
    assert "hf_dummy_token_value" not in result.stderr + result.stdout


class LocalHub:
    """A Hub stand-in on 127.0.0.1 for the few endpoints a push touches; records every request.

    `reply(method, path, body) -> (status, json)` decides the answers; the server stops when the block exits.
    """

    def __init__(self, reply):
        self.requests = []
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _handle(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                hub.requests.append((self.command, self.path, body))
                status, payload = reply(self.command, self.path, body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = _handle

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def push(self, args, cwd):
        env = {"HF_HUB_OFFLINE": "0", "HF_ENDPOINT": self.endpoint, "HF_TOKEN": "hf_dummy_token_value"}
        return run_cli(["push", *args], env, cwd)


def test_rejected_token_creates_nothing(model_dir, tmp_path):
    """A Hub that answers but rejects the token: only read-only calls are made; no repo, no upload."""
    with LocalHub(lambda method, path, body: (401, {"error": "Invalid credentials in Authorization header"})) as hub:
        result = hub.push(["--model-dir", str(model_dir), "--repo-id", "org/x"], tmp_path)
    assert result.returncode == 1
    assert "rejected the token (HTTP 401)" in result.stderr
    assert any(path == "/api/whoami-v2" for _, path, _ in hub.requests)
    assert all(method == "GET" and "/repos" not in path for method, path, _ in hub.requests)


def hub_that_accepts(commit_status=200):
    def reply(method, path, body):
        if path == "/api/whoami-v2":
            return 200, {"type": "user", "name": "tester"}
        if path == "/api/repos/create":
            return 200, {"url": "https://huggingface.co/org/wethink-tiny"}
        if path == "/api/validate-yaml":  # the Hub checks the card's metadata before the commit
            return 200, {"errors": [], "warnings": []}
        if "/preupload/" in path:
            files = json.loads(body)["files"]
            return 200, {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files]}
        if "/branch/" in path:
            return 200, {}
        if "/commit/" in path:
            if commit_status != 200:
                return commit_status, {"error": "commit refused"}
            return 200, {
                "commitUrl": "https://huggingface.co/org/wethink-tiny/commit/" + "a" * 40,
                "commitOid": "a" * 40,
            }
        return 404, {"error": f"unexpected {method} {path}"}

    return reply


def test_push_is_one_commit_of_the_planned_files(model_dir, tmp_path):
    args = ["--model-dir", str(model_dir), "--repo-id", "org/wethink-tiny", "--revision", "demo"]
    with LocalHub(hub_that_accepts()) as hub:
        result = hub.push(args, tmp_path)
    assert result.returncode == 0, result.stderr
    planned = sorted(relative for relative, _ in plan_push(model_dir, "model").files)
    assert f"uploaded {len(planned)} files to org/wethink-tiny" in result.stdout
    writes = [(method, path) for method, path, _ in hub.requests if method != "GET"]
    assert (
        writes[0] == ("POST", "/api/repos/create") and ("POST", "/api/models/org/wethink-tiny/branch/demo") in writes
    )
    commits = [body for method, path, body in hub.requests if path == "/api/models/org/wethink-tiny/commit/demo"]
    assert len(commits) == 1
    lines = [json.loads(line) for line in commits[0].decode().splitlines()]
    committed = sorted(line["value"]["path"] for line in lines if line["key"] == "file")
    assert committed == planned
    assert not any(p.startswith(("checkpoint-", ".cache")) for p in committed)
    assert "hf_dummy_token_value" not in result.stdout + result.stderr


def test_failed_commit_reports_no_commit(model_dir, tmp_path):
    with LocalHub(hub_that_accepts(commit_status=422)) as hub:
        result = hub.push(["--model-dir", str(model_dir), "--repo-id", "org/wethink-tiny"], tmp_path)
    assert result.returncode == 1
    assert "upload to org/wethink-tiny failed" in result.stderr and "no commit was made" in result.stderr


def test_dataset_plan_skips_image_copies_and_refuses_crowded_folders(tmp_path, monkeypatch):
    import model_cards.push as push_module
    from dataset_builder.build import build_dataset
    from dataset_builder.synthetic import write_synthetic_release
    from model_cards.cards import render_dataset_card

    release = write_synthetic_release(tmp_path / "release", 8, seed=1)
    out = tmp_path / "data"
    build_dataset([release.records_path], release.images_root, out)
    render_dataset_card(out)
    (out / "sharegpt" / "images" / "coco").mkdir(parents=True)
    (out / "sharegpt" / "images" / "coco" / "1.jpg").write_bytes(b"jpg")

    files = [relative for relative, _ in plan_push(out, "dataset").files]
    assert "README.md" in files and any(f.startswith("rl/") and f.endswith(".parquet") for f in files)
    assert not any(f.startswith("sharegpt/images/") for f in files)

    limit = sum(1 for p in out.iterdir() if p.is_file())  # the top folder still fits, rl/ does not
    for i in range(limit):
        (out / "rl" / f"extra-{i}.txt").write_text("x")
    monkeypatch.setattr(push_module, "MAX_FILES_PER_FOLDER", limit)
    with pytest.raises(PushError, match="files in rl/, more than the Hub accepts"):
        plan_push(out, "dataset")
