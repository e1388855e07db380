"""Capture fails gracefully: the call's outcome never changes, one warning per function and cause.

Every fault here keeps the wrapped function's result or exception exactly as it was, gives one
`CaptureSkippedWarning` per function and cause however many calls hit it, and a log record on
the "snapy" logger. Write failures happen on the writer thread and surface on the next call or
at `snapy.flush_captures()`.

The last part, the resource faults of the reliability suite (issue 9), meets each fault for
real in a child process: a full disk (a small tmpfs in a mount namespace of its own), a file
size limit, a read-only folder, a lock left by a killed holder, and a clock that goes back.
A recording that cannot be written is the one fault that reaches its caller: a test that
records must not pass without its recording.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import random
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import traceback
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import filelock
import pytest
from stress_support import DROP_ROOT_OVERRIDE, PYTHON, environ

import snapy
import snapy._recordings
import snapy._store


@pytest.fixture(autouse=True)
def _default_settings(snapy_settings: object) -> None:
    """In-process snapy settings start from the defaults, whatever SNAPY_* the shell has set."""


FOLDER_HINT = "check the capture folder (SNAPY_CAPTURE_DIR)"
ARGUMENT_HINT = "pass ignore_args=[...] to leave that argument out"
RESULT_HINT = "pass minimal_capture=True to store the arguments only"
EXCEPTION_HINT = "pass minimal_capture=True to store the exception's type only"
SIZE_HINT = "raise max_bytes= or SNAPY_MAX_BYTES, or use ignore_args=[...]"
NO_SOCKET = "cannot serialize socket object with pickle or dill: cannot pickle 'socket' object"
NO_GENERATOR = (
    "cannot serialize generator object with pickle or dill: cannot pickle 'generator' object"
)


def skipped(fn: Any, cause: str, detail: str, hint: str = FOLDER_HINT) -> str:
    """The text of the warning (and log record) for a capture of `fn` skipped for `cause`."""
    return (
        f"snapy did not capture a call of {fn.__module__}.{fn.__qualname__}: {cause} "
        f"({detail}); the call itself went on unchanged; {hint}"
    )


def logged(caplog: pytest.LogCaptureFixture, level: int = logging.WARNING) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "snapy" and r.levelno == level]


def bundles(storage: snapy.CaptureStorage) -> list[Path]:
    return sorted(storage.root.rglob("*.bundle"))


@pytest.fixture
def storage(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> Iterator[snapy.CaptureStorage]:
    caplog.set_level(logging.DEBUG, logger="snapy")
    yield snapy.CaptureStorage(tmp_path / "captures")
    # Nothing a test started may still be queued, or reach the next test as a warning.
    with warnings.catch_warnings(record=True) as late:
        warnings.simplefilter("always")
        assert snapy.flush_captures(10) is True
    assert [str(w.message) for w in late] == []


def test_unpicklable_socket_argument(
    storage: snapy.CaptureStorage, caplog: pytest.LogCaptureFixture
) -> None:
    @snapy.capture(storage=storage, production_mode=False)
    def send(conn: Any, payload: bytes) -> tuple[Any, int]:
        return conn, len(payload)

    expected = skipped(send, "unpicklable argument", f"argument 'conn': {NO_SOCKET}", ARGUMENT_HINT)
    with socket.socket() as sock:
        with pytest.warns(snapy.CaptureSkippedWarning) as record:
            results = [send(sock, b"abc") for _ in range(20)]
        assert all(conn is sock for conn, _ in results)
        assert [n for _, n in results] == [3] * 20
    assert [str(w.message) for w in record] == [expected]
    assert (record[0].filename, record[0].category) == (__file__, snapy.CaptureSkippedWarning)
    assert logged(caplog) == [expected]
    assert (
        logged(caplog, logging.DEBUG).count(
            f"skipped capture of {send.__module__}.{send.__qualname__}: unpicklable argument "
            f"(argument 'conn': {NO_SOCKET})"
        )
        == 20
    )
    assert snapy.flush_captures(10) is True
    assert bundles(storage) == []

    # The function is still captured when its arguments can be stored.
    assert send(None, b"xy") == (None, 2)
    assert snapy.flush_captures(10) is True
    (path,) = bundles(storage)
    assert storage.load(path).arguments == {"conn": None, "payload": b"xy"}


def test_unpicklable_generator_argument(
    storage: snapy.CaptureStorage, caplog: pytest.LogCaptureFixture
) -> None:
    @snapy.capture(storage=storage, production_mode=False)
    def total(numbers: Iterator[int]) -> int:
        return sum(numbers)

    expected = skipped(
        total, "unpicklable argument", f"argument 'numbers': {NO_GENERATOR}", ARGUMENT_HINT
    )
    with pytest.warns(snapy.CaptureSkippedWarning) as record:
        # Capture must not consume the generator: the function sees every item.
        results = [total(i * j for j in range(5)) for i in range(20)]
    assert results == [i * 10 for i in range(20)]
    assert [str(w.message) for w in record] == [expected]
    assert logged(caplog) == [expected]
    assert snapy.flush_captures(10) is True
    assert bundles(storage) == []


@pytest.mark.parametrize("kind", ["socket", "generator"])
def test_unpicklable_result_is_returned_untouched(
    storage: snapy.CaptureStorage, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    made: list[Any] = []

    @snapy.capture(storage=storage, production_mode=False)
    def make(n: int) -> Any:
        value = socket.socket() if kind == "socket" else (n * i for i in range(3))
        made.append(value)
        return value

    detail = NO_SOCKET if kind == "socket" else NO_GENERATOR
    expected = skipped(make, "unpicklable result", detail, RESULT_HINT)
    try:
        with pytest.warns(snapy.CaptureSkippedWarning) as record:
            results = [make(n) for n in range(10)]
        assert len(results) == 10
        assert all(a is b for a, b in zip(results, made, strict=True))
        if kind == "generator":
            assert [list(g) for g in results] == [[0, n, 2 * n] for n in range(10)]
        else:
            assert all(s.fileno() >= 0 for s in results)
    finally:
        for value in made:
            value.close()
    assert [str(w.message) for w in record] == [expected]
    assert logged(caplog) == [expected]
    assert snapy.flush_captures(10) is True
    assert bundles(storage) == []


def test_one_warning_per_function_and_cause(
    storage: snapy.CaptureStorage, caplog: pytest.LogCaptureFixture
) -> None:
    @snapy.capture(storage=storage, production_mode=False)
    def first(value: Any) -> Any:
        return value

    @snapy.capture(storage=storage, production_mode=False)
    def second(value: Any) -> Any:
        return value

    with socket.socket() as sock, pytest.warns(snapy.CaptureSkippedWarning) as record:
        for _ in range(5):
            assert first(sock) is sock
            assert second(sock) is sock
    expected = [
        skipped(first, "unpicklable argument", f"argument 'value': {NO_SOCKET}", ARGUMENT_HINT),
        skipped(second, "unpicklable argument", f"argument 'value': {NO_SOCKET}", ARGUMENT_HINT),
    ]
    assert [str(w.message) for w in record] == expected
    assert logged(caplog) == expected

    @snapy.capture(storage=storage, production_mode=False)
    def third(value: Any) -> Any:
        return value if value != "socket" else socket.socket()

    made = []
    with socket.socket() as sock, pytest.warns(snapy.CaptureSkippedWarning) as record:
        for _ in range(5):
            assert third(sock) is sock
            made.append(third("socket"))
    for value in made:
        value.close()
    assert [str(w.message) for w in record] == [
        skipped(third, "unpicklable argument", f"argument 'value': {NO_SOCKET}", ARGUMENT_HINT),
        skipped(third, "unpicklable result", NO_SOCKET, RESULT_HINT),
    ]


def test_bundle_over_max_bytes(
    storage: snapy.CaptureStorage, caplog: pytest.LogCaptureFixture
) -> None:
    @snapy.capture(storage=storage, production_mode=False, max_bytes=100)
    def blob(n: int) -> str:
        return "a" * n

    @snapy.capture(storage=storage, production_mode=False, max_bytes=100)
    def echo(text: str) -> int:
        return len(text)

    with pytest.warns(snapy.CaptureSkippedWarning) as record:
        # '{"n": 200}' is 10 bytes and the JSON string of 200 "a"s 202: 212 in all.
        assert [blob(200) for _ in range(10)] == ["a" * 200] * 10
        # '{"text": ""}' is 12 bytes, plus 300 "b"s: too big before the call is made.
        assert [echo("b" * 300) for _ in range(10)] == [300] * 10
        assert blob(10) == "a" * 10
    expected = [
        skipped(blob, "bundle over max_bytes", "bundle is 212 bytes, limit 100", SIZE_HINT),
        skipped(
            echo, "bundle over max_bytes", "arguments alone are 312 bytes, limit 100", SIZE_HINT
        ),
    ]
    assert [str(w.message) for w in record] == expected
    assert logged(caplog) == expected
    assert snapy.flush_captures(10) is True
    (path,) = bundles(storage)
    assert storage.load(path).result == "a" * 10


@pytest.mark.parametrize(
    ("code", "raised", "cause"),
    [
        (errno.ENOSPC, "OSError", "disk full"),
        (errno.EROFS, "OSError", "folder not writable"),
        (errno.EACCES, "PermissionError", "folder not writable"),
        (errno.EIO, "OSError", "write failed"),
    ],
)
def test_write_failures_warn_once_at_flush(
    storage: snapy.CaptureStorage,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    code: int,
    raised: str,
    cause: str,
) -> None:
    # We run as root, so a chmod would not stop a write: the write itself fails instead.
    def failing_write(path: Path, data: bytes) -> None:
        raise OSError(code, os.strerror(code))

    @snapy.capture(storage=storage, production_mode=False)
    def lookup(n: int) -> dict[str, int]:
        return {"n": n}

    expected = skipped(lookup, cause, f"{raised}: [Errno {code}] {os.strerror(code)}")
    with monkeypatch.context() as patch:
        patch.setattr(snapy._store, "atomic_write", failing_write)
        with pytest.warns(snapy.CaptureSkippedWarning) as record:
            assert [lookup(n) for n in range(10)] == [{"n": n} for n in range(10)]
            assert snapy.flush_captures(10) is True
        assert [str(w.message) for w in record] == [expected]
        assert record[0].filename == __file__
        with warnings.catch_warnings(record=True) as again:
            warnings.simplefilter("always")
            assert [lookup(n) for n in range(10)] == [{"n": n} for n in range(10)]
            assert snapy.flush_captures(10) is True
        assert again == []
    assert logged(caplog) == [expected]
    assert bundles(storage) == []
    assert list(storage.root.rglob(".tmp-*")) == []

    # Once the disk takes writes again, so does capture.
    assert lookup(99) == {"n": 99}
    assert snapy.flush_captures(10) is True
    (path,) = bundles(storage)
    assert storage.load(path).result == {"n": 99}


FILE_TOO_LARGE = """
import hashlib
import random
import resource
import signal
import sys

