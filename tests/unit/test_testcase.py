"""`SnapTestCase`, `SnapMixin` and `AsyncSnapTestCase` run in this process, as `unittest` runs them.

Each test class is defined inside its test (pytest would collect it otherwise) and run with a
`unittest.TestResult`; its files go to `tmp_path` through the names a subclass may override.
"""

from __future__ import annotations

import builtins
import unittest
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

import snapy
from snapy import _replay, _snapshot

TESTS = Path(__file__).resolve().parents[1]
SettingsFactory = Callable[..., snapy.Settings]


@pytest.fixture
def app(snapy_settings: SettingsFactory, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.syspath_prepend(str(TESTS))
    # Stores are shared per process and folder; a fresh dict lets `new_run()` forget them.
    monkeypatch.setattr(_replay, "_stores", {})
    monkeypatch.setattr(_snapshot, "_announced", True)
    from fakeapp import rates

    rates.reset()
    return rates


@pytest.fixture
def billing(app: Any) -> Any:
    from fakeapp import billing

    return billing


def new_run() -> None:
    """What a new `python -m unittest` process starts from: indexes written, nothing cached."""
    snapy.flush_recordings()
    _replay._stores.clear()


def run(*classes: type[unittest.TestCase]) -> unittest.TestResult:
    loader = unittest.TestLoader()
    suite = unittest.TestSuite(loader.loadTestsFromTestCase(c) for c in classes)
    result = unittest.TestResult()
    suite.run(result)
    return result


def report(result: unittest.TestResult) -> str:
    return "\n".join(text for _, text in result.failures + result.errors)


def passed(result: unittest.TestResult, count: int) -> bool:
    assert result.testsRun == count, report(result)
    assert result.wasSuccessful(), report(result)
    return True


def bundles(root: Path) -> list[str]:
    """Recording files under `root`, relative to it."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.bundle"))


# -- side effects ------------------------------------------------------------------------------


def test_side_effects_are_recorded_then_replayed_for_every_test(
    snapy_settings: SettingsFactory, app: Any, billing: Any, tmp_path: Path
) -> None:
    class TestInvoices(snapy.SnapTestCase):
        __qualname__ = "TestInvoices"
        side_effects = ["fakeapp.billing.fetch_rate"]  # noqa: RUF012 (the documented form)

        def snapy_test_file(self) -> Path:
            return tmp_path / "test_invoices.py"

        def test_eur(self) -> None:
            self.assertEqual(billing.invoice_total("EUR", [1.0, 2.0]), 3.3)

        def test_gbp(self) -> None:
            self.assertEqual(billing.invoice_total("GBP", [4.0]), 5.0)

    real = billing.fetch_rate
    snapy_settings(SIDE_EFFECT_CAPTURE="1")
    assert passed(run(TestInvoices), 2)
    assert app.REAL_CALLS["fetch_rate"] == 3
    folder = "__recordings__/test_invoices/TestInvoices.{}/fakeapp.rates.fetch_rate/{}"
    recorded = bundles(tmp_path)
    assert len(recorded) == 3
    assert recorded[2].startswith(folder.format("test_gbp", "0000-"))
    assert (tmp_path / folder.format("test_eur", "index.json")).is_file()

    new_run()
    snapy_settings()
    assert passed(run(TestInvoices), 2)
    assert app.REAL_CALLS["fetch_rate"] == 3  # replayed: the real function was not called
    assert bundles(tmp_path) == recorded
    assert billing.fetch_rate is real


def test_a_call_without_a_recording_fails_the_test(
    snapy_settings: SettingsFactory, app: Any, billing: Any, tmp_path: Path
) -> None:
    class TestInvoices(snapy.SnapTestCase):
        side_effects = ("fakeapp.billing.fetch_rate",)

        def snapy_recordings_dir(self) -> Path:
            return tmp_path / "recordings"

        def test_eur(self) -> None:
            billing.invoice_total("EUR", [1.0])

    result = run(TestInvoices)
    assert len(result.failures) == 1 and not result.errors  # a miss is an AssertionError
    assert "snapy._errors.RecordingNotFoundError: no recording to replay" in report(result)
    assert app.REAL_CALLS["fetch_rate"] == 0


def test_a_test_run_twice_in_one_process_replays_from_its_first_recording(
    snapy_settings: SettingsFactory, app: Any, tmp_path: Path
) -> None:
    class TestClock(snapy.SnapTestCase):
        side_effects = ["fakeapp.rates.tick"]  # noqa: RUF012 (the documented form)

        def snapy_test_file(self) -> Path:
            return tmp_path / "test_clock.py"

        def test_ticks(self) -> None:
            self.assertEqual([app.tick(), app.tick()], [1, 2])

    snapy_settings(SIDE_EFFECT_CAPTURE="1")
    assert passed(run(TestClock), 1)
    snapy_settings()
    # Same process, same store: the second and third runs start from the first recording
    # again, not where the previous run stopped (which gave [2, 2]).
    assert passed(run(TestClock), 1)
    assert passed(run(TestClock), 1)
    assert app.REAL_CALLS["tick"] == 2


def test_a_miss_under_unittest_prints_the_command_that_records_it(
    app: Any, billing: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class TestInvoices(snapy.SnapTestCase):
        side_effects = ("fakeapp.billing.fetch_rate",)

        def snapy_recordings_dir(self) -> Path:
            return tmp_path / "recordings"

        def test_eur(self) -> None:
            billing.invoice_total("EUR", [1.0])

    monkeypatch.delenv("PYTEST_CURRENT_TEST")  # as under python -m unittest
    result = run(TestInvoices)
    expected = f"SIDE_EFFECT_CAPTURE=1 python -m unittest {__name__}.{TestInvoices.__qualname__}"
    assert f"  to record it: {expected}.test_eur" in report(result)


def test_side_effects_take_the_options_of_replaying(
    snapy_settings: SettingsFactory, app: Any, tmp_path: Path
) -> None:
    class TestPayments(snapy.SnapTestCase):
        side_effects = (("fakeapp.rates.charge", {"ignore_args": ["request_id"]}),)
        request_id = 1

        def snapy_recordings_dir(self) -> Path:
            return tmp_path

        def test_charge(self) -> None:
            cart = {"items": [{"qty": 2, "price": 5}]}
            result = app.charge(cart, "sk_live_123", request_id=self.request_id)
            self.assertEqual(result, {"status": "ok", "total": 10, "charged_with": "sk"})

    snapy_settings(SIDE_EFFECT_CAPTURE="new")
    assert passed(run(TestPayments), 1)
    new_run()
    snapy_settings()
    TestPayments.request_id = 2  # left out of the key: the recording still matches
    assert passed(run(TestPayments), 1)
    assert app.REAL_CALLS["charge"] == 1
    assert b"sk_live_123" not in b"".join(p.read_bytes() for p in tmp_path.rglob("*.bundle"))


@pytest.mark.parametrize(
    "item",
    [("fakeapp.rates.fetch_rate", ["ignore_args"]), ("fakeapp.rates.fetch_rate",), 42],
)
def test_a_malformed_side_effect_is_a_config_error(app: Any, tmp_path: Path, item: Any) -> None:
    class TestBad(snapy.SnapTestCase):
        side_effects = (item,)

        def snapy_recordings_dir(self) -> Path:
            return tmp_path

        def test_it(self) -> None:
            pass

    result = run(TestBad)
    assert len(result.errors) == 1
    assert (
        f"snapy._errors.ConfigError: side_effects={item!r} is not valid: use a dotted name or "
        "(name, options), e.g. ('app.mail.send', {'ignore_args': ['msg_id']})"
    ) in report(result)


def test_replay_patches_one_more_target_and_returns_the_mock(
    snapy_settings: SettingsFactory, app: Any, tmp_path: Path
) -> None:
    seen: list[Any] = []

    class TestClock(snapy.SnapTestCase):
        def snapy_recordings_dir(self) -> Path:
            return tmp_path

        def test_ticks(self) -> None:
            tick = self.replay("fakeapp.rates.tick", mode="new")
            seen.append(tick)
            self.assertIs(app.tick, tick)
            self.assertEqual([app.tick(), app.tick()], [1, 2])
            self.assertEqual([c.source for c in tick.calls], ["recorded", "recorded"])

    class TestClockReplayed(TestClock):
        def test_ticks(self) -> None:
            tick = self.replay(
                "fakeapp.rates.tick", test_id=TestClock("test_ticks").snapy_test_id()
            )
            self.assertEqual([app.tick(), app.tick(), app.tick()], [1, 2, 2])
            self.assertEqual(tick.__name__, "tick_mock")
            self.assertEqual([c.source for c in tick.calls], ["replayed"] * 3)

    real = app.tick
    assert passed(run(TestClock), 1)
    new_run()
    assert passed(run(TestClockReplayed), 1)
    assert app.tick is real and seen[0] is not real
    assert app.REAL_CALLS["tick"] == 2


# -- patches are undone ------------------------------------------------------------------------


def test_patches_are_undone_after_a_failure_an_error_and_a_failing_set_up(
    app: Any, billing: Any, tmp_path: Path
) -> None:
    originals = (app.fetch_rate, app.tick, billing.fetch_rate, vars(app.Account)["open_for"])
    during: list[tuple[Any, ...]] = []

    class TestBroken(snapy.SnapTestCase):
        side_effects = (
            "fakeapp.rates.fetch_rate",
            "fakeapp.billing.fetch_rate",
            "fakeapp.rates.Account.open_for",
        )

        def snapy_recordings_dir(self) -> Path:
            return tmp_path

        def test_fails(self) -> None:
            self.replay("fakeapp.rates.tick")
            during.append(
                (app.fetch_rate, app.tick, billing.fetch_rate, vars(app.Account)["open_for"])
            )
            self.fail("boom")

        def test_errors(self) -> None:
            self.replay("fakeapp.rates.tick")
            raise RuntimeError("crash")

        def test_misses(self) -> None:
            app.fetch_rate("EUR")

    class TestBadSetUp(TestBroken):
        side_effects = ("fakeapp.rates.fetch_rate", "fakeapp.rates.no_such_function")

        def test_never_runs(self) -> None:
            during.append(("ran",))

    class TestOwnSetUpFails(TestBroken):
        def setUp(self) -> None:
            super().setUp()
            raise RuntimeError("set-up broke after the patches")

        def test_never_runs(self) -> None:
            during.append(("ran",))

    result = run(TestBroken, TestBadSetUp, TestOwnSetUpFails)
    assert (
        app.fetch_rate,
        app.tick,
        billing.fetch_rate,
        vars(app.Account)["open_for"],
    ) == originals
    assert during and all(patched is not real for patched, real in zip(during[0], originals))
    assert len(during) == 1
    text = report(result)
    assert "AssertionError: boom" in text and "RuntimeError: crash" in text
    assert "TargetNotFoundError" in text and "set-up broke after the patches" in text
    assert "RecordingNotFoundError" in text
    assert app.REAL_CALLS["fetch_rate"] == 0


# -- snapshots -----------------------------------------------------------------------------------


def test_assert_match_snapshot_writes_and_reads_the_amber_file(
    snapy_settings: SettingsFactory, app: Any, tmp_path: Path
) -> None:
    from syrupy.filters import props

    class TestInvoices(snapy.SnapTestCase):
        __qualname__ = "TestInvoices"

        def snapy_test_file(self) -> Path:
            return tmp_path / "test_invoices.py"

        def test_total(self) -> None:
            self.assertMatchSnapshot({"id": 7, "total": 3.3}, exclude=props("id"))
            self.assertMatchSnapshot("named", name="eur")
            self.assertMatchSnapshot("third")

    ambr = tmp_path / "__snapshots__" / "test_invoices.ambr"
    missing = run(TestInvoices)
    assert len(missing.failures) == 1
    assert (
        f"AssertionError: snapshot 'TestInvoices.test_total' does not exist in {str(ambr)!r}; "
        "run with SNAPSHOT_UPDATE=1 to write it"
    ) in report(missing)
    assert not ambr.exists()

    snapy_settings(SNAPSHOT_UPDATE="1")
    assert passed(run(TestInvoices), 1)
    assert ambr.read_text() == (
        "# serializer version: 1\n"
        "# name: TestInvoices.test_total\n  dict({\n    'total': 3.3,\n  })\n# ---\n"
        "# name: TestInvoices.test_total.2\n  'third'\n# ---\n"
        "# name: TestInvoices.test_total[eur]\n  'named'\n# ---\n"
    )
    snapy_settings()
    assert passed(run(TestInvoices), 1)


def test_a_changed_value_fails_with_a_diff(
    snapy_settings: SettingsFactory, app: Any, tmp_path: Path
) -> None:
    values = [["a", "b"]]

    class TestList(snapy.SnapTestCase):
        __qualname__ = "TestList"

        def snapy_test_file(self) -> Path:
            return tmp_path / "test_list.py"

        def test_items(self) -> None:
            self.assertMatchSnapshot(values[0])

    snapy_settings(SNAPSHOT_UPDATE="1")
    assert passed(run(TestList), 1)
    snapy_settings()
    values[0] = ["a", "c"]
    result = run(TestList)
    assert len(result.failures) == 1
    assert (
        "AssertionError: value does not match snapshot 'TestList.test_items' in "
        f"{str(tmp_path / '__snapshots__' / 'test_list.ambr')!r} "
        "(- snapshot, + value; SNAPSHOT_UPDATE=1 updates it):\n"
        "@@ -1,4 +1,4 @@\n list([\n   'a',\n-  'b',\n+  'c',\n ])\n"
    ) in report(result)


def test_snapshots_are_written_with_the_side_effect_patches_paused(
    snapy_settings: SettingsFactory, app: Any, tmp_path: Path
) -> None:
    # The amber file is found with `Path.is_file` and its folder made with `Path.mkdir`: with
    # no recordings, a patched one would raise RecordingNotFoundError in the snapshot write.
    real = (Path.is_file, Path.mkdir)
    inside: list[Any] = []

    class TestFiles(snapy.SnapTestCase):
        side_effects = ("pathlib.Path.is_file", "pathlib.Path.mkdir", "fakeapp.rates.fetch_rate")

        def snapy_test_file(self) -> Path:
            return tmp_path / "test_files.py"

        def test_snapshot(self) -> None:
            patched = (Path.is_file, Path.mkdir, app.fetch_rate)
            self.assertEqual(patched[0].__name__, "is_file_mock")
            with self.snapy_paused():
                inside.append((Path.is_file, Path.mkdir, app.fetch_rate.__name__))
            self.assertMatchSnapshot({"rates": "patched"})
            self.assertMatchSnapshot("again")
            self.assertEqual((Path.is_file, Path.mkdir, app.fetch_rate), patched)

    for update in ("1", "0"):  # write, then read
        snapy_settings(SNAPSHOT_UPDATE=update)
        assert passed(run(TestFiles), 1)
    assert inside == [(*real, "fetch_rate")] * 2
    assert (Path.is_file, Path.mkdir) == real
    assert "'rates': 'patched'" in (tmp_path / "__snapshots__" / "test_files.ambr").read_text()


def test_a_snapshot_assertion_in_a_test_that_patches_open(
    snapy_settings: SettingsFactory, app: Any, tmp_path: Path
) -> None:
    real_open = builtins.open

    class TestOpen(snapy.SnapTestCase):
        side_effects = ("builtins.open",)

        def snapy_test_file(self) -> Path:
            return tmp_path / "test_open.py"

        def test_snapshot(self) -> None:
            self.assertEqual(builtins.open.__name__, "open_mock")
            self.assertMatchSnapshot("written with the real open")
            self.assertEqual(builtins.open.__name__, "open_mock")

    for update in ("1", "0"):
        snapy_settings(SNAPSHOT_UPDATE=update)
        assert passed(run(TestOpen), 1)
    assert builtins.open is real_open


def test_snapy_mixin_works_with_another_test_case_base(
    snapy_settings: SettingsFactory, app: Any, tmp_path: Path
) -> None:
    events: list[str] = []

    class DatabaseTestCase(unittest.TestCase):
        def setUp(self) -> None:
            super().setUp()
            events.append("database ready")
            self.addCleanup(events.append, "database closed")

    class TestAccounts(snapy.SnapMixin, DatabaseTestCase):
        __qualname__ = "TestAccounts"
        side_effects = ("fakeapp.rates.Account.balance",)

        def snapy_test_file(self) -> Path:
            return tmp_path / "test_accounts.py"

        def test_balance(self) -> None:
            events.append("test")
            self.assertEqual(app.Account("ann").balance("GBP"), "ann: 100 GBP")
            self.assertMatchSnapshot(app.Account("bob").balance())

    snapy_settings(SIDE_EFFECT_CAPTURE="1", SNAPSHOT_UPDATE="1")
    assert passed(run(TestAccounts), 1)
    new_run()
    snapy_settings()
    assert passed(run(TestAccounts), 1)
    assert app.REAL_CALLS["balance"] == 2
    assert events == ["database ready", "test", "database closed"] * 2
    assert "balance" in vars(app.Account) and "balance_mock" not in repr(app.Account.balance)


def test_async_snap_test_case(snapy_settings: SettingsFactory, app: Any, tmp_path: Path) -> None:
    class TestAsyncRates(snapy.AsyncSnapTestCase):
        __qualname__ = "TestAsyncRates"
        side_effects = ("fakeapp.rates.fetch_async",)

        def snapy_test_file(self) -> Path:
            return tmp_path / "test_async.py"

        async def asyncSetUp(self) -> None:
            self.rate = await app.fetch_async("GBP")

        async def test_rates(self) -> None:
            eur = await app.fetch_async("EUR")
            self.assertMatchSnapshot({"EUR": eur, "GBP": self.rate})

        async def test_fails(self) -> None:
            raise AssertionError("async failure")

    real = app.fetch_async
    snapy_settings(SIDE_EFFECT_CAPTURE="1", SNAPSHOT_UPDATE="1")
    result = run(TestAsyncRates)
    assert result.testsRun == 2 and len(result.failures) == 1, report(result)
    assert "async failure" in report(result)
    new_run()
    snapy_settings()
    result = run(TestAsyncRates)
    assert result.testsRun == 2 and len(result.failures) == 1, report(result)
    assert app.REAL_CALLS["fetch_async"] == 3  # two tests' set-up and one test, recorded once
    assert app.fetch_async is real
    assert (
        "# name: TestAsyncRates.test_rates\n"
        in (tmp_path / "__snapshots__" / "test_async.ambr").read_text()
    )


# -- names a subclass may change -----------------------------------------------------------------


class _Named(snapy.SnapTestCase):
    """Not collected as a test: its name does not start with `Test`, and no method runs."""

    __test__ = False

    def test_it(self) -> None:
        pass


def test_default_names_come_from_the_test_file_class_and_method() -> None:
    case = _Named("test_it")
    assert case.snapy_test_file() == Path(__file__).resolve()
    assert case.snapy_recordings_dir() == Path(__file__).resolve().parent / "__recordings__"
    assert case.snapy_test_id() == "test_testcase::_Named.test_it"


def test_recordings_dir_and_test_id_can_be_overridden(
    snapy_settings: SettingsFactory, app: Any, tmp_path: Path
) -> None:
    class TestShared(snapy.SnapTestCase):
        side_effects = ("fakeapp.rates.fetch_rate",)

        def snapy_recordings_dir(self) -> Path:
            return tmp_path / "shared"

        def snapy_test_id(self) -> str:
            return f"rates::{self._testMethodName}"

        def test_one(self) -> None:
            self.assertEqual(app.fetch_rate("EUR", 2.0), 2.2)

        def test_two(self) -> None:
            self.assertEqual(app.fetch_rate("EUR", 2.0), 2.2)

    snapy_settings(SIDE_EFFECT_CAPTURE="1")
    assert passed(run(TestShared), 2)
    assert app.REAL_CALLS["fetch_rate"] == 2
    assert [path.rpartition("-")[0] for path in bundles(tmp_path)] == [
        "shared/rates/test_one/fakeapp.rates.fetch_rate/0000",
        "shared/rates/test_two/fakeapp.rates.fetch_rate/0000",
    ]


# -- production captures -------------------------------------------------------------------------


@snapy.capture(retention="inf")
def quote(sku: str, quantity: int = 1) -> str:
    if quantity < 1:
        raise ValueError("quantity must be positive", quantity)
    return f"{sku}:{quantity * 250}"


def _quote_changed(sku: str, quantity: int = 1) -> str:
    return f"{sku}:{quantity * 300}"


@pytest.fixture
def quotes(captures: Path) -> Iterator[Path]:
    quote("apple", 2)
    quote("pear")
    with pytest.raises(ValueError):
        quote("plum", 0)
    assert snapy.flush_captures()
    yield captures


def captured_case(root: Path, snapshot: bool = False) -> type[unittest.TestCase]:
    class TestQuotes(snapy.SnapTestCase):
        __qualname__ = "TestQuotes"
        counts: ClassVar[list[int]] = []

        def snapy_test_file(self) -> Path:
            return root.parent / "test_quotes.py"

        def test_captures(self) -> None:
            count = self.assertReplaysCaptures(f"{__name__}.quote", path=root, snapshot=snapshot)
            self.counts.append(count)

    return TestQuotes


def test_assert_replays_captures_replays_each_one_in_a_sub_test(quotes: Path) -> None:
    case = captured_case(quotes)
    assert passed(run(case), 1)
    assert case.counts == [3]  # type: ignore[attr-defined]


def test_assert_replays_captures_fails_each_changed_outcome(
    quotes: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(f"{__name__}.quote", _quote_changed)
    result = run(captured_case(quotes))
    keys = [c.key for c in snapy._testcase.captures_of(f"{__name__}.quote", quotes)]
    assert len(result.failures) == 3
    assert sorted(str(test).rpartition(" ")[2] for test, _ in result.failures) == sorted(
        f"(capture={key!r})" for key in keys
    )
    text = report(result)
    assert "returned another result (captured -> now):\n  result: 'apple:500' -> 'apple:600'" in (
        text
    )
    assert (
        f"replaying capture {keys[2]} of {__name__}.quote returned 'plum:0'; the captured call "
        "raised ValueError('quantity must be positive', 0)"
    ) in text


def test_assert_replays_captures_against_snapshots(
    quotes: Path, snapy_settings: SettingsFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    snapy_settings(SNAPSHOT_UPDATE="1", SNAPY_CAPTURE_DIR=str(quotes))
    assert passed(run(captured_case(quotes, snapshot=True)), 1)
    text = (quotes.parent / "__snapshots__" / "test_quotes.ambr").read_text()
    keys = [c.key for c in snapy._testcase.captures_of(f"{__name__}.quote", quotes)]
    for key in keys:
        assert f"# name: TestQuotes.test_captures[{key}]\n" in text
    assert "  dict({\n    'args': tuple(\n      'quantity must be positive',\n" in text
    snapy_settings(SNAPY_CAPTURE_DIR=str(quotes))
    assert passed(run(captured_case(quotes, snapshot=True)), 1)
    monkeypatch.setattr(f"{__name__}.quote", _quote_changed)
    assert len(run(captured_case(quotes, snapshot=True)).failures) == 3


def test_assert_replays_captures_of_a_name_without_captures(quotes: Path) -> None:
    class TestNothing(snapy.SnapTestCase):
        def test_it(self) -> None:
            self.assertReplaysCaptures(f"{__name__}.quotes", path=quotes)

    result = run(TestNothing)
    assert (
        f"CaptureNotFoundError: no capture of '{__name__}.quotes' in {str(quotes)!r}; "
        f"captures exist for: {__name__}.quote;"
    ) in report(result)


def test_parametrize_captures_gives_one_case_per_capture_named_by_its_key(quotes: Path) -> None:
    mark = snapy.parametrize_captures(f"{__name__}.quote", path=quotes)
    assert mark.name == "parametrize"
    argname, params = mark.args
    assert argname == "capture"
    assert [p.id for p in params] == [p.values[0].key[:12] for p in params]
    assert sorted(p.values[0].args for p in params) == [("apple", 2), ("pear", 1), ("plum", 0)]
    renamed = snapy.parametrize_captures(f"{__name__}.quote", path=quotes, argname="stored")
    assert renamed.args[0] == "stored"
