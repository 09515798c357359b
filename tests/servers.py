"""A real OpenAI-compatible server for tests: `transformers serve` on 127.0.0.1, started as a subprocess.

The server runs in its own process group so that stopping it also stops any worker it forks; its output goes to a
log file whose tail is shown when it fails to come up.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

STARTUP_TIMEOUT_S = 180.0  # ~10 s on an idle core; the CI machine is shared, so leave room.


@dataclass
class RunningServer:
    base_url: str  # http://127.0.0.1:PORT/v1, what an OpenAI client takes
    model: str  # the name requests must send (transformers serve serves the path it was given)
    model_dir: Path
    log_path: Path
    process: subprocess.Popen

    def log_tail(self, lines: int = 40) -> str:
        return log_tail(self.log_path, lines)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as err:
        return f"(no log: {err})"


def start_transformers_serve(model_dir: Path, work_dir: Path, timeout_s: float = STARTUP_TIMEOUT_S) -> RunningServer:
    """Start `transformers serve MODEL_DIR` on a free port and wait until `/health` answers."""
    hub_cache = work_dir / "hub-cache"  # /v1/models lists this cache; it must exist
    hub_cache.mkdir(parents=True, exist_ok=True)
    log_path = work_dir / "transformers-serve.log"
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(hub_cache), "TOKENIZERS_PARALLELISM": "false"}
    command = [
        str(Path(sys.executable).with_name("transformers")),
        "serve",
        str(model_dir),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--device",
        "cpu",
    ]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True, cwd=work_dir
        )
    server = RunningServer(f"http://127.0.0.1:{port}/v1", str(model_dir), Path(model_dir), log_path, process)
    try:
        _wait_healthy(server, timeout_s)
    except BaseException:
        stop(server)
        raise
    return server


def _wait_healthy(server: RunningServer, timeout_s: float) -> None:
    health_url = server.base_url.removesuffix("/v1") + "/health"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"transformers serve exited with code {server.process.returncode} before becoming healthy; "
                f"log tail ({server.log_path}):\n{server.log_tail()}"
            )
        try:
            with urllib.request.urlopen(health_url, timeout=2) as reply:
                if reply.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)
    raise RuntimeError(
        f"transformers serve did not answer {health_url} within {timeout_s:.0f}s; "
        f"log tail ({server.log_path}):\n{server.log_tail()}"
    )


def stop(server: RunningServer, grace_s: float = 10.0) -> None:
    """Terminate the server's process group; kill it if it does not exit within `grace_s`."""
    if server.process.poll() is not None:
        return
    try:
        os.killpg(server.process.pid, signal.SIGTERM)
        server.process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=grace_s)
    except ProcessLookupError:
        pass


def build_varied_tiny_model(source_dir: Path, output_dir: Path, std: float = 0.3, seed: int = 0) -> Path:
    """The tiny model with its matrices redrawn at a larger scale, so greedy output depends on the image and text.

    The stock tiny model (initialised at std 0.02) answers every prompt with the same newline token, which makes
    "two backends give the same completions" true of any prompt; with std 0.3 the completions differ per item."""
    import shutil

    import torch
    from transformers import AutoModelForImageTextToText, AutoTokenizer

    shutil.copytree(source_dir, output_dir)
    model = AutoModelForImageTextToText.from_pretrained(output_dir)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.dim() >= 2:
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * std)
    # Stop at <|endoftext|> as well as <|im_end|>, as Qwen2.5-VL's own generation_config does: an output that runs
    # on past <|endoftext|> is something a Qwen checkpoint never returns, and `transformers serve` would keep only
    # the text after it (its Qwen response parser closes the content there).
    tokenizer = AutoTokenizer.from_pretrained(output_dir)
    model.generation_config.eos_token_id = [
        tokenizer.convert_tokens_to_ids(t) for t in ("<|im_end|>", "<|endoftext|>")
    ]
    # Never emit <|im_start|> or the vision/video placeholders (a trained Qwen does not): `transformers serve`'s Qwen
    # response parser keeps them in the content, where an in-process decode skips special tokens.
    placeholders = ("<|im_start|>", "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>")
    model.generation_config.suppress_tokens = [
        tokenizer.convert_tokens_to_ids(t) for t in (*placeholders, "<|video_pad|>")
    ]
    model.save_pretrained(output_dir)
    return Path(output_dir)
