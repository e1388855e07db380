"""snapy against the function-level record/replay plugins, through pytest's real machinery.

    .bench/py311/bin/python -m benchmarks.plugins [--quick] [--runs N] [--json PATH]
    (or `python -m benchmarks --only plugins`, which makes that environment)

Each tool gets a generated pytest project whose one test makes N calls `target.lookup(i,
"eu-west")`, i = 0..N-1 (small arguments, a small dict returned): once with N, once with 2N
calls (N = 2,000 for the recording rows, 10,000 for the replay rows). Every run of the
comparison runs every (tool, size) project once as a child `python -m pytest`, in rotation,
and takes its CPU time (user + system, all threads, from `wait4`) whole: start-up, plugin
set-up, loading the recordings, the calls, the end of the session. A tool's cost per call in
that run is

    ((T(tool, 2N) - T(tool, N)) - (T(bare, 2N) - T(bare, N))) / N

so start-up and the test's own loop cancel, and the per-call cost keeps everything the tool
does per call, loading included. The tools, each with only its own plugin loaded:

- snapy: `@pytest.mark.side_effects("target.lookup")`; records with SIDE_EFFECT_CAPTURE=1;
- snapy capture (recording rows only): the test calls a function decorated with
  `@snapy.capture(retention="inf")` with SNAPY_CAPTURE_ENABLED=1, then `snapy.flush_captures()`;
- pytest-record-replay: `@patch_replay("target.lookup")`; records with `--record`;
- pytest-mimic: `mimic_functions = target.lookup` in pytest.ini; records with `--mimic-record`;
- unittest.mock (replay rows only): `mock.patch("target.lookup", side_effect=...)` answering from
  a dict of the N results, written in the test;
- bare: no tool, the real function (the baseline subtracted above).

Recording rows start every recording run from an empty store, in a fresh copy of the
project; the last recording run of each
project is what its replay runs replay. Each test asserts the N results and whether the real
function ran, so a tool that did not replay fails the run instead of giving a figure. A last
check records a call that raises and replays it with each plugin: the peers cannot.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import textwrap
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks._harness import clean_env, finish, rotated, run_timed, runs_of, worker_parser
from benchmarks.results import Row

PLUGINS = {
    "snapy": ("snapy", "syrupy"),
    "pytest-record-replay": ("pytest_record_replay.pytest_plugin",),
    "pytest-mimic": ("pytest-mimic",),
}
ALL_PLUGINS = [name for names in PLUGINS.values() for name in names]

TARGET = '''
REAL_CALLS = [0]


def lookup(user_id, region, limit=10):
    """A side-effecting dependency: small arguments, a small result."""
    REAL_CALLS[0] += 1
    if user_id == -1:
        raise ConnectionError(f"the lookup service refused user {user_id}")
    return {"id": user_id, "region": region, "items": [1, 2, 3]}
'''
CAPTURED = """
import snapy


@snapy.capture(retention="inf")
def lookup(user_id, region, limit=10):
    return {"id": user_id, "region": region, "items": [1, 2, 3]}
"""
HEADER = """
import os

import target

N = {n}
REGION = "eu-west"
EXPECTED = [{{"id": i, "region": REGION, "items": [1, 2, 3]}} for i in range(N)]
REAL = N if os.environ.get("BENCH_RECORDING") == "1" else 0
"""
BODY = """
    got = [target.lookup(i, REGION) for i in range(N)]
    assert got == EXPECTED
    assert target.REAL_CALLS[0] == {real}
"""
TESTS = {
    "bare": "\ndef test_calls():" + BODY.format(real="N"),
    "mock": """
from unittest import mock

ANSWERS = {(i, REGION): {"id": i, "region": REGION, "items": [1, 2, 3]} for i in range(N)}


def answer(user_id, region, limit=10):
    return ANSWERS[user_id, region]


def test_calls():
    with mock.patch("target.lookup", side_effect=answer):"""
    + textwrap.indent(BODY.format(real="0"), "    "),
    "snapy": """
import pytest


@pytest.mark.side_effects("target.lookup")
def test_calls():"""
    + BODY.format(real="REAL"),
    "snapy capture": """
import captured
import snapy


