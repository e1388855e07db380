"""benchmarks/: what can be checked without timing anything.

The hand-mocked copy of the example app's tests passes (and fails when the application's
behaviour changes), RESULTS.md is rendered exactly from given figures, bench_trace.py's
figures become tracer rows, and the command lines parse. The benchmarks themselves are never
run here.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "legacy_app"


@pytest.fixture(scope="module")
def bench() -> Iterator[dict[str, ModuleType]]:
    """The benchmarks package's modules, imported with the repository root on sys.path."""
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(ROOT))
        names = ["results", "runner", "tracer_rows", "_harness", "suite"]
        yield {name: importlib.import_module(f"benchmarks.{name}") for name in names}


# -- the hand-mocked suite --------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_handmocked(app: Path) -> subprocess.CompletedProcess[str]:
    left_out = ("SNAPY_", "SIDE_EFFECT_CAPTURE", "SNAPSHOT_UPDATE", "PYTEST_", "PYTHONPATH")
    env = {k: v for k, v in os.environ.items() if not k.startswith(left_out)}
    port = str(closed_port())
    env.update(
        PYTHONDONTWRITEBYTECODE="1",
        RATES_URL=f"http://127.0.0.1:{port}",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=port,
    )
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "handmocked",
            "-q",
            "-p",
            "no:snapy",
            "-p",
            "no:syrupy",
            "-p",
            "no:randomly",
        ],
        cwd=app,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def example_copy(tmp_path: Path, bench: dict[str, ModuleType]) -> Path:
    app = bench["suite"].copy_example(tmp_path)
    assert sorted(p.name for p in (app / "handmocked").glob("test_*.py")) == [
        "test_call_tree.py",
        "test_from_staging.py",
        "test_invoices.py",
        "test_invoices_pytest.py",
    ]
    assert not (app / "captures").exists() and not list(app.rglob("*.db"))
    return app


def test_handmocked_suite_passes_without_snapy_plugin(example_copy: Path) -> None:
    done = run_handmocked(example_copy)

    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1].startswith("9 passed")


def test_handmocked_suite_fails_when_the_application_changes(example_copy: Path) -> None:
    config = example_copy / "invoicing" / "config.py"
    text = config.read_text()
    assert text.count('VAT_RATE = Decimal("0.20")') == 1
    config.write_text(text.replace('VAT_RATE = Decimal("0.20")', 'VAT_RATE = Decimal("0.21")'))

    done = run_handmocked(example_copy)

    assert done.returncode == 1
    failed = sorted(line for line in done.stdout.splitlines() if line.startswith("FAILED"))
    assert [line.split(" - ")[0] for line in failed] == [
        "FAILED handmocked/test_invoices.py::InvoicingTest::test_euro_invoice_has_vat",
        "FAILED handmocked/test_invoices.py::InvoicingTest::test_nightly_run",
    ]


def test_handmocked_tests_mirror_the_example_tests() -> None:
    """Every test of the example has its hand-mocked twin, with the same name."""

    def names(folder: Path) -> set[str]:
        found = set()
        for path in folder.glob("test_*.py"):
            for line in path.read_text().splitlines():
                if line.lstrip().startswith("def test_"):
                    found.add(f"{path.stem}::{line.split('def ')[1].split('(')[0]}")
        return found

    ours = names(ROOT / "benchmarks" / "handmocked")
    assert ours == names(EXAMPLE / "tests")
    assert len(ours) == 9


# -- RESULTS.md -------------------------------------------------------------------------------


def rows(results: ModuleType) -> list[object]:
    row = results.Row
    return [
        row.measured(
            "capture off", "decorated / bare", "bare call", [1.0, 0.98, 1.03], group="capture"
        ),
        row.measured(
            "replay",
            "snapy / mimic",
            "pytest-mimic",
            [0.5, 0.4, 0.6],
            group="lookup",
            note="10 keys",
        ),
        row.measured(
            "replay",
            "snapy / mock",
            "unittest.mock",
            [2.0, 2.2, 1.9],
            group="lookup",
            why_behind="A Mock looks nothing up.",
        ),
        row(
            "replay",
            "exception: snapy / prr",
            "pytest-record-replay",
            group="plugins",
            cannot="no exception replay",
        ),
        row(
            "tracer, Python 3.12",
            "snapy / cProfile",
            "cProfile",
            group="tracer",
            unmeasured="bench_trace.py printed no cProfile row",
        ),
    ]


