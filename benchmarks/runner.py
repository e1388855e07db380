"""`python -m benchmarks`: snapy against the tools users would pick instead, in one table.

    python -m benchmarks                  everything; writes benchmarks/RESULTS.md
    python -m benchmarks --quick          a smoke run (small sizes, 3 runs per figure)
    python -m benchmarks --only lookup    one group (repeatable); prints its table

Stdlib only: it makes its own environments, `.bench/py311` and `.bench/py312` (Python 3.11
and 3.12 from pyenv's folders or PATH), installs snapy from this tree and the peers pinned in
`benchmarks/requirements-peers.txt` there and nowhere else, runs each group's worker in them
and renders the rows (`benchmarks/results.py`). A run with --quick or --only writes its table
to `.bench/RESULTS-partial.md` (or --output) and leaves RESULTS.md alone. The output and the
rows (JSON) of every worker are kept in `.bench/logs/`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.results import Row, read_rows, render_results
from benchmarks.tracer_rows import parse_text, tracer_rows

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / ".bench"
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
REQUIREMENTS = ROOT / "benchmarks" / "requirements-peers.txt"
PEERS = ["vcrpy", "pytest-record-replay", "pytest-mimic", "hunter", "viztracer"]
PYTHONS = {"3.11": "py311", "3.12": "py312"}
SECTIONS = [
    "capture off",
    "capture on",
    "capture on / recording",
    "replay",
    "replay lookup",
    "tracer, Python 3.11",
    "tracer, Python 3.12",
    "whole test suite",
]


@dataclass(frozen=True)
class Group:
    name: str
    pythons: tuple[str, ...]
    module: str
    what: str


GROUPS = [
    Group("capture", ("3.11",), "benchmarks.bench_capture", "capture off and on, in process"),
    Group(
        "plugins",
        ("3.11",),
        "benchmarks.plugins",
        "pytest runs: snapy, pytest-record-"
        "replay, pytest-mimic, unittest.mock recording and replaying",
    ),
    Group(
        "lookup",
        ("3.11",),
        "benchmarks.lookup",
        "replay per call with 10 to 10,000 recordings, in process",
    ),
    Group(
        "cassettes", ("3.11",), "benchmarks.cassettes", "vcrpy on the example's HTTP rates client"
    ),
    Group(
        "tracer",
        ("3.11", "3.12"),
        "benchmarks/bench_trace.py",
        "FunctionTracer against hunter, viztracer, cProfile",
    ),
    Group(
        "suite",
        ("3.11",),
        "benchmarks.suite",
        "the example's test suite against the same tests hand-mocked",
    ),
]
GROUP_NAMES = [g.name for g in GROUPS]

METHODS = [
    (
        "Interleaving",
        "Every worker measures all of its rows once per run, in rotation (the "
        "first row moves each run), for at least 5 runs (3 with --quick); a row's ratio is "
        "computed within each run, then summarised. Nothing is compared across runs.",
    ),
    (
        "Capture (group capture)",
        "`benchmarks/bench_capture.py`: loops of 200,000 calls of "
        "`add(a, b)` bare, through a `functools.wraps(*args, **kwargs)` passthrough and through "
        "`@snapy.capture` with capture off (the empty loop's time subtracted, best of 5 loops); "
        "then loops of 3,000 captured calls with small arguments against a naive `dill.dumps` of "
        "the same bundle + writing it to a new file, the caller's time alone and with "
        "`snapy.flush_captures()` (everything on disk), with the default retention (2 files "
        "kept) and with retention=inf (every call's file kept, as the naive loop keeps them). "
        "Files go to the system's temporary folder.",
    ),
    (
        "Recording and replay through pytest (group plugins)",
        "A generated pytest project per tool whose one test makes N, then 2N calls of "
        "`target.lookup(i, 'eu-west')` (N = 2,000 when recording, 10,000 when replaying), each "
        "run as a child `python -m pytest` with only that tool's plugin loaded. A tool's cost "
        "per call is ((T(2N) - T(N)) - (T_bare(2N) - T_bare(N))) / N, where T is the child's "
        "user + system CPU time from `wait4` (its wall time swings with the other work on this "
        "machine; the CPU time of all its threads much less) and bare is the same test calling "
        "the real function. Start-up, collection and the test's own loop cancel out; loading "
        "the recordings, any work pytest does because of them, patching and the calls stay in. "
        "Each recording run starts from an empty store in a fresh copy of the project; each "
        "test asserts its N results and that the real function ran (recording) or never ran "
        "(replay). The cannot rows are checked the same way: a test whose second call raises, "
        "and one whose calls come in another order than recorded, are recorded and replayed "
        "with each plugin.",
    ),
    (
        "Replay per call and lookup (group lookup)",
        "In one process, each tool's own replay "
        "machinery over a target with 10, 1,000 or 10,000 recordings made through its own "
        "recording path: snapy's `snapy.mock(..., mode='replay')` with its recordings loaded; "
        "pytest-mimic's `mimic()` patch (one pickle file per call, read on every call); "
        "pytest-record-replay's `MockR` patch with its call list in memory. snapy and "
        "pytest-mimic replay 10 keys spread over the recordings; pytest-record-replay has no "
        "lookup by arguments and replays all N calls in recorded order. unittest.mock is a "
        "`Mock(return_value=...)`. Each figure is the median of 3 loops per run.",
    ),
    (
        "vcrpy (group cassettes)",
        "The example's rates client (`invoicing.rates.fetch_rate`, urllib) against the "
        "example's rates service on 127.0.0.1; one call in four asks for a currency the service"
        " answers 404 for, so the client raises `RateUnavailable`. (1) The same pytest test of "
        "200 calls, once inside `vcr.use_cassette(record_mode='none')`, once under snapy's "
        "`side_effects` marker, both recorded against the live service; each test times its own"
        " body with `time.process_time()` (loading the cassette or the recordings included) and"
        " the benchmark divides by the calls; the live service is measured the same way (its "
        "client side; the service's work is in its own process). No replay run reaches the "
        "service (its request log is checked). (2) In one process: a cassette and a snapy test "
        "of 10, 1,000 and 10,000 recorded calls (one recording pass against the service: "
        "snapy's recording mock around the real client inside vcrpy's recording cassette, in "
        "parts of 50 merged into one cassette with vcrpy's own persister, since vcrpy compares "
        "each new request with every recorded one before recording it: one cassette of 10,000 "
        "would take ~20 minutes); timed: 10 calls spread over the recordings, the cassette "
        "loaded (`allow_playback_repeats`), snapy's recordings loaded.",
    ),
    (
        "Tracer (group tracer)",
        "`benchmarks/bench_trace.py --json --rounds 15` in `.bench/py311` and `.bench/py312` "
        "(hunter, at 2-5 us per call, runs in 5 of the rounds): three workloads (recursive fib "
        "in the traced package: every call recorded; a mixed one where 1 call in 7 is in the "
        "traced package; fib outside it: nothing recorded), each traced run's time over an "
        "untraced run's, round by round. snapy's row is `FunctionTracer` without argument "
        "capture, like the peers; the median of a snapy/peer row is the ratio of the two "
        "medians and its range the widest the two ranges allow. viztracer is filtered to the "
        "traced package's files, hunter uses `module_startswith` with an empty action.",
    ),
    (
        "Whole suite (group suite)",
        "The example app's 9 tests in replay mode (`tests/`, snapy "
        "plugin and syrupy) against the same 9 tests written by hand with unittest.mock "
        "(`benchmarks/handmocked/`, every value written out, every replaced function checked "
        "for its arguments), both in one copy of the example, as child pytest runs in turns "
        "after one untimed run each: wall time, and peak resident memory from `wait4`.",
    ),
]


def find_python(version: str) -> str:
    """A Python `version` ("3.12") interpreter: pyenv's folders first, then PATH."""
    found = sorted(Path.home().glob(f".pyenv/versions/{version}.*/bin/python"))
    candidates = [str(p) for p in reversed(found)]
    on_path = shutil.which(f"python{version}")
    if on_path:
        candidates.append(on_path)
    for candidate in candidates:
        probe = subprocess.run(
            [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
        )
        if probe.returncode == 0 and probe.stdout.strip() == version:
            return candidate
    raise SystemExit(
        f"benchmarks: no Python {version} found (looked in ~/.pyenv/versions/{version}.*/bin "
        f"and for python{version} on PATH); install it, e.g. `pyenv install {version}`"
    )


def env_python(version: str) -> Path:
    return BENCH / PYTHONS[version] / "bin" / "python"


def ensure_env(version: str) -> Path:
    """`.bench/py3XX` with snapy (editable, from this tree) and the pinned peers."""
    folder = BENCH / PYTHONS[version]
    python = env_python(version)
    stamp = folder / ".snapy-bench-installed"
    digest = hashlib.sha256()
    for path in (ROOT / "pyproject.toml", REQUIREMENTS):
        digest.update(path.read_bytes())
    wanted = digest.hexdigest()
    if stamp.is_file() and stamp.read_text() == wanted and python.exists():
        return python
    base = find_python(version)
    print(f"benchmarks: making {folder.relative_to(ROOT)} with {base}", flush=True)
    started = time.perf_counter()
    subprocess.run([base, "-m", "venv", "--clear", str(folder)], check=True)
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, "-e", str(ROOT), "-r", str(REQUIREMENTS)], check=True)
    stamp.write_text(wanted)
    took = time.perf_counter() - started
    print(f"benchmarks: {folder.relative_to(ROOT)} ready in {took:.0f} s", flush=True)
    return python