# Files this process writes may not exceed 64 KiB; a bigger write fails with EFBIG.
resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

import snapy


@snapy.capture(path=sys.argv[1], production_mode=False)
def produce(n):
    return random.Random(n).randbytes(n)


result = produce(150_000)
print(len(result), hashlib.sha256(result).hexdigest())
if sys.argv[2] == "flush":
    snapy.flush_captures()
"""


@pytest.mark.parametrize("end", ["flush", "exit"])
def test_file_too_large_for_real(tmp_path: Path, end: str) -> None:
    (tmp_path / "big.py").write_text(FILE_TOO_LARGE)
    root = tmp_path / "captures"
    done = subprocess.run(
        [sys.executable, "big.py", str(root), end],
        cwd=tmp_path,
        env={"PATH": os.environ.get("PATH", ""), "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    expected = (
        "snapy did not capture a call of __main__.produce: file too large "
        f"(OSError: [Errno {errno.EFBIG}] {os.strerror(errno.EFBIG)}); the call itself went on "
        f"unchanged; {FOLDER_HINT}"
    )
    data = random.Random(150_000).randbytes(150_000)
    assert (done.returncode, done.stdout) == (0, f"150000 {hashlib.sha256(data).hexdigest()}\n")
    # Once as the log record (logging's last-resort handler), once as the warning.
    assert done.stderr.count(expected) == 2, done.stderr
    assert done.stderr.count(f"CaptureSkippedWarning: {expected}\n") == 1, done.stderr
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert files == [".redaction-key", "__main__/produce/.lock"]


HOLD_LOCK = """
import sys

