"""The background writer: captured calls reach disk off the caller's thread.

A call pays for encoding its values and a queue put; file writes, the index and retention run
here. The writer takes everything queued in one batch, so a burst of captures of one function
costs one lock and one index write, and bundles that retention would delete at once are never
written. Problems are queued for the caller's thread, which turns them into warnings.
"""

from __future__ import annotations

import atexit
import errno
import logging
import os
import queue
import threading
import time
from collections import deque
from typing import Any, Protocol

from ._bundle import PendingBundle
from ._locks import is_lock_timeout
from ._store import CaptureStorage

log = logging.getLogger("snapy")

_MAX_BACKLOG = 10_000
_MAX_BATCH = 2_000
# Above this backlog a capturing thread yields the GIL once per call. Threads calling a
# pure-Python function flat out starved the writer, whose every file operation gives the GIL
# away and waits to get it back: 8 threads filled the 10,000 backlog in under 3 s (a batch
# took 324 ms on average, up to 2.2 s) and captures were dropped with the disk idle. With the
# yield the backlog stayed under 3,000 and the threads held 36,700 calls/s against 50,700.
_HIGH_WATER = 1_000


class Reporter(Protocol):
    def warn(self, cause: str, detail: str) -> None: ...


def classify(exc: BaseException) -> str:
    """The cause of a failed write, in the words a warning uses."""
    if is_lock_timeout(exc):
        return "lock timeout"
    if isinstance(exc, OSError):
        if exc.errno == errno.ENOSPC:
            return "disk full"
        if exc.errno == errno.EFBIG:
            return "file too large"
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            return "folder not writable"
    return "write failed"


class Writer:
    """One per process: a queue and a daemon thread that drains it."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self.problems: deque[tuple[Reporter, str, str]] = deque()

    def submit(self, storage: CaptureStorage, bundle: PendingBundle, reporter: Reporter) -> bool:
        """Queue `bundle`; False when the writer is too far behind (the capture is dropped)."""
        if self._thread is None:
            self._start()
        backlog = self._queue.qsize()
        if backlog >= _MAX_BACKLOG:
            return False
        if backlog >= _HIGH_WATER:
            time.sleep(0)  # the writer's turn (see _HIGH_WATER)
        self._queue.put((storage, bundle, reporter))
        return True

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything queued so far is on disk; False on timeout."""
        if self._thread is None:
            return True
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout)

    def deliver(self) -> None:
        """Turn queued write problems into warnings, in the calling thread."""
        while self.problems:
            try:
                reporter, cause, detail = self.problems.popleft()
            except IndexError:
                return
            reporter.warn(cause, detail)

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None:
                thread = threading.Thread(target=self._run, name="snapy-writer", daemon=True)
                thread.start()
                self._thread = thread

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < _MAX_BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._write(batch)

    def _write(self, batch: list[Any]) -> None:
        groups: dict[tuple[int, Any], list[tuple[CaptureStorage, PendingBundle, Reporter]]] = {}
        events = []
        for item in batch:
            if isinstance(item, threading.Event):
                events.append(item)
                continue
            storage, bundle, _ = item
            groups.setdefault((id(storage), bundle.target), []).append(item)
        for items in groups.values():
            storage, bundle, reporter = items[0]
            notes: list[tuple[str, str]] = []
            try:
                storage.write(bundle.target, [b for _, b, _ in items], notes)
            except Exception as exc:
                cause = classify(exc)
                detail = f"{type(exc).__name__}: {exc}"
                log.debug("capture write of %s failed: %s (%s)", bundle.target.name, cause, detail)
                self.problems.append((reporter, cause, detail))
            self.problems.extend((reporter, cause, detail) for cause, detail in notes)
        for event in events:
            event.set()

    def _after_fork(self) -> None:
        self._queue = queue.SimpleQueue()
        self._thread = None
        self._start_lock = threading.Lock()
        self.problems = deque()


writer = Writer()
os.register_at_fork(after_in_child=writer._after_fork)


def _flush_at_exit() -> bool:
    """Write what is queued, and tell what could not be written: no later call will."""
    done = writer.flush(5.0)
    writer.deliver()
    return done


atexit.register(_flush_at_exit)
