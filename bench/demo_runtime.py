"""Wall time and figures of `make demo` (the experiment end to end, offline) against the targets on 2 CPU cores:
whole demo <= 7 minutes, held-out format >= 0.9, held-out accuracy >= chance + 0.2, GRPO's last-quarter mean reward
above its first quarter.

    .venv/bin/python bench/demo_runtime.py            # the default demo, as `make demo` runs it
    .venv/bin/python bench/demo_runtime.py --quick    # the test-sized run (--small)

Prints the time of every stage and the summary.json figures, then `RESULT ...` (wall time; the figures' targets are
checked on the lines before it). On a shared machine the numbers include other people's load;
CPU seconds (user + system of the stage processes) are printed beside wall seconds to show how much.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recipes.demo import Demo, DemoConfig, StageError  # noqa: E402

TARGET_SECONDS = 420


def print_stages(timings: dict[str, float], wall: float) -> None:
    print()
    print(f"| {'stage':<20} | {'wall s':>7} |")
    print(f"|{'-' * 22}|{'-' * 9}|")
    for stage, seconds in timings.items():
        print(f"| {stage:<20} | {seconds:>7.1f} |")
    print(f"| {'total':<20} | {wall:>7.1f} |")
    print("(independent stages run side by side, so their times add up to more than the total)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="time the test-sized demo (--small) instead")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    with tempfile.TemporaryDirectory(prefix="demo-bench-") as tmp:
        demo = Demo(DemoConfig(output_dir=str(Path(tmp) / "demo"), small=args.quick))
        started = time.perf_counter()
        try:
            demo.run()
        except StageError as error:  # the stage times so far still say where the time went
            print_stages(demo.stages.timings, time.perf_counter() - started)
            print(f"RESULT make demo: stopped, {str(error).splitlines()[0]} SHORT")
            return 1
        wall = time.perf_counter() - started
        summary = demo.summary
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = children.ru_utime + children.ru_stime

    print_stages(demo.stages.timings, wall)
    print(f"\nCPU seconds in stage processes: {cpu:.0f} (cores on this machine: {os.cpu_count()})")
    held, grpo = summary["heldout"], summary["grpo"]
    checks = [
        ("held-out format", held["format"], ">= 0.90", held["format"] >= 0.9),
        (
            "held-out accuracy",
            held["accuracy"],
            f">= chance {held['chance']:.3f} + 0.2",
            held["accuracy"] >= held["chance"] + 0.2,
        ),
        ("held-out accuracy after SFT", summary["sft"]["heldout_accuracy"], "(for comparison)", None),
        (
            "GRPO reward, last quarter",
            grpo["reward_last"],
            f"> first quarter {grpo['reward_first']}",
            (grpo["reward_last"] or 0) > (grpo["reward_first"] or 0),
        ),
        ("GRPO accuracy first -> last", f"{grpo['accuracy_first']} -> {grpo['accuracy_last']}", "", None),
    ]
    print(f"\n| {'figure':<30} | {'measured':>14} | {'target':<24} | verdict |")
    print(f"|{'-' * 32}|{'-' * 16}|{'-' * 26}|---------|")
    for name, value, target, ok in checks:
        verdict = "" if ok is None else "PASS" if ok else "SHORT"
        shown = f"{value:.3f}" if isinstance(value, float) else str(value)
        print(f"| {name:<30} | {shown:>14} | {target:<24} | {verdict:<7} |")
    size = "small demo (--quick)" if args.quick else "make demo"
    verdict = "PASS" if wall < TARGET_SECONDS else "SHORT"
    print(f"RESULT {size} wall time: {wall:.0f} s (target < {TARGET_SECONDS} s) {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
