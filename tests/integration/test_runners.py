"""One generated project run by `python -m unittest` and by pytest, each in its own process.

Snapshot files and recordings written by either runner pass in the other unchanged; the refresh
flow records and updates, and the next run replays offline (the app refuses real calls).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

APP = {
    "app/__init__.py": "",
    "app/rates.py": '''
        """A rates service: the real call is logged, and refused when the app is offline."""
        import os
        from pathlib import Path

        LOG = Path(__file__).resolve().parents[1] / "real_calls.log"
        RATES = {"USD": 1.08, "GBP": 0.87}


        def fetch_rate(base, quote):
            if os.environ.get("APP_OFFLINE"):
                raise ConnectionError(f"offline: fetch_rate({base!r}, {quote!r}) was called")
            with LOG.open("a") as log:
                log.write(f"fetch_rate {base} {quote}\\n")
            return RATES[quote]
    ''',
    "app/invoices.py": """
        from app import rates


        def total(amount, quote):
            return round(amount * rates.fetch_rate("EUR", quote), 2)
    """,
    "app/prefs.py": """
        import json


        def load_prefs(path):
            try:
                with open(path) as file:
                    return json.load(file)
            except FileNotFoundError:
                return {"theme": "default"}
    """,
    "tests/__init__.py": "",
    "tests/test_invoices.py": """
        import snapy
        from app import invoices

        AMOUNT = 100


        class TestInvoices(snapy.SnapTestCase):
            side_effects = ["app.rates.fetch_rate"]

            def test_total(self):
                self.assertMatchSnapshot({"usd": invoices.total(AMOUNT, "USD")})
                self.assertMatchSnapshot(invoices.total(10, "GBP"), name="gbp")
                self.assertMatchSnapshot([invoices.total(1, "USD"), invoices.total(2, "GBP")])

            def test_count(self):
                self.assertMatchSnapshot(invoices.total(3, "GBP"))


        class TestAsync(snapy.AsyncSnapTestCase):
            side_effects = ["app.rates.fetch_rate"]

            async def test_total(self):
                self.assertMatchSnapshot(invoices.total(5, "USD"))
    """,
    "pytest.ini": """
        [pytest]
        addopts = -p no:cacheprovider
    """,
}
# The same file from either runner: entry names and order are syrupy's.
AMBR = """\
# serializer version: 1
# name: TestAsync.test_total
  5.4
# ---
# name: TestInvoices.test_count
  2.61
# ---
# name: TestInvoices.test_total
  dict({
    'usd': {usd},
  })
# ---
# name: TestInvoices.test_total.2
  list([
    1.08,
    1.74,
  ])
# ---
# name: TestInvoices.test_total[gbp]
  8.7
