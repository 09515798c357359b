"""Synthesis pipeline throughput against a loopback OpenAI-compatible server with fixed latency per request.

The server (tests.doubles.scripted_server.ScriptedOpenAIServer playing the three roles with
tests.doubles.synthesis_roles.ScriptedRoles) runs in its own process, so the CPU measured here is the pipeline's
alone: HTTP client, prompt rendering, parsing, grading, journal fsyncs, output writes.

The bound. Each role has one endpoint with concurrency C and every request takes L seconds, so a role completes at
most C / L requests per second. Every image needs a fixed mix of requests per role (below ~9 vlm, ~11 reasoner, ~1
judge), so the busiest role -- the reasoner -- caps the whole pipeline: its achieved requests/s against C / L is the
figure of merit (the others then run at their share of it). Achieved = requests sent / end-to-end wall time
(start-up and the last images' drain included).

    .venv/bin/python bench/synthesis_throughput.py                 # C=64, L=200 ms, M=600 images
    .venv/bin/python bench/synthesis_throughput.py --quick         # M=150

It first times the reply parser on replies of unclosed tags (`<caption>` repeated, no closing tag) of growing size,
against the lazy regex it replaced (`re.findall(r"<caption>(.*?)</caption>")`, quadratic on such replies).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

# The scripted server is a test double: it lives in the test tree, imported with the repository root on sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TARGET = 0.90


def serve(images_root: str, delay_s: float, port_pipe, stop_event) -> None:
    from tests.doubles.scripted_server import ScriptedOpenAIServer
    from tests.doubles.synthesis_roles import ScriptedRoles

    roles = ScriptedRoles(
        images_root,
        quirk_rates={"vlm_disagrees": 0.3, "judge_rejects": 0.1, "filter_rejects": 0.1, "malformed_question": 0.02},
        delay_s=delay_s,
    )
    with ScriptedOpenAIServer(roles) as server:
        port_pipe.send(server.port)
        stop_event.wait(timeout=3600)


def _best_time(function, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - started)
    return best


def parse_scaling() -> None:
    import re

    from dataset_builder.synthesis.parsing import tagged

    pattern = re.compile(r"<caption>(.*?)</caption>", re.DOTALL | re.IGNORECASE)
    print(f"{'unclosed-tag reply':>20}{'tagged() ms':>13}{'old regex ms':>14}")
    for chars in (7_500, 15_000, 30_000, 60_000):
        text = "<caption>" * (chars // 9)
        new = _best_time(lambda text=text: tagged(text, "caption", required=False))
        old = _best_time(lambda text=text: pattern.findall(text), repeats=1)
        old_text = f"{1000 * old:>14.1f}"
        print(f"{chars:>20}{1000 * new:>13.3f}{old_text}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=600, help="M: images processed end to end")
    parser.add_argument("--concurrency", type=int, default=64, help="C: max in-flight requests per role")
    parser.add_argument("--latency", type=float, default=0.2, help="L: seconds the server takes per request")
    parser.add_argument("--workers", type=int, default=2, help="pipeline processes sharing C (synthesize --workers)")
    parser.add_argument("--quick", action="store_true", help="M=150")
    args = parser.parse_args()
    if args.quick:
        args.images = 150
    parse_scaling()

    from dataset_builder.synthesis import parse_config, synthesize
    from dataset_builder.synthetic import write_synthetic_release

    with tempfile.TemporaryDirectory() as tmp:
        release = write_synthetic_release(Path(tmp) / "release", args.images, seed=0)
        context = multiprocessing.get_context("spawn")
        receive_port, send_port = context.Pipe(duplex=False)
        stop = context.Event()
        server = context.Process(target=serve, args=(str(release.images_root), args.latency, send_port, stop))
        server.start()
        try:
            if not receive_port.poll(60):
                raise SystemExit("the loopback server did not start within 60 s")
            base_url = f"http://127.0.0.1:{receive_port.recv()}/v1"
            endpoint = {"base_url": base_url, "max_concurrency": args.concurrency, "timeout": 60}
            config = parse_config(
                {
                    "roles": {role: {"endpoints": [endpoint]} for role in ("vlm", "reasoner", "judge")},
                    "pipeline": {"questions_per_image": 3, "max_refinement_turns": 2},
                }
            )
            started = time.perf_counter()
            summary = synthesize(config, release.images_root, Path(tmp) / "out", workers=args.workers, progress=False)
            wall = time.perf_counter() - started
        finally:
            stop.set()
            server.join(timeout=30)

    stats, run = summary.stats, summary.stats["run"]
    bound = args.concurrency / args.latency
    role_requests = {role: t["requests"] for role, t in stats["tokens_per_role"].items()}
    busiest = max(role_requests, key=role_requests.get)
    total = sum(role_requests.values())
    print(
        f"M={args.images} images, C={args.concurrency} per role, L={args.latency * 1000:.0f} ms, "
        f"{args.workers} pipeline process(es), wall {wall:.1f} s"
    )
    print(f"{'role':<10}{'requests':>10}{'per image':>11}{'req/s':>10}{'bound C/L':>11}{'of bound':>10}")
    for role, count in role_requests.items():
        rate = count / wall
        print(f"{role:<10}{count:>10}{count / args.images:>11.2f}{rate:>10.1f}{bound:>11.1f}{rate / bound:>10.1%}")
    pipeline_bound = bound * total / role_requests[busiest]
    print(
        f"{'all':<10}{total:>10}{total / args.images:>11.2f}{total / wall:>10.1f}{pipeline_bound:>11.1f}"
        f"{total / wall / pipeline_bound:>10.1%}"
    )
    print(
        f"records {stats['records']}, agreement {stats['agreement_rate']}, "
        f"re-evaluation acceptance {stats['reevaluation_acceptance_rate']}, images failed {run['images_failed']}"
    )
    print(
        f"pipeline CPU {run['cpu_s']:.1f} s: {run['cpu_ms_per_record']} ms per record, "
        f"{1000 * run['cpu_s'] / total:.2f} ms per request"
    )
    cpu_per_request = run["cpu_s"] / total
    ceiling = role_requests[busiest] / total / cpu_per_request  # busiest role's req/s if one core did nothing else
    print(
        f"one-core CPU ceiling for {busiest}: {ceiling:.0f} req/s ({ceiling / bound:.0%} of C/L); "
        f"this run got {run['cpu_s'] / wall:.0%} of a core (machine load average {os.getloadavg()[0]:.1f})"
    )
    achieved = role_requests[busiest] / wall / bound
    verdict = "PASS" if achieved >= TARGET else "SHORT"
    print(
        f"RESULT {busiest} requests/s vs bound C/L at C={args.concurrency}, L={args.latency * 1000:.0f} ms: "
        f"{achieved:.1%} (target >= {TARGET:.0%}) {verdict}"
    )


if __name__ == "__main__":
    main()
