"""The demo's stage runner: stages started together really run side by side, and one that fails or runs too long
stops the others and names itself and its log."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from recipes.demo_stages import StageError, StageRunner


def _runner(tmp_path: Path, timeout: int = 60) -> StageRunner:
    logs = tmp_path / "logs"
    logs.mkdir()
    return StageRunner(logs, dict(os.environ), tmp_path, timeout)


def _python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


# Each stage announces itself, then waits (up to 30 s) until the other has announced itself: run one after the
# other, the first would never see the second and would fail.
HANDSHAKE = """
import pathlib, sys, time
me, other = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
me.touch()
deadline = time.monotonic() + 30
while not other.exists():
    if time.monotonic() > deadline:
        sys.exit("the other stage never started")
    time.sleep(0.05)
print("met", other.name)
"""


def test_stages_started_together_run_side_by_side(tmp_path):
    runner = _runner(tmp_path)
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    runner.together(("stage-a", [*_python(HANDSHAKE), a, b]), ("stage-b", [*_python(HANDSHAKE), b, a]))
    assert set(runner.timings) == {"stage-a", "stage-b"}
    assert "met b" in (tmp_path / "logs" / "stage-a.log").read_text()
    assert "met a" in (tmp_path / "logs" / "stage-b.log").read_text()


def test_a_failing_stage_stops_the_one_beside_it(tmp_path):
    runner = _runner(tmp_path)
    pid_file = tmp_path / "slow.pid"
    slow = _python(
        f"import os, pathlib, time; pathlib.Path({str(pid_file)!r}).write_text(str(os.getpid())); time.sleep(120)"
    )
    # The failing stage waits for the slow one to be running, so there is something to stop.
    failing = _python(
        f"import pathlib, sys, time\nwhile not pathlib.Path({str(pid_file)!r}).exists(): time.sleep(0.05)\n"
        "print('bad record 7'); sys.exit(3)"
    )
    with pytest.raises(StageError) as error:
        runner.together(("slow", slow), ("dataset-build", failing))
    log = tmp_path / "logs" / "dataset-build.log"
    assert "dataset-build failed (exit 3)" in str(error.value) and str(log) in str(error.value)
    assert "bad record 7" in str(error.value)  # the log's tail comes with the error
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)  # stopped and reaped, not left running
    assert "slow" not in runner.timings and "dataset-build" in runner.timings


def test_a_stage_past_the_time_limit_is_stopped_and_named(tmp_path):
    runner = _runner(tmp_path, timeout=1)
    with pytest.raises(StageError, match=r"grpo ran past 1 s; log: .*grpo\.log"):
        runner.together(("grpo", _python("import time; time.sleep(120)")))


def test_threads_caps_the_torch_threads_of_stages_run_together(tmp_path):
    runner = _runner(tmp_path)
    show = _python("import torch; print('threads', torch.get_num_threads())")
    runner.together(("one", show), ("two", show), threads=1)
    assert all("threads 1" in (tmp_path / "logs" / f"{name}.log").read_text() for name in ("one", "two"))


def test_a_stage_that_cannot_start_stops_the_ones_started_before_it(tmp_path):
    import psutil

    runner = _runner(tmp_path)
    slow = _python("import time; time.sleep(120)")
    with pytest.raises(FileNotFoundError):
        runner.together(("slow", slow), ("missing", [str(tmp_path / "no-such-program")]))
    # The slow stage started first; it must be stopped and reaped, not left running as this process's child.
    assert [
        child
        for child in psutil.Process().children(recursive=True)
        if any("time.sleep(120)" in part for part in child.cmdline())
    ] == []
