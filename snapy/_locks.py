"""File locks, with filelock imported when the first lock is taken.

filelock installs a process-wide audit hook when it is imported (Python 3.12+), which makes
every `sys._getframe` slower, the one `logging` calls for each record and the one the tracer
calls for each recorded call: importing snapy must not cost that to a process that never
takes a lock (capture off in production, a test run that only traces).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from filelock import BaseFileLock


def file_lock(path: Path, timeout: float) -> BaseFileLock:
    """A lock on `path` (created 0600) that waits at most `timeout` seconds, then raises a
    timeout error (`is_lock_timeout` tells it from other errors)."""
    import filelock

    return filelock.FileLock(path, timeout=timeout, mode=0o600)


def is_lock_timeout(exc: BaseException) -> bool:
    """Whether `exc` is a lock that `file_lock` gave up waiting for."""
    filelock = sys.modules.get("filelock")
    return filelock is not None and isinstance(exc, filelock.Timeout)