import filelock

with filelock.FileLock(sys.argv[1]):
    print("locked", flush=True)
    sys.stdin.readline()
"""


def test_lock_held_by_another_process_times_out(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="snapy")
    storage = snapy.CaptureStorage(tmp_path / "captures", lock_timeout=0.2)

    @snapy.capture(storage=storage, production_mode=False)
    def pay(amount: int) -> dict[str, int]:
        return {"paid": amount}

    assert pay(1) == {"paid": 1}
    assert snapy.flush_captures(10) is True
    lock = storage.folder(snapy.Target(pay.__module__, pay.__qualname__)) / ".lock"
    assert lock.is_file()
    (tmp_path / "hold.py").write_text(HOLD_LOCK)
    holder = subprocess.Popen(
        [sys.executable, "hold.py", str(lock)],
        cwd=tmp_path,
        env={"PATH": os.environ.get("PATH", ""), "PYTHONDONTWRITEBYTECODE": "1"},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "locked\n"
        expected = skipped(pay, "lock timeout", f"Timeout: {filelock.Timeout(str(lock))}")
        with pytest.warns(snapy.CaptureSkippedWarning) as record:
            assert [pay(2) for _ in range(5)] == [{"paid": 2}] * 5
            assert snapy.flush_captures(10) is True
        assert [str(w.message) for w in record] == [expected]
        assert logged(caplog) == [expected]
    finally:
        out, err = holder.communicate("\n", timeout=10)
    assert (holder.returncode, out, err) == (0, "", "")

    with warnings.catch_warnings(record=True) as again:
        warnings.simplefilter("always")
        assert pay(3) == {"paid": 3}
        assert snapy.flush_captures(10) is True
    assert again == []
    assert [storage.load(p).result for p in bundles(storage)] == [{"paid": 1}, {"paid": 3}]
    assert storage.read_index(snapy.Target(pay.__module__, pay.__qualname__))["call_count"] == 2


@pytest.mark.parametrize("capturable", [True, False], ids=["captured", "not-captured"])
def test_exception_is_reraised_as_the_same_object_with_its_traceback(
    storage: snapy.CaptureStorage, capturable: bool
) -> None:
    raised: list[BaseException] = []
    with socket.socket() as sock:

        @snapy.capture(storage=storage, production_mode=False)
        def refund(amount: int) -> None:
            exc = LookupError(f"no payment of {amount}")
            if not capturable:
                exc.connection = sock  # type: ignore[attr-defined]
            raised.append(exc)
            raise exc  # <- refund raises here

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with pytest.raises(LookupError) as excinfo:
                refund(7)  # <- the test calls here

    exc = excinfo.value
    assert exc is raised[0]
    assert exc.args == ("no payment of 7",)
    assert (exc.__cause__, exc.__context__, exc.__suppress_context__) == (None, None, False)
    frames = traceback.extract_tb(exc.__traceback__)
    source = Path(__file__).read_text().splitlines()
    raise_line = source.index("            raise exc  # <- refund raises here") + 1
    call_line = source.index("                refund(7)  # <- the test calls here") + 1
    assert (frames[0].filename, frames[0].lineno) == (__file__, call_line)
    assert (frames[-1].filename, frames[-1].name, frames[-1].lineno) == (
        __file__,
        "refund",
        raise_line,
    )
    assert snapy.flush_captures(10) is True
    if capturable:
        assert caught == []
        (path,) = bundles(storage)
        stored = storage.load(path)
        assert stored.outcome == "exception"
        assert type(stored.exception) is LookupError
        assert stored.exception.args == ("no payment of 7",)
    else:
        assert [w.category for w in caught] == [snapy.CaptureSkippedWarning]
        assert bundles(storage) == []


def test_unpicklable_exception_warning_says_what_to_do(
    storage: snapy.CaptureStorage, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as sock:

        @snapy.capture(storage=storage, production_mode=False)
        def refund(amount: int) -> None:
            exc = LookupError(amount)
            exc.connection = sock  # type: ignore[attr-defined]
            raise exc

        with pytest.warns(snapy.CaptureSkippedWarning) as record:
            for _ in range(3):
                with pytest.raises(LookupError):
                    refund(7)
    # The folder is not at fault here; what helps is storing the exception's type only.
    expected = skipped(refund, "unpicklable exception", NO_SOCKET, EXCEPTION_HINT)
    assert [str(w.message) for w in record] == [expected]
    assert logged(caplog) == [expected]


def test_capture_problems_never_raise_where_warnings_are_errors(
    storage: snapy.CaptureStorage, caplog: pytest.LogCaptureFixture
) -> None:
    @snapy.capture(storage=storage, production_mode=False)
    def send(conn: Any) -> Any:
        return conn

    with socket.socket() as sock, warnings.catch_warnings():
        warnings.simplefilter("error")
        assert [send(sock) for _ in range(3)] == [sock] * 3
    assert logged(caplog) == [
        skipped(send, "unpicklable argument", f"argument 'conn': {NO_SOCKET}", ARGUMENT_HINT)
    ]


def test_a_capture_folder_whose_parent_does_not_exist_yet_is_created(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # SNAPY_CAPTURE_DIR=/var/lib/app/captures on a fresh machine: nothing there exists yet.
    storage = snapy.CaptureStorage(tmp_path / "var" / "lib" / "captures")

    @snapy.capture(storage=storage, production_mode=False)
    def ping(n: int) -> int:
        return n

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert ping(1) == 1
        assert snapy.flush_captures(10) is True
    assert [str(w.message) for w in caught] == []
    assert logged(caplog) == []
    (path,) = bundles(storage)
    assert storage.load(path).result == 1
    assert stat.S_IMODE(storage.root.stat().st_mode) == 0o700


# -- resource faults for real, each in a child process (issue 9) -----------------------------------
#
# Every scenario captures a few calls, meets the fault while making calls that return and
# raise, and looks at the store while the fault lasts and after it: the outcomes as callers
# saw them, the warnings, each bundle through the loader, and `snapy verify`.

CHILD = """
import contextlib
import io
import json
import sys
import warnings
from pathlib import Path

