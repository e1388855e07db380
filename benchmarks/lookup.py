"""Per replayed call, recordings loaded: snapy, unittest.mock, pytest-mimic, pytest-record-replay.

    .bench/py311/bin/python -m benchmarks.lookup [--quick] [--runs N] [--json PATH]
    (or `python -m benchmarks --only lookup`, which makes that environment)

In this process, without pytest, each tool's own replay machinery on one target,
`lookup(user_id, region)`, that has 10, 1,000 or 10,000 recordings, made through each tool's
recording path first:

- snapy: `snapy.mock(lookup, recordings=store, test_id=..., mode="replay")`, its recordings
  loaded by one untimed call; timed: 10 keys spread evenly over the recordings, in turns;
- pytest-mimic: its `mimic(target)` patch over a vault of as many recordings (one pickle file
  per distinct call, read on every call: nothing to load first); timed: the same 10 keys;
- pytest-record-replay: its `MockR` patch with the recorded `Call` list in memory (what its
  test wrapper loads from the test's one file), inside its `record(False)` and `set_calls`
  contexts. It has no lookup by arguments: it replays strictly in recorded order, so a test
  with N recordings makes exactly those N calls; timed: all N calls, in order;
- unittest.mock: `Mock(return_value=...)` (one answer, no lookup), beside snapy with 10.

Each run measures every (tool, size) in rotation; a row's ratio is taken within the run. The
exception row replays a recorded `ConnectionError` against `Mock(side_effect=...)`. A figure
is the best of 3 loops (the loops are short; the best is the least disturbed by the rest of
the machine).
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import os
import statistics
import sys
import tempfile
import time
import unittest.mock
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import snapy
from benchmarks._harness import finish, rotated, runs_of, worker_parser
from benchmarks.results import Row

perf_ns = time.perf_counter_ns
REGION = "eu-west"
MODULE = "bench_lookup_target"
SOURCE = """
REAL_CALLS = [0]


def lookup(user_id, region, limit=10):
    REAL_CALLS[0] += 1
    if user_id < 0:
        raise ConnectionError(f"the lookup service refused user {user_id}")
    return {"id": user_id, "region": region, "items": [1, 2, 3]}
