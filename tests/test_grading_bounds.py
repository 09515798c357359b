"""The grading core's time bounds: pathological LaTeX graded from worker threads (where math_verify's signal-based
timeout cannot work), hung calls killed at the deadline, and many threads grading at once."""

from __future__ import annotations

import threading
import time

import pytest

from reward_funcs import sandbox
from reward_funcs.grading import grade, run_with_timeout

# ------------------------------------------------------------------------------------------------------------------
# Time bounds: pathological LaTeX graded from a worker thread (where math_verify's signal-based timeout cannot work)
# ------------------------------------------------------------------------------------------------------------------

BOMBS = [
    "\\frac{" * 10_000 + "1" + "}{2}" * 10_000,  # 10k-deep fraction
    "10^{10^{10^{10}}}",
    "10^{10^{10}}",
    "2^{10^{9}}",
    "9^{9^{9^{9^{9}}}}",
    "(10^{10})!!",
    "{" * 5_000 + "x" + "}" * 5_000,
    "\\sqrt{" * 3_000 + "2" + "}" * 3_000,
    "(" * 10_000,
]


def _grade_in_thread(prediction: str, gold: str, timeout: float) -> tuple[bool, float]:
    result: dict = {}

    def target():
        started = time.perf_counter()
        result["correct"] = grade(prediction, gold, timeout=timeout)
        result["elapsed"] = time.perf_counter() - started

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive(), "grading did not return"
    return result["correct"], result["elapsed"]


@pytest.mark.parametrize("bomb", BOMBS, ids=[f"bomb{i}" for i in range(len(BOMBS))])
def test_latex_bombs_are_bounded_in_a_worker_thread(bomb):
    correct, elapsed = _grade_in_thread(bomb, "\\frac{1}{2}", timeout=1.0)
    assert correct is False
    assert elapsed < 1.0  # rejected by the input guards before sympy sees it


@pytest.mark.parametrize("expensive", ["(10^{10})!", "\\binom{10^{9}}{10^{8}}"])
def test_slow_sympy_is_killed_at_the_deadline_in_a_worker_thread(expensive):
    timeouts_before = sandbox.stats.timeouts
    correct, elapsed = _grade_in_thread(expensive, "5", timeout=0.5)
    assert correct is False
    # The deadline is 0.5 s; on a loaded machine a fresh sandbox worker may first need a few seconds to start
    # (not counted in the deadline). The timeout counter proves the worker was killed at the deadline.
    assert elapsed < 8.0
    assert sandbox.stats.timeouts == timeouts_before + 1
    # The pool recovers: the next math comparison works.
    assert grade("\\frac{\\sqrt3}{2}", "\\frac{\\sqrt{3}}{2}", timeout=3.0)


def test_run_with_timeout_kills_a_hung_call_from_a_thread():
    result = {}

    def target():
        started = time.perf_counter()
        result["value"] = run_with_timeout(time.sleep, 30, timeout=0.3, default="timed out")
        result["elapsed"] = time.perf_counter() - started

    worker = threading.Thread(target=target)
    worker.start()
    worker.join(timeout=20)
    assert result["value"] == "timed out"
    assert result["elapsed"] < 8.0  # 0.3 s deadline + a possible worker start on a loaded machine


def test_run_with_timeout_returns_values_and_defaults():
    assert run_with_timeout(pow, 2, 10, timeout=5.0, default=None) == 1024
    assert run_with_timeout(int, "not a number", timeout=5.0, default=-1) == -1  # raised -> default
    assert run_with_timeout(lambda: 1, timeout=5.0, default="unpicklable") == "unpicklable"
    with pytest.raises(ValueError):
        run_with_timeout(pow, 2, 2, timeout=0, default=None)


def test_concurrent_grading_from_many_threads():
    golds = ["\\frac{\\sqrt{3}}{2}", "x^2+1", "2\\pi", "0.5"]
    preds = ["\\frac{\\sqrt3}{2}", "1+x^2", "2 \\pi", "\\frac{1}{2}"]
    results = []
    threads = [
        threading.Thread(target=lambda g=g, p=p: results.append(grade(p, g, timeout=5.0)))
        for _ in range(4)
        for g, p in zip(golds, preds)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert results == [True] * 16