import snapy
from snapy._cli import main as snapy_main

root = Path(sys.argv[1])


@snapy.capture(path=root, retention=3, production_mode=False)
def charge(amount, note=""):
    if amount < 0:
        raise ValueError(f"cannot charge {amount}")
    return {"charged": amount, "note": len(note)}


def calls(*amounts, note=""):
    \"\"\"Each call's outcome as its caller saw it, and the warnings the calls gave.\"\"\"
    seen = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for amount in amounts:
            try:
                seen.append(charge(amount, note))
            except ValueError as exc:
                seen.append(f"ValueError: {exc}")
        assert snapy.flush_captures(30)
    return {
        "outcomes": seen,
        "warnings": [f"{w.category.__name__}: {w.message}" for w in caught],
    }


def stored():
    \"\"\"What the store gives back: every bundle through the loader, its index, and verify.\"\"\"
    storage = snapy.CaptureStorage(root)
    target = snapy.Target("__main__", "charge")
    bundles = []
    for path in storage.files(target):
        capture = storage.load(path)
        value = capture.result if capture.outcome == "result" else repr(capture.exception)
        bundles.append([capture.arguments["amount"], value, capture.meta.get("clock_ns")])
    index = storage.read_index(target)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = snapy_main(["verify", "--json", str(root)])
    return {
        "bundles": bundles,
        "indexed": [e["file"] for e in index["bundles"]] == [p.name for p in storage.files(target)],
        "names": [p.name for p in storage.files(target)],
        "temps": sorted(p.name for p in root.rglob(".tmp-*")),
        "verify": [status, json.loads(out.getvalue())["problems"]],
    }