"""


def expected(user_id: int) -> dict[str, Any]:
    return {"id": user_id, "region": REGION, "items": [1, 2, 3]}


def spread(size: int) -> list[int]:
    """10 keys spread evenly over `size` recordings."""
    step = max(size // 10, 1)
    return [k * step + step // 2 for k in range(10)][:size]


def timed_calls(fn: Callable[..., Any], keys: Sequence[int], reps: int) -> float:
    """ns per call of `fn(key, REGION)` over `keys`, `reps` times."""
    gc.disable()
    try:
        t0 = perf_ns()
        for _ in range(reps):
            for k in keys:
                fn(k, REGION)
        return (perf_ns() - t0) / (reps * len(keys))
    finally:
        gc.enable()


class Snapy:
    def __init__(self, root: Path, module: ModuleType, sizes: Sequence[int]) -> None:
        self.root = root
        self.fn = module.lookup
        store = snapy.RecordingStore(root)
        for size in sizes:
            rec = snapy.mock(self.fn, recordings=store, test_id=self.test_id(size), mode="new")
            for i in range(size):
                rec(i, REGION)
        rec = snapy.mock(self.fn, recordings=store, test_id="t::T.test_raises", mode="new")
        with contextlib.suppress(ConnectionError):
            rec(-1, REGION)
        store.flush()
        self.store = snapy.RecordingStore(root)  # for replaying: loads what a test uses

    @staticmethod
    def test_id(size: int) -> str:
        return f"test_lookup::TestLookup.test_{size}"

    def player(self, test_id: str) -> Any:
        """A fresh replaying mock (its call list empty, as in a new test) on one store that
        keeps what it loaded: the first measurement of a test loads its recordings."""
        return snapy.mock(self.fn, recordings=self.store, test_id=test_id, mode="replay")

    def measure(self, size: int, reps: int) -> float:
        fn = self.player(self.test_id(size))
        keys = spread(size)
        for k in keys:  # loads the recordings; checks the values
            assert fn(k, REGION) == expected(k)
        per_call = timed_calls(fn, keys, reps)
        assert {c.source for c in fn.calls} == {"replayed"}
        return per_call


class Mimic:
    def __init__(self, root: Path, sizes: Sequence[int]) -> None:
        from pytest_mimic import mimic_manager

        self.manager = mimic_manager
        self.root = root
        self.module = importlib.import_module(MODULE)
        os.environ["MIMIC_RECORD"] = "1"
        try:
            for size in sizes:
                self.manager.set_cache_dir(root / f"vault-{size}")
                with self.manager.mimic(f"{MODULE}.lookup"):
                    for i in range(size):
                        self.module.lookup(i, REGION)
        finally:
            os.environ["MIMIC_RECORD"] = "0"
        for size in sizes:
            files = len(list((root / f"vault-{size}").glob("*.pkl")))
            assert files == size, (size, files)

    def measure(self, size: int, reps: int) -> float:
        self.manager.set_cache_dir(self.root / f"vault-{size}")
        keys = spread(size)
        real = self.module.REAL_CALLS[0]
        with self.manager.mimic(f"{MODULE}.lookup"):
            fn = self.module.lookup
            for k in keys:
                assert fn(k, REGION) == expected(k)
            per_call = timed_calls(fn, keys, reps)
        assert self.module.REAL_CALLS[0] == real, "pytest-mimic called the real function"
        return per_call


class RecordReplay:
    def __init__(self, sizes: Sequence[int]) -> None:
        from pytest_record_replay import util
        from pytest_record_replay.mock import MockR

        self.util, self.mock_class = util, MockR
        self.module = importlib.import_module(MODULE)
        self.calls: dict[int, list[Any]] = {}
        for size in sizes:
            self.calls[size] = self.play(list(range(size)), [], recording=True)
            assert len(self.calls[size]) == size

    def play(self, keys: Sequence[int], calls: list[Any], recording: bool) -> list[Any]:
        target = f"{MODULE}.lookup"
        with (
            self.util.record(recording),
            self.util.set_calls(calls),
            unittest.mock.patch(target, self.mock_class(target)),
        ):
            fn = self.module.lookup
            for k in keys:
                fn(k, REGION)
        return calls

    def measure(self, size: int, reps: int) -> float:
        """ns per call replaying all `size` calls in order (fresh copies of the list)."""
        target = f"{MODULE}.lookup"
        keys = list(range(size))
        total = 0
        rounds = max(reps * 10 // size, 1)
        real = self.module.REAL_CALLS[0]
        for _ in range(rounds):
            calls = list(self.calls[size])
            with (
                self.util.record(False),
                self.util.set_calls(calls),
                unittest.mock.patch(target, self.mock_class(target)),
            ):
                fn = self.module.lookup
                gc.disable()
                t0 = perf_ns()
                for k in keys:
                    fn(k, REGION)
                total += perf_ns() - t0
                gc.enable()
            assert not calls, "pytest-record-replay left calls unconsumed"
        assert self.module.REAL_CALLS[0] == real
        return total / (rounds * size)


def main(argv: list[str] | None = None) -> int:
    options = worker_parser(__doc__.splitlines()[0], runs=7).parse_args(argv)
    runs = runs_of(options, 7)
    sizes = [10, 100, 1_000] if options.quick else [10, 1_000, 10_000]
    reps = 100 if options.quick else 300
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="snapy-bench-lookup-") as tmp:
        root = Path(tmp)
        (root / f"{MODULE}.py").write_text(SOURCE.lstrip())
        sys.path.insert(0, tmp)
        snapy.refresh_settings(environ={}, dotenv_path=root / "no.env")
        module = importlib.import_module(MODULE)
        t0 = time.perf_counter()
        ours = Snapy(root / "__recordings__", module, sizes)
        t1 = time.perf_counter()
        mimic = Mimic(root, sizes)
        t2 = time.perf_counter()
        prr = RecordReplay(sizes)
        t3 = time.perf_counter()
        print(
            f"recorded {sum(sizes):,} calls: snapy {t1 - t0:.1f} s, pytest-mimic {t2 - t1:.1f} s,"
            f" pytest-record-replay {t3 - t2:.1f} s",
            flush=True,
        )
        result = expected(0)
        raised = ConnectionError("the lookup service refused user -1")

        def mock_call() -> float:
            return timed_calls(unittest.mock.Mock(return_value=result), spread(10), reps)

        def snapy_raise() -> float:
            return raising(ours.player("t::T.test_raises"), reps)

        def mock_raise() -> float:
            return raising(unittest.mock.Mock(side_effect=raised), reps)

        jobs: list[tuple[str, Callable[[], float]]] = [
            ("mock", mock_call),
            ("snapy raise", snapy_raise),
            ("mock raise", mock_raise),
        ]
        for size in sizes:
            jobs += [
                (f"snapy {size}", lambda s=size: ours.measure(s, reps)),
                (f"mimic {size}", lambda s=size: mimic.measure(s, reps // 3)),
                (f"prr {size}", lambda s=size: prr.measure(s, reps)),
            ]
        ns: dict[str, list[float]] = {name: [] for name, _ in jobs}
        for r in range(runs):
            for name, job in rotated(jobs, r):
                ns[name].append(min(job() for _ in range(3)))
        snapy.refresh_settings()
    for name, values in ns.items():
        print(f"  {name:<14} {statistics.median(values) / 1000:8.2f} us per call")
    return finish(options, rows_of(ns, sizes), started)


def raising(fn: Callable[..., Any], reps: int) -> float:
    gc.disable()
    try:
        t0 = perf_ns()
        for _ in range(reps * 10):
            with contextlib.suppress(ConnectionError):
                fn(-1, REGION)
        return (perf_ns() - t0) / (reps * 10)
    finally:
        gc.enable()


def rows_of(ns: dict[str, list[float]], sizes: Sequence[int]) -> list[Row]:
    def ratio(a: str, b: str) -> list[float]:
        return [x / y for x, y in zip(ns[a], ns[b], strict=True)]

    small, big = sizes[0], sizes[-1]
    mock_why = (
        "A Mock returns its one fixed answer; snapy computes the call's argument key over a "
        "canonical form of the arguments, finds the recording and keeps a record of the call."
    )
    rows = [
        Row.measured(
            "replay",
            "snapy replayed call / unittest.mock.Mock(return_value=) call",
            "unittest.mock",
            ratio(f"snapy {small}", "mock"),
            group="lookup",
            note=f"in process, recordings loaded, {small} recordings",
            why_behind=mock_why,
        ),
        Row.measured(
            "replay",
            "snapy replaying a recorded ConnectionError / Mock(side_effect=ConnectionError)",
            "unittest.mock",
            ratio("snapy raise", "mock raise"),
            group="lookup",
            note="in process; raises the recorded exception type",
            why_behind=mock_why + " The exception is rebuilt from its recording on each call.",
        ),
    ]
    section = "replay lookup"
    for size in sizes:
        rows += [
            Row.measured(
                section,
                f"{size:,} recordings for the target: snapy / pytest-mimic, per call",
                "pytest-mimic",
                ratio(f"snapy {size}", f"mimic {size}"),
                group="lookup",
                note="10 keys spread over the recordings",
                why_behind="pytest-mimic reads one pickle file per call from disk.",
            ),
            Row.measured(
                section,
                f"{size:,} recordings for the target: snapy / pytest-record-replay, per call",
                "pytest-record-replay",
                ratio(f"snapy {size}", f"prr {size}"),
                group="lookup",
                note=f"no lookup by arguments: it replays all {size:,} calls in recorded order",
                why_behind="pytest-record-replay does no lookup at all: it pops the next "
                "recorded call and compares the arguments with ==, which is cheaper than "
                "snapy's argument key while the list is short; it cannot replay a call out of "
                "recorded order.",
            ),
        ]
    for tool, label in (
        ("snapy", "snapy"),
        ("mimic", "pytest-mimic"),
        ("prr", "pytest-record-replay"),
    ):
        rows.append(
            Row.measured(
                section,
                f"{label} per call: {big:,} recordings / {small} recordings",
                label,
                ratio(f"{tool} {big}", f"{tool} {small}"),
                group="lookup",
                scaling=True,
                note="how lookup grows; 1.0 is flat",
            )
        )
    return rows


if __name__ == "__main__":
    raise SystemExit(main())
