"""The README's Python examples run as written, each in a fresh process and folder.

Blocks whose first line names a file (`# app/rates.py`) form one example project, which is put
through the flows the README gives: record and update under pytest, replay offline under
pytest, then the same tests under `python -m unittest` reading pytest's snapshot files.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), re.DOTALL)
FILE = re.compile(r"# ([\w/]+\.py)\n")
EXCERPT = re.compile(r"# examples/")  # quotes of the example app: tests/docs/test_walkthrough.py
SCRIPTS = [block for block in BLOCKS if not FILE.match(block)]
FILES = {
    m.group(1): block for block in BLOCKS if (m := FILE.match(block)) and not EXCERPT.match(block)
}


def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", "PYTHONHASHSEED": "0", "PYTHONPATH": str(cwd), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_readme_has_examples() -> None:
    assert len(SCRIPTS) >= 6
    assert {"app/rates.py", "tests/test_invoices.py"} <= FILES.keys()


@pytest.mark.parametrize("source", SCRIPTS, ids=[f"block{i}" for i in range(len(SCRIPTS))])
def test_readme_example_runs(source: str, tmp_path: Path) -> None:
    done = run(["-W", "error", "-c", source], tmp_path)
    assert done.returncode == 0, done.stderr


def test_readme_project_records_replays_and_runs_under_both_runners(tmp_path: Path) -> None:
    for name, source in FILES.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    (tmp_path / "app" / "__init__.py").touch()
    pytest_args = ["-m", "pytest", "-p", "no:cacheprovider", "-W", "error"]

    record = run([*pytest_args, "--snapshot-update"], tmp_path, SIDE_EFFECT_CAPTURE="True")
    assert record.returncode == 0, record.stdout + record.stderr
    assert "snapy: recording calls that have no recording (mode new, from environment)" in (
        record.stdout
    )
    assert "4 passed" in record.stdout
    assert len(list((tmp_path / "tests" / "__recordings__").rglob("*.bundle"))) >= 4

    replay = run(pytest_args, tmp_path)
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert "4 snapshots passed" in replay.stdout

    unittest_run = run(["-m", "unittest", "discover", "-s", "tests"], tmp_path)
    assert unittest_run.returncode == 0, unittest_run.stderr
    assert "Ran 2 tests" in unittest_run.stderr
