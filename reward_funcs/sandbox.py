"""Run a function with a hard time limit, from any thread.

math_verify bounds its own work with `signal.alarm`, which only works in the main thread, and cannot interrupt C
code that holds the GIL (sympy evaluating `10^{10^{10}}` multiplies huge integers). TRL may call reward functions
from a worker thread, and the synthesis pipeline and evaluation grade from thread pools, so the bound lives here: the
call runs in a small pool of long-lived worker processes (started with `python -m reward_funcs.sandbox`, so nothing
of the caller's `__main__` is imported), and a worker that misses its deadline is killed and replaced.

    run_with_timeout(math_equal, gold, pred, timeout=5.0, default=False)

`fn` must be picklable by reference (a module-level function or a builtin). The worker runs it in its own main
thread, so libraries that use signal-based timeouts behave as they would in a script. Worker memory is capped
(`SANDBOX_MEMORY_LIMIT_GB`, default 4) so a runaway expression fails with MemoryError instead of taking the machine.
"""

from __future__ import annotations

import atexit
import logging
import os
import pickle
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")

POOL_SIZE = int(os.environ.get("SANDBOX_WORKERS", "2"))
STARTUP_TIMEOUT_S = 60.0
MEMORY_LIMIT_GB = float(os.environ.get("SANDBOX_MEMORY_LIMIT_GB", "4"))


class SandboxStats:
    """Counters a caller can read to see how often the bound was needed."""

    def __init__(self):
        self.calls = 0
        self.timeouts = 0
        self.errors = 0
        self.restarts = 0


stats = SandboxStats()


class _Worker:
    """One child process speaking pickled (fn, args, kwargs) -> (ok, value) over two pipes."""

    def __init__(self):
        child_reads, parent_writes = os.pipe()
        parent_reads, child_writes = os.pipe()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "reward_funcs.sandbox", str(child_reads), str(child_writes)],
            pass_fds=(child_reads, child_writes),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,  # math_verify prints parse errors to stdout
            stderr=subprocess.DEVNULL,
            cwd=os.getcwd(),
            env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)},
        )
        os.close(child_reads)
        os.close(child_writes)
        self.send_conn = Connection(parent_writes, readable=False)
        self.recv_conn = Connection(parent_reads, writable=False)
        if not self.recv_conn.poll(STARTUP_TIMEOUT_S) or self._recv() != (True, "ready"):
            self.kill()
            raise RuntimeError(f"sandbox worker did not start within {STARTUP_TIMEOUT_S:.0f} s")

    def _recv(self) -> tuple[bool, Any]:
        try:
            return self.recv_conn.recv()
        except (EOFError, OSError, pickle.UnpicklingError) as err:
            return False, f"worker died ({type(err).__name__})"

    def call(self, fn: Callable, args: tuple, kwargs: dict, timeout: float) -> tuple[str, Any]:
        """Returns ("ok", value), ("error", message) or ("timeout", None); on timeout the worker is dead."""
        try:
            self.send_conn.send((fn, args, kwargs))
        except (OSError, pickle.PicklingError, AttributeError, TypeError) as err:
            if isinstance(err, OSError):
                self.kill()
            return "error", f"could not send the call: {err}"
        if not self.recv_conn.poll(timeout):
            self.kill()
            return "timeout", None
        ok, value = self._recv()
        if not ok and self.process.poll() is not None:
            self.kill()
        return ("ok" if ok else "error"), value

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            logger.warning("sandbox worker %d did not exit after SIGKILL", self.process.pid)
        self.send_conn.close()
        self.recv_conn.close()


class _Pool:
    """At most POOL_SIZE workers, started lazily; a thread borrows one for the length of a call."""

    def __init__(self, size: int):
        self.slots: queue.LifoQueue[_Worker | None] = queue.LifoQueue()
        for _ in range(max(1, size)):
            self.slots.put(None)
        self.started = 0

    def run(self, fn: Callable, args: tuple, kwargs: dict, timeout: float) -> tuple[str, Any]:
        worker = self.slots.get()  # blocks while every worker is busy
        try:
            if worker is None or not worker.alive:
                if worker is not None:
                    worker.kill()
                    stats.restarts += 1
                worker = _Worker()
            status, value = worker.call(fn, args, kwargs, timeout)
            if status == "timeout":
                stats.restarts += 1
                worker = None
            return status, value
        except BaseException:
            if worker is not None:
                worker.kill()
            worker = None
            raise
        finally:
            self.slots.put(worker)

    def close(self) -> None:
        while True:
            try:
                worker = self.slots.get_nowait()
            except queue.Empty:
                return
            if worker is not None:
                worker.kill()


_pool: _Pool | None = None
_pool_lock = threading.Lock()


def _get_pool() -> _Pool:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = _Pool(POOL_SIZE)
            atexit.register(_pool.close)
        return _pool


def run_with_timeout(fn: Callable[..., T], *args: Any, timeout: float, default: T, **kwargs: Any) -> T:
    """`fn(*args, **kwargs)` in a sandbox worker, or `default` if it overruns `timeout` seconds or raises.

    Safe to call from any thread (calls beyond the pool size wait for a free worker; the wait is not counted in
    `timeout`). A timed-out worker is killed, so a pathological input cannot keep burning CPU after the deadline.
    """
    if timeout <= 0:
        raise ValueError(f"timeout must be positive, got {timeout}")
    stats.calls += 1
    status, value = _get_pool().run(fn, args, kwargs, timeout)
    if status == "ok":
        return value
    if status == "timeout":
        stats.timeouts += 1
        logger.debug("%s timed out after %.1f s", getattr(fn, "__name__", fn), timeout)
    else:
        stats.errors += 1
        logger.debug("%s failed in the sandbox: %s", getattr(fn, "__name__", fn), value)
    return default


def shutdown() -> None:
    """Stop the worker processes now (they also stop at interpreter exit)."""
    global _pool
    with _pool_lock:
        if _pool is not None:
            _pool.close()
            _pool = None


def _serve(read_fd: int, write_fd: int) -> None:
    recv_conn = Connection(read_fd, writable=False)
    send_conn = Connection(write_fd, readable=False)
    try:
        import resource

        limit = int(MEMORY_LIMIT_GB * 1024**3)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError):
        pass
    import math_verify  # noqa: F401  (warm the import so the first deadline measures work, not start-up)

    send_conn.send((True, "ready"))
    while True:
        try:
            fn, args, kwargs = recv_conn.recv()
        except EOFError:  # the parent went away
            return
        except Exception as err:  # the function could not be unpickled (e.g. its module does not import here)
            send_conn.send((False, f"could not load the call: {type(err).__name__}: {err}"))
            continue
        started = time.perf_counter()
        try:
            reply = (True, fn(*args, **kwargs))
        except BaseException as err:  # MemoryError, RecursionError, TimeoutError from signal-based guards, ...
            reply = (False, f"{type(err).__name__}: {str(err)[:200]} after {time.perf_counter() - started:.2f}s")
        try:
            send_conn.send(reply)
        except (pickle.PicklingError, TypeError, AttributeError) as err:
            send_conn.send((False, f"result is not picklable: {err}"))


if __name__ == "__main__":
    _serve(int(sys.argv[1]), int(sys.argv[2]))
