"""What the comparison workers share: their command line, timed child processes, rotation.

A worker (`python -m benchmarks.plugins`, `.lookup`, `.http`, `.suite`) runs inside a `.bench`
environment, where snapy and the peers are installed, and writes its rows with `--json PATH`.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from benchmarks.results import Row, write_rows

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")


def worker_parser(description: str, runs: int) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="a smoke run: small sizes, 3 runs")
    parser.add_argument(
        "--runs", type=int, default=None, help=f"interleaved runs per figure (default {runs})"
    )
    parser.add_argument("--json", type=Path, default=None, metavar="PATH", help="write rows")
    return parser


def runs_of(options: argparse.Namespace, default: int) -> int:
    if options.runs is not None:
        if options.runs < 1:
            raise SystemExit(f"--runs must be at least 1, not {options.runs}")
        return int(options.runs)
    return 3 if options.quick else default


def finish(options: argparse.Namespace, rows: Sequence[Row], started: float) -> int:
    """Print the rows, write them as JSON when asked; the exit status (always 0: a report)."""
    width = max((len(r.compared) for r in rows), default=10)
    for row in rows:
        if row.cannot:
            print(f"{row.compared:<{width}}  cannot: {row.cannot}")
        else:
            print(
                f"{row.compared:<{width}}  {row.median:8.3f}  ({row.low:.3f}-{row.high:.3f})  "
                f"{row.runs} runs  ahead: {row.ahead()}"
            )
    if options.json is not None:
        write_rows(options.json, rows, python=platform.python_version(), quick=options.quick)
    print(f"(finished in {time.perf_counter() - started:.1f} s)")
    return 0


def rotated(items: Sequence[T], r: int) -> list[T]:
    """`items` starting at item r (mod len): each run starts with a different one."""
    k = r % len(items)
    return [*items[k:], *items[:k]]


@dataclass
class Timed:
    seconds: float  # wall time
    cpu: float  # user + system CPU seconds of the child (all its threads)
    max_rss_kib: int
    returncode: int
    output: str


def run_timed(args: Sequence[str], cwd: Path, env: dict[str, str]) -> Timed:
    """Run a child process: its wall time, its CPU time and its own peak resident memory,
    from `wait4` (the usage of that one child, not of all children so far).

    A failing child is an error: a figure from a run that did not do its work is worthless.
    """
    started = time.perf_counter()
    with subprocess.Popen(
        list(args),
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as proc:
        assert proc.stdout is not None
        # The output is small (pytest -q): read it all, then reap the child with its usage.
        output = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(args)} in {cwd} failed with exit status {proc.returncode}:\n{output}"
        )
    cpu = usage.ru_utime + usage.ru_stime
    return Timed(seconds, cpu, int(usage.ru_maxrss), proc.returncode, output)


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without anything that changes what snapy or pytest do."""
    left_out = ("SNAPY_", "SIDE_EFFECT_CAPTURE", "SNAPSHOT_UPDATE", "PYTEST_", "MIMIC_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(left_out)}
    env.pop("PYTHONPATH", None)
    env.update(extra)
    return env
