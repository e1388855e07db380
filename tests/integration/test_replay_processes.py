"""Recording in one process and replaying in another: keys and files do not depend on the process.

Each run is a fresh interpreter with its own PYTHONHASHSEED, so set and dict iteration orders
differ between the recording and the replaying process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import snapy

TESTS = Path(__file__).resolve().parents[1]
# The subprocesses import the fake app and the snapy this process tests.
PYTHONPATH = os.pathsep.join([str(TESTS), str(Path(snapy.__file__).resolve().parents[1])])

RUN = '''
import json
import sys
from pathlib import Path

import snapy
from fakeapp import rates

root, mode, reverse = Path(sys.argv[1]), sys.argv[2], sys.argv[3] == "reverse"
words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]


def inserted(items):
    """`items` in the order given, or reversed: equal sets and dicts, built another way."""
    items = list(items)
    return items[::-1] if reverse else items


calls = [
    (
        set(inserted(words[:5])),
        dict(inserted([("alpha", 1.0), ("gamma", 2.5), ("zeta", 4.0)])),
        {
            "greek": frozenset(inserted(words)),
            "short": frozenset(inserted(w for w in words if len(w) <= 4)),
        },
    ),
    (set(inserted(words)), dict(inserted([("theta", 0.5), ("eta", 0.25)])), {}),
    (set(), {}, {"none": frozenset()}),
]
fake = snapy.mock(
    rates.tag_weights, recordings=root, test_id="test_sets::test_weights", mode=mode
)
results = []
for tags, table, groups in calls:
    result = fake(tags, table, groups)
    results.append({**result, "tags": sorted(result["tags"])})
print(json.dumps({
    "hash": hash("alpha"),
    "order": list(set(words)),
    "real_calls": rates.REAL_CALLS["tag_weights"],
    "sources": [call.source for call in fake.calls],
    "results": results,
}))
'''


def run(root: Path, seed: int, mode: str, reverse: bool = False) -> dict[str, Any]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SNAPY_", "SIDE_EFFECT_", "PYTEST_", "PYTHON"))
    }
    env["PYTHONHASHSEED"] = str(seed)
    env["PYTHONPATH"] = PYTHONPATH
    done = subprocess.run(
        [sys.executable, "-c", RUN, str(root), mode, "reverse" if reverse else "forward"],
        cwd=root.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def every_file(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_another_hash_seed_replays_the_recording(tmp_path: Path) -> None:
    root = tmp_path / "__recordings__"
    recorded = run(root, seed=1, mode="new")
    assert recorded["real_calls"] == 3
    assert recorded["sources"] == ["recorded"] * 3
    assert recorded["results"][0] == {
        "total": 3.5,
        "tags": ["alpha", "beta", "delta", "epsilon", "gamma"],
        "groups": {"greek": 5, "short": 1},
    }
    replayed = run(root, seed=2, mode="replay", reverse=True)
    # The two processes really iterate sets differently.
    assert replayed["hash"] != recorded["hash"]
    assert replayed["order"] != recorded["order"]
    assert replayed["real_calls"] == 0
    assert replayed["sources"] == ["replayed"] * 3
    assert replayed["results"] == recorded["results"]


def test_another_hash_seed_re_records_the_same_bytes(tmp_path: Path) -> None:
    root = tmp_path / "__recordings__"
    recorded = run(root, seed=1, mode="new")
    first = every_file(root)
    assert len([name for name in first if name.endswith(".bundle")]) == 3
    again = run(root, seed=3, mode="all")
    assert again["order"] != recorded["order"]
    assert again["real_calls"] == 3
    assert every_file(root) == first


TEST_FILE = """
import snapy
from fakeapp import rates


def test_rate():
    fake = snapy.mock(rates.fetch_rate)
    assert fake("EUR", 2.0) == 2.2


class TestRates:
    def test_gbp(self):
        fake = snapy.mock(rates.fetch_rate)
        assert fake("GBP") == 1.25
"""


def pytest_run(project: Path, cwd: Path, *args: str, **variables: str) -> str:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SNAPY_", "SIDE_EFFECT_", "PYTEST_", "PYTHON"))
    }
    env.update(variables, PYTHONPATH=PYTHONPATH)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            project,
            *args,
        ],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.stdout + done.stderr


def test_pytest_tests_find_their_recordings_folder(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "tests").mkdir(parents=True)
    (project / "tests" / "test_auto.py").write_text(TEST_FILE)
    out = pytest_run(project, project, "tests", SIDE_EFFECT_CAPTURE="1")
    assert "2 passed" in out, out
    recordings = project / "tests" / "__recordings__" / "test_auto"
    assert sorted(p.parent.parent.name for p in recordings.rglob("*.bundle")) == [
        "TestRates.test_gbp",
        "test_rate",
    ]
    # From the tests folder, with the node ids still relative to the project.
    out = pytest_run(project, project / "tests", "test_auto.py")
    assert "2 passed" in out, out
    assert not (project / "tests" / "tests").exists()
    # A test without its recording fails with the miss and the command that records it.
    for bundle in (recordings / "test_rate").rglob("*.bundle"):
        bundle.unlink()
    out = pytest_run(project, project, "tests")
    assert "1 failed, 1 passed" in out, out
    assert (
        "to record it: SIDE_EFFECT_CAPTURE=1 python -m pytest tests/test_auto.py::test_rate"
    ) in out