def run_worker(group: Group, version: str, quick: bool, logs: Path) -> tuple[list[Row], str]:
    """One group's worker in one environment: its rows, and the Python version it ran on."""
    python = env_python(version)
    with tempfile.TemporaryDirectory(prefix="snapy-bench-") as tmp:
        out = Path(tmp) / "rows.json"
        if group.module.endswith(".py"):
            args = [str(python), str(ROOT / group.module), "--json", str(out)]
        else:
            args = [str(python), "-m", group.module, "--json", str(out)]
        if quick:
            args.append("--quick")
        elif group.name == "tracer":
            args += ["--rounds", "15"]  # hunter runs in a third of them: 5
        text = tee(args, logs / f"{group.name}-{PYTHONS[version]}.txt")
        if group.name == "tracer" and "unrecognized arguments: --json" in text:
            # bench_trace.py from before its --json option: read its printed table.
            args.remove("--json")
            args.remove(str(out))
            text = tee(args, logs / f"{group.name}-{PYTHONS[version]}.txt")
            exact = python_version(python)
            return tracer_rows(parse_text(text), version, 3 if quick else 9), exact
        if not out.is_file():
            raise SystemExit(f"benchmarks: {' '.join(args)} wrote no rows; see its log above")
        if group.name == "tracer":
            shutil.copy(out, logs / f"{group.name}-{PYTHONS[version]}.json")
            data = json.loads(out.read_text())
            rows = tracer_rows(data["rows"], version, int(data["rounds"]))
            return rows, str(data.get("python") or python_version(python))
        shutil.copy(out, logs / f"{group.name}-{PYTHONS[version]}.json")
        meta, rows = read_rows(out)
        for row in rows:
            row.group = group.name
        return rows, str(meta.get("python", version))


