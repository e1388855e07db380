"""coverage.py and pdb keep working while the tracer runs, and get their trace function back.

Each run is its own process: coverage, pdb and the tracer all change process-wide state.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]  # the project: its snapy, its .tox envs
SHOP = """
def work():
    total = 0
    for item in ["apple", "pear", "fig"]:
        total += price(item)
    return label(total), list(pairs(2))


def price(item):
    if item == "apple":
        return 3
    elif item == "fig":
        return 0
    return 4


def label(total):
    if total > 100:
        return "big"
    return "small"


def pairs(n):
    for i in range(n):
        yield (i, price("pear"))
"""
RUN = """
import json
import sys

import snapy
from tapp import shop

before = sys.gettrace()
if "trace" in sys.argv[1:]:
    with snapy.FunctionTracer(["tapp.*"]) as tracer:
        result = shop.work()
    text = tracer.format()
else:
    result, text = shop.work(), ""
print(json.dumps({"restored": sys.gettrace() is before, "before": type(before).__name__,
                  "result": repr(result), "trace": text}))
"""
TRACE = """\
tapp.shop.work() -> ('small', [(0, 4), (1, 4)])
  tapp.shop.price(item='apple') -> 3
  tapp.shop.price(item='pear') -> 4
  tapp.shop.price(item='fig') -> 0
  tapp.shop.label(total=7) -> 'small'
  tapp.shop.pairs(n=2) -> yields [(0, 4), (1, 4)]
    tapp.shop.price(item='pear') -> 4
    tapp.shop.price(item='pear') -> 4"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "tapp").mkdir()
    (tmp_path / "tapp" / "__init__.py").write_text("")
    (tmp_path / "tapp" / "shop.py").write_text(textwrap.dedent(SHOP).lstrip())
    (tmp_path / "run.py").write_text(textwrap.dedent(RUN).lstrip())
    return tmp_path


def run(project: Path, *args: str, stdin: str = "", **environ: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COV", "PYTHON", "SNAPY_"))}
    env.update(PYTHONPATH=f"{REPO}{os.pathsep}{project}", **environ)
    done = subprocess.run(
        [sys.executable, *args],
        cwd=project,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def coverage_of(project: Path, *options: str, trace: bool, **environ: str) -> dict[str, object]:
    """What coverage.py measured of `tapp/shop.py`, and what run.py printed."""
    extra = ["trace"] if trace else []
    printed = run(project, "-m", "coverage", "run", *options, "run.py", *extra, **environ)
    run(project, "-m", "coverage", "json", "-q", "-o", "coverage.json")
    files = json.loads((project / "coverage.json").read_text())["files"]
    measured = files["tapp/shop.py"]
    return {
        "lines": measured["executed_lines"],
        "missing": measured["missing_lines"],
        "branches": measured.get("executed_branches"),
        "run": json.loads(printed.splitlines()[-1]),
    }


CORES = [pytest.param({}, ["--branch"], id="default-core-branch")]
if sys.version_info >= (3, 12):
    CORES.append(pytest.param({"COVERAGE_CORE": "sysmon"}, [], id="sysmon-core"))


@pytest.mark.parametrize(("environ", "options"), CORES)
def test_coverage_measures_the_traced_code_the_same_with_the_tracer(
    project: Path, environ: dict[str, str], options: list[str]
) -> None:
    pytest.importorskip("coverage")
    without = coverage_of(project, "--source=tapp", *options, trace=False, **environ)
    with_tracer = coverage_of(project, "--source=tapp", *options, trace=True, **environ)
    assert with_tracer["run"]["trace"] == TRACE
    assert with_tracer["run"]["restored"] is True
    assert with_tracer["run"]["result"] == without["run"]["result"]
    for key in ("lines", "missing", "branches"):
        assert with_tracer[key] == without[key], key
    assert without["missing"] == [18]  # `return "big"`: the measure is real
    if sys.version_info < (3, 12) or not environ:
        assert with_tracer["run"]["before"] in ("CTracer", "PyTracer")


def test_a_breakpoint_in_traced_code_stops_in_pdb(project: Path) -> None:
    commands = "break tapp/shop.py:17\ncontinue\np total\ncontinue\n"
    out = run(project, "-m", "pdb", "run.py", "trace", stdin=commands)
    assert "-> if total > 100:" in out
    assert "\n(Pdb) 7\n" in out
    line = next(line for line in out.splitlines() if '{"restored"' in line)
    printed = json.loads(line[line.index("{") :])
    assert printed["trace"] == TRACE
    assert printed["restored"] is True