def test_render_results_writes_the_table_from_given_figures(
    bench: dict[str, ModuleType],
) -> None:
    results = bench["results"]
    commands = {
        "capture": "python -m benchmarks --only capture",
        "lookup": "python -m benchmarks --only lookup",
    }

    text = results.render_results(
        {"CPU": "Test CPU", "cores": "2"},
        rows(results),
        commands,
        [("Replay", "How replay is measured.")],
    )

    lines = text.splitlines()
    assert lines[0] == "# snapy against the tools users would pick instead"
    start = lines.index("## Results")
    assert lines[start + 2 : start + 13] == [
        "| # | comparison (snapy / other) | ratio | min-max | runs | ahead | reproduce |",
        "|---|---|---|---|---|---|---|",
        "| | **capture off** | | | | | |",
        "| 1 | decorated / bare | 1.00 | 0.98-1.03 | 3 | even "
        "| `python -m benchmarks --only capture` |",
        "| | **replay** | | | | | |",
        "| 2 | snapy / mimic (10 keys) | 0.50 | 0.40-0.60 | 3 | snapy "
        "| `python -m benchmarks --only lookup` |",
        "| 3 | snapy / mock | 2.00 | 1.90-2.20 | 3 | unittest.mock "
        "| `python -m benchmarks --only lookup` |",
        "| 4 | exception: snapy / prr | cannot: no exception replay | - | - "
        "| snapy (pytest-record-replay cannot) |  |",
        "| | **tracer, Python 3.12** | | | | | |",
        "| 5 | snapy / cProfile | not measured: bench_trace.py printed no cProfile row | - | - "
        "| - |  |",
        "",
    ]
    assert "| CPU | Test CPU |" in lines and "| cores | 2 |" in lines
    assert "**Replay.** How replay is measured." in lines
    behind = lines[lines.index("## Where snapy is not ahead") + 2 :]
    assert behind[:3] == [
        "- **#1** capture off: decorated / bare: 1.00 (0.98-1.03), even. no reason recorded",
        "- **#3** replay: snapy / mock: 2.00 (1.90-2.20), unittest.mock. A Mock looks nothing up.",
        "",
    ]
    assert "- **#4** pytest-record-replay: no exception replay" in lines
    assert "- **#5** snapy / cProfile: bench_trace.py printed no cProfile row" in lines
    assert text.endswith("\n") and not text.endswith("\n\n")


@pytest.mark.parametrize(
    ("values", "ahead"),
    [
        ([0.5, 0.6, 0.9], "snapy"),
        ([0.9, 0.93, 1.01], "snapy"),
        ([0.97, 1.0, 1.04], "even"),
        ([1.1, 1.2, 0.99], "peer"),
        ([1.01, 1.02, 1.03], "peer"),
    ],
)
def test_who_is_ahead(bench: dict[str, ModuleType], values: list[float], ahead: str) -> None:
    row = bench["results"].Row.measured("s", "c", "peer", values)
    assert row.ahead() == ahead
    assert row.snapy_not_ahead() is (ahead != "snapy")


def test_rows_round_trip_through_json(bench: dict[str, ModuleType], tmp_path: Path) -> None:
    results = bench["results"]
    path = tmp_path / "rows.json"
    given = rows(results)

    results.write_rows(path, given, python="3.11.7", quick=False)

    meta, back = results.read_rows(path)
    assert meta == {"python": "3.11.7", "quick": False}
    assert back == given
    assert json.loads(path.read_text())["rows"][0]["values"] == [1.0, 0.98, 1.03]


