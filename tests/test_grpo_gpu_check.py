"""bench/gpu_check.py runs end to end on CPU with `--tiny` (the same code the GPU machine runs, on a tiny config)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_gpu_check_smoke_run_on_a_tiny_config():
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "bench" / "gpu_check.py"), "--tiny"],
        capture_output=True, text=True, timeout=300, cwd=REPO_ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert lines[-1] == "RESULT gpu_check: 2/2 modes ran (measurement, no target)"
    table = {line.split()[0]: line.split() for line in lines if line.startswith(("lora ", "full "))}
    assert set(table) == {"lora", "full"}
    assert float(table["lora"][2]) < float(table["full"][2])  # LoRA trains a fraction of the parameters
    assert all(float(row[3]) > 0 and float(row[5]) > 0 for row in table.values())  # step time, generated tokens/s