def quote(amount):
    \"\"\"A side effect the tests record (not captured).\"\"\"
    if amount < 0:
        raise ValueError(f"no quote for {amount}")
    return {"quote": amount}


def report(**parts):
    print(json.dumps(parts), flush=True)
"""


def run_child(
    tmp_path: Path, body: str, *args: str, prefix: tuple[str, ...] = (), extra: str = ""
) -> tuple[dict[str, Any], str]:
    """Run `CHILD + extra + body` with the capture root `tmp_path/captures`, after `prefix`
    (a command that runs it): (its report, its stderr)."""
    script = tmp_path / "child.py"
    script.write_text(CHILD + extra + textwrap.dedent(body))
    done = subprocess.run(
        [*prefix, PYTHON, str(script), str(tmp_path / "captures"), *args],
        cwd=tmp_path,
        env=environ(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1]), done.stderr


def charged(*amounts: int) -> list[Any]:
    """The outcomes callers see, for calls made without a note."""
    return [
        {"charged": a, "note": 0} if a >= 0 else f"ValueError: cannot charge {a}" for a in amounts
    ]


def kept(*amounts: int) -> list[list[Any]]:
    """Bundles as `stored()` lists them, for calls made without a note."""
    return [
        [a, {"charged": a, "note": 0} if a >= 0 else f"ValueError('cannot charge {a}')", None]
        for a in amounts
    ]


CLEAN = {"indexed": True, "temps": [], "verify": [0, []]}


def clean(state: dict[str, Any]) -> dict[str, Any]:
    """The parts of what `stored()` reports that say the store is whole."""
    return {k: state[k] for k in CLEAN}


DISK_FULL = """
    import errno
    import os
    import subprocess

    disk = root.parent
    # Inside a mount namespace of its own: the small disk goes with this process.
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "snapy-small-disk", str(disk)],
                   check=True)
    before = calls(1, 2)
    fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, bytes(4096))
    except OSError as exc:
        filled = errno.errorcode[exc.errno]
    os.close(fd)
    during = calls(3, -4, 5)
    full = stored()
    os.unlink(disk / "filler")
    after = calls(6)
    report(filled=filled, before=before, during=during, full=full, after=after, end=stored())