def test_a_row_without_figures_must_say_why(bench: dict[str, ModuleType]) -> None:
    with pytest.raises(ValueError, match=r"row 'x': no measured values; pass cannot= instead"):
        bench["results"].Row.measured("s", "x", "peer", [])
    with pytest.raises(ValueError, match=r"row 'x': unknown fields \['speed'\]"):
        bench["results"].Row.from_dict({"section": "s", "compared": "x", "other": "p", "speed": 1})


# -- bench_trace.py's figures -------------------------------------------------------------------

TRACE_TEXT = """\
Python 3.11.7 on x86_64, 3 rounds
snapy backend: sys.settrace

workload row                                      ratio (min-max)  extra ns/call
match    untraced                                           1.00x        12.0 ms
match    snapy (no capture)                     15.00x (14.00-16.00)            400
match    snapy (default: args+returns)          30.00x (29.00-31.00)            900
match    (floor: empty settrace function)        7.00x (6.90-7.10)            200
match    viztracer (filtered)                    5.00x (4.00-6.00)            130
match    viztracer (all)                         6.00x (5.50-6.50)            150
match    hunter                                150.00x (140.00-160.00)           4900
mixed    snapy (no capture)                      7.00x (6.00-8.00)             60
none     snapy (no capture)                      8.00x (7.50-8.50)            210
"""


def test_bench_trace_text_is_read_into_records(bench: dict[str, ModuleType]) -> None:
    records = bench["tracer_rows"].parse_text(TRACE_TEXT)

    assert [(r["workload"], r["tool"], r["median"]) for r in records] == [
        ("all", "snapy", 15.0),
        ("all", "snapy", 30.0),
        ("all", "floor", 7.0),
        ("all", "viztracer", 5.0),
        ("all", "viztracer-unfiltered", 6.0),
        ("all", "hunter", 150.0),
        ("mixed", "snapy", 7.0),
        ("none", "snapy", 8.0),
    ]
    assert records[0] == {
        "row": "snapy (no capture)",
        "workload": "all",
        "tool": "snapy",
        "figure": "ratio",
        "median": 15.0,
        "min": 14.0,
        "max": 16.0,
        "note": "",
    }


def test_tracer_rows_compare_snapy_without_capture_with_each_peer(
    bench: dict[str, ModuleType],
) -> None:
    records = bench["tracer_rows"].parse_text(TRACE_TEXT)
    records.append(
        {
            "row": "cProfile",
            "workload": "all",
            "tool": "cprofile",
            "figure": "ratio",
            "median": 6.0,
            "min": 5.0,
            "max": 8.0,
            "note": "",
        }
    )

    made = bench["tracer_rows"].tracer_rows(records, "3.11", 3)

    first = made[:5]
    assert [(r.compared, r.other, r.median, r.low, r.high, r.runs) for r in first] == [
        (
            "snapy FunctionTracer (no capture) / untraced run, workload 'all'",
            "untraced",
            15.0,
            14.0,
            16.0,
            3,
        ),
        ("snapy FunctionTracer / hunter, workload 'all'", "hunter", 0.1, 14 / 160, 16 / 140, 2),
        ("snapy FunctionTracer / viztracer, workload 'all'", "viztracer", 3.0, 14 / 6, 4.0, 3),
        ("snapy FunctionTracer / cProfile, workload 'all'", "cProfile", 2.5, 14 / 8, 3.2, 3),
        (
            "snapy FunctionTracer (no capture) / untraced run, workload 'mixed'",
            "untraced",
            7.0,
            6.0,
            8.0,
            3,
        ),
    ]
    assert first[0].note == (
        "all: every call recorded; with args and returns captured 30.00x untraced"
    )
    assert {r.section for r in made} == {"tracer, Python 3.11"}
    missing = [r for r in made if r.unmeasured]
    assert [r.compared for r in missing] == [
        "snapy FunctionTracer / hunter, workload 'mixed'",
        "snapy FunctionTracer / viztracer, workload 'mixed'",
        "snapy FunctionTracer / cProfile, workload 'mixed'",
        "snapy FunctionTracer / hunter, workload 'none'",
        "snapy FunctionTracer / viztracer, workload 'none'",
        "snapy FunctionTracer / cProfile, workload 'none'",
    ]
    assert missing[0].unmeasured == "bench_trace.py printed no hunter row"