def test_calls():
    got = [captured.lookup(i, REGION) for i in range(N)]
    snapy.flush_captures()
    assert got == EXPECTED
""",
    "pytest-record-replay": """
from pytest_record_replay import patch_replay


@patch_replay("target.lookup")
def test_calls():"""
    + BODY.format(real="REAL"),
    "pytest-mimic": "\ndef test_calls():" + BODY.format(real="REAL"),
}
# What the peers cannot do, checked: each test is recorded, then replayed.
CHECKS = {
    # the second call raises
    "raises": """
def calls():
    assert target.lookup(1, "eu-west")["id"] == 1
    with pytest.raises(ConnectionError):
        target.lookup(-1, "eu-west")
""",
    # the calls come in another order than they were recorded in
    "order": """
def calls():
    keys = [1, 2] if os.environ.get("BENCH_RECORDING") == "1" else [2, 1]
    for key in keys:
        assert target.lookup(key, "eu-west")["id"] == key
""",
}
CHECK_HEADER = """
import os

import pytest

import target
"""
CHECK_TESTS = {
    "snapy": """

@pytest.mark.side_effects("target.lookup")
def test_check():
    calls()
""",
    "pytest-record-replay": """
from pytest_record_replay import patch_replay


@patch_replay("target.lookup")
def test_check():
    calls()
""",
    "pytest-mimic": """

def test_check():
    calls()