"""

UNSHARE = ("unshare", "--user", "--map-root-user", "--mount")


def test_disk_full_for_real(tmp_path: Path) -> None:
    probe = (
        subprocess.run(
            [*UNSHARE, "mount", "-t", "tmpfs", "-o", "size=64k", "probe", str(tmp_path)],
            capture_output=True,
            text=True,
        )
        if shutil.which("unshare")
        else None
    )
    if probe is None or probe.returncode != 0:
        pytest.skip(
            "no small filesystem to fill: `unshare --user --map-root-user --mount` cannot mount "
            f"a tmpfs here ({probe.stderr.strip() if probe else 'no unshare command'}); "
            "test_write_failures_warn_once_at_flush simulates ENOSPC instead"
        )
    (tmp_path / "disk").mkdir()
    result, stderr = run_child(tmp_path / "disk", DISK_FULL, prefix=UNSHARE)
    message = (
        "snapy did not capture a call of __main__.charge: disk full (OSError: "
        f"[Errno {errno.ENOSPC}] {os.strerror(errno.ENOSPC)}); the call itself went on "
        f"unchanged; {FOLDER_HINT}"
    )
    assert result["filled"] == "ENOSPC"
    assert result["before"] == {"outcomes": charged(1, 2), "warnings": []}
    assert result["during"] == {
        "outcomes": charged(3, -4, 5),
        "warnings": [f"CaptureSkippedWarning: {message}"],
    }
    assert stderr == f"{message}\n"  # the log record, once
    assert result["full"]["bundles"] == kept(1, 2)
    assert clean(result["full"]) == CLEAN
    assert result["after"] == {"outcomes": charged(6), "warnings": []}
    assert result["end"]["bundles"] == kept(1, 2, 6)
    assert clean(result["end"]) == CLEAN


FILE_TOO_LARGE_NOW = """
    import resource
    import signal

    before = calls(1, 2)
    # From now on no file this process writes may pass 64 KiB: a bigger write fails (EFBIG).
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    during = calls(3, -4, note="n" * 100_000)
    limited = stored()
    after = calls(5)  # small bundles are still written under the limit
    report(before=before, during=during, limited=limited, after=after, end=stored())
"""


def test_file_too_large_keeps_outcomes_and_the_store(tmp_path: Path) -> None:
    result, stderr = run_child(tmp_path, FILE_TOO_LARGE_NOW)
    message = (
        "snapy did not capture a call of __main__.charge: file too large (OSError: "
        f"[Errno {errno.EFBIG}] {os.strerror(errno.EFBIG)}); the call itself went on "
        f"unchanged; {FOLDER_HINT}"
    )
    assert result["before"] == {"outcomes": charged(1, 2), "warnings": []}
    assert result["during"] == {
        "outcomes": [{"charged": 3, "note": 100_000}, "ValueError: cannot charge -4"],
        "warnings": [f"CaptureSkippedWarning: {message}"],
    }
    assert stderr == f"{message}\n"
    assert result["limited"]["bundles"] == kept(1, 2)
    assert clean(result["limited"]) == CLEAN
    assert result["after"] == {"outcomes": charged(5), "warnings": []}
    assert result["end"]["bundles"] == kept(1, 2, 5)
    assert clean(result["end"]) == CLEAN


READ_ONLY = """
    import os

    # Before any thread starts (snapy's writer among them): capabilities are per thread.
    if not drop_root_override():
        report(skip="CAP_DAC_OVERRIDE cannot be dropped (capset failed)")
        raise SystemExit(0)
    before = calls(1, 2)
    folder = root / "__main__" / "charge"
    os.chmod(folder, 0o500)
    try:
        (folder / "probe").touch()
    except PermissionError:
        pass
    else:
        report(skip="a folder of mode 0500 still takes new files here")
        raise SystemExit(0)
    during = calls(3, -4, 5)
    read_only = stored()
    os.chmod(folder, 0o700)
    after = calls(6)
    report(before=before, during=during, read_only=read_only, after=after, end=stored())
