"""`snapy.replaying`: patch a target where it is looked up, in every entry style, and undo it."""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path
from typing import Any

import pytest

import snapy

TEST_ID = "test_patching::test_case"


@pytest.fixture
def billing(app: Any) -> Any:
    from fakeapp import billing

    return billing


def replaying(target: str, root: Path, mode: str, **options: Any) -> snapy.replaying:
    """`snapy.replaying` reading the recordings afresh, as a new test run does."""
    store = snapy.RecordingStore(root)
    return snapy.replaying(target, recordings=store, test_id=TEST_ID, mode=mode, **options)


# -- entry styles ----------------------------------------------------------------------------------


def test_context_manager_patches_and_restores(app: Any, root: Path) -> None:
    original = app.fetch_rate
    with replaying("fakeapp.rates.fetch_rate", root, "new") as fake:
        assert app.fetch_rate is fake
        assert fake.__name__ == "fetch_rate_mock"
        assert fake.__wrapped__ is original
        assert app.fetch_rate("EUR") == 1.1
    assert app.fetch_rate is original
    with replaying("fakeapp.rates.fetch_rate", root, "replay") as fake:
        assert app.fetch_rate("EUR") == 1.1
        assert fake.calls[0].source == "replayed"
    assert app.fetch_rate is original
    assert app.REAL_CALLS["fetch_rate"] == 1


def test_restored_after_an_exception(app: Any, root: Path) -> None:
    original = app.fetch_rate
    with pytest.raises(snapy.RecordingNotFoundError):
        with replaying("fakeapp.rates.fetch_rate", root, "replay"):
            app.fetch_rate("EUR")
    assert app.fetch_rate is original


def test_patched_where_it_is_looked_up(app: Any, billing: Any, root: Path) -> None:
    with replaying("fakeapp.billing.fetch_rate", root, "new"):
        assert billing.invoice_total("EUR", [1.0, 2.0]) == 3.3
    app.RATES["EUR"] = 9.0  # the real lookups would now answer differently
    try:
        with replaying("fakeapp.billing.fetch_rate", root, "replay") as fake:
            assert billing.invoice_total("EUR", [1.0, 2.0]) == 3.3
            assert [c.arguments for c in fake.calls] == [
                {"currency": "EUR", "amount": 1.0},
                {"currency": "EUR", "amount": 2.0},
            ]
        # Patching the defining module does not reach a name imported before the patch.
        with replaying("fakeapp.rates.fetch_rate", root, "replay") as fake:
            assert billing.invoice_total("EUR", [1.0]) == 9.0
            assert fake.calls == []
    finally:
        app.RATES["EUR"] = 1.1
    assert app.REAL_CALLS["fetch_rate"] == 3
    assert billing.fetch_rate is app.fetch_rate


def test_decorator_of_a_sync_function(app: Any, root: Path) -> None:
    original = app.fetch_rate

    @replaying("fakeapp.rates.fetch_rate", root, "new")
    def record() -> tuple[float, bool]:
        """Keeps its own name and doc."""
        return app.fetch_rate("GBP", 2.0), app.fetch_rate is original

    assert record.__name__ == "record"
    assert record.__doc__ == "Keeps its own name and doc."
    assert record() == (2.5, False)
    assert app.fetch_rate is original

    @replaying("fakeapp.rates.fetch_rate", root, "replay")
    def replay(amount: float) -> float:
        return float(app.fetch_rate("GBP", amount))

    assert replay(2.0) == 2.5
    assert replay(amount=2.0) == 2.5
    with pytest.raises(snapy.RecordingNotFoundError):
        replay(3.0)
    assert app.fetch_rate is original
    assert app.REAL_CALLS["fetch_rate"] == 1


def test_decorator_of_an_async_function(app: Any, root: Path) -> None:
    original = app.fetch_async

    @replaying("fakeapp.rates.fetch_async", root, "new")
    async def record(currency: str) -> float:
        return float(await app.fetch_async(currency))

    assert inspect.iscoroutinefunction(record)
    assert asyncio.run(record("GBP")) == 1.25
    assert app.fetch_async is original

    @replaying("fakeapp.rates.fetch_async", root, "replay")
    async def replay(currency: str) -> tuple[float, bool]:
        patched = app.fetch_async is not original
        return float(await app.fetch_async(currency)), patched

    assert inspect.iscoroutinefunction(replay)
    assert asyncio.run(replay("GBP")) == (1.25, True)
    assert app.fetch_async is original
    assert app.REAL_CALLS["fetch_async"] == 1