""",
}


@dataclass
class Project:
    tool: str
    n: int
    folder: Path
    copies: int = 0

    def command(self, recording: bool) -> list[str]:
        keep = PLUGINS.get(self.tool, ())
        args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        args += [a for name in ALL_PLUGINS if name not in keep for a in ("-p", f"no:{name}")]
        if recording and self.tool == "pytest-record-replay":
            args.append("--record")
        if recording and self.tool == "pytest-mimic":
            args.append("--mimic-record")
        return args

    def env(self, recording: bool) -> dict[str, str]:
        extra = {"BENCH_RECORDING": "1" if recording else "0"}
        if recording and self.tool == "snapy":
            extra["SIDE_EFFECT_CAPTURE"] = "1"
        if self.tool == "snapy capture":
            extra.update(SNAPY_CAPTURE_ENABLED="1", SNAPY_CAPTURE_DIR=str(self.folder / "cap"))
        return clean_env(**extra)

    def store(self) -> Path:
        return self.folder / {
            "snapy": "__recordings__",
            "snapy capture": "cap",
            "pytest-record-replay": "resources_pytest_record_replay",
            "pytest-mimic": "vault",
        }.get(self.tool, "none")

    def stored(self) -> int:
        """How many calls the store holds (checked after every recording run)."""
        store = self.store()
        if self.tool == "pytest-record-replay":
            import dill  # the plugin's own format: one dill file of Call objects per run

            files = list(store.rglob("*.pkl"))
            return sum(len(dill.loads(f.read_bytes())) for f in files)
        suffix = ".pkl" if self.tool == "pytest-mimic" else ".bundle"
        return sum(1 for f in store.rglob(f"*{suffix}"))

    def fresh_copy(self) -> None:
        """Move to a new copy of the project without its store: each recording run starts
        empty, in a folder where nothing was deleted (deleting thousands of files slows the
        next ones created nearby on ext4)."""
        self.copies += 1
        copy = self.folder.with_name(f"{self.folder.name.split('.')[0]}.{self.copies}")
        shutil.copytree(self.folder, copy, ignore=shutil.ignore_patterns(self.store().name))
        self.folder = copy

    def run(self, recording: bool) -> float:
        if recording and self.tool not in ("bare", "mock"):
            self.fresh_copy()
        timed = run_timed(self.command(recording), self.folder, self.env(recording))
        if recording and self.tool not in ("bare", "mock") and self.stored() != self.n:
            raise RuntimeError(f"{self.tool}: {self.stored()} calls stored, not {self.n}")
        return timed.cpu


def make(root: Path, tool: str, n: int, test: str) -> Project:
    folder = root / f"{tool.replace(' ', '-')}-{n}"
    folder.mkdir(parents=True)
    ini = "[pytest]\n"
    if tool == "pytest-mimic":
        ini += "mimic_functions =\n    target.lookup\nmimic_vault_path = vault\n"
    (folder / "pytest.ini").write_text(ini)
    (folder / "target.py").write_text(TARGET.lstrip())
    (folder / "captured.py").write_text(CAPTURED.lstrip())
    (folder / "test_calls.py").write_text(test)
    return Project(tool, n, folder)


def per_call(
    times: dict[tuple[str, int], list[float]], tool: str, n: int, runs: int
) -> list[float]:
    """Seconds per call of `tool`, run by run, net of the bare baseline."""

    def diff(name: str, r: int) -> float:
        return times[name, 2 * n][r] - times[name, n][r]

    return [(diff(tool, r) - diff("bare", r)) / n for r in range(runs)]


def measure(
    projects: Sequence[Project], runs: int, recording: bool
) -> dict[tuple[str, int], list[float]]:
    times: dict[tuple[str, int], list[float]] = {(p.tool, p.n): [] for p in projects}
    for r in range(runs):
        for project in rotated(projects, r):
            times[project.tool, project.n].append(project.run(recording))
    return times


def ratio_row(
    section: str,
    compared: str,
    other: str,
    costs: dict[str, list[float]],
    ours: str,
    theirs: str,
    **extra: str,
) -> Row:
    values = [a / b for a, b in zip(costs[ours], costs[theirs], strict=True)]
    return Row.measured(section, compared, other, values, group="plugins", **extra)


def show(cost: dict[str, list[float]]) -> None:
    """Per-call times, for reading the ratios (the table holds ratios only)."""
    for tool, values in cost.items():
        us = sorted(v * 1e6 for v in values)
        print(f"  {tool:<22} {us[len(us) // 2]:9.1f} us per call ({us[0]:.1f}-{us[-1]:.1f})")


def behaviour_check(root: Path, check: str) -> dict[str, str]:
    """Record the calls of CHECKS[check], then replay them: what each plugin's replay run
    says ("" when it passed)."""
    outcome = {}
    for tool, test in CHECK_TESTS.items():
        source = CHECK_HEADER + CHECKS[check] + test
        project = make(root / check, tool, 2, source)
        run_timed(project.command(True), project.folder, project.env(True))
        try:
            run_timed(project.command(False), project.folder, project.env(False))
        except RuntimeError as failed:
            lines = [ln for ln in str(failed).splitlines() if ln.startswith("E ")]
            outcome[tool] = lines[0][1:].strip() if lines else "the replay run failed"
        else:
            outcome[tool] = ""
    return outcome


def cannot_rows(root: Path) -> list[Row]:
    """Rows for what a peer cannot do, each backed by a replay run that failed."""
    rows = []
    for check, what, why, peers in (
        (
            "raises",
            "replaying a recorded exception (ConnectionError)",
            "no exception replay: a call that raised is not recorded",
            ("pytest-record-replay", "pytest-mimic"),
        ),
        (
            "order",
            "replaying calls in another order than recorded (lookup by arguments)",
            "no lookup by arguments: calls replay in recorded order only",
            ("pytest-record-replay",),
        ),
    ):
        outcome = behaviour_check(root, check)
        if outcome["snapy"]:
            raise RuntimeError(f"snapy failed the {check!r} check: {outcome['snapy']}")
        for tool in peers:
            said = outcome[tool]
            if not said:
                raise RuntimeError(f"{tool} passed the {check!r} check: the row is wrong")
            if len(said) > 90:
                said = said[:90].rsplit(" ", 1)[0] + " ..."
            rows.append(
                Row(
                    "replay",
                    f"{what}: snapy / {tool}",
                    tool,
                    group="plugins",
                    cannot=f"{why}; its replay run fails with {said}",
                )
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = worker_parser(__doc__.splitlines()[0], runs=5)
    options = parser.parse_args(argv)
    runs = runs_of(options, 5)
    # Recording costs 0.05-1 ms per call: 2,000 calls stand above the noise of a pytest run.
    # Replaying costs 5-200 us: it needs more calls, recorded once beforehand.
    n = 200 if options.quick else 2_000
    n_play = 1_000 if options.quick else 10_000
    started = time.perf_counter()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="snapy-bench-plugins-") as tmp:
        root = Path(tmp)

        def projects(tools: Sequence[str], n: int) -> list[Project]:
            return [
                make(root, tool, size, HEADER.format(n=size) + TESTS[tool])
                for tool in tools
                for size in (n, 2 * n)
            ]

        recorders = projects(
            ["bare", "snapy", "snapy capture", "pytest-record-replay", "pytest-mimic"], n
        )
        print(f"recording: {runs} runs of {len(recorders)} pytest runs, N={n}", flush=True)
        times = measure(recorders, runs, recording=True)
        cost = {tool: per_call(times, tool, n, runs) for tool, _ in times if tool != "bare"}
        show(cost)
        section = "capture on / recording"
        where = f"per recorded call, pytest runs of {n:,} and {2 * n:,} calls"
        rows += [
            ratio_row(
                section,
                "snapy capture on (retention=inf) / pytest-record-replay --record",
                "pytest-record-replay",
                cost,
                "snapy capture",
                "pytest-record-replay",
                note=where,
                why_behind="With retention=inf snapy writes every captured call to its own "
                "checksummed file from a background thread of the same process and lists it "
                "in the index; pytest-record-replay keeps the calls in memory and dill-dumps "
                "one file when the test ends. The default retention (2) writes two files.",
            ),
            ratio_row(
                section,
                "snapy test recording (SIDE_EFFECT_CAPTURE=1) / pytest-record-replay --record",
                "pytest-record-replay",
                cost,
                "snapy",
                "pytest-record-replay",
                note=where,
                why_behind="snapy writes one checksummed, readable file per call as it is "
                "recorded (atomic write, index, redaction of secrets), so a crash keeps what "
                "was recorded; pytest-record-replay keeps the calls in memory and dill-dumps "
                "one file at the end of the test.",
            ),
            ratio_row(
                section,
                "snapy test recording (SIDE_EFFECT_CAPTURE=1) / pytest-mimic --mimic-record",
                "pytest-mimic",
                cost,
                "snapy",
                "pytest-mimic",
                note=where,
                why_behind="pytest-mimic writes one bare pickle per call with open(); snapy "
                "writes an atomic, checksummed, readable file per call plus the index, and "
                "redacts secrets.",
            ),
        ]
        players = projects(
            ["bare", "snapy", "pytest-record-replay", "pytest-mimic", "mock"], n_play
        )
        t0 = time.perf_counter()
        for project in players:
            if project.tool not in ("bare", "mock"):
                project.run(recording=True)
        print(f"recorded the replay projects in {time.perf_counter() - t0:.0f} s", flush=True)
        print(f"replaying: {runs} runs of {len(players)} pytest runs, N={n_play}", flush=True)
        times = measure(players, runs, recording=False)
        cost = {t: per_call(times, t, n_play, runs) for t, _ in times if t != "bare"}
        show(cost)
        section = "replay"
        where = (
            f"per replayed call incl. loading, pytest runs of {n_play:,} and {2 * n_play:,} calls"
        )
        rows += [
            ratio_row(
                section,
                "snapy replay / pytest-record-replay replay",
                "pytest-record-replay",
                cost,
                "snapy",
                "pytest-record-replay",
                note=where,
                why_behind="snapy reads one file per recorded call (readable JSON, checksum "
                "verified) and computes each call's argument key; pytest-record-replay "
                "dill-loads one file holding all calls and compares them in recorded order.",
            ),
            ratio_row(
                section,
                "snapy replay / pytest-mimic replay",
                "pytest-mimic",
                cost,
                "snapy",
                "pytest-mimic",
                note=where,
                why_behind="pytest-mimic hashes the pickled arguments and unpickles one file "
                "per call; snapy's per-call key over a canonical form of the arguments and "
                "its checksum-verified load cost more per recording.",
            ),
            ratio_row(
                section,
                "snapy replay / unittest.mock.patch(side_effect=dict lookup)",
                "unittest.mock",
                cost,
                "snapy",
                "mock",
                note=where,
                why_behind="A hand-written mock holds its answers in the test's memory and "
                "checks nothing; snapy loads the recordings from disk, checks every call's "
                "arguments against them and keeps a record of each call.",
            ),
        ]
        rows += cannot_rows(root)
    return finish(options, rows, started)


if __name__ == "__main__":
    raise SystemExit(main())
