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


def test_rejected_token_creates_nothing(model_dir, tmp_path):
    """A Hub that answers but rejects the token: the only request made is whoami; no repo, no upload."""
    requests = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def _reply(self):
            requests.append((self.command, self.path))
            body = json.dumps({"error": "Invalid credentials in Authorization header"}).encode()
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = _reply

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        endpoint = f"http://127.0.0.1:{server.server_address[1]}"
        env = {"HF_HUB_OFFLINE": "0", "HF_ENDPOINT": endpoint, "HF_TOKEN": "hf_dummy_token_value"}
        result = run_cli(["push", "--model-dir", str(model_dir), "--repo-id", "org/x"], env, tmp_path)
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 1
    assert "rejected the token (HTTP 401)" in result.stderr
    assert ("GET", "/api/whoami-v2") in requests
    assert all(method == "GET" and "/repos" not in path for method, path in requests)  # read-only calls only


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