def python_version(python: Path) -> str:
    code = "import platform; print(platform.python_version())"
    return subprocess.run([str(python), "-c", code], capture_output=True, text=True).stdout.strip()


def ordered(rows: Sequence[Row]) -> list[Row]:
    """Rows grouped by section, in the table's order; within one, as the workers gave them."""

    def place(row: Row) -> int:
        return SECTIONS.index(row.section) if row.section in SECTIONS else len(SECTIONS)

    return sorted(rows, key=place)


def tee(args: Sequence[str], log: Path) -> str:
    """Run `args` from the repository root, echoing and keeping its output."""
    print(f"\n$ {' '.join(args)}", flush=True)
    lines = []
    with subprocess.Popen(
        list(args), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            print(f"  {line}", end="", flush=True)
            lines.append(line)
    text = "".join(lines)
    log.write_text(text)
    if proc.returncode != 0 and "unrecognized arguments: --json" not in text:
        raise SystemExit(f"benchmarks: {' '.join(args)} failed ({proc.returncode})")
    return text


class Noise:
    """How busy the machine was: load average samples and the CPU time others used."""

    def __init__(self) -> None:
        self.loads: list[float] = []
        self.stop = threading.Event()
        self.busy0 = busy_seconds()
        self.ours0 = our_cpu()
        self.wall0 = time.perf_counter()
        self.thread = threading.Thread(target=self.sample, daemon=True)
        self.thread.start()

    def sample(self) -> None:
        while not self.stop.wait(5):
            self.loads.append(os.getloadavg()[0])

    def describe(self) -> str:
        self.stop.set()
        wall = time.perf_counter() - self.wall0
        others = max(busy_seconds() - self.busy0 - (our_cpu() - self.ours0), 0.0)
        loads = sorted(self.loads) or [os.getloadavg()[0]]
        return (
            f"other processes used {others:.0f} CPU-seconds during the {wall:.0f} s run "
            f"({others / wall * 100:.0f}% of one core on average); 1-minute load average "
            f"{loads[0]:.2f}-{loads[-1]:.2f} (median {loads[len(loads) // 2]:.2f}) on "
            f"{os.cpu_count()} cores"
        )


def busy_seconds() -> float:
    """CPU-seconds all processes have spent busy since boot (from /proc/stat)."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return 0.0
    ticks = [int(f) for f in fields]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def our_cpu() -> float:
    mine = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return mine.ru_utime + mine.ru_stime + children.ru_utime + children.ru_stime


def machine(
    versions: dict[str, str], peers: dict[str, str], noise: str, took: float, quick: bool
) -> dict[str, str]:
    cpu = "unknown"
    memory = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    system = platform.platform()
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                system = f"{line.split('=', 1)[1].strip(chr(34))} ({system})"
    except OSError:
        pass
    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    if git("status", "--porcelain", "--untracked-files=no"):
        commit += " (with uncommitted changes in the tree)"
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return {
        "CPU": cpu,
        "cores": str(os.cpu_count()),
        "memory": memory,
        "OS": system,
        "Python": ", ".join(f"{v} (.bench/{PYTHONS[k]})" for k, v in versions.items()),
        "date": when,
        "snapy commit": commit,
        "peers": ", ".join(f"{name} {peers.get(name, '?')}" for name in PEERS),
        "machine noise": noise,
        "whole command": f"{took / 60:.1f} min including making the environments"
        + (" (--quick)" if quick else ""),
    }


def git(*args: str) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
    except OSError:
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def peer_versions(python: Path) -> dict[str, str]:
    code = (
        "import importlib.metadata as m, json, sys; "
        "print(json.dumps({p: m.version(p) for p in sys.argv[1:]}))"
    )
    done = subprocess.run([str(python), "-c", code, *PEERS], capture_output=True, text=True)
    return dict(json.loads(done.stdout)) if done.returncode == 0 else {}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Benchmarks of snapy against vcrpy, pytest-record-replay, pytest-mimic, "
        "unittest.mock, hunter, viztracer and cProfile; writes benchmarks/RESULTS.md.",
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run: small sizes, 3 runs")
    parser.add_argument(
        "--only",
        action="append",
        choices=GROUP_NAMES,
        metavar="GROUP",
        help=f"run only this group (repeatable): {', '.join(GROUP_NAMES)}",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="where to write the table (default: benchmarks/RESULTS.md for a full run, "
        ".bench/RESULTS-partial.md with --quick or --only)",
    )
    return parser.parse_args(argv)


def output_path(options: argparse.Namespace) -> Path:
    if options.output is not None:
        return Path(options.output)
    return BENCH / "RESULTS-partial.md" if options.quick or options.only else RESULTS


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    started = time.perf_counter()
    noise = Noise()
    groups = [g for g in GROUPS if not options.only or g.name in options.only]
    BENCH.mkdir(exist_ok=True)
    logs = BENCH / "logs"
    logs.mkdir(exist_ok=True)
    needed = sorted({v for g in groups for v in g.pythons})
    for version in needed:
        ensure_env(version)
    rows: list[Row] = []
    versions: dict[str, str] = {}
    for group in groups:
        for version in group.pythons:
            got, exact = run_worker(group, version, options.quick, logs)
            rows += got
            versions[version] = exact
    peers = peer_versions(env_python(needed[0]))
    meta = machine(versions, peers, noise.describe(), time.perf_counter() - started, options.quick)
    commands = {g.name: f"python -m benchmarks --only {g.name}" for g in GROUPS}
    text = render_results(meta, ordered(rows), commands, METHODS)
    target = output_path(options)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    print(
        f"\nbenchmarks: wrote {target} ({len(rows)} rows) in "
        f"{(time.perf_counter() - started) / 60:.1f} min"
    )
    return 0