def test_tracer_rows_need_snapy_figures(bench: dict[str, ModuleType]) -> None:
    with pytest.raises(ValueError, match=r"bench_trace\.py gave no snapy row for workload 'all'"):
        bench["tracer_rows"].tracer_rows([], "3.12", 9)


# -- command lines --------------------------------------------------------------------------------


def test_runner_arguments(bench: dict[str, ModuleType]) -> None:
    runner = bench["runner"]

    full = runner.parse_args([])
    assert (full.quick, full.only, full.output) == (False, None, None)
    assert runner.output_path(full) == ROOT / "benchmarks" / "RESULTS.md"

    some = runner.parse_args(["--only", "lookup", "--only", "tracer"])
    assert some.only == ["lookup", "tracer"]
    assert runner.output_path(some) == ROOT / ".bench" / "RESULTS-partial.md"

    quick = runner.parse_args(["--quick", "--output", "out.md"])
    assert quick.quick and runner.output_path(quick) == Path("out.md")
    assert runner.GROUP_NAMES == ["capture", "plugins", "lookup", "cassettes", "tracer", "suite"]


def test_runner_rejects_an_unknown_group(
    bench: dict[str, ModuleType], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        bench["runner"].parse_args(["--only", "speed"])

    assert stopped.value.code == 2
    assert (
        "argument --only: invalid choice: 'speed' (choose from 'capture', 'plugins', 'lookup',"
        " 'cassettes', 'tracer', 'suite')" in capsys.readouterr().err
    )


def test_runner_orders_rows_by_section(bench: dict[str, ModuleType]) -> None:
    results, runner = bench["results"], bench["runner"]
    made = [
        results.Row("whole test suite", "a", "x"),
        results.Row("replay", "b", "x"),
        results.Row("capture off", "c", "x"),
        results.Row("replay", "d", "x"),
    ]
    assert [r.compared for r in runner.ordered(made)] == ["c", "b", "d", "a"]


def test_worker_arguments(bench: dict[str, ModuleType], capsys: pytest.CaptureFixture[str]) -> None:
    harness = bench["_harness"]
    parser = harness.worker_parser("a worker", runs=5)

    assert harness.runs_of(parser.parse_args([]), 5) == 5
    assert harness.runs_of(parser.parse_args(["--quick"]), 5) == 3
    assert harness.runs_of(parser.parse_args(["--runs", "9"]), 5) == 9
    with pytest.raises(SystemExit, match="--runs must be at least 1, not 0"):
        harness.runs_of(parser.parse_args(["--runs", "0"]), 5)
    assert parser.parse_args(["--json", "x.json"]).json == Path("x.json")


def test_requirements_pin_every_peer() -> None:
    lines = (ROOT / "benchmarks" / "requirements-peers.txt").read_text().splitlines()
    pins = [line for line in lines if line and not line.startswith("#")]
    assert [line.split("==")[0] for line in pins] == [
        "vcrpy",
        "pytest-record-replay",
        "pytest-mimic",
        "hunter",
        "viztracer",
    ]
    assert all("==" in line for line in pins)
    # and none of them is a dependency of snapy
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert not any(
        name in pyproject for name in ("vcrpy", "record-replay", "mimic", "hunter", "viztracer")
    )


def test_bench_folder_is_ignored_by_git() -> None:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    done = subprocess.run(
        ["git", "check-ignore", "-q", ".bench/py311/bin/python"], cwd=ROOT, capture_output=True
    )
    assert done.returncode == 0


def test_ratios_are_written_with_three_significant_digits(bench: dict[str, ModuleType]) -> None:
    fmt = bench["results"].fmt
    assert [fmt(v) for v in (0.000104, 0.0039, 0.5, 12.34, 264.2, None)] == [
        "0.000104",
        "0.00390",
        "0.50",
        "12.3",
        "264",
        "-",
    ]