def test_start_and_stop(app: Any, root: Path) -> None:
    original = app.tick
    patch = replaying("fakeapp.rates.tick", root, "new")
    fake = patch.start()
    assert app.tick is fake
    assert [app.tick(), app.tick()] == [1, 2]
    patch.stop()
    assert app.tick is original
    patch = replaying("fakeapp.rates.tick", root, "replay")
    patch.start()
    app.reset()
    assert [app.tick(), app.tick(), app.tick()] == [1, 2, 2]
    patch.stop()
    assert app.tick is original
    assert app.REAL_CALLS["tick"] == 0


def test_nested_patches_of_one_target_unwind(app: Any, root: Path) -> None:
    original = app.fetch_rate
    outer = replaying("fakeapp.rates.fetch_rate", root, "new")
    first = outer.start()
    second = outer.start()
    assert app.fetch_rate is second
    assert second.__wrapped__ is first
    outer.stop()
    assert app.fetch_rate is first
    outer.stop()
    assert app.fetch_rate is original


def test_colon_separates_module_and_qualname(app: Any, root: Path) -> None:
    with replaying("fakeapp.rates:Account.balance", root, "new"):
        assert app.Account("ann").balance("GBP") == "ann: 100 GBP"
    assert app.REAL_CALLS["balance"] == 1


# -- methods ---------------------------------------------------------------------------------------


def test_instance_method_keeps_the_instance_out_of_the_key(app: Any, root: Path) -> None:
    original = app.Account.__dict__["balance"]
    with replaying("fakeapp.rates.Account.balance", root, "new") as fake:
        assert app.Account("ann").balance("GBP") == "ann: 100 GBP"
        assert fake.calls[0].arguments == {"currency": "GBP"}
    assert app.Account.__dict__["balance"] is original
    with replaying("fakeapp.rates.Account.balance", root, "replay"):
        assert app.Account("bob").balance("GBP") == "ann: 100 GBP"
        assert app.Account("bob").balance(currency="GBP") == "ann: 100 GBP"
    assert app.REAL_CALLS["balance"] == 1
    assert app.Account("bob").balance("GBP") == "bob: 100 GBP"


def test_classmethod_stays_a_classmethod(app: Any, root: Path) -> None:
    original = app.Account.__dict__["open_for"]
    with replaying("fakeapp.rates.Account.open_for", root, "new") as fake:
        assert isinstance(app.Account.__dict__["open_for"], classmethod)
        assert app.Account.open_for("ann") == "fake/ann"
        assert app.Account("x").open_for("bob") == "fake/bob"
        assert fake.__name__ == "open_for_mock"
        assert [c.arguments for c in fake.calls] == [{"owner": "ann"}, {"owner": "bob"}]
    assert app.Account.__dict__["open_for"] is original
    with replaying("fakeapp.rates.Account.open_for", root, "replay"):
        assert app.Account.open_for("ann") == "fake/ann"
        assert app.SavingsAccount.open_for("bob") == "fake/bob"
    assert app.REAL_CALLS["open_for"] == 2


def test_staticmethod_stays_a_staticmethod(app: Any, root: Path) -> None:
    original = app.Account.__dict__["round_amount"]
    with replaying("fakeapp.rates.Account.round_amount", root, "new") as fake:
        assert isinstance(app.Account.__dict__["round_amount"], staticmethod)
        assert app.Account.round_amount(1.23456) == 1.23
        assert app.Account("x").round_amount(1.23456, 3) == 1.235
        assert [c.arguments for c in fake.calls] == [
            {"value": 1.23456, "places": 2},
            {"value": 1.23456, "places": 3},
        ]
    assert app.Account.__dict__["round_amount"] is original
    with replaying("fakeapp.rates.Account.round_amount", root, "replay"):
        assert app.Account.round_amount(1.23456) == 1.23
        assert app.Account("y").round_amount(1.23456, places=3) == 1.235
    assert app.REAL_CALLS["round_amount"] == 2


def test_inherited_method_is_removed_again(app: Any, root: Path) -> None:
    assert "balance" not in vars(app.SavingsAccount)
    patch = replaying("fakeapp.rates.SavingsAccount.balance", root, "new")
    fake = patch.start()
    assert vars(app.SavingsAccount)["balance"] is fake
    assert app.SavingsAccount("sue").balance() == "sue: 100 EUR"
    assert app.Account("ann").balance() == "ann: 100 EUR"  # the base class is not patched
    assert [c.source for c in fake.calls] == ["recorded"]
    patch.stop()
    assert "balance" not in vars(app.SavingsAccount)
    assert app.SavingsAccount.balance is app.Account.balance
    # Recorded under the function's own name, where the base class defines it.
    assert fake.recordings_folder.name == "fakeapp.rates.Account.balance"


