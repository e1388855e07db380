"""pytest-xdist gives the same result as one process: recordings, snapshots, unused report.

The reliability suite (issue 9): one project, copied twice, recorded without xdist in one copy
and with `-n 2` in the other. Recordings hold no times or process ids and snapshot files are
written per test, so the two trees must be equal byte for byte; then both copies report the
same unused recordings and replay with the same outcome, with and without xdist.
"""

from __future__ import annotations

import json
import os
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

import snapy

PROJECT = {
    "pytest.ini": """
        [pytest]
        addopts = -p no:cacheprovider
    """,
    "app/__init__.py": "",
    "app/rates.py": """
        import os

        RATES = {"USD": 1.08, "GBP": 0.87, "JPY": 161.2}


        def fetch_rate(base, quote, token):
            if os.environ.get("APP_OFFLINE"):
                raise ConnectionError(f"offline: fetch_rate({base!r}, {quote!r}) was called")
            if quote not in RATES:
                raise LookupError(f"no rate for {quote}")
            return {"base": base, "quote": quote, "rate": RATES[quote]}
    """,
    "app/mail.py": """
        import os


        def send(to, subject):
            if os.environ.get("APP_OFFLINE"):
                raise ConnectionError(f"offline: send({to!r}) was called")
            return {"to": to, "subject": subject, "id": f"msg-{len(to)}-{len(subject)}"}
    """,
    "app/invoices.py": """
        from app import mail, rates


        def total(amount, quote):
            return round(amount * rates.fetch_rate("EUR", quote, token="s3cr3t")["rate"], 2)


        def notify(to, amount):
            return mail.send(to, f"invoice of {amount}")
    """,
    "tests/test_billing.py": """
        import os

        import pytest
        from app import invoices

        QUOTES = ["USD", "GBP"]


        @pytest.mark.side_effects("app.rates.fetch_rate")
        @pytest.mark.parametrize("amount", [1, 10, 100, 1000])
        def test_totals(amount, snapshot):
            assert {quote: invoices.total(amount, quote) for quote in QUOTES} == snapshot


        def test_missing_rate(side_effects, snapshot):
            side_effects.replay("app.rates.fetch_rate")
            with pytest.raises(LookupError) as excinfo:
                invoices.total(5, "XXX")
            assert str(excinfo.value) == snapshot


        @pytest.mark.side_effects("app.rates.fetch_rate", "app.mail.send")
        def test_notify(snapshot):
            if os.environ.get("WARM_UP"):  # a call made while recording only: unused later
                invoices.total(0, "JPY")
            for quote in QUOTES:
                to = f"{quote.lower()}@example.com"
                assert invoices.notify(to, invoices.total(3, quote)) == snapshot


        @pytest.mark.side_effects("app.rates.fetch_rate")
        def test_plain():
            assert invoices.total(2, "JPY") == 322.4
    """,
    "tests/test_cases.py": """
        import os

        import snapy
        from app import invoices


        class TestInvoices(snapy.SnapTestCase):
            side_effects = ["app.rates.fetch_rate", "app.mail.send"]

            def test_total(self):
                totals = {quote: invoices.total(7, quote) for quote in ("USD", "GBP")}
                self.assertMatchSnapshot(totals)

            def test_notify(self):
                if os.environ.get("WARM_UP"):
                    invoices.notify("warm@example.com", 0)
                self.assertMatchSnapshot(invoices.notify("ann@example.com", 9), name="sent")


        class TestYen(snapy.SnapTestCase):
            side_effects = [("app.rates.fetch_rate", {"ignore_args": ["token"]})]

            def test_yen(self):
                self.assertMatchSnapshot([invoices.total(n, "JPY") for n in range(1, 6)])
    """,
}
TESTS = 10
SNAPSHOTS = 10
# What a recording run writes: the same key for redacted values in both copies, as when the
# project commits it (see snapy._keys).
REDACTION_KEY = b"0123456789abcdef" * 4


@pytest.fixture
def copies(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """Two identical copies of the project: one run without xdist, one with `-n 2`."""
    for name in list(os.environ):
        if name.startswith(
            (
                "SNAPY_",
                "SIDE_EFFECT_",
                "SNAPSHOT_",
                "APP_",
                "WARM_",
                "PYTEST_ADDOPTS",
                "PYTEST_XDIST",
            )
        ):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    made = []
    for copy in ("serial", "xdist"):
        root = pytester.path / copy
        for name, text in PROJECT.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text).lstrip())
        keys = root / "tests" / "__recordings__"
        keys.mkdir()
        (keys / ".redaction-key").write_bytes(REDACTION_KEY)
        made.append(root)
    return made[0], made[1]


