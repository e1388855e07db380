"""Capture fails gracefully: the call's outcome never changes, one warning per function and cause.

Every fault here keeps the wrapped function's result or exception exactly as it was, gives one
`CaptureSkippedWarning` per function and cause however many calls hit it, and a log record on
the "snapy" logger. Write failures happen on the writer thread and surface on the next call or
at `snapy.flush_captures()`.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import random
import socket
import stat
import subprocess
import sys
import traceback
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import filelock
import pytest

import snapy
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
