"""How `make demo` runs its stages: each one a subprocess logging to OUTPUT_DIR/logs/<name>.log, timed, stopped
past a time limit; independent stages run side by side."""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO


class StageError(RuntimeError):
    pass


@dataclass
class RunningStage:
    name: str
    process: subprocess.Popen
    log_path: Path
    log: IO
    started: float


@dataclass
class StageRunner:
    logs: Path
    env: dict[str, str]
    cwd: Path
    timeout: int
    timings: dict[str, float] = field(default_factory=dict)

    def stage(self, name: str, command: list[str]) -> None:
        """Run one stage; a failure raises StageError with the stage's name, its log path and the log's tail."""
        self.together((name, command))

    def together(self, *stages: tuple[str, list[str]], threads: int | None = None) -> None:
        """Run independent stages side by side: on 2 cores most of a short stage is single-threaded imports, which
        overlap. `threads` caps each one's torch threads (more threads than cores spin against each other). The first
        one to fail or run past the time limit stops the others."""
        env = {**self.env, "OMP_NUM_THREADS": str(threads)} if threads else self.env
        running = []
        try:  # started inside the try: a stage that cannot start still stops the ones started before it
            for name, command in stages:
                running.append(self.start(name, command, env))
            while running:
                time.sleep(0.1)
                for stage in list(running):
                    if stage.process.poll() is not None:
                        running.remove(stage)
                        self.finish(stage)
                    elif time.perf_counter() - stage.started > self.timeout:
                        raise StageError(f"{stage.name} ran past {self.timeout} s; log: {stage.log_path}")
        finally:
            for stage in running:
                stage.process.kill()
                stage.process.wait()
                stage.log.close()

    def start(self, name: str, command: list[str], env: dict[str, str]) -> RunningStage:
        log_path = self.logs / f"{name}.log"
        shown = ["python", *command[1:]] if command[0] == sys.executable else command
        print(f"[demo] {name}: {shlex.join(shown)}", flush=True)
        log = open(log_path, "w", encoding="utf-8")  # noqa: SIM115 - closed when the stage ends or is stopped
        try:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.cwd)
        except OSError:
            log.close()
            raise
        return RunningStage(name, process, log_path, log, time.perf_counter())

    def finish(self, stage: RunningStage) -> None:
        stage.log.close()
        self.timings[stage.name] = time.perf_counter() - stage.started
        if stage.process.returncode != 0:
            tail = "".join(stage.log_path.read_text(encoding="utf-8", errors="replace").splitlines(True)[-25:])
            raise StageError(f"{stage.name} failed (exit {stage.process.returncode}); log: {stage.log_path}\n{tail}")

    def timed(self, name: str, fn, *args, **kwargs):
        """Run an in-process step, timed like a stage."""
        print(f"[demo] {name}", flush=True)
        started = time.perf_counter()
        value = fn(*args, **kwargs)
        self.timings[name] = time.perf_counter() - started
        return value
