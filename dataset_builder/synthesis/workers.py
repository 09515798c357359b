"""Several pipeline processes on one machine (`synthesize --workers k`): each gets its share of the images and of every
endpoint's concurrency, appends to the same output files (O_APPEND lines), and dies with its parent."""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import queue
import threading
import traceback
from dataclasses import replace
from pathlib import Path

from dataset_builder.synthesis.config import SynthesisConfig
from dataset_builder.synthesis.journal import DurableJsonl


def run_workers(target, config, images_dir, output_dir, images, workers, on_progress) -> list:
    """Runs target(config share, images_dir, output_dir, image list share, on_progress, repair_tails=False) in
    `workers` spawned processes and returns their results in worker order; progress comes back as it happens."""
    for name in ("checkpoint/journal.jsonl", "records.jsonl", "rejected.jsonl"):
        DurableJsonl(Path(output_dir) / name).close()  # cut torn tails once, before several processes append
    context = multiprocessing.get_context("spawn")
    messages = context.Queue()
    processes = [
        context.Process(
            target=_worker_main,
            args=(target, split_config(config, workers, j), images_dir, output_dir, images[j::workers], messages, j),
            name=f"synthesis-worker-{j}",
        )
        for j in range(workers)
    ]
    for process in processes:
        process.start()
    results: dict[int, object] = {}
    try:
        while len(results) < workers:
            try:
                kind, j, payload = messages.get(timeout=1.0)
            except queue.Empty:
                dead = [p for j, p in enumerate(processes) if j not in results and p.exitcode is not None]
                if dead:
                    raise RuntimeError(f"{dead[0].name} died with exit code {dead[0].exitcode}") from None
                continue
            if kind == "progress":
                on_progress(payload)
            elif kind == "result":
                results[j] = payload
            else:
                raise RuntimeError(f"synthesis worker {j} failed:\n{payload}")
    finally:
        for process in processes:
            if process.is_alive() and len(results) < workers:
                process.terminate()
            process.join(timeout=30)
    return [results[j] for j in range(workers)]


def _worker_main(target, config, images_dir, output_dir, images, messages, index) -> None:
    # A worker must not outlive its parent (kill -9 of the command): a rerun would race it on the same files.
    parent = multiprocessing.parent_process()
    threading.Thread(target=_exit_with, args=(parent.sentinel,), daemon=True).start()
    try:

        def report(n: int) -> None:
            messages.put(("progress", index, n))

        result = target(config, images_dir, output_dir, images, report, repair_tails=False)
        messages.put(("result", index, result))
    except BaseException:
        messages.put(("error", index, traceback.format_exc()))


def _exit_with(sentinel) -> None:
    multiprocessing.connection.wait([sentinel])
    os._exit(1)


def split_config(config: SynthesisConfig, workers: int, index: int) -> SynthesisConfig:
    """Worker `index`'s share of every endpoint's concurrency (the shares add up to the configured limits)."""
    roles = {}
    for name, role in config.roles.items():
        endpoints = []
        for endpoint in role.endpoints:
            if endpoint.max_concurrency < workers:
                raise ValueError(
                    f"roles.{name}: endpoint {endpoint.base_url} has max_concurrency {endpoint.max_concurrency}, "
                    f"fewer than --workers {workers}"
                )
            share = endpoint.max_concurrency // workers + (index < endpoint.max_concurrency % workers)
            endpoints.append(replace(endpoint, max_concurrency=share))
        roles[name] = replace(role, endpoints=endpoints)
    in_flight = config.pipeline.max_images_in_flight
    pipeline = replace(config.pipeline, max_images_in_flight=-(-in_flight // workers) if in_flight else 0)
    return replace(config, roles=roles, pipeline=pipeline)
