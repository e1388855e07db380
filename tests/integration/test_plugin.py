"""The pytest plugin, run with pytester on a generated project: options, marker, fixture,
header, unused recordings (also under pytest-xdist), and captures as test cases.

Settings are process-wide, so runs that record, update or report unused recordings are
subprocesses; they read the environment this test sets with monkeypatch.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import textwrap

import pytest

import snapy

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
    "app/mail.py": """
        from app.rates import LOG


        def send(to, subject, msg_id):
            with LOG.open("a") as log:
                log.write(f"send {to}\\n")
            return f"sent to {to}"
    """,
    "app/invoices.py": """
        from app import mail, rates


        def total(amount, quote):
            return round(amount * rates.fetch_rate("EUR", quote), 2)


        def notify(to, msg_id):
            return mail.send(to, "invoice", msg_id)
    """,
}
RECORDING_HEADER = "snapy: recording calls that have no recording (mode new, from {})"
USD = snapy.argument_key("app.rates.fetch_rate", {"base": "EUR", "quote": "USD"})
GBP = snapy.argument_key("app.rates.fetch_rate", {"base": "EUR", "quote": "GBP"})


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A project with an `app` package; its folder is the rootdir, cwd and on sys.path."""
    for name in list(os.environ):
        if name.startswith(
            ("SNAPY_", "SIDE_EFFECT_", "SNAPSHOT_", "APP_", "PYTEST_ADDOPTS", "PYTEST_XDIST")
        ):
            monkeypatch.delenv(name)
    # Tests rewrite app modules between runs with same-size edits inside one second, which a
    # cached .pyc would hide (seen on 3.13).
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider\n")
    write(pytester, APP)
    return pytester


def write(pytester: pytest.Pytester, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = pytester.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())


def real_calls(pytester: pytest.Pytester) -> list[str]:
    """The real calls the app made since the last look."""
    log = pytester.path / "real_calls.log"
    if not log.exists():
        return []
    lines = log.read_text().splitlines()
    log.unlink()
    return sorted(lines)


def recordings(pytester: pytest.Pytester) -> list[str]:
    root = pytester.path / "__recordings__"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.bundle"))


def header(result: pytest.RunResult) -> list[str]:
    return [line for line in result.outlines if line.startswith("snapy:")]


INVOICES = """
    import pytest
    from app import invoices, rates


    @pytest.mark.side_effects("app.rates.fetch_rate")
    def test_total():
        assert invoices.total(100, "USD") == 108.0


    def test_unpatched():
        assert rates.fetch_rate.__name__ == "fetch_rate"
"""


# -- --snapy-record, SIDE_EFFECT_CAPTURE and the header --------------------------------------------


def test_replaying_is_the_default_and_the_header_is_silent(project: pytest.Pytester) -> None:
    project.makepyfile(test_invoices=INVOICES)
    result = project.runpytest_subprocess()
    result.assert_outcomes(passed=1, failed=1)
    assert header(result) == []
    result.stdout.fnmatch_lines(
        [
            "E * snapy._errors.RecordingNotFoundError: no recording to replay for this call of "
            "app.rates.fetch_rate in test 'test_invoices::test_total'",
            "E *   why:   this test has no recordings of app.rates.fetch_rate yet",
            "E *   to record it: SIDE_EFFECT_CAPTURE=1 python -m pytest "
            "test_invoices.py::test_total",
        ]
    )
    assert real_calls(project) == [] and recordings(project) == []


