"""Append-only JSONL files that survive kill -9: the request journal and the output files.

Every append is fsynced before the awaiting coroutine continues, so anything a later stage (or an output record)
depends on is on disk first. Appends that arrive together share one write + fsync (group commit, in a writer thread
so the event loop never blocks on the disk). On open, a torn last line -- a kill in the middle of a write -- is cut
off; a damaged line anywhere else is an error naming the file and line.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import threading
from collections.abc import Iterator
from pathlib import Path


class DurableJsonl:
    def __init__(self, path: str | Path, *, repair_tail: bool = True):
        """repair_tail=False when another process may be appending (the caller repaired the file before)."""
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if repair_tail:
            self._cut_torn_tail()
        # O_APPEND + one os.write per batch: appends from several worker processes never interleave inside a line.
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._queue: queue.Queue = queue.Queue()
        self._writer = threading.Thread(target=self._write_loop, name=f"journal-{self.path.name}", daemon=True)
        self._writer.start()

    def _cut_torn_tail(self) -> None:
        if not self.path.exists():
            return
        with open(self.path, "r+b") as handle:
            size = handle.seek(0, os.SEEK_END)
            keep = size
            while keep > 0:  # scan back to the last newline in blocks: the file can be large
                start = max(0, keep - 65536)
                handle.seek(start)
                block = handle.read(keep - start)
                newline = block.rfind(b"\n")
                if newline >= 0:
                    keep = start + newline + 1
                    break
                keep = start
            if keep < size:  # a kill in the middle of a write: drop the partial line
                handle.truncate(keep)
                os.fsync(handle.fileno())

    def __iter__(self) -> Iterator[dict]:
        """Streams the rows already on disk (call before appending from this process)."""
        with open(self.path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.endswith("\n"):  # a line still being appended by another process
                    return
                if not line.strip():
                    continue
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as err:
                    raise ValueError(
                        f"{self.path}:{number}: damaged line ({err.msg}); fix or remove it to resume"
                    ) from err

    async def append(self, row: dict) -> None:
        """Returns once the row is fsynced."""
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        self._queue.put((json.dumps(row, ensure_ascii=False) + "\n", loop, done))
        await done

    def _write_loop(self) -> None:
        while True:
            batch = [self._queue.get()]
            if batch[0] is None:
                return
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)  # finish this batch, then stop
                    break
                batch.append(item)
            error = None
            try:
                data = "".join(line for line, _, _ in batch).encode("utf-8")
                while data:
                    data = data[os.write(self._fd, data) :]
                os.fsync(self._fd)
            except OSError as err:  # disk full, etc.: every waiting coroutine sees it
                error = err
            for _, loop, done in batch:
                loop.call_soon_threadsafe(_settle, done, error)

    def close(self) -> None:
        self._queue.put(None)
        self._writer.join(timeout=30)
        os.close(self._fd)


def _settle(done: asyncio.Future, error: BaseException | None) -> None:
    if done.done():  # the awaiting task was cancelled
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)