"""


def test_read_only_capture_folder(tmp_path: Path) -> None:
    # chmod 0500 does not stop root; the child gives up root's permission override first.
    result, stderr = run_child(tmp_path, READ_ONLY, extra=DROP_ROOT_OVERRIDE)
    if "skip" in result:
        pytest.skip(result["skip"])
    folder = tmp_path / "captures" / "__main__" / "charge"
    message = re.escape(
        "snapy did not capture a call of __main__.charge: folder not writable "
        f"(PermissionError: [Errno {errno.EACCES}] {os.strerror(errno.EACCES)}: "
        f"'{folder}/.tmp-XXXX.part'); the call itself went on unchanged; {FOLDER_HINT}"
    ).replace("XXXX", "[a-z0-9_]+")
    assert result["before"] == {"outcomes": charged(1, 2), "warnings": []}
    assert result["during"]["outcomes"] == charged(3, -4, 5)
    (warned,) = result["during"]["warnings"]
    assert re.fullmatch(f"CaptureSkippedWarning: {message}", warned)
    assert re.fullmatch(f"{message}\n", stderr)
    assert result["read_only"]["bundles"] == kept(1, 2)
    assert clean(result["read_only"]) == CLEAN
    assert result["after"] == {"outcomes": charged(6), "warnings": []}
    assert result["end"]["bundles"] == kept(1, 2, 6)
    assert clean(result["end"]) == CLEAN


# The clock this child reads is frozen at argv[2] ns, and steps back by argv[4] ns between
# the calls of argv[3] and those of argv[5].
CLOCK = """
    import time

    now = [int(sys.argv[2])]
    time.time_ns = lambda: now[0]
    time.time = lambda: now[0] / 1e9
    first = calls(*json.loads(sys.argv[3]))
    now[0] -= int(sys.argv[4])
    then = calls(*json.loads(sys.argv[5]))
    report(first=first, then=then, end=stored())
"""
T0 = 1_700_000_000 * 10**9  # 2023-11-14T22:13:20Z
HOUR = 3600 * 10**9
CLOCK_WENT_BACK = (
    "snapy captured a call of __main__.charge: clock went back (the newest bundle here is "
    "dated 2023-11-14T22:13:20.000000+00:00, 3600.000 s ahead of the clock; new captures are "
    "dated after it); the call itself went on unchanged; check the system clock (NTP): "
    "captures are kept in the order of the times in their names"
)


def times(state: dict[str, Any]) -> list[int]:
    """The times in the names of the bundles kept, oldest first."""
    return [int(name.split("-")[0]) for name in state["names"]]


def test_clock_going_back_in_a_process(tmp_path: Path) -> None:
    result, stderr = run_child(tmp_path, CLOCK, str(T0), "[1, 2, 3]", str(HOUR), "[4, -5, 6]")
    assert result["first"] == {"outcomes": charged(1, 2, 3), "warnings": []}
    assert result["then"] == {
        "outcomes": charged(4, -5, 6),
        "warnings": [f"SnapyWarning: {CLOCK_WENT_BACK}"],
    }
    assert stderr == f"{CLOCK_WENT_BACK}\n"
    # A process never dates a call before one it dated already: the names stay unique and
    # in call order, and retention keeps the last three calls.
    assert result["end"]["bundles"] == kept(4, -5, 6)
    assert times(result["end"]) == [T0 + 3, T0 + 4, T0 + 5]
    assert clean(result["end"]) == CLEAN


def test_clock_behind_the_bundles_of_an_earlier_process(tmp_path: Path) -> None:
    earlier, stderr = run_child(tmp_path, CLOCK, str(T0), "[1, 2, 3]", "0", "[]")
    assert (earlier["first"]["warnings"], stderr) == ([], "")
    assert times(earlier["end"]) == [T0, T0 + 1, T0 + 2]
    # A later process whose clock is an hour behind: its captures would sort before the
    # stored ones, and retention would drop them at once, for an hour.
    later, stderr = run_child(tmp_path, CLOCK, str(T0 - HOUR), "[4, -5]", "0", "[]")
    assert later["first"] == {
        "outcomes": charged(4, -5),
        "warnings": [f"SnapyWarning: {CLOCK_WENT_BACK}"],
    }
    assert stderr == f"{CLOCK_WENT_BACK}\n"
    assert later["end"]["bundles"] == [
        kept(3)[0],
        [4, {"charged": 4, "note": 0}, T0 - HOUR],
        [-5, "ValueError('cannot charge -5')", T0 - HOUR + 1],
    ]
    assert times(later["end"]) == [T0 + 2, T0 + 3, T0 + 4]
    assert clean(later["end"]) == CLEAN


HOLD_AND_DIE = """
    import os
    import time


    def stall(*args, **kwargs):
        print("holding", flush=True)
        time.sleep(600)


    os.replace = stall  # a write stops here, its temp file whole, the folder locked
    if sys.argv[2] == "capture":
        charge(1)
        snapy.flush_captures()
    else:
        snapy.mock(quote, recordings=sys.argv[3], test_id="test_locks::test_dead", mode="new")(1)
