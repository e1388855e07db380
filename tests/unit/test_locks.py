"""filelock is imported when the first lock is taken, never by importing snapy."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import snapy
from snapy._locks import file_lock, is_lock_timeout

SCRIPT = textwrap.dedent(
    """
    import sys

    import snapy
    import snapy._cli
    import snapy.pytest_plugin

    print("after import:", "filelock" in sys.modules)
    snapy.configure(capture_enabled=True, capture_dir=sys.argv[1])


    @snapy.capture(production_mode=False)
    def double(x):
        return 2 * x


    double(2)
    snapy.flush_captures()
    print("after a capture:", "filelock" in sys.modules)
    """
)


def test_importing_snapy_leaves_filelock_and_its_audit_hook_out(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "captures")],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(Path(snapy.__file__).parents[1]), "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.splitlines() == ["after import: False", "after a capture: True"]


def test_a_lock_held_elsewhere_times_out_as_a_lock_timeout(tmp_path: Path) -> None:
    errors: list[BaseException] = []

    def take() -> None:
        try:
            with file_lock(tmp_path / ".lock", 0.05):
                pass
        except OSError as exc:
            errors.append(exc)

    with file_lock(tmp_path / ".lock", 5.0):
        worker = threading.Thread(target=take)  # a lock is re-entrant within its own thread
        worker.start()
        worker.join()
    assert len(errors) == 1 and is_lock_timeout(errors[0])
    assert not is_lock_timeout(TimeoutError("a socket's"))
    assert oct((tmp_path / ".lock").stat().st_mode & 0o777) == "0o600"
