"""Shared fixtures: the tiny Qwen2.5-VL is built once per test session, offline."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# Any hidden Hub call must fail loudly instead of hanging.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    from recipes.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-qwen2.5-vl") / "model", seed=0)


@pytest.fixture(scope="session")
def tiny_server(tiny_model_dir, tmp_path_factory):
    """`transformers serve` serving the tiny model on 127.0.0.1, once per session.

    Yields a `tests.servers.RunningServer`: `base_url` (".../v1"), `model` (the name requests send), `model_dir`,
    `log_path`. The process group is terminated at session end.
    """
    from tests.servers import start_transformers_serve, stop

    server = start_transformers_serve(tiny_model_dir, tmp_path_factory.mktemp("transformers-serve"))
    try:
        yield server
    finally:
        stop(server)


@pytest.fixture(scope="session")
def varied_tiny_model_dir(tiny_model_dir, tmp_path_factory) -> Path:
    """The tiny model with larger random weights: its greedy completions differ from item to item."""
    from tests.servers import build_varied_tiny_model

    return build_varied_tiny_model(tiny_model_dir, tmp_path_factory.mktemp("varied-tiny") / "model")


@pytest.fixture(scope="session")
def varied_tiny_server(varied_tiny_model_dir, tmp_path_factory):
    """`transformers serve` serving `varied_tiny_model_dir` (same contract as `tiny_server`)."""
    from tests.servers import start_transformers_serve, stop

    server = start_transformers_serve(varied_tiny_model_dir, tmp_path_factory.mktemp("varied-serve"))
    try:
        yield server
    finally:
        stop(server)