"""

AFTER_THE_DEAD = """
    from snapy._cli import main

    if sys.argv[2] == "capture":
        folder = root / "__main__" / "charge"
        left = sorted(p.name for p in folder.iterdir())
        report(left=left, after=calls(2, -3), end=stored())
    else:
        recordings = Path(sys.argv[3])
        folder = recordings / "test_locks" / "test_dead" / "__main__.quote"
        left = sorted(p.name for p in folder.iterdir())
        store = snapy.RecordingStore(recordings, lock_timeout=10)
        fake = snapy.mock(quote, recordings=store, test_id="test_locks::test_dead", mode="new")
        outcomes = []
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for amount in (2, -3):
                try:
                    outcomes.append(fake(amount))
                except ValueError as exc:
                    outcomes.append(f"ValueError: {exc}")
            snapy.flush_recordings()
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            status = main(["verify", "--json", str(recordings)])
        report(
            left=left,
            after={"outcomes": outcomes, "warnings": [str(w.message) for w in caught]},
            files=sorted(p.name for p in folder.iterdir()),
            indexed=[c["file"] for c in json.loads((folder / "index.json").read_text())["calls"]],
            verify=[status, json.loads(out.getvalue())["problems"]],
        )
"""


@pytest.mark.parametrize("write", ["capture", "recording"])
def test_lock_left_by_a_killed_holder_does_not_block(tmp_path: Path, write: str) -> None:
    recordings = str(tmp_path / "__recordings__")
    (tmp_path / "holder.py").write_text(CHILD + textwrap.dedent(HOLD_AND_DIE))
    holder = subprocess.Popen(
        [PYTHON, "holder.py", str(tmp_path / "captures"), write, recordings],
        cwd=tmp_path,
        env=environ(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "holding\n"
    finally:
        holder.kill()
        out, err = holder.communicate(timeout=10)
    assert (holder.returncode, out, err) == (-signal.SIGKILL, "", "")

    result, stderr = run_child(tmp_path, AFTER_THE_DEAD, write, recordings)
    # The killed holder left its lock file and the temp file of its write.
    assert result["left"][0] == ".lock"
    assert [re.fullmatch(r"\.tmp-[a-z0-9_]+\.part", n) is not None for n in result["left"]] == [
        False,
        True,
    ]
    assert stderr == ""
    if write == "capture":
        assert result["after"] == {"outcomes": charged(2, -3), "warnings": []}
        assert result["end"]["bundles"] == kept(2, -3)
        assert clean(result["end"]) == CLEAN  # the temp file went with the next write
    else:
        assert result["after"] == {
            "outcomes": [{"quote": 2}, "ValueError: no quote for -3"],
            "warnings": [],
        }
        keys = [snapy.argument_key("__main__.quote", {"amount": a}) for a in (2, -3)]
        files = [f"0000-{keys[0]}.bundle", f"0001-{keys[1]}.bundle"]
        assert result["files"] == [".lock", *files, "index.json"]
        assert result["indexed"] == files
        assert result["verify"] == [0, []]


def test_a_recording_that_cannot_be_written_fails_the_call_naming_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[int] = []

    def quote(amount: int) -> dict[str, int]:
        made.append(amount)
        return {"quote": amount}

    store = snapy.RecordingStore(tmp_path / "__recordings__")
    fake = snapy.mock(quote, recordings=store, test_id="test_disk::test_full", mode="new")
    assert fake(1) == {"quote": 1}

    def full(path: Path, data: bytes) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    name = f"{quote.__module__}.{quote.__qualname__}"
    key = snapy.argument_key(name, {"amount": 2})
    path = fake.recordings_folder / f"0001-{key}.bundle"
    with monkeypatch.context() as patch:
        patch.setattr(snapy._recordings, "atomic_write", full)
        with pytest.raises(snapy.StoreError) as excinfo:
            fake(2)
    assert excinfo.value.path == path
    assert str(excinfo.value) == (
        f"{path}: cannot write the recording (OSError: [Errno {errno.ENOSPC}] "
        f"{os.strerror(errno.ENOSPC)}); the call was made but not recorded: free the disk or "
        "fix the folder's permissions, then record again"
    )
    assert made == [1, 2]
    # Nothing of the failed call stays behind: the next call records it, in its place.
    assert fake(2) == {"quote": 2}
    assert made == [1, 2, 2]
    snapy.flush_recordings()
    first = f"0000-{snapy.argument_key(name, {'amount': 1})}.bundle"
    assert sorted(p.name for p in fake.recordings_folder.iterdir()) == [
        ".lock",
        first,
        path.name,
        "index.json",
    ]
    index = json.loads((fake.recordings_folder / "index.json").read_text())
    assert [c["file"] for c in index["calls"]] == [first, path.name]