def test_side_effect_capture_records_then_the_run_replays(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.makepyfile(test_invoices=INVOICES)
    monkeypatch.setenv("SIDE_EFFECT_CAPTURE", "1")
    recorded = project.runpytest_subprocess()
    recorded.assert_outcomes(passed=2)
    assert header(recorded) == [RECORDING_HEADER.format("environment")]
    assert real_calls(project) == ["fetch_rate EUR USD"]
    folder = project.path / "__recordings__/test_invoices/test_total/app.rates.fetch_rate"
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == [
        f"0000-{USD}.bundle",
        "index.json",
    ]

    monkeypatch.delenv("SIDE_EFFECT_CAPTURE")
    monkeypatch.setenv("APP_OFFLINE", "1")
    replayed = project.runpytest_subprocess()
    replayed.assert_outcomes(passed=2)
    assert header(replayed) == []
    assert real_calls(project) == []
    replayed.stdout.no_fnmatch_line("*= snapy =*")


@pytest.mark.parametrize(
    ("environment", "option", "expected"),
    [
        ("1", "replay", []),
        ("0", "new", [RECORDING_HEADER.format("--snapy-record")]),
        (None, "new", [RECORDING_HEADER.format("--snapy-record")]),
        ("1", "all", ["snapy: re-recording every call (mode all, from --snapy-record)"]),
    ],
)
def test_snapy_record_wins_over_side_effect_capture(
    project: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    environment: str | None,
    option: str,
    expected: list[str],
) -> None:
    project.makepyfile(test_invoices=INVOICES)
    if environment is not None:
        monkeypatch.setenv("SIDE_EFFECT_CAPTURE", environment)
    result = project.runpytest_subprocess(f"--snapy-record={option}")
    assert header(result) == expected
    if option == "replay":
        result.assert_outcomes(passed=1, failed=1)
        assert recordings(project) == []
    else:
        result.assert_outcomes(passed=2)
        assert recordings(project) == [
            f"test_invoices/test_total/app.rates.fetch_rate/0000-{USD}.bundle"
        ]


def test_the_header_names_a_dotenv_file(project: pytest.Pytester) -> None:
    project.makepyfile(test_invoices=INVOICES)
    (project.path / ".env").write_text("SIDE_EFFECT_CAPTURE=new\nSNAPSHOT_UPDATE=1\n")
    result = project.runpytest_subprocess()
    assert header(result) == [
        RECORDING_HEADER.format(".env file '.env'"),
        "snapy: updating snapshots (SNAPSHOT_UPDATE, from .env file '.env')",
    ]
    result.assert_outcomes(passed=2)


def test_the_header_is_hidden_with_quiet(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.makepyfile(test_invoices=INVOICES)
    monkeypatch.setenv("SIDE_EFFECT_CAPTURE", "1")
    result = project.runpytest_subprocess("-q")
    result.assert_outcomes(passed=2)
    assert header(result) == []


def test_a_wrong_side_effect_capture_is_a_usage_error(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.makepyfile(test_invoices=INVOICES)
    monkeypatch.setenv("SIDE_EFFECT_CAPTURE", "maybe")
    result = project.runpytest_subprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: SIDE_EFFECT_CAPTURE='maybe' is not valid: use replay (or unset, 0, false), "
            "new (or 1, true, yes) or all"
        ]
    )
    assert "INTERNALERROR" not in result.stderr.str()


@pytest.mark.parametrize(
    ("option", "choices"),
    [("--snapy-record", "replay, new, all"), ("--snapy-unused", "report, prune, fail")],
)
def test_a_wrong_option_value_lists_the_valid_ones(
    project: pytest.Pytester, option: str, choices: str
) -> None:
    result = project.runpytest(f"{option}=bogus")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    quoted = r",\s*".join(rf"'?{choice}'?" for choice in choices.split(", "))
    result.stderr.re_match_lines(
        [rf".*argument {option}: invalid choice: 'bogus' \(choose from {quoted}\)"]
    )


def test_options_are_grouped_in_the_help(project: pytest.Pytester) -> None:
    result = project.runpytest("--help")
    result.stdout.fnmatch_lines(
        ["snapy: recorded side effects:", "  --snapy-record=*", "  --snapy-unused=*"]
    )


# -- SNAPSHOT_UPDATE and --snapshot-update ---------------------------------------------------------

SNAPSHOTS = """
    import snapy


    class TestLabels(snapy.SnapTestCase):
        def test_labels(self):
            self.assertMatchSnapshot({"label": "invoice"})
            self.assertMatchSnapshot("named", name="extra")


    def test_with_syrupy(snapshot):
        assert snapshot == [1, 2]
"""


def test_snapshot_update_turns_on_syrupy_update(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.makepyfile(test_labels=SNAPSHOTS)
    missing = project.runpytest_subprocess()
    missing.assert_outcomes(passed=0, failed=2)
    assert header(missing) == []

    monkeypatch.setenv("SNAPSHOT_UPDATE", "1")
    written = project.runpytest_subprocess()
    written.assert_outcomes(passed=2)
    assert header(written) == ["snapy: updating snapshots (SNAPSHOT_UPDATE, from environment)"]
    written.stdout.fnmatch_lines(["3 snapshots generated."])
    ambr = (project.path / "__snapshots__" / "test_labels.ambr").read_text()
    assert "# name: TestLabels.test_labels\n" in ambr
    assert "# name: TestLabels.test_labels[extra]\n" in ambr
    assert "# name: test_with_syrupy\n" in ambr

    monkeypatch.setenv("SNAPSHOT_UPDATE", "0")
    passed = project.runpytest_subprocess()
    passed.assert_outcomes(passed=2)
    assert header(passed) == []
    passed.stdout.fnmatch_lines(["3 snapshots passed."])


def test_the_header_says_when_snapshot_update_is_given(project: pytest.Pytester) -> None:
    project.makepyfile(test_labels=SNAPSHOTS)
    result = project.runpytest_subprocess("--snapshot-update")
    result.assert_outcomes(passed=2)
    assert header(result) == ["snapy: updating snapshots (--snapshot-update)"]


def test_syrupy_reports_and_deletes_unused_snap_test_case_snapshots(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(test_labels=SNAPSHOTS)
    project.runpytest_subprocess("--snapshot-update").assert_outcomes(passed=2)
    project.makepyfile(
        test_labels=SNAPSHOTS.replace('self.assertMatchSnapshot("named", name="extra")', "")
    )
    result = project.runpytest_subprocess()
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["2 snapshots passed. 1 snapshot unused."])
    result = project.runpytest_subprocess("--snapshot-update")
    result.stdout.fnmatch_lines(["2 snapshots passed. 1 unused snapshot deleted."])
    ambr = (project.path / "__snapshots__" / "test_labels.ambr").read_text()
    assert "[extra]" not in ambr and "# name: TestLabels.test_labels\n" in ambr


def test_a_snapshot_file_of_another_amber_version_says_to_regenerate_it(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(test_labels=SNAPSHOTS)
    project.runpytest_subprocess("--snapshot-update").assert_outcomes(passed=2)
    ambr = project.path / "__snapshots__" / "test_labels.ambr"
    ambr.write_text(ambr.read_text().replace("version: 1", "version: 0"))
    result = project.runpytest_subprocess()
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            f"E * AssertionError: snapshot 'TestLabels.test_labels' in {str(ambr)!r} was written "
            "by another version of the amber format (this syrupy writes version 1); run with "
            "--snapshot-update (or SNAPSHOT_UPDATE=1) to regenerate it"
        ]
    )
    project.runpytest_subprocess("--snapshot-update").assert_outcomes(passed=2)
    assert ambr.read_text().startswith("# serializer version: 1\n")
    project.runpytest_subprocess().assert_outcomes(passed=2)


# -- the marker and the fixture --------------------------------------------------------------------

MARKED = """
    import uuid

    import pytest
    from app import invoices, mail, rates

    pytestmark = pytest.mark.side_effects("app.rates.fetch_rate")


    @pytest.mark.side_effects("app.mail.send", ignore_args=["msg_id"])
    def test_notify():
        assert invoices.total(10, "GBP") == 8.7
        assert invoices.notify("ann@example.com", str(uuid.uuid4())) == "sent to ann@example.com"


    @pytest.mark.side_effects("app.mail.send", ignore_args=["msg_id"])
    class TestGroup:
        def test_in_class(self):
            sent = invoices.notify("bob@example.com", str(uuid.uuid4()))
            assert sent == "sent to bob@example.com"
            assert rates.fetch_rate.__name__ == "fetch_rate_mock"


    def test_module_marker_only():
        assert rates.fetch_rate.__name__ == "fetch_rate_mock"
        assert mail.send.__name__ == "send"
"""
RESTORED = """
    from app import mail, rates


    def test_restored():
        assert (rates.fetch_rate.__name__, mail.send.__name__) == ("fetch_rate", "send")
"""


def test_the_marker_patches_its_targets_for_the_whole_test(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.makepyfile(test_marked=MARKED, test_restored=RESTORED)
    monkeypatch.setenv("SIDE_EFFECT_CAPTURE", "1")
    project.runpytest_subprocess("-p", "no:randomly").assert_outcomes(passed=4)
    assert real_calls(project) == [
        "fetch_rate EUR GBP",
        "send ann@example.com",
        "send bob@example.com",
    ]
    folders = sorted({path.rsplit("/", 1)[0] for path in recordings(project)})
    assert folders == [
        "test_marked/TestGroup.test_in_class/app.mail.send",
        "test_marked/test_notify/app.mail.send",
        "test_marked/test_notify/app.rates.fetch_rate",
    ]

    monkeypatch.delenv("SIDE_EFFECT_CAPTURE")
    monkeypatch.setenv("APP_OFFLINE", "1")
    replayed = project.runpytest_subprocess()
    replayed.assert_outcomes(passed=4)  # new msg_ids: ignored, so the recordings still match
    assert real_calls(project) == []


def test_the_marker_is_registered(project: pytest.Pytester) -> None:
    project.makepyfile(test_marked=MARKED)
    result = project.runpytest("--markers")
    result.stdout.fnmatch_lines(
        [
            "@pytest.mark.side_effects(*targets, **options): patch each target with recorded "
            "responses for the whole test (options as for snapy.replaying)"
        ]
    )
    collected = project.runpytest("--strict-markers", "--collect-only", "-q")
    assert collected.ret == pytest.ExitCode.OK


FIXTURE = """
    import os

    import pytest
    from app import invoices, mail, rates

    SOURCE = os.environ.get("EXPECTED_SOURCE", "replayed")


    def test_replay_returns_the_mock(side_effects):
        fetch = side_effects.replay("app.rates.fetch_rate")
        assert rates.fetch_rate is fetch and fetch.__name__ == "fetch_rate_mock"
        assert invoices.total(100, "USD") == 108.0
        assert [call.source for call in fetch.calls] == [SOURCE]


    @pytest.mark.side_effects("app.mail.send")
    def test_fails_with_patches_on(side_effects):
        side_effects.replay("app.rates.fetch_rate")
        assert mail.send.__name__ == "send_mock"
        assert invoices.total(1, "GBP") == 0, "boom"


    def test_restored_after_the_failure():
        assert (rates.fetch_rate.__name__, mail.send.__name__) == ("fetch_rate", "send")
"""


def test_the_fixture_replays_and_patches_are_undone_after_a_failure(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.makepyfile(test_fixture=FIXTURE)
    monkeypatch.setenv("SIDE_EFFECT_CAPTURE", "1")
    monkeypatch.setenv("EXPECTED_SOURCE", "recorded")
    project.runpytest_subprocess().assert_outcomes(passed=2, failed=1)
    assert real_calls(project) == ["fetch_rate EUR GBP", "fetch_rate EUR USD"]

    for name in ("SIDE_EFFECT_CAPTURE", "EXPECTED_SOURCE"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("APP_OFFLINE", "1")
    result = project.runpytest_subprocess()
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["E * AssertionError: boom"])
    assert real_calls(project) == []


# -- unused recordings -----------------------------------------------------------------------------

UNUSED = """
    import os

    import pytest
    from app import invoices

    QUOTES = os.environ.get("QUOTES", "USD,GBP").split(",")
    pytestmark = pytest.mark.side_effects("app.rates.fetch_rate")


    def test_quotes():
        for quote in QUOTES:
            invoices.total(1, quote)


    @pytest.mark.parametrize("quote", ["USD", "GBP"])
    def test_param(quote):
        if quote in QUOTES:
            invoices.total(2, quote)


    def test_deselected():
        for quote in QUOTES:
            invoices.total(3, quote)


    def test_fails():
        for quote in QUOTES:
            invoices.total(4, quote)
        assert not os.environ.get("FAIL"), "failed on purpose"
"""
STALE = [
    f"__recordings__/test_unused/test_param_GBP_-*/app.rates.fetch_rate/0000-{GBP}.bundle",
    f"__recordings__/test_unused/test_quotes/app.rates.fetch_rate/0001-{GBP}.bundle",
]


def record_unused(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, *xdist: str
) -> list[str]:
    project.makepyfile(test_unused=UNUSED)
    monkeypatch.setenv("SIDE_EFFECT_CAPTURE", "1")
    recorded = project.runpytest_subprocess(*xdist)
    recorded.assert_outcomes(passed=5)
    assert header(recorded) == [RECORDING_HEADER.format("environment")]
    monkeypatch.delenv("SIDE_EFFECT_CAPTURE")
    every = recordings(project)
    assert len(every) == 8
    # Now the tests no longer ask for GBP: those recordings are stale.
    monkeypatch.setenv("QUOTES", "USD")
    monkeypatch.setenv("APP_OFFLINE", "1")
    return every


@pytest.mark.parametrize("xdist", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_unused_recordings_of_tests_that_ran_are_reported(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, xdist: tuple[str, ...]
) -> None:
    every = record_unused(project, monkeypatch, *xdist)
    monkeypatch.setenv("FAIL", "1")
    result = project.runpytest_subprocess(*xdist, "-k", "not deselected")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*= snapy =*",
            "2 recording(s) not used by the tests that ran:",
            *(f"  {line}" for line in STALE),
            "delete them with --snapy-unused=prune (or re-record with SIDE_EFFECT_CAPTURE=all)",
        ],
        consecutive=True,
    )
    # a deselected test did not run and a failed test may not have made all its calls
    result.stdout.no_fnmatch_line("*test_deselected*")
    result.stdout.no_fnmatch_line("  __recordings__/test_unused/test_fails/*")
    assert recordings(project) == every


@pytest.mark.parametrize("xdist", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_prune_deletes_them_and_nothing_else(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, xdist: tuple[str, ...]
) -> None:
    every = record_unused(project, monkeypatch, *xdist)
    monkeypatch.setenv("FAIL", "1")
    result = project.runpytest_subprocess(*xdist, "--snapy-unused=prune", "-k", "not deselected")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        ["2 recording(s) deleted:", *(f"  {line}" for line in STALE)], consecutive=True
    )
    result.stdout.no_fnmatch_line("delete them with*")
    left = recordings(project)
    assert [path for path in every if path not in left] == [
        path for path in every if path.endswith(GBP + ".bundle") and "/test_param_" in path
    ] + [f"test_unused/test_quotes/app.rates.fetch_rate/0001-{GBP}.bundle"]
    root = project.path / "__recordings__" / "test_unused"
    assert not list(root.glob("test_param_GBP_*"))  # its only recording went, and the folder
    index = (root / "test_quotes" / "app.rates.fetch_rate" / "index.json").read_text()
    assert f"0000-{USD}.bundle" in index and GBP not in index

    monkeypatch.delenv("FAIL")
    again = project.runpytest_subprocess(*xdist, "-k", "not deselected and not fails")
    again.assert_outcomes(passed=3)
    again.stdout.no_fnmatch_line("*= snapy =*")


def test_fail_fails_the_run(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    every = record_unused(project, monkeypatch)
    result = project.runpytest_subprocess("--snapy-unused=fail", "-k", "quotes")
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "1 recording(s) not used by the tests that ran:",
            f"  {STALE[1]}",
            "delete them with --snapy-unused=prune (or re-record with SIDE_EFFECT_CAPTURE=all)",
            "the run fails because of them (--snapy-unused=fail)",
        ],
        consecutive=True,
    )
    assert recordings(project) == every
    clean = project.runpytest_subprocess("--snapy-unused=fail", "-k", "USD")
    clean.assert_outcomes(passed=1)
    assert clean.ret == pytest.ExitCode.OK


def test_mode_all_re_records_and_prunes_targets_a_test_no_longer_calls(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    both = """
        import pytest
        from app import invoices


        @pytest.mark.side_effects("app.rates.fetch_rate", "app.mail.send")
        def test_invoice():
            assert invoices.total(1, "USD") == 1.08
            invoices.notify("ann@example.com", "m-1")
    """
    project.makepyfile(test_all=both)
    monkeypatch.setenv("SIDE_EFFECT_CAPTURE", "1")
    project.runpytest_subprocess().assert_outcomes(passed=1)
    monkeypatch.delenv("SIDE_EFFECT_CAPTURE")
    rate = (
        project.path
        / f"__recordings__/test_all/test_invoice/app.rates.fetch_rate/0000-{USD}.bundle"
    )
    before = rate.read_bytes()
    assert len(recordings(project)) == 2
    real_calls(project)

    # The test no longer patches app.mail.send: no mock resets its recordings, so they are
    # unused, and mode all prunes them.
    project.makepyfile(
        test_all=both.replace(', "app.mail.send"', "").replace(
            '    invoices.notify("ann@example.com", "m-1")\n', ""
        )
    )
    result = project.runpytest_subprocess("--snapy-record=all")
    result.assert_outcomes(passed=1)
    assert header(result) == ["snapy: re-recording every call (mode all, from --snapy-record)"]
    result.stdout.fnmatch_lines(
        [
            "1 recording(s) deleted:",
            "  __recordings__/test_all/test_invoice/app.mail.send/0000-*.bundle",
        ]
    )
    assert real_calls(project) == ["fetch_rate EUR USD"]
    assert recordings(project) == [f"test_all/test_invoice/app.rates.fetch_rate/0000-{USD}.bundle"]
    assert rate.read_bytes() == before  # the same call re-recorded writes the same bytes
    assert not (project.path / "__recordings__/test_all/test_invoice/app.mail.send").exists()


def test_snap_test_case_recordings_under_pytest_follow_its_names(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.makepyfile(
        test_cases="""
        import snapy
        from app import invoices


        class TestInvoices(snapy.SnapTestCase):
            side_effects = ["app.rates.fetch_rate"]

            def test_total(self):
                self.assertMatchSnapshot(invoices.total(100, "USD"))
                self.assertMatchSnapshot(invoices.total(10, "GBP"), name="gbp")


        class TestCustomId(snapy.SnapTestCase):
            side_effects = ["app.rates.fetch_rate"]

            def snapy_test_id(self):
                return "custom::shared"

            def test_usd(self):
                assert invoices.total(1, "USD") == 1.08
        """
    )
    monkeypatch.setenv("SIDE_EFFECT_CAPTURE", "1")
    recorded = project.runpytest_subprocess("--snapshot-update")
    recorded.assert_outcomes(passed=2)
    recorded.stdout.fnmatch_lines(["2 snapshots generated."])
    assert recordings(project) == [
        f"custom/shared/app.rates.fetch_rate/0000-{USD}.bundle",
        f"test_cases/TestInvoices.test_total/app.rates.fetch_rate/0000-{USD}.bundle",
        f"test_cases/TestInvoices.test_total/app.rates.fetch_rate/0001-{GBP}.bundle",
    ]
    monkeypatch.delenv("SIDE_EFFECT_CAPTURE")
    monkeypatch.setenv("APP_OFFLINE", "1")
    replayed = project.runpytest_subprocess()
    replayed.assert_outcomes(passed=2)
    replayed.stdout.fnmatch_lines(["2 snapshots passed."])
    replayed.stdout.no_fnmatch_line("*= snapy =*")

    root = project.path / "__recordings__"
    shutil.copy(
        root / f"test_cases/TestInvoices.test_total/app.rates.fetch_rate/0001-{GBP}.bundle",
        root / f"custom/shared/app.rates.fetch_rate/0001-{GBP}.bundle",
    )
    stale = project.runpytest_subprocess()
    stale.assert_outcomes(passed=2)
    stale.stdout.fnmatch_lines(
        [
            "1 recording(s) not used by the tests that ran:",
            f"  __recordings__/custom/shared/app.rates.fetch_rate/0001-{GBP}.bundle",
        ],
        consecutive=True,
    )


# -- production captures as test cases -------------------------------------------------------------

PRICING = """
    import snapy


    @snapy.capture(retention="inf")
    def quote(sku, quantity=1):
        return {"sku": sku, "total": quantity * PRICE}


    PRICE = 250
"""


def test_parametrize_captures_makes_one_case_per_capture(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(project, {"app/pricing.py": PRICING})
    monkeypatch.setenv("SNAPY_CAPTURE_ENABLED", "1")
    monkeypatch.setenv("SNAPY_CAPTURE_DIR", "captures")
    made = project.run(
        sys.executable,
        "-c",
        "from app import pricing; pricing.quote('apple', 2); pricing.quote('pear')",
    )
    assert made.ret == 0, made.stderr.str()
    monkeypatch.delenv("SNAPY_CAPTURE_ENABLED")
    keys = sorted(
        p.name.rpartition("-")[2][:12] for p in (project.path / "captures").rglob("*.bundle")
    )
    assert len(keys) == 2

    project.makepyfile(
        test_captures="""
        import snapy


        @snapy.parametrize_captures("app.pricing.quote", path="captures")
        def test_quote_replays(capture):
            capture.assert_replays()
        """
    )
    result = project.runpytest_subprocess("-v")
    result.assert_outcomes(passed=2)
    ran = re.compile(r"test_captures\.py::test_quote_replays\[([0-9a-f]{12})\] PASSED")
    assert sorted(m[1] for line in result.outlines if (m := ran.match(line))) == keys

    write(project, {"app/pricing.py": PRICING.replace("PRICE = 250", "PRICE = 300")})
    changed = project.runpytest_subprocess()
    changed.assert_outcomes(failed=2)
    changed.stdout.fnmatch_lines(
        [
            "E * AssertionError: replaying capture * of app.pricing.quote returned another "
            "result (captured -> now):",
            "E *result?'total'?: 500 -> 600",
        ]
    )


def test_collection_never_walks_the_recordings_folder(project: pytest.Pytester) -> None:
    project.makepyfile(test_one="def test_one():\n    pass\n")
    trap = project.path / "__recordings__" / "test_one" / "test_trap.py"
    trap.parent.mkdir(parents=True)
    trap.write_text("def test_trap():\n    raise AssertionError('collected')\n")
    result = project.runpytest_subprocess("-p", "no:randomly")
    result.assert_outcomes(passed=1)
