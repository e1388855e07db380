#!/usr/bin/env python3
"""Project tasks that work on a fresh machine with only Python and pip.

    python3 run.py demo    a legacy application put under test, end to end (the README's main job)
    python3 run.py test    the whole test suite (what CI runs)
    python3 run.py check   ruff and mypy strict on snapy/
    python3 run.py bench   the benchmarks against the peers (`python -m benchmarks`; makes its own
                           environments under .bench/ and writes benchmarks/RESULTS.md)
    python3 run.py tox     tox: the suite on Python 3.11, 3.12 and 3.13, lint and types

Creates `.venv` on first use and installs snapy with its `dev` extra into it; later runs
reinstall only when pyproject.toml changed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".snapy-installed"


def ensure_env() -> None:
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.is_file() and STAMP.read_text() == wanted and PYTHON.exists():
        return
    if not PYTHON.exists():
        print("run.py: creating .venv", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("run.py: installing snapy and its dev tools into .venv", flush=True)
    pip = [str(PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-e", f"{ROOT}[dev]"], check=True)
    STAMP.write_text(wanted)


def run(*args: str) -> int:
    return subprocess.run([str(PYTHON), *args], cwd=ROOT).returncode


def main(argv: list[str]) -> int:
    task = argv[0] if argv else "test"
    rest = argv[1:]
    if task not in ("demo", "test", "check", "bench", "tox"):
        print(__doc__)
        return 2
    if task == "bench":
        # Its own environments (.bench/py311, .bench/py312), not .venv: stdlib only here.
        return subprocess.run([sys.executable, "-m", "benchmarks", *rest], cwd=ROOT).returncode
    ensure_env()
    if task == "demo":
        return run("examples/legacy_app/main_job.py", *rest)
    if task == "test":
        code = run("-m", "pytest", *rest)
        if code == 5:
            print("run.py: pytest collected no tests; treating that as a failure")
            return 1
        return code
    if task == "check":
        return run("-m", "ruff", "check", "snapy", "tests", "benchmarks", "examples") or run(
            "-m", "mypy"
        )
    if task == "tox":
        # pyenv's shims do not let tox find 3.12 and 3.13; its version folders do.
        found = sorted(Path.home().glob(".pyenv/versions/3.1[123].*/bin"))
        path = os.pathsep.join([*map(str, found), os.environ.get("PATH", "")])
        return subprocess.run([str(PYTHON), "-m", "tox", *rest], cwd=ROOT,
                              env={**os.environ, "PATH": path}).returncode
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
