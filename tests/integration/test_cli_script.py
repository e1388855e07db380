"""The installed `snapy` console script and `python -m snapy`, run as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).parent / ("snapy.exe" if os.name == "nt" else "snapy")

RECEIPTS = """
class Receipt:
    def __init__(self, number):
        self.number = number

    def __repr__(self):
        return f"Receipt(#{self.number})"
"""

APP = """
import sys
from pathlib import Path

import snapy
from receipts import Receipt

root = Path(sys.argv[1])


@snapy.capture(production_mode=False, path=root / "captures", retention=3)
def charge(amount, currency="EUR", *, card_token=None):
    if amount <= 0:
        raise ValueError("amount must be positive", amount)
    return {"id": f"ch_{amount}", "amount": amount, "receipt": Receipt(amount)}


def fetch_rate(base, quote):
    return {"USD": 1.08, "GBP": 0.87}[quote]


for amount in (10, 20, 30, 40):
    charge(amount, card_token="tok_secret")
try:
    charge(0)
except ValueError:
    pass
snapy.flush_captures()

recordings = root / "tests" / "__recordings__"
mock = snapy.mock(fetch_rate, recordings=recordings, test_id="test_rates::test_usd", mode="new")
mock("EUR", "USD")
mock("EUR", "GBP")
snapy.flush_recordings()
"""


def snapy_run(*args: str, cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONHASHSEED": "0"}
    return subprocess.run(
        [*args],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli")
    (root / "app.py").write_text(APP)
    (root / "receipts.py").write_text(RECEIPTS)
    done = snapy_run(sys.executable, "-W", "error", "app.py", str(root), cwd=root)
    assert done.returncode == 0, done.stderr
    return root


def test_the_console_script_lists_checks_and_shows(tree: Path) -> None:
    assert SCRIPT.is_file(), f"the console script is not installed next to {sys.executable}"
    listed = snapy_run(str(SCRIPT), "list", ".", cwd=tree)
    assert (listed.returncode, listed.stderr) == (0, "")
    lines = listed.stdout.splitlines()
    assert lines[0].split() == [
        "target",
        "bundles",
        "calls",
        "size",
        "oldest",
        "(UTC)",
        "newest",
        "(UTC)",
    ]
    assert [line.split()[:3] for line in lines[1:3]] == [
        ["__main__.charge", "3", "5"],
        ["test_rates::test_usd::__main__.fetch_rate", "2", "2"],
    ]
    assert lines[3].startswith("2 target(s), 5 bundle(s), ")
    assert "\033[" not in listed.stdout  # a pipe, not a terminal

    # The default capture folder is ./captures, as without SNAPY_CAPTURE_DIR.
    shown = snapy_run(str(SCRIPT), "show", "__main__.charge", cwd=tree)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines()[5:11] == [
        "arguments",
        "    amount = 0",
        "    currency = 'EUR'",
        "    card_token = <redacted>",
        "raised",
        "    ValueError('amount must be positive', 0)",
    ]
    verified = snapy_run(str(SCRIPT), "verify", ".", "--json", cwd=tree)
    assert verified.returncode == 0
    assert json.loads(verified.stdout)["checked"] == {"folders": 2, "bundles": 5, "indexes": 2}


def test_show_unpickles_only_when_asked_importing_from_the_current_folder(tree: Path) -> None:
    plain = snapy_run(str(SCRIPT), "show", "__main__.charge", "--index", "0", cwd=tree)
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.splitlines()[9:11] == [
        "result",
        "    {'id': 'ch_30', 'amount': 30, 'receipt': <pickled receipts.Receipt: Receipt(#30)>}",
    ]
    real = snapy_run(str(SCRIPT), "show", "__main__.charge", "-i", "0", "--unpickle", cwd=tree)
    assert real.returncode == 0, real.stderr
    assert (
        real.stdout.splitlines()[10] == "    {'id': 'ch_30', 'amount': 30, 'receipt': Receipt(#30)}"
    )


def test_python_dash_m_snapy_is_the_same_command(tree: Path) -> None:
    by_module = snapy_run(sys.executable, "-m", "snapy", "list", ".", "--json", cwd=tree)
    by_script = snapy_run(str(SCRIPT), "list", ".", "--json", cwd=tree)
    assert by_module.returncode == by_script.returncode == 0
    assert json.loads(by_module.stdout) == json.loads(by_script.stdout)


def test_errors_are_one_line_with_a_documented_status(tree: Path) -> None:
    missing = snapy_run(str(SCRIPT), "list", "captures/nope", cwd=tree)
    assert missing.returncode == 3
    assert missing.stdout == ""
    assert missing.stderr.count("\n") == 1 and "Traceback" not in missing.stderr
    unknown = snapy_run(str(SCRIPT), "show", "__main__.charg", cwd=tree)
    assert unknown.returncode == 1
    assert unknown.stderr == (
        "snapy: nothing stored for '__main__.charg' in 'captures'; stored "
        "targets, nearest first: __main__.charge; run `snapy list captures` to see "
        "all 1\n"
    )
    usage = snapy_run(str(SCRIPT), "prune", cwd=tree)
    assert usage.returncode == 2
    assert "the following arguments are required: --keep" in usage.stderr


def test_a_deletion_to_confirm_never_waits_on_a_pipe(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(APP)
    (tmp_path / "receipts.py").write_text(RECEIPTS)
    assert snapy_run(sys.executable, "app.py", str(tmp_path), cwd=tmp_path).returncode == 0
    for n in range(3):  # 6 recordings of one target: more than a handful
        made = snapy_run(
            sys.executable,
            "-c",
            "import snapy\n"
            "def f(x): return x\n"
            f"m = snapy.mock(f, recordings='tests/__recordings__', test_id='t::t', mode='new')\n"
            f"m({n}); m({n + 10})\n",
            cwd=tmp_path,
        )
        assert made.returncode == 0, made.stderr
    cleared = snapy_run(
        str(SCRIPT), "clear", "tests/__recordings__/t/t/__main__.f", cwd=tmp_path, stdin="y\n"
    )
    assert cleared.returncode == 1
    assert cleared.stderr.startswith("snapy: delete 6 bundle(s) of 1 target(s)?: not asked, ")
    forced = snapy_run(
        str(SCRIPT), "clear", "tests/__recordings__/t/t/__main__.f", "--yes", cwd=tmp_path
    )
    assert forced.returncode == 0
    assert snapy_run(str(SCRIPT), "verify", ".", cwd=tmp_path).returncode == 0
