"""What the reliability suite (issue 9) shares: quick or long, figures, child processes, checks.

`SNAPY_STRESS=long` (set by `tox -e stress`) selects the long variant; unset or `quick`, the
quick one that CI runs. Figures go to a "snapy stress figures" section at the end of the run
and to `stress-figures.json` in pytest's base temp folder (under pytest-xdist the section is
not shown: read the file of each worker).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from pathlib import Path
from typing import Any, TypeVar

import pytest

from snapy._cli import main as snapy_main

T = TypeVar("T")

_VARIANTS = ("quick", "long")
VARIANT = os.environ.get("SNAPY_STRESS", "") or "quick"
if VARIANT not in _VARIANTS:
    raise RuntimeError(
        f"SNAPY_STRESS={VARIANT!r} is not valid: use 'quick' (the default, what CI runs) or "
        "'long' (what `tox -e stress` sets)"
    )
LONG = VARIANT == "long"


def pick(quick: T, long: T) -> T:
    """`long` under `SNAPY_STRESS=long`, else `quick`."""
    return long if LONG else quick


def environ(**extra: str) -> dict[str, str]:
    """A clean environment for a child Python: no SNAPY_*, SIDE_EFFECT_* or PYTEST_* of ours."""
    return {"PATH": os.environ.get("PATH", ""), "PYTHONDONTWRITEBYTECODE": "1", **extra}


class _Figures:
    """A plugin registered on first use: prints the figures in the terminal summary."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines: list[str] = []

    def add(self, line: str) -> None:
        self.lines.append(line)
        self.path.write_text(json.dumps({"variant": VARIANT, "figures": self.lines}, indent=1))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        terminalreporter.section(f"snapy stress figures ({VARIANT} variant)")
        for line in self.lines:
            terminalreporter.write_line(line)


_FIGURES = pytest.StashKey[_Figures]()


def figure(request: pytest.FixtureRequest, line: str) -> None:
    """Show `line` in this run's summary and keep it in `stress-figures.json`."""
    config = request.config
    figures = config.stash.get(_FIGURES, None)
    if figures is None:
        base = request.getfixturevalue("tmp_path_factory").getbasetemp()
        figures = config.stash[_FIGURES] = _Figures(base / "stress-figures.json")
        config.pluginmanager.register(figures, "snapy-stress-figures")
    figures.add(line)


def verify(root: Path) -> tuple[int, dict[str, Any]]:
    """`snapy verify --json root`, run in this process: (exit status, its JSON report)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = snapy_main(["verify", "--json", str(root)])
    assert err.getvalue() == ""
    return status, json.loads(out.getvalue())


def problems(report: dict[str, Any]) -> dict[str, set[str]]:
    """The paths `snapy verify --json` named, by kind of problem."""
    found: dict[str, set[str]] = {}
    for problem in report["problems"]:
        found.setdefault(problem["kind"], set()).add(problem["path"])
    return found


# Run first in a child that must meet permissions as an ordinary user would. Root (as in
# this project's containers) passes every permission check: without CAP_DAC_OVERRIDE and
# CAP_DAC_READ_SEARCH it meets the mode bits like anyone else. Linux only; prints
# "no-capset" when the capabilities cannot be dropped.
DROP_ROOT_OVERRIDE = """
import ctypes
import os


def drop_root_override():
    if os.geteuid() != 0:
        return True

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [(name, ctypes.c_uint32) for name in ("effective", "permitted", "inheritable")]

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        header, data = Header(0x20080522, 0), (Data * 2)()  # _LINUX_CAPABILITY_VERSION_3
        if libc.capget(ctypes.byref(header), data) != 0:
            return False
        keep = ~((1 << 1) | (1 << 2)) & 0xFFFFFFFF  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        data[0].effective &= keep
        data[0].permitted &= keep
        data[0].inheritable &= keep
        return libc.capset(ctypes.byref(header), data) == 0
    except (AttributeError, OSError):
        return False
"""

#: The interpreter running this suite, for child processes.
PYTHON = sys.executable
