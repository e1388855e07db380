"""Coverage-guided fuzzing of snapy's loaders with atheris (issue 9). Not collected by pytest.

atheris is not a dependency of snapy; install it in a throwaway environment with snapy's own
dependencies and run this file as a script, snapy taken from the source tree:

    python3.11 -m venv /tmp/atheris-venv
    /tmp/atheris-venv/bin/pip install atheris dill python-dotenv deepdiff "syrupy>=7,<8" \\
        pytest filelock
    cd /tmp && PYTHONPATH=/path/to/snapy /tmp/atheris-venv/bin/python \\
        /path/to/snapy/tests/fuzz/atheris_loaders.py -runs=100000

The first byte of an input picks the loader; the rest is its input: a capture bundle file, a
JSON payload packed with a valid checksum (the JSON and tag decoder behind it), a recording
file replayed by a mock, an `index.json` read by `snapy list` and `snapy verify`, or a `.env`
file. The seed corpus holds valid files of each kind. Any exception but a `SnapyError` naming
the file is a crash (atheris saves the input as `crash-*` in the current folder). The counts
print at the last of the `-runs=N` inputs.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import atheris

with atheris.instrument_imports():
    import snapy
    from snapy import _envelope
    from snapy._cli import main as cli
    from snapy._settings import ENV_NAMES

LOADERS = ["capture file", "capture payload", "recording file", "index.json", ".env"]
TRIED: Counter[str] = Counter()
REFUSED: Counter[str] = Counter()
CALLS = [0]
RUNS = next((int(a.split("=", 1)[1]) for a in sys.argv if a.startswith("-runs=")), -1)
WORK = Path(tempfile.mkdtemp(prefix="snapy-atheris-"))


def pay(amount: Any, token: Any = None) -> Any:
    return {"amount": amount, "receipt": Receipt(amount)}


class Receipt:
    """Stored pickled."""

    def __init__(self, amount: Any) -> None:
        self.amount = amount


def _setup() -> dict[str, Path]:
    captures = WORK / "captures"
    store = snapy.CaptureStorage(captures, retention=10)
    snapy.capture(pay, storage=store, production_mode=False)(5, token="t")
    snapy.flush_captures()
    recordings = WORK / "__recordings__"
    recorder = snapy.mock(pay, recordings=recordings, test_id="t::x", mode="new")
    recorder(5, token="t")
    snapy.flush_recordings()
    (bundle,) = captures.rglob("*.bundle")
    (recording,) = recordings.rglob("*.bundle")
    return {
        "bundle": bundle,
        "recording": recording,
        "index": bundle.parent / "index.json",
        "captures": captures,
        "recordings": recordings,
    }


FILES = _setup()
ORIGINALS = {name: path.read_bytes() for name, path in FILES.items() if path.is_file()}


def _check(loader: str, call: Any, *names: str) -> None:
    TRIED[loader] += 1
    try:
        call()
    except snapy.CapturedException:
        pass  # a replayed exception whose class cannot be imported here: an outcome
    except snapy.SnapyError as exc:
        REFUSED[loader] += 1
        if not any(name in str(exc) for name in names):
            raise AssertionError(f"{loader}: {type(exc).__name__} names none of {names}: {exc}")


def _cli(loader: str, args: list[str], name: str) -> None:
    TRIED[loader] += 1
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli(args)
    if status != 0:
        REFUSED[loader] += 1
        text = err.getvalue() + out.getvalue()
        # the CLI shows a path relative to the current folder when it is below it
        if name not in text and os.path.relpath(name) not in text:
            raise AssertionError(f"{loader}: {args} exited {status} without naming {name}")


def _replay() -> None:
    store = snapy.RecordingStore(FILES["recordings"])
    mock = snapy.mock(pay, recordings=store, test_id="t::x", mode="replay")
    mock(5, token="t")


def one_input(data: bytes) -> None:
    CALLS[0] += 1
    # libFuzzer ends the process from C, so Python's atexit never runs: report at the last
    # run, and every 10,000 on the way (a run bounded by -max_total_time).
    if CALLS[0] == RUNS or CALLS[0] % 10_000 == 0:
        _report()
    if not data:
        return
    loader = LOADERS[data[0] % len(LOADERS)]
    rest = data[1:]
    try:
        if loader == "capture file":
            path = FILES["bundle"]
            path.write_bytes(rest)
            _check(loader, lambda: snapy.CaptureStorage(FILES["captures"]).load(path), str(path))
            _cli(loader + ": snapy show", ["show", "--json", str(path)], str(path))
        elif loader == "capture payload":
            path = FILES["bundle"]
            path.write_bytes(_envelope.pack(rest, serializer="pickle", signing_key=None))
            _check(loader, lambda: snapy.CaptureStorage(FILES["captures"]).load(path), str(path))
            _cli(loader + ": snapy show", ["show", str(path)], str(path))
        elif loader == "recording file":
            path = FILES["recording"]
            path.write_bytes(rest)
            _check(loader, _replay, str(path))
        elif loader == "index.json":
            path = FILES["index"]
            path.write_bytes(rest)
            root = str(FILES["captures"])
            for args in (["list", root], ["verify", root], ["stats", "--json", root]):
                _cli(f"{loader}: snapy {args[0]}", args, str(path.parent))
        else:
            (WORK / ".env").write_bytes(rest)
            _check(
                loader,
                lambda: snapy.refresh_settings(environ={}, dotenv_path=WORK / ".env"),
                *ENV_NAMES.values(),
                ".env",
            )
    finally:
        for name, original in ORIGINALS.items():
            FILES[name].write_bytes(original)


def _seed_corpus() -> Path:
    corpus = WORK / "corpus"
    corpus.mkdir()
    body = _envelope.unpack(ORIGINALS["bundle"], FILES["bundle"], None)[1]
    seeds = {
        "capture file": ORIGINALS["bundle"],
        "capture payload": body,
        "recording file": ORIGINALS["recording"],
        "index.json": ORIGINALS["index"],
        ".env": b"SNAPY_CAPTURE_ENABLED=1\nSNAPY_RETENTION=5\nSNAPY_MAX_BYTES=10M\n",
    }
    for i, loader in enumerate(LOADERS):
        (corpus / f"seed-{i}").write_bytes(bytes([i]) + seeds[loader])
    return corpus


def _report() -> None:
    print(f"\nsnapy atheris fuzzing: {CALLS[0]} inputs; calls per loader:", file=sys.stderr)
    for name in sorted(TRIED):
        print(f"{TRIED[name]:>9} tried {REFUSED[name]:>9} refused  {name}", file=sys.stderr)
    print(f"{sum(TRIED.values()):>9} tried in all", file=sys.stderr)


if __name__ == "__main__":
    logging.getLogger("dotenv").setLevel(logging.ERROR)  # a warning per unparsable line
    corpus = _seed_corpus()
    atheris.Setup([*sys.argv, str(corpus)], one_input)
    atheris.Fuzz()