def test_inherited_classmethod_is_removed_again(app: Any, root: Path) -> None:
    with replaying("fakeapp.rates.SavingsAccount.open_for", root, "new"):
        assert isinstance(vars(app.SavingsAccount)["open_for"], classmethod)
        assert app.SavingsAccount.open_for("sue") == "fake/sue"
    assert "open_for" not in vars(app.SavingsAccount)


def test_method_of_an_instance_is_removed_again(app: Any, root: Path) -> None:
    app.ACCOUNT = app.Account("ann")
    try:
        with replaying("fakeapp.rates.ACCOUNT.balance", root, "new") as fake:
            assert app.ACCOUNT.balance("GBP") == "ann: 100 GBP"
            assert fake.calls[0].arguments == {"currency": "GBP"}
        assert vars(app.ACCOUNT) == {"owner": "ann"}
        with replaying("fakeapp.rates.ACCOUNT.balance", root, "replay"):
            assert app.ACCOUNT.balance("GBP") == "ann: 100 GBP"
        assert vars(app.ACCOUNT) == {"owner": "ann"}
    finally:
        del app.ACCOUNT
    assert app.REAL_CALLS["balance"] == 1


# -- targets that cannot be patched ----------------------------------------------------------------


def not_found(target: str) -> snapy.TargetNotFoundError:
    with pytest.raises(snapy.TargetNotFoundError) as info:
        snapy.replaying(target, recordings=Path("unused"), test_id=TEST_ID).start()
    return info.value


def test_missing_function_lists_the_nearest_names(app: Any) -> None:
    error = not_found("fakeapp.rates.fetch_rates")
    assert str(error) == (
        "cannot patch 'fakeapp.rates.fetch_rates': module 'fakeapp.rates' has no "
        "'fetch_rates'; names there, nearest first: fetch_rate, fetch_async, stream_rates, "
        "charge, Iterator"
    )
    assert error.target == "fakeapp.rates.fetch_rates"
    assert error.nearest == ["fetch_rate", "fetch_async", "stream_rates", "charge", "Iterator"]
    assert isinstance(error, AttributeError)
    assert isinstance(error, snapy.SnapyError)


def test_missing_method_lists_the_names_of_the_class(app: Any) -> None:
    error = not_found("fakeapp.rates.Account.balanse")
    assert str(error) == (
        "cannot patch 'fakeapp.rates.Account.balanse': class 'fakeapp.rates.Account' has no "
        "'balanse'; names there, nearest first: balance, bank, open_for, round_amount"
    )


def test_missing_class(app: Any) -> None:
    error = not_found("fakeapp.rates.Acount.balance")
    assert str(error).startswith(
        "cannot patch 'fakeapp.rates.Acount.balance': module 'fakeapp.rates' has no 'Acount'; "
        "names there, nearest first: Account, "
    )
    assert error.nearest[0] == "Account"


def test_missing_module(app: Any) -> None:
    error = not_found("fakeapp.ratez.fetch_rate")
    assert str(error) == (
        "cannot patch 'fakeapp.ratez.fetch_rate': module 'fakeapp' has no 'ratez'; "
        "names there, nearest first: rates, mailer, billing"
    )


def test_missing_module_lists_submodules_not_imported_yet(app: Any) -> None:
    import sys

    assert "fakeapp.mailer" not in sys.modules
    error = not_found("fakeapp.mailr.send")
    assert error.nearest[0] == "mailer"
    assert "fakeapp.mailer" not in sys.modules


def test_missing_top_level_package(app: Any) -> None:
    error = not_found("fakap.rates.fetch_rate")
    assert str(error).startswith(
        "cannot patch 'fakap.rates.fetch_rate': sys.path has no 'fakap'; "
        "names there, nearest first: fakeapp, "
    )
    assert len(error.nearest) == 5


def test_a_module_whose_own_import_fails_is_not_a_missing_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "broken_dependency_app.py").write_text("import no_such_dependency_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError) as info:
        snapy.replaying("broken_dependency_app.fn", recordings=tmp_path, test_id=TEST_ID).start()
    assert info.value.name == "no_such_dependency_xyz"


def test_a_target_needs_a_module(app: Any) -> None:
    with pytest.raises(snapy.ConfigError) as info:
        snapy.replaying("fetch_rate", recordings=Path("unused"), test_id=TEST_ID).start()
    assert str(info.value) == (
        "target='fetch_rate' is not valid: use 'package.module.function' or "
        "'package.module:Class.method'"
    )


def test_a_target_that_is_not_a_function(app: Any) -> None:
    with pytest.raises(TypeError) as info:
        snapy.replaying("fakeapp.rates.RATES", recordings=Path("unused"), test_id=TEST_ID).start()
    assert str(info.value) == "cannot replay 'fakeapp.rates.RATES': it is a dict, not a function"
    assert isinstance(app.RATES, dict)