# ---
"""
REAL_CALLS = sorted(
    [
        *["fetch_rate EUR USD"] * 3,  # each test records its own calls
        *["fetch_rate EUR GBP"] * 3,
    ]
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    for name, text in APP.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return root


def run(project: Path, *args: str, **environ: str) -> subprocess.CompletedProcess[str]:
    """`python *args` in `project`, with only the settings given in `environ`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SNAPY_", "SIDE_EFFECT_", "SNAPSHOT_", "APP_", "PYTEST_", "PYTHON"))
    }
    env.update(PYTHONPATH=str(project), PYTHONDONTWRITEBYTECODE="1", **environ)
    return subprocess.run(
        [sys.executable, *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def unittest(project: Path, module: str = "tests.test_invoices", **environ: str) -> str:
    """The output of `python -m unittest`; the run's success is part of it (`OK`/`FAILED`)."""
    done = run(project, "-m", "unittest", "-v", module, **environ)
    return done.stdout + done.stderr


def pytest_run(project: Path, *args: str, **environ: str) -> tuple[int, str]:
    done = run(project, "-m", "pytest", *args, "tests", **environ)
    return done.returncode, done.stdout + done.stderr


def real_calls(project: Path) -> list[str]:
    log = project / "real_calls.log"
    if not log.exists():
        return []
    lines = log.read_text().splitlines()
    log.unlink()
    return sorted(lines)


def stored(project: Path) -> dict[str, bytes]:
    """Every snapshot and recording file, by path: what the runners must leave unchanged."""
    tests = project / "tests"
    return {
        str(p.relative_to(tests)): p.read_bytes()
        for folder in ("__snapshots__", "__recordings__")
        for p in sorted((tests / folder).rglob("*"))
        if p.is_file() and p.name not in (".lock", ".redaction-key")
    }


def test_files_written_by_unittest_pass_under_pytest_unchanged(project: Path) -> None:
    out = unittest(project, SIDE_EFFECT_CAPTURE="1", SNAPSHOT_UPDATE="1")
    assert out.endswith("OK\n"), out
    assert (
        "snapy: recording calls that have no recording (SIDE_EFFECT_CAPTURE=new, from environment)"
    ) in out
    assert "snapy: updating snapshots (SNAPSHOT_UPDATE, from environment)" in out
    assert real_calls(project) == REAL_CALLS
    ambr = project / "tests" / "__snapshots__" / "test_invoices.ambr"
    assert ambr.read_text() == AMBR.replace("{usd}", "108.0")
    assert sorted(p.name for p in ambr.parent.iterdir()) == ["test_invoices.ambr"]
    files = stored(project)
    assert len([name for name in files if name.endswith(".bundle")]) == 6

    code, out = pytest_run(project, APP_OFFLINE="1")
    assert code == 0, out
    assert "5 snapshots passed." in out and "unused" not in out and "= snapy =" not in out
    code, out = pytest_run(project, "--snapshot-update", APP_OFFLINE="1")
    assert code == 0, out
    assert "5 snapshots passed." in out and "generated" not in out and "updated" not in out
    out = unittest(project, APP_OFFLINE="1")
    assert out.endswith("OK\n"), out
    assert stored(project) == files
    assert real_calls(project) == []


def test_the_refresh_flow_records_and_updates_then_both_runners_replay_offline(
    project: Path,
) -> None:
    # As the seed wrote it: SIDE_EFFECT_CAPTURE=True pytest --snapshot-update
    code, out = pytest_run(project, "--snapshot-update", SIDE_EFFECT_CAPTURE="True")
    assert code == 0, out
    assert (
        "snapy: recording calls that have no recording (mode new, from environment)\n"
        "snapy: updating snapshots (--snapshot-update)\n"
    ) in out
    assert "5 snapshots generated." in out
    assert real_calls(project) == REAL_CALLS
    ambr = project / "tests" / "__snapshots__" / "test_invoices.ambr"
    assert ambr.read_text() == AMBR.replace("{usd}", "108.0")
    files = stored(project)

    out = unittest(project, APP_OFFLINE="1")
    assert out.endswith("OK\n"), out
    assert "snapy:" not in out
    code, out = pytest_run(project, APP_OFFLINE="1")
    assert code == 0, out
    assert "5 snapshots passed." in out and "snapy:" not in out
    assert stored(project) == files
    assert real_calls(project) == []

    # A recording run in mode new writes nothing new when every call has its recording.
    code, out = pytest_run(project, "--snapshot-update", SIDE_EFFECT_CAPTURE="1", APP_OFFLINE="1")
    assert code == 0, out
    assert stored(project) == files


def test_snapshot_update_updates_a_changed_snapshot_in_both_runners(project: Path) -> None:
    assert unittest(project, SIDE_EFFECT_CAPTURE="1", SNAPSHOT_UPDATE="1").endswith("OK\n")
    assert real_calls(project) == REAL_CALLS
    test_file = project / "tests" / "test_invoices.py"
    ambr = project / "tests" / "__snapshots__" / "test_invoices.ambr"
    where = str(ambr)

    test_file.write_text(test_file.read_text().replace("AMOUNT = 100", "AMOUNT = 200"))
    out = unittest(project, APP_OFFLINE="1")
    assert out.endswith("FAILED (failures=1)\n"), out
    diff = "@@ -1,3 +1,3 @@\n dict({\n-  'usd': 108.0,\n+  'usd': 216.0,\n })\n"
    assert (
        f"AssertionError: value does not match snapshot 'TestInvoices.test_total' in {where!r} "
        "(- snapshot, + value; SNAPSHOT_UPDATE=1 updates it):\n" + diff
    ) in out
    code, out = pytest_run(project, APP_OFFLINE="1")
    assert code == 1
    assert (
        f"E       AssertionError: value does not match snapshot 'TestInvoices.test_total' in "
        f"{where!r} (- snapshot, + value; --snapshot-update or SNAPSHOT_UPDATE=1 updates it):\n"
        + "".join(f"E       {line}\n" for line in diff.splitlines())
    ) in out
    assert ambr.read_text() == AMBR.replace("{usd}", "108.0")

    out = unittest(project, SNAPSHOT_UPDATE="1", APP_OFFLINE="1")
    assert out.endswith("OK\n"), out
    assert ambr.read_text() == AMBR.replace("{usd}", "216.0")  # the order is kept
    code, out = pytest_run(project, APP_OFFLINE="1")
    assert code == 0 and "5 snapshots passed." in out, out

    test_file.write_text(test_file.read_text().replace("AMOUNT = 200", "AMOUNT = 300"))
    code, out = pytest_run(project, SNAPSHOT_UPDATE="1", APP_OFFLINE="1")
    assert code == 0, out
    assert "snapy: updating snapshots (SNAPSHOT_UPDATE, from environment)" in out
    assert "1 snapshot updated." in out
    assert ambr.read_text() == AMBR.replace("{usd}", "324.0")
    assert unittest(project, APP_OFFLINE="1").endswith("OK\n")
    assert real_calls(project) == []


LABELS = """
    import snapy


    class TestLabels(snapy.SnapTestCase):
        def test_label(self):
            self.assertMatchSnapshot({"label": "invoice"})
"""


def test_a_missing_snapshot_fails_in_both_runners(project: Path) -> None:
    (project / "tests" / "test_labels.py").write_text(textwrap.dedent(LABELS))
    where = str(project / "tests" / "__snapshots__" / "test_labels.ambr")
    out = unittest(project, "tests.test_labels")
    assert out.endswith("FAILED (failures=1)\n"), out
    assert (
        f"AssertionError: snapshot 'TestLabels.test_label' does not exist in {where!r}; "
        "run with SNAPSHOT_UPDATE=1 to write it\n"
    ) in out
    code, out = pytest_run(project, "-k", "label")
    assert code == 1
    assert (
        f"E       AssertionError: snapshot 'TestLabels.test_label' in {where!r} does not exist; "
        "run with --snapshot-update (or SNAPSHOT_UPDATE=1) to write it\n"
    ) in out
    assert not (project / "tests" / "__snapshots__").exists()

    assert unittest(project, "tests.test_labels", SNAPSHOT_UPDATE="yes").endswith("OK\n")
    code, out = pytest_run(project, "-k", "label")
    assert code == 0 and "1 snapshot passed." in out, out


PREFS = """
    import builtins

    import snapy
    from app import prefs


    class TestPrefs(snapy.SnapTestCase):
        side_effects = ["builtins.open"]

        def test_missing_file(self):
            assert builtins.open.__name__ == "open_mock"
            self.assertMatchSnapshot(prefs.load_prefs("/nonexistent/prefs.json"))
            self.assertMatchSnapshot(builtins.open.__name__, name="patched")
"""


def test_a_snapshot_assertion_in_a_test_that_patches_open(project: Path) -> None:
    (project / "tests" / "test_prefs.py").write_text(textwrap.dedent(PREFS))
    out = unittest(project, "tests.test_prefs", SIDE_EFFECT_CAPTURE="1", SNAPSHOT_UPDATE="1")
    assert out.endswith("OK\n"), out
    recorded = sorted((project / "tests" / "__recordings__").rglob("*.bundle"))
    # open is io.open, whose __module__ is "_io" from Python 3.12 on
    assert [p.parent.name for p in recorded] == [f"{open.__module__}.open"]
    assert b"FileNotFoundError" in recorded[0].read_bytes()
    ambr = project / "tests" / "__snapshots__" / "test_prefs.ambr"
    assert ambr.read_text() == (
        "# serializer version: 1\n"
        "# name: TestPrefs.test_missing_file\n  dict({\n    'theme': 'default',\n  })\n# ---\n"
        "# name: TestPrefs.test_missing_file[patched]\n  'open_mock'\n# ---\n"
    )
    files = stored(project)

    assert unittest(project, "tests.test_prefs").endswith("OK\n")
    code, out = pytest_run(project, "-k", "prefs")
    assert code == 0 and "2 snapshots passed." in out, out
    code, out = pytest_run(project, "-k", "prefs", "--snapshot-update")
    assert code == 0 and "2 snapshots passed." in out, out
    assert stored(project) == files

    ambr.unlink()
    code, out = pytest_run(project, "-k", "prefs", "--snapshot-update")
    assert code == 0 and "2 snapshots generated." in out, out
    assert stored(project) == files
