"""A whole test suite: the example app's snapy tests in replay mode against the same tests
written by hand with unittest.mock (`benchmarks/handmocked/`).

    .bench/py311/bin/python -m benchmarks.suite [--quick] [--runs N] [--json PATH]
    (or `python -m benchmarks --only suite`, which makes that environment)

Both suites run in one copy of `examples/legacy_app` (what a fresh clone holds, plus
`handmocked/`), each as a child `python -m pytest -q`, in turns: the snapy suite
(`tests/`, 9 tests replaying `tests/__recordings__` and comparing with `tests/__snapshots__`)
with snapy's plugin and syrupy, the hand-mocked suite (`handmocked/`, the same 9 tests) with
neither. The application points at a closed port of 127.0.0.1, so a test that reached for the
network would fail. Figures: the child's wall time and its peak resident memory (`ru_maxrss`
from `wait4`), one pair per run after one untimed run of each (bytecode written).
"""

from __future__ import annotations

import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._harness import ROOT, clean_env, finish, run_timed, runs_of, worker_parser
from benchmarks.results import Row

EXAMPLE = ROOT / "examples" / "legacy_app"
HANDMOCKED = Path(__file__).resolve().parent / "handmocked"
NOT_COPIED = ("__pycache__", ".pytest_cache", ".ruff_cache", ".lock", "*.db", "captures")
OTHER_PLUGINS = ("pytest_record_replay.pytest_plugin", "pytest-mimic")


def closed_port() -> int:
    """A port of 127.0.0.1 that nothing listens on (bound, then let go)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def copy_example(folder: Path) -> Path:
    app = folder / "legacy_app"

    def ignore(where: str, names: list[str]) -> set[str]:
        left = shutil.ignore_patterns(*NOT_COPIED[:-1])(where, names)
        if Path(where) == EXAMPLE:  # only the top-level captures/ is made by running the app
            left |= {"captures"} & set(names)
        return set(left)

    shutil.copytree(EXAMPLE, app, ignore=ignore)
    shutil.copytree(HANDMOCKED, app / "handmocked", ignore=shutil.ignore_patterns("__pycache__"))
    return app


def commands() -> dict[str, list[str]]:
    pytest = [sys.executable, "-m", "pytest", "-q"]
    others = [a for p in OTHER_PLUGINS for a in ("-p", f"no:{p}")]
    return {
        "snapy": [*pytest, *others, "tests"],
        "hand": [*pytest, *others, "-p", "no:snapy", "-p", "no:syrupy", "handmocked"],
    }


def main(argv: list[str] | None = None) -> int:
    options = worker_parser(__doc__.splitlines()[0], runs=9).parse_args(argv)
    runs = runs_of(options, 9)
    started = time.perf_counter()
    port = str(closed_port())
    env = clean_env(RATES_URL=f"http://127.0.0.1:{port}", SMTP_HOST="127.0.0.1", SMTP_PORT=port)
    wall: dict[str, list[float]] = {"snapy": [], "hand": []}
    rss: dict[str, list[float]] = {"snapy": [], "hand": []}
    with tempfile.TemporaryDirectory(prefix="snapy-bench-suite-") as tmp:
        app = copy_example(Path(tmp))
        suites = commands()
        for name, command in suites.items():
            out = run_timed(command, app, env).output
            if "9 passed" not in out:
                raise RuntimeError(f"the {name} suite did not pass 9 tests:\n{out}")
        for r in range(runs):
            order = ["snapy", "hand"] if r % 2 == 0 else ["hand", "snapy"]
            for name in order:
                timed = run_timed(suites[name], app, env)
                wall[name].append(timed.seconds)
                rss[name].append(timed.max_rss_kib)
    for name in wall:
        print(
            f"  {name:<6} wall {sorted(wall[name])[runs // 2]:.2f} s, "
            f"peak {sorted(rss[name])[runs // 2] / 1024:.0f} MiB"
        )
    why = (
        "The snapy suite loads snapy's pytest plugin, syrupy and deepdiff and reads its "
        "recordings and snapshots from disk; the hand-mocked tests hold every value in their "
        "source and load neither plugin (the application imports snapy for its capture "
        "decorators in both)."
    )
    rows = [
        Row.measured(
            "whole test suite",
            "example app's tests in replay mode / the same tests hand-mocked: wall time",
            "unittest.mock",
            [a / b for a, b in zip(wall["snapy"], wall["hand"], strict=True)],
            group="suite",
            note="9 tests, pytest in a child process",
            why_behind=why,
        ),
        Row.measured(
            "whole test suite",
            "example app's tests in replay mode / the same tests hand-mocked: peak memory",
            "unittest.mock",
            [a / b for a, b in zip(rss["snapy"], rss["hand"], strict=True)],
            group="suite",
            note="ru_maxrss of the pytest process",
            why_behind=why,
        ),
    ]
    return finish(options, rows, started)


if __name__ == "__main__":
    raise SystemExit(main())
