"""What `@snapy.capture` costs per call, as ratios measured side by side in one run.

    python benchmarks/bench_capture.py            # full run (under a minute on 2 cores)
    python benchmarks/bench_capture.py --quick    # smoke test (a few seconds)
    python benchmarks/bench_capture.py --profile  # also: cProfile of the capturing caller
    python -m benchmarks.bench_capture --json rows.json  # also: the comparison rows as JSON
                                                         # (what `python -m benchmarks` reads)

The issue's targets, each a ratio of figures taken in this run (never an absolute time):

- capture off: (decorated_off - bare) / (functools.wraps passthrough - bare) <= 0.20
- capture on, small arguments: captured call / naive `dill.dumps` + write-a-new-file <= 0.6
  (a) the caller's time per call in a loop of N calls, including any GIL time the background
  writer takes meanwhile: the target applies to this one;
  (b) the same loop plus `snapy.flush_captures()` at its end (everything on disk): printed too.
- a call skipped by sampling or by the quota: skipped call / bare call <= 3
  (a skipped call runs the same code at any rate; the row uses sample_rate=1e-6 so that no
  capture lands in its loops, and a separate info row shows sample_rate=0.001 with the cost
  of its captures spread over the calls)

Info rows add what the targets leave out: retention=inf (every call written), a capture
folder that keeps growing, and the caller's time against `dill.dumps` alone, since the naive
baseline's file write costs anything from ~10 us (tmpfs) to ~400 us (a busy VM disk) and the
target's verdict depends on it. Set TMPDIR to measure on another disk.

Each figure comes from several runs in rotation (every row once per run, the starting row
moving each run); a row's ratio is computed within each run, then the median and min-max over
the runs are printed. ns-scale rows subtract the cost of the empty loop (10 calls per loop
iteration), so "bare call" means the call alone. Everything is written under one
`tempfile.TemporaryDirectory`, removed at the end. The exit status is always 0: this is a
report, and a missed target is printed as MISS.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import gc
import io
import os
import platform
import pstats
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dill

import snapy

try:
    from benchmarks.results import Row, write_rows
except ImportError:  # run as a script: benchmarks/ itself is sys.path[0]
    from results import Row, write_rows  # type: ignore[no-redef]

perf_ns = time.perf_counter_ns

# -- the functions under test ---------------------------------------------------------------
# One function object per row, so rows share nothing (each decorated one has its own folder).


def add_bare(a, b):
    return a + b


def add_wraps(a, b):
    return a + b


def add_off(a, b):
    return a + b


def add_sampled(a, b):
    return a + b


def add_quota(a, b):
    return a + b


def add_rate(a, b):
    return a + b


def lookup_plain(user_id, region, limit=10):
    return {"id": user_id, "region": region, "items": [1, 2, 3]}


def lookup_keep2(user_id, region, limit=10):
    return {"id": user_id, "region": region, "items": [1, 2, 3]}


def lookup_keepall(user_id, region, limit=10):
    return {"id": user_id, "region": region, "items": [1, 2, 3]}


def lookup_growing(user_id, region, limit=10):
    return {"id": user_id, "region": region, "items": [1, 2, 3]}


def passthrough(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The usual decorator: `functools.wraps` and `*args, **kwargs`."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)

    return wrapper


# -- timing loops ---------------------------------------------------------------------------


def loop_empty(fn: Callable[..., Any], n: int) -> int:
    it = range(n // 10)
    t0 = perf_ns()
    for _ in it:
        pass
    return perf_ns() - t0


def loop_calls(fn: Callable[..., Any], n: int) -> int:
    it = range(n // 10)
    t0 = perf_ns()
    for _ in it:
        fn(1, 2)
        fn(1, 2)
        fn(1, 2)
        fn(1, 2)
        fn(1, 2)
        fn(1, 2)
        fn(1, 2)
        fn(1, 2)
        fn(1, 2)
        fn(1, 2)
    return perf_ns() - t0


def loop_captured(fn: Callable[..., Any], n: int) -> tuple[int, int]:
    """(caller time, caller time + flush) for n captured calls with small arguments."""
    t0 = perf_ns()
    for i in range(n):
        fn(i, "eu-west", limit=10)
    t1 = perf_ns()
    snapy.flush_captures()
    t2 = perf_ns()
    return t1 - t0, t2 - t0


def loop_naive(folder: Path, n: int, tag: int) -> int:
    """The naive capture the issue compares with: dill.dumps the bundle, write a new file."""
    fn = lookup_plain
    dumps = dill.dumps
    base = os.fspath(folder)
    join = os.path.join
    t0 = perf_ns()
    for i in range(n):
        args = (i, "eu-west")
        kwargs = {"limit": 10}
        result = fn(*args, **kwargs)
        data = dumps((args, kwargs, result))
        with open(join(base, f"{tag}-{i}.pkl"), "wb") as handle:
            handle.write(data)
    return perf_ns() - t0


def loop_dumps(n: int) -> int:
    """The naive capture without its file: only dill.dumps of the bundle (for reference)."""
    fn = lookup_plain
    dumps = dill.dumps
    t0 = perf_ns()
    for i in range(n):
        args = (i, "eu-west")
        kwargs = {"limit": 10}
        result = fn(*args, **kwargs)
        dumps((args, kwargs, result))
    return perf_ns() - t0


def clear(folder: Path) -> None:
    """Remove everything under `folder` but the folder itself and its redaction key."""
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        if entry.is_dir():
            shutil.rmtree(entry)
        elif not entry.name.startswith("."):
            entry.unlink()


def stored_calls(root: Path) -> tuple[int, int]:
    """(calls counted in the index, bundle files kept) under a capture root."""
    infos = snapy.CaptureStorage(root).targets()
    return sum(i.calls for i in infos), sum(i.bundles for i in infos)


# -- statistics and the table ---------------------------------------------------------------


def summary(values: list[float], digits: int = 2) -> str:
    med = statistics.median(values)
    return f"{med:.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"


class Table:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, str]] = []
        self.missed: list[str] = []

    def target(self, name: str, values: list[float], limit: float, digits: int = 2) -> None:
        med = statistics.median(values)
        ok = med <= limit
        result = "PASS" if ok else f"MISS ({med:.3f} > {limit:g}, x{med / limit:.2f})"
        if not ok:
            self.missed.append(name)
        self.rows.append((name, summary(values, digits), f"<= {limit:g}", result))

    def info(self, name: str, values: list[float], limit: float | None, digits: int = 2) -> None:
        note = "info"
        if limit is not None and statistics.median(values) > limit:
            note = f"info, above {limit:g}"
        self.rows.append((name, summary(values, digits), "-", note))

    def print(self) -> None:
        head = ("row", "ratio: median (min-max)", "target", "result")
        widths = [max(len(r[i]) for r in [head, *self.rows]) for i in range(4)]
        line = "  ".join("-" * w for w in widths)
        print(line)
        for row in [head, None, *self.rows]:
            if row is None:
                print(line)
                continue
            print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
        print(line)


# -- the benchmark ----------------------------------------------------------------------------


def rotated(rows: list[Any], r: int) -> list[Any]:
    """`rows` starting at row r (mod len): each run starts with a different row."""
    k = r % len(rows)
    return rows[k:] + rows[:k]


class Report:
    def __init__(self) -> None:
        self.table = Table()
        self.details: list[str] = []
        self.checks: list[str] = []
        self.notes: list[str] = []
        self.profile = ""

    def print(self) -> None:
        print()
        self.table.print()
        print("\nper-call times (medians; for reading the ratios, not targets themselves)")
        for line in self.details:
            print(f"  {line}")
        print("\nchecks (what was really captured)")
        for line in self.checks:
            print(f"  {line}")
        if self.profile:
            print("\ncProfile of the caller, capture on, retention=2 (main thread only)")
            print(self.profile)
        print()
        for note in self.notes:
            print(f"NOTE: {note}")
        if self.table.missed:
            print(f"MISS: {len(self.table.missed)} target(s) missed:")
            for name in self.table.missed:
                print(f"  MISS  {name}")
        else:
            print("all targets PASS")


class Bench:
    def __init__(self, tmp: Path, options: argparse.Namespace) -> None:
        quick = options.quick
        self.tmp = tmp
        self.runs = max(options.runs or (3 if quick else 7), 1)
        self.fast_n = 100_000 if quick else 200_000  # ns rows: calls per loop
        self.repeats = 2 if quick else 5  # ns rows: a run's figure is the best of these loops
        self.rate_n = 200_000 if quick else 1_000_000  # sample_rate=0.001 row: calls per run
        self.slow_n = 500 if quick else 3_000  # capture-on rows: calls per run
        self.profile = options.profile
        self.report = Report()
        self.rows: list[Any] = []  # benchmarks.results.Row, for --json
        self.idx = range(self.runs)

    def describe(self) -> str:
        return (
            f"runs {self.runs}; calls per run: ns rows {self.fast_n:,} (best of {self.repeats}), "
            f"sample_rate=0.001 row {self.rate_n:,}, capture-on rows {self.slow_n:,}"
        )

    def run(self) -> Report:
        # Settings from this script only: no SNAPY_* variable or .env of the caller leaks in.
        snapy.refresh_settings(environ={}, dotenv_path=self.tmp / "no.env")
        snapy.configure(capture_dir=self.tmp / "default", capture_enabled=False)
        self.fast_rows()
        snapy.configure(capture_enabled=True)  # production_mode=True functions capture now
        try:
            self.capture_rows()
            self.retention_inf_rows()
            if self.profile:
                self.profile_caller()
        finally:
            snapy.configure(capture_enabled=False)
        return self.report

    def rotation(self, rows: list[tuple[str, Callable[[], float]]]) -> dict[str, list[float]]:
        """Each row once per run, in rotation; ns per call of every row, run by run."""
        ns: dict[str, list[float]] = {name: [] for name, _ in rows}
        gc_was = gc.isenabled()
        for r in self.idx:
            for name, measure in rotated(rows, r):
                gc.disable()
                try:
                    ns[name].append(measure())
                finally:
                    if gc_was:
                        gc.enable()
                snapy.flush_captures()  # a row's writes happen outside every timed loop
        return ns

    # ---- ns-scale rows: capture off, calls skipped by sampling or by the quota ----------------

    def fast_rows(self) -> None:
        tmp, n, table = self.tmp, self.fast_n, self.report.table
        wraps = passthrough(add_wraps)
        off = snapy.capture(path=tmp / "off")(add_off)  # production_mode, capture not enabled
        # A skipped call runs the same code whatever the rate; a tiny rate keeps the sampled
        # captures (about one per million calls) out of the timed loops.
        sampled = snapy.capture(path=tmp / "sampled", production_mode=False, sample_rate=1e-6)(
            add_sampled
        )
        quota = snapy.capture(path=tmp / "quota", production_mode=False, quota=1)(add_quota)
        rate = snapy.capture(path=tmp / "rate", production_mode=False, sample_rate=0.001)(add_rate)
        for fn in (add_bare, wraps, off, sampled, quota, quota, rate):
            fn(1, 2)  # warm up; the second quota call meets the quota of 1
        snapy.flush_captures()

        def best(loop: Callable[[Callable[..., Any], int], int], fn: Callable[..., Any]) -> int:
            return min(loop(fn, n) for _ in range(self.repeats))

        rows: list[tuple[str, Callable[[], float]]] = [
            ("empty", lambda: best(loop_empty, add_bare) / n),
            ("bare", lambda: best(loop_calls, add_bare) / n),
            ("wraps", lambda: best(loop_calls, wraps) / n),
            ("off", lambda: best(loop_calls, off) / n),
            ("sampled", lambda: best(loop_calls, sampled) / n),
            ("quota", lambda: best(loop_calls, quota) / n),
        ]
        ns = self.rotation(rows)
        # Its own rotation after the others: this row's captures make the writer touch the
        # disk, which should not disturb the target rows. One long loop per run, so the figure
        # includes the captures (about 1 in 1000 calls) made in it.
        rate_ns = self.rotation(
            [
                ("empty", lambda: best(loop_empty, add_bare) / n),
                ("bare", lambda: best(loop_calls, add_bare) / n),
                ("rate", lambda: loop_calls(rate, self.rate_n) / self.rate_n),
            ]
        )
        rate_net = [rate_ns["rate"][i] - rate_ns["empty"][i] for i in self.idx]
        rate_bare = [rate_ns["bare"][i] - rate_ns["empty"][i] for i in self.idx]

        def net(name: str) -> list[float]:
            """Per call, the empty loop's share subtracted (run by run)."""
            return [ns[name][i] - ns["empty"][i] for i in self.idx]

        bare, wraps_ns, off_ns = net("bare"), net("wraps"), net("off")
        table.target(
            "capture off: (off - bare) / (wraps - bare)",
            [(off_ns[i] - bare[i]) / (wraps_ns[i] - bare[i]) for i in self.idx],
            0.20,
        )
        self.skipped = [
            ("skipped by sampling: skipped / bare", net("sampled"), 3.0),
            ("skipped by quota (quota met): skipped / bare", net("quota"), 3.0),
        ]
        self.rate_ratio = [v / b for v, b in zip(rate_net, rate_bare)]
        med = statistics.median
        self.report.details += [
            f"empty loop (subtracted from the ns rows): {med(ns['empty']):.1f} ns per call",
            f"bare call {med(bare):.1f} ns; functools.wraps passthrough {med(wraps_ns):.1f} ns; "
            f"capture off {med(off_ns):.1f} ns",
            f"skipped by sampling {med(net('sampled')):.1f} ns; skipped by quota "
            f"{med(net('quota')):.1f} ns; sample_rate=0.001 {med(rate_net):.1f} ns per call "
            "(its captures included)",
        ]
        self.bare = bare
        self.rows += [
            Row.measured(
                "capture off",
                "decorated call, capture off / bare call",
                "bare call",
                [off_ns[i] / bare[i] for i in self.idx],
                group="capture",
                why_behind="The bare call is the floor: with capture off a call goes through "
                "a generated wrapper with the function's own signature that checks one flag "
                "(a few ns), so this row can at best be even; ns-scale loops are also the "
                "figures the machine's other work disturbs most.",
            ),
            Row.measured(
                "capture off",
                "decorated call, capture off / functools.wraps passthrough call",
                "functools.wraps",
                [off_ns[i] / wraps_ns[i] for i in self.idx],
                group="capture",
            ),
            Row.measured(
                "capture off",
                "time the decorator adds / time a functools.wraps passthrough adds",
                "functools.wraps",
                [(off_ns[i] - bare[i]) / (wraps_ns[i] - bare[i]) for i in self.idx],
                group="capture",
                note="target <= 0.20",
            ),
        ]
        self.check("off", 0, 0)
        self.check("quota", 1, 1)
        calls, _ = stored_calls(tmp / "sampled")
        self.report.checks.append(f"ok   sampled (rate 1e-6): {calls} call(s) captured")
        calls, files = stored_calls(tmp / "rate")
        total = 1 + self.runs * self.rate_n
        self.report.checks.append(
            f"ok   sampled (rate 0.001): {calls:,} of {total:,} calls captured "
            f"({calls / total * 1000:.2f} per 1000), {files} files kept (retention 2)"
        )

    # ---- capture on, small arguments, retention 2 (the target) --------------------------------

    def capture_rows(self) -> None:
        tmp, n, table, med = self.tmp, self.slow_n, self.report.table, statistics.median
        keep2 = snapy.capture(path=tmp / "keep2")(lookup_keep2)  # default retention (2)
        naive_dir = tmp / "naive"
        naive_dir.mkdir()
        warm = min(200, n)
        loop_captured(keep2, warm)
        loop_naive(naive_dir, warm, -1)
        loop_dumps(warm)
        clear(naive_dir)

        a: dict[str, list[float]] = {"naive": [], "dumps": [], "keep2": []}
        b: dict[str, list[float]] = {"keep2": []}

        def naive(r: int) -> None:
            a["naive"].append(loop_naive(naive_dir, n, r) / n)
            clear(naive_dir)

        def dumps(r: int) -> None:
            a["dumps"].append(loop_dumps(n) / n)

        def captured(r: int) -> None:
            caller, flushed = loop_captured(keep2, n)
            a["keep2"].append(caller / n)
            b["keep2"].append(flushed / n)

        for r in self.idx:
            for measure in rotated([naive, dumps, captured], r):
                measure(r)

        def ratio(values: list[float], base: str = "naive") -> list[float]:
            return [v / w for v, w in zip(values, a[base])]

        table.target("capture on, retention=2: (a) caller / naive", ratio(a["keep2"]), 0.6)
        table.info("capture on, retention=2: (b) incl. flush / naive", ratio(b["keep2"]), 0.6)
        table.info(
            "  same (a) / dill.dumps alone, no file written", ratio(a["keep2"], "dumps"), 0.6
        )
        self.report.details += [
            f"naive dill.dumps + new file {med(a['naive']) / 1000:.1f} us per call, of which "
            f"dill.dumps {med(a['dumps']) / 1000:.1f} us (the rest is the disk)",
            f"capture on, retention=2: (a) caller {med(a['keep2']) / 1000:.1f} us, "
            f"(b) incl. flush {med(b['keep2']) / 1000:.1f} us per call",
        ]
        self.check("keep2", warm + self.runs * n, 2)
        self.rows += [
            Row.measured(
                "capture on",
                "captured call, caller's time / naive dill.dumps + new file",
                "naive dill.dumps + file",
                ratio(a["keep2"]),
                group="capture",
                note="retention 2 (the default); the bundle is written by a background thread",
            ),
            Row.measured(
                "capture on",
                "captured call incl. flush to disk / naive dill.dumps + new file",
                "naive dill.dumps + file",
                ratio(b["keep2"]),
                group="capture",
                note="retention 2",
            ),
        ]
        caller, dumps_us, naive_us = med(a["keep2"]), med(a["dumps"]), med(a["naive"])
        if caller / naive_us <= 0.6 < caller / dumps_us:
            write_us = naive_us - dumps_us
            limit_us = max(caller / 0.6 - dumps_us, 0.0)
            self.report.notes.append(
                f"the capture-on target passes because writing a new small file costs "
                f"{write_us / 1000:.0f} us on this disk; the caller alone costs "
                f"{caller / dumps_us:.2f}x dill.dumps, so on a disk where that write costs "
                f"less than {limit_us / 1000:.0f} us (tmpfs, a fast SSD) it would MISS"
            )

    # ---- capture on, retention=inf (every call written; for honesty) ---------------------------

    def retention_inf_rows(self) -> None:
        tmp, n, table, med = self.tmp, self.slow_n, self.report.table, statistics.median
        keepall = snapy.capture(path=tmp / "keepall", retention="inf")(lookup_keepall)
        growing = snapy.capture(path=tmp / "growing", retention="inf")(lookup_growing)
        naive_dir = tmp / "naive"
        warm = min(200, n)
        for fn in (keepall, growing):
            loop_captured(fn, warm)
        clear(tmp / "keepall")
        clear(tmp / "growing")

        a: dict[str, list[float]] = {"naive": [], "keepall": [], "growing": []}
        b: dict[str, list[float]] = {"keepall": [], "growing": []}
        stored: list[tuple[int, int]] = []

        def naive(r: int) -> None:
            a["naive"].append(loop_naive(naive_dir, n, r) / n)
            clear(naive_dir)

        def emptied(r: int) -> None:  # the folder is emptied after each run
            caller, flushed = loop_captured(keepall, n)
            a["keepall"].append(caller / n)
            b["keepall"].append(flushed / n)
            stored.append(stored_calls(tmp / "keepall"))
            clear(tmp / "keepall")

        def grows(r: int) -> None:  # never emptied: n more bundles each run, as in production
            caller, flushed = loop_captured(growing, n)
            a["growing"].append(caller / n)
            b["growing"].append(flushed / n)

        for r in self.idx:
            for measure in rotated([naive, emptied, grows], r):
                measure(r)

        def ratio(values: list[float]) -> list[float]:
            return [v / w for v, w in zip(values, a["naive"])]

        table.info("capture on, retention=inf: (a) caller / naive", ratio(a["keepall"]), 0.6)
        table.info("capture on, retention=inf: (b) incl. flush / naive", ratio(b["keepall"]), 0.6)
        table.info(f"  same, folder growing {n:,}/run: (a)", ratio(a["growing"]), 0.6)
        table.info(f"  same, folder growing {n:,}/run: (b)", ratio(b["growing"]), 0.6)
        for name, values, limit in self.skipped:
            table.target(name, [v / w for v, w in zip(values, self.bare)], limit)
        table.info("sample_rate=0.001, per call incl. its captures / bare", self.rate_ratio, 3.0)

        self.rows.append(
            Row.measured(
                "capture on",
                "captured call incl. flush to disk / naive dill.dumps + new file",
                "naive dill.dumps + file",
                ratio(b["keepall"]),
                group="capture",
                note="retention=inf: every call's file written, as the naive loop does",
                why_behind="Each kept bundle is written atomically (a temporary file, then "
                "os.replace), with a checksummed envelope and 0600 permissions, and listed in "
                "the function's index.json; the naive loop does one bare open().write(). The "
                "default retention (2) keeps the caller ahead, see the rows above.",
            )
        )
        grow_b = b["growing"]
        self.report.details += [
            f"naive dill.dumps + new file (retention=inf rows' runs) "
            f"{med(a['naive']) / 1000:.1f} us per call",
            f"capture on, retention=inf, folder emptied each run: (a) caller "
            f"{med(a['keepall']) / 1000:.1f} us, (b) incl. flush {med(b['keepall']) / 1000:.1f} "
            "us per call",
            f"capture on, retention=inf, folder growing: (b) {grow_b[0] / 1000:.1f} us per call "
            f"in run 1 (empty folder) -> {grow_b[-1] / 1000:.1f} us in run {self.runs} "
            f"({(self.runs - 1) * n:,} bundles already there)",
        ]
        ok = all(s == (n, n) for s in stored)
        self.report.checks.append(
            f"{'ok  ' if ok else 'FAIL'} keepall: (calls, files) per run "
            f"{sorted(set(stored))} (expected ({n}, {n}))"
        )
        self.check("growing", self.runs * n, self.runs * n)

    def check(self, name: str, calls_expected: int, files_expected: int) -> None:
        calls, files = stored_calls(self.tmp / name)
        ok = (calls, files) == (calls_expected, files_expected)
        self.report.checks.append(
            f"{'ok  ' if ok else 'FAIL'} {name}: {calls:,} calls in the index, {files:,} bundle"
            f" files (expected {calls_expected:,}, {files_expected:,})"
        )

    def profile_caller(self) -> None:
        keep2 = snapy.capture(path=self.tmp / "profiled")(lookup_keep2)
        loop_captured(keep2, 100)
        profiler = cProfile.Profile()
        profiler.enable()
        loop_captured(keep2, self.slow_n)
        profiler.disable()
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).strip_dirs()
        stats.sort_stats("tottime").print_stats(25)
        self.report.profile = out.getvalue().rstrip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs and calls (smoke test)")
    parser.add_argument("--runs", type=int, default=None, help="runs per figure (default 7)")
    parser.add_argument(
        "--profile", action="store_true", help="also print a cProfile of the capturing caller"
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=None,
        metavar="PATH",
        help="also write the comparison rows to PATH (read by python -m benchmarks)",
    )
    options = parser.parse_args(argv)
    started = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="snapy-bench-") as tmp,
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always")
        bench = Bench(Path(tmp), options)
        print("snapy capture benchmark" + ("  (--quick)" if options.quick else ""))
        print(
            f"python {platform.python_version()} ({platform.python_implementation()}) "
            f"{sys.executable}"
        )
        print(f"snapy {snapy.__version__}  dill {dill.__version__}  {platform.platform()}")
        print(f"cpus {os.cpu_count()}  temp folder {tmp} (set TMPDIR to use another disk)")
        print(bench.describe())
        try:
            report = bench.run()
        finally:
            snapy.flush_captures()
            snapy.refresh_settings()
        report.print()
        if options.json is not None:
            write_rows(
                options.json,
                bench.rows,
                python=platform.python_version(),
                quick=options.quick,
                runs=bench.runs,
            )
        skipped = [w for w in caught if issubclass(w.category, snapy.CaptureSkippedWarning)]
        if skipped:
            print(f"\nWARNING: {len(skipped)} capture(s) skipped; the capture rows are suspect:")
            for w in skipped[:5]:
                print(f"  {w.message}")
    print(f"\n(finished in {time.perf_counter() - started:.1f} s; temp folder removed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