def run(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    root: Path,
    *args: str,
    xdist: bool | None = None,
) -> pytest.RunResult:
    """pytest in `root` (its rootdir); with `-n 2` if `xdist`, by default in the xdist copy."""
    workers = ("-n", "2") if (root.name == "xdist" if xdist is None else xdist) else ()
    with monkeypatch.context() as patch:
        patch.chdir(root)
        return pytester.runpytest_subprocess(*workers, *args, timeout=120)


def files(root: Path, folder: str) -> dict[str, bytes]:
    """Every file under `root/tests/folder`, by relative path, with its bytes."""
    base = root / "tests" / folder
    return {p.relative_to(base).as_posix(): p.read_bytes() for p in base.rglob("*") if p.is_file()}


def index(root: Path, folder: str) -> list[dict[str, Any]]:
    """The calls listed in the `index.json` of a recordings folder."""
    path = root / "tests" / "__recordings__" / folder / "index.json"
    calls: list[dict[str, Any]] = json.loads(path.read_text())["calls"]
    return calls


def summary(result: pytest.RunResult) -> dict[str, object]:
    """What a run reports, apart from timings and xdist's own lines."""
    lines = result.outlines
    section: list[str] = []
    if "snapy" in "".join(lines):
        marks = [i for i, line in enumerate(lines) if re.fullmatch(r"=+ snapy =+", line)]
        if marks:
            end = next(
                (i for i in range(marks[0] + 1, len(lines)) if lines[i][:3] in ("===", "---")),
                len(lines),
            )
            # Blank lines around sections depend on what xdist printed before them.
            section = [line for line in lines[marks[0] + 1 : end] if line]
    return {
        "outcomes": result.parseoutcomes(),
        "snapshots": [line for line in lines if re.fullmatch(r"\d+ snapshots? .*\.", line)],
        "snapy": section,
        "header": [line for line in lines if line.startswith("snapy:")],
    }


def test_record_report_and_replay_agree_with_and_without_xdist(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, copies: tuple[Path, Path]
) -> None:
    serial, xdist = copies
    monkeypatch.setenv("WARM_UP", "1")
    recorded = [
        run(pytester, monkeypatch, root, "--snapy-record=new", "--snapshot-update")
        for root in copies
    ]
    for result in recorded:
        result.assert_outcomes(passed=TESTS)
    assert summary(recorded[0]) == summary(recorded[1])
    assert summary(recorded[0])["snapshots"] == [f"{SNAPSHOTS} snapshots generated."]
    assert summary(recorded[0])["header"] == [
        "snapy: recording calls that have no recording (mode new, from --snapy-record)",
        "snapy: updating snapshots (--snapshot-update)",
    ]
    # Byte for byte: recordings (indexes and the shared redaction key too) and snapshots.
    recordings = files(serial, "__recordings__")
    assert len([name for name in recordings if name.endswith(".bundle")]) == 24
    assert files(xdist, "__recordings__") == recordings
    snapshots = files(serial, "__snapshots__")
    assert sorted(snapshots) == ["test_billing.ambr", "test_cases.ambr"]
    assert files(xdist, "__snapshots__") == snapshots

    # Offline and without the warm-up calls: the same unused recordings, the same outcome.
    monkeypatch.delenv("WARM_UP")
    monkeypatch.setenv("APP_OFFLINE", "1")
    # Each recorded tree replayed both ways.
    reports = [
        summary(run(pytester, monkeypatch, root, xdist=parallel))
        for root in copies
        for parallel in (False, True)
    ]
    assert reports == [reports[0]] * 4
    assert reports[0]["outcomes"] == {"passed": TESTS}
    assert reports[0]["snapshots"] == [f"{SNAPSHOTS} snapshots passed."]
    # The warm-up calls; the key of the first holds the keyed hash of the redacted token.
    rates = "test_billing/test_notify/app.rates.fetch_rate"
    (jpy,) = [c for c in index(serial, rates) if "quote='JPY'" in c["summary"]]
    mail = "test_cases/TestInvoices.test_notify/app.mail.send"
    send = snapy.argument_key(
        "app.mail.send", {"to": "warm@example.com", "subject": "invoice of 0"}
    )
    assert reports[0]["snapy"] == [
        "2 recording(s) not used by the tests that ran:",
        f"  tests/__recordings__/{rates}/{jpy['file']}",
        f"  tests/__recordings__/{mail}/0000-{send}.bundle",
        "delete them with --snapy-unused=prune (or re-record with SIDE_EFFECT_CAPTURE=all)",
    ]
    assert files(serial, "__recordings__") == recordings == files(xdist, "__recordings__")
    assert files(serial, "__snapshots__") == snapshots == files(xdist, "__snapshots__")
