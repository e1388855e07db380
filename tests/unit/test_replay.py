"""`snapy.mock`: the generated wrapper records real calls and replays them without the real call."""

from __future__ import annotations

import asyncio
import datetime as dt
import decimal
import inspect
import json
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import snapy

TEST_ID = "test_replay::test_case"


def mock(fn: Callable[..., Any], root: Path, mode: str, **options: Any) -> Any:
    """A mock reading the recordings afresh, as a new test run does."""
    return snapy.mock(
        fn, recordings=snapy.RecordingStore(root), test_id=TEST_ID, mode=mode, **options
    )


def bundles(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.bundle"))


def body(path: Path) -> dict[str, Any]:
    """The JSON payload of a recording file (after its one-line envelope)."""
    value: dict[str, Any] = json.loads(path.read_bytes().partition(b"\n")[2])
    return value


# -- the wrapper ------------------------------------------------------------------------------


def test_wrapper_has_the_name_signature_and_function(app: Any, root: Path) -> None:
    fake = mock(app.fetch_rate, root, "replay")
    assert fake.__name__ == "fetch_rate_mock"
    assert fake.__qualname__ == "fetch_rate_mock"
    assert fake.__wrapped__ is app.fetch_rate
    assert inspect.signature(fake) == inspect.signature(app.fetch_rate)
    assert str(inspect.signature(fake)) == "(currency: 'str', amount: 'float' = 1.0) -> 'float'"
    assert fake.__doc__ == app.fetch_rate.__doc__
    assert fake.calls == []
    assert fake.mode is snapy.Mode.REPLAY


def test_wrapper_of_an_async_function_is_a_coroutine_function(app: Any, root: Path) -> None:
    fake = mock(app.fetch_async, root, "replay")
    assert fake.__name__ == "fetch_async_mock"
    assert inspect.iscoroutinefunction(fake)
    assert inspect.signature(fake) == inspect.signature(app.fetch_async)


def test_wrapper_binds_calls_like_the_function(app: Any, root: Path) -> None:
    fake = mock(app.fetch_rate, root, "replay")
    with pytest.raises(TypeError) as info:
        fake()
    assert str(info.value) == "fetch_rate_mock() missing 1 required positional argument: 'currency'"
    with pytest.raises(TypeError) as info:
        fake("EUR", 1.0, 2.0)
    assert str(info.value) == (
        "fetch_rate_mock() takes from 1 to 2 positional arguments but 3 were given"
    )
    with pytest.raises(TypeError) as info:
        fake("EUR", amont=2.0)
    # Python 3.13 adds a suggestion: ". Did you mean 'amount'?"
    assert str(info.value).startswith(
        "fetch_rate_mock() got an unexpected keyword argument 'amont'"
    )
    assert app.REAL_CALLS["fetch_rate"] == 0


def test_records_then_replays_without_the_real_call(app: Any, root: Path) -> None:
    recorder = mock(app.fetch_rate, root, "new")
    assert recorder("EUR", 2.0) == pytest.approx(2.2)
    assert app.REAL_CALLS["fetch_rate"] == 1
    replay = mock(app.fetch_rate, root, "replay")
    # Bound with the signature: positional, keyword and default-filled calls are one call.
    assert replay("EUR", 2.0) == pytest.approx(2.2)
    assert replay(currency="EUR", amount=2.0) == pytest.approx(2.2)
    assert replay(amount=2.0, currency="EUR") == pytest.approx(2.2)
    assert app.REAL_CALLS["fetch_rate"] == 1


def test_defaults_are_part_of_the_call(app: Any, root: Path) -> None:
    mock(app.fetch_rate, root, "new")("GBP")
    replay = mock(app.fetch_rate, root, "replay")
    assert replay("GBP", 1.0) == 1.25
    assert replay("GBP") == 1.25
    with pytest.raises(snapy.RecordingNotFoundError):
        replay("GBP", 2.0)


def every_kind(a: int, /, b: int, *args: int, c: int = 3, **kw: int) -> list[Any]:
    return [a, b, args, c, kw]


def test_every_parameter_kind(root: Path) -> None:
    recorder = snapy.mock(every_kind, recordings=str(root), test_id=TEST_ID, mode="new")
    assert recorder(1, 2, 3, 4, c=5, d=6) == [1, 2, (3, 4), 5, {"d": 6}]
    [path] = bundles(recorder.recordings_folder)
    assert body(path)["kinds"] == {"a": "/", "args": "*", "c": "kw", "kw": "**"}
    replay = mock(every_kind, root, "replay")
    assert replay(1, 2, 3, 4, d=6, c=5) == [1, 2, (3, 4), 5, {"d": 6}]
    assert replay.calls[0].arguments == {"a": 1, "b": 2, "args": (3, 4), "c": 5, "kw": {"d": 6}}
    with pytest.raises(snapy.RecordingNotFoundError) as info:
        replay(1, 2, 3, c=5, d=6)
    assert info.value.nearest[0].differences == ["args[1]: removed 4"]


def test_calls_show_arguments_outcome_value_and_source(app: Any, root: Path) -> None:
    recorder = mock(app.fetch_rate, root, "new")
    recorder("GBP", amount=2.0)
    with pytest.raises(app.GatewayError):
        recorder("XXX")
    replay = mock(app.fetch_rate, root, "replay")
    replay("GBP", 2.0)
    with pytest.raises(app.GatewayError):
        replay("XXX")
    assert recorder.calls[0] == snapy.Call(
        {"currency": "GBP", "amount": 2.0}, "result", 2.5, "recorded"
    )
    assert replay.calls[0] == snapy.Call(
        {"currency": "GBP", "amount": 2.0}, "result", 2.5, "replayed"
    )
    for calls, source in ((recorder.calls, "recorded"), (replay.calls, "replayed")):
        failed = calls[1]
        assert (failed.arguments, failed.outcome, failed.source) == (
            {"currency": "XXX", "amount": 1.0},
            "exception",
            source,
        )
        assert type(failed.value) is app.GatewayError
        assert failed.value.args == (404, "unknown currency XXX")
    assert len(replay.calls) == 2


# -- ordered repeats and exhaustion ------------------------------------------------------------


def test_repeated_calls_replay_in_recorded_order(app: Any, root: Path) -> None:
    recorder = mock(app.tick, root, "new")
    assert [recorder(), recorder(), recorder()] == [1, 2, 3]
    assert len(bundles(recorder.recordings_folder)) == 3
    app.reset()
    replay = mock(app.tick, root, "replay")
    assert [replay(), replay(), replay()] == [1, 2, 3]
    assert app.REAL_CALLS["tick"] == 0


def test_after_the_last_recording_repeat_last_is_the_default(app: Any, root: Path) -> None:
    recorder = mock(app.tick, root, "new")
    recorder()
    recorder()
    replay = mock(app.tick, root, "replay")
    assert [replay() for _ in range(5)] == [1, 2, 2, 2, 2]
    explicit = mock(app.tick, root, "replay", on_exhausted="repeat_last")
    assert [explicit() for _ in range(3)] == [1, 2, 2]
    assert app.REAL_CALLS["tick"] == 2


def test_after_the_last_recording_error_raises(app: Any, root: Path) -> None:
    recorder = mock(app.tick, root, "new")
    recorder()
    recorder()
    replay = mock(app.tick, root, "replay", on_exhausted="error")
    assert [replay(), replay()] == [1, 2]
    with pytest.raises(snapy.RecordingNotFoundError) as info:
        replay()
    assert info.value.kind == "exhausted"
    # A miss does not move the cursor: the next call misses the same way.
    with pytest.raises(snapy.RecordingNotFoundError):
        replay()
    assert app.REAL_CALLS["tick"] == 2


def test_keys_keep_their_own_order(app: Any, root: Path) -> None:
    recorder = mock(app.fetch_rate, root, "new")
    app.RATES["EUR"] = 1.0
    recorder("EUR")
    recorder("GBP")
    app.RATES["EUR"] = 2.0
    recorder("EUR")
    app.RATES["EUR"] = 1.1
    replay = mock(app.fetch_rate, root, "replay")
    assert [replay("EUR"), replay("GBP"), replay("GBP"), replay("EUR")] == [1.0, 1.25, 1.25, 2.0]


def test_on_exhausted_must_be_a_known_rule(app: Any, root: Path) -> None:
    with pytest.raises(snapy.ConfigError) as info:
        mock(app.tick, root, "replay", on_exhausted="cycle")
    assert str(info.value) == "on_exhausted='cycle' is not valid: use 'repeat_last' or 'error'"


# -- exceptions ---------------------------------------------------------------------------------


def test_recorded_exception_is_raised_again_with_its_type_args_and_state(
    app: Any, root: Path
) -> None:
    with pytest.raises(app.GatewayError):
        mock(app.fetch_rate, root, "new")("XXX", 3.0)
    assert app.REAL_CALLS["fetch_rate"] == 1
    replay = mock(app.fetch_rate, root, "replay")
    for _ in range(2):
        with pytest.raises(app.GatewayError) as info:
            replay("XXX", 3.0)
        assert type(info.value) is app.GatewayError
        assert info.value.args == (404, "unknown currency XXX")
        assert (info.value.code, info.value.detail) == (404, "unknown currency XXX")
    assert app.REAL_CALLS["fetch_rate"] == 1


def test_recorded_builtin_exception(app: Any, root: Path) -> None:
    with pytest.raises(TypeError) as real:
        mock(app.Account.round_amount, root, "new")("1.5")
    replay = mock(app.Account.round_amount, root, "replay")
    with pytest.raises(TypeError) as info:
        replay("1.5")
    assert type(info.value) is TypeError
    assert info.value.args == real.value.args
    assert app.REAL_CALLS["round_amount"] == 1


def test_recorded_exception_file_is_readable(app: Any, root: Path) -> None:
    recorder = mock(app.fetch_rate, root, "new")
    with pytest.raises(app.GatewayError):
        recorder("XXX")
    [path] = bundles(recorder.recordings_folder)
    recorded = body(path)
    assert recorded["outcome"] == "exception"
    assert recorded["value"] == {
        "$exception": "fakeapp.rates:GatewayError",
        "args": [404, "unknown currency XXX"],
        "state": {"code": 404, "detail": "unknown currency XXX"},
        "message": "GatewayError(404, 'unknown currency XXX')",
    }


# -- async functions, methods, generators ------------------------------------------------------


def test_async_function_records_the_awaited_result(app: Any, root: Path) -> None:
    recorder = mock(app.fetch_async, root, "new")
    assert asyncio.run(recorder("GBP")) == 1.25
    [path] = bundles(recorder.recordings_folder)
    assert body(path)["value"] == 1.25
    replay = mock(app.fetch_async, root, "replay")
    assert asyncio.run(replay("GBP")) == 1.25
    assert replay.calls == [snapy.Call({"currency": "GBP"}, "result", 1.25, "replayed")]
    assert app.REAL_CALLS["fetch_async"] == 1


def test_async_function_replays_its_exception(app: Any, root: Path) -> None:
    with pytest.raises(KeyError):
        asyncio.run(mock(app.fetch_async, root, "new")("XXX"))
    replay = mock(app.fetch_async, root, "replay")
    with pytest.raises(KeyError) as info:
        asyncio.run(replay("XXX"))
    assert info.value.args == ("XXX",)
    assert app.REAL_CALLS["fetch_async"] == 1


def test_async_miss(app: Any, root: Path) -> None:
    replay = mock(app.fetch_async, root, "replay")
    with pytest.raises(snapy.RecordingNotFoundError) as info:
        asyncio.run(replay("GBP"))
    assert info.value.kind == "no recordings"
    assert app.REAL_CALLS["fetch_async"] == 0


def test_generator_is_recorded_as_its_items_and_replayed_as_a_generator(
    app: Any, root: Path
) -> None:
    recorder = mock(app.stream_rates, root, "new")
    recorded = recorder(["EUR", "GBP"])
    assert inspect.isgenerator(recorded)
    assert list(recorded) == [("EUR", 1.1), ("GBP", 1.25)]
    [path] = bundles(recorder.recordings_folder)
    assert body(path)["outcome"] == "generator"
    assert body(path)["value"] == [{"$tuple": ["EUR", 1.1]}, {"$tuple": ["GBP", 1.25]}]
    replay = mock(app.stream_rates, root, "replay")
    replayed = replay(["EUR", "GBP"])
    assert inspect.isgenerator(replayed)
    assert next(replayed) == ("EUR", 1.1)
    assert list(replayed) == [("GBP", 1.25)]
    assert app.REAL_CALLS["stream_rates"] == 1


def test_instance_method_leaves_the_instance_out(app: Any, root: Path) -> None:
    recorder = mock(app.Account.balance, root, "new")
    assert recorder(app.Account("ann"), "GBP") == "ann: 100 GBP"
    [path] = bundles(recorder.recordings_folder)
    assert body(path)["arguments"] == {"currency": "GBP"}
    assert recorder.recordings_folder.name == "fakeapp.rates.Account.balance"
    replay = mock(app.Account.balance, root, "replay")
    # Another instance: the instance is not part of the key.
    assert replay(app.Account("bob"), "GBP") == "ann: 100 GBP"
    assert replay.calls[0].arguments == {"currency": "GBP"}
    assert app.REAL_CALLS["balance"] == 1


# -- mutation of arguments --------------------------------------------------------------------


def test_mutation_of_arguments_is_replayed_in_place(app: Any, root: Path) -> None:
    items, meta = ["a"], {"source": "db"}
    assert mock(app.fill, root, "new")(items, meta) == 2
    assert (items, meta) == (["a", "filled"], {"source": "db", "count": 2})
    items, meta = ["a"], {"source": "db"}
    replay = mock(app.fill, root, "replay")
    same_items, same_meta = items, meta
    assert replay(items, meta) == 2
    assert items is same_items and meta is same_meta
    assert (items, meta) == (["a", "filled"], {"source": "db", "count": 2})
    assert app.REAL_CALLS["fill"] == 1


def test_mutation_is_stored_readably(app: Any, root: Path) -> None:
    recorder = mock(app.fill, root, "new")
    recorder(["a"], {})
    [path] = bundles(recorder.recordings_folder)
    recorded = body(path)
    assert recorded["arguments"] == {"items": ["a"], "meta": {}}
    assert recorded["mutations"] == {"items": ["a", "filled"], "meta": {"count": 2}}


def test_an_unchanged_argument_stores_no_mutation(app: Any, root: Path) -> None:
    recorder = mock(app.charge, root, "new")
    recorder({"items": []}, "k")
    [path] = bundles(recorder.recordings_folder)
    assert "mutations" not in body(path)


# -- matching -----------------------------------------------------------------------------------


def cart(qty: int) -> dict[str, Any]:
    return {"items": [{"sku": "A-1", "qty": qty, "price": 5}]}


def test_match_on_names_ignores_the_other_arguments(app: Any, root: Path) -> None:
    mock(app.charge, root, "new", match_on=["cart"])(cart(2), "k1", request_id=1)
    replay = mock(app.charge, root, "replay", match_on=["cart"])
    assert replay(cart(2), "k2", request_id=99)["total"] == 10
    with pytest.raises(snapy.RecordingNotFoundError):
        replay(cart(3), "k1", request_id=1)
    strict = mock(app.charge, root, "replay")
    with pytest.raises(snapy.RecordingNotFoundError):
        strict(cart(2), "k1", request_id=1)
    assert app.REAL_CALLS["charge"] == 1


def test_match_on_one_name_as_a_string(app: Any, root: Path) -> None:
    mock(app.fetch_rate, root, "new", match_on="currency")("EUR", 1.0)
    replay = mock(app.fetch_rate, root, "replay", match_on="currency")
    assert replay("EUR", 500.0) == 1.1


def test_match_on_a_function_of_the_arguments(app: Any, root: Path) -> None:
    def by_quantity(arguments: dict[str, Any]) -> Any:
        return sum(item["qty"] for item in arguments["cart"]["items"])

    mock(app.charge, root, "new", match_on=by_quantity)(cart(2), "k", request_id=1)
    replay = mock(app.charge, root, "replay", match_on=by_quantity)
    other = {"items": [{"sku": "B", "qty": 1, "price": 5}, {"sku": "C", "qty": 1, "price": 5}]}
    assert replay(other, "x", request_id=7)["total"] == 10
    with pytest.raises(snapy.RecordingNotFoundError):
        replay(cart(3), "k", request_id=1)
    assert app.REAL_CALLS["charge"] == 1


def test_match_on_a_function_returning_a_dict(app: Any, root: Path) -> None:
    def pick(arguments: dict[str, Any]) -> dict[str, Any]:
        return {"currency": arguments["currency"].upper()}

    mock(app.fetch_rate, root, "new", match_on=pick)("EUR", 1.0)
    replay = mock(app.fetch_rate, root, "replay", match_on=pick)
    assert replay("eur", 3.0) == 1.1


def test_match_on_unknown_parameter(app: Any, root: Path) -> None:
    with pytest.raises(snapy.ConfigError) as info:
        mock(app.fetch_rate, root, "replay", match_on=["currency", "day"])
    assert str(info.value) == (
        "match_on=['currency', 'day'] is not valid: ['day'] are not parameters of "
        "fakeapp.rates.fetch_rate(currency: 'str', amount: 'float' = 1.0) -> 'float'; "
        "its parameters are ['currency', 'amount']"
    )


def test_ignore_args_leaves_them_out_of_key_and_file(app: Any, root: Path) -> None:
    recorder = mock(app.charge, root, "new", ignore_args=["request_id"])
    recorder(cart(2), "k", request_id=123456789)
    [path] = bundles(recorder.recordings_folder)
    assert b"123456789" not in path.read_bytes()
    assert set(body(path)["arguments"]) == {"cart", "api_key"}
    assert recorder.calls[0].arguments.keys() == {"cart", "api_key"}
    replay = mock(app.charge, root, "replay", ignore_args=["request_id"])
    assert replay(cart(2), "k", request_id=1)["total"] == 10
    assert replay(cart(2), "k")["total"] == 10
    assert app.REAL_CALLS["charge"] == 1


def test_ignore_args_unknown_parameter(app: Any, root: Path) -> None:
    with pytest.raises(snapy.ConfigError) as info:
        mock(app.charge, root, "replay", ignore_args=["request"])
    assert str(info.value) == (
        "ignore_args=['request'] is not valid: ['request'] are not parameters of "
        "fakeapp.rates.charge(cart: 'dict[str, Any]', api_key: 'str', request_id: 'int' = 0) "
        "-> 'dict[str, Any]'; its parameters are ['cart', 'api_key', 'request_id']"
    )


# -- redaction ----------------------------------------------------------------------------------


def every_file(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_secrets_never_reach_disk_and_still_match(app: Any, root: Path) -> None:
    secret_cart = {**cart(2), "auth": {"card_token": "tok_CARD_SECRET"}}
    recorder = mock(app.charge, root, "new")
    result = recorder(secret_cart, "sk_live_API_SECRET")
    assert result == {"status": "ok", "total": 10, "charged_with": "sk"}
    files = every_file(root)
    assert any(name.endswith(".bundle") for name in files)
    for name, data in files.items():
        assert b"SECRET" not in data, name
    recorded = body(bundles(recorder.recordings_folder)[0])
    assert set(recorded["arguments"]["api_key"]) == {"$redacted"}
    assert set(recorded["arguments"]["cart"]["auth"]) == {"$redacted"}
    replay = mock(app.charge, root, "replay")
    assert replay(secret_cart, "sk_live_API_SECRET") == result
    assert isinstance(replay.calls[0].arguments["api_key"], snapy.Redacted)
    assert repr(replay.calls[0].arguments["api_key"]) == "<redacted>"
    with pytest.raises(snapy.RecordingNotFoundError):
        replay(secret_cart, "sk_live_OTHER")
    other_card = {**cart(2), "auth": {"card_token": "tok_OTHER"}}
    with pytest.raises(snapy.RecordingNotFoundError):
        replay(other_card, "sk_live_API_SECRET")
    assert app.REAL_CALLS["charge"] == 1


def test_redact_adds_patterns(app: Any, root: Path) -> None:
    recorder = mock(app.fetch_rate, root, "new", redact=["currency"])
    recorder("JPY")
    for name, data in every_file(root).items():
        assert b"JPY" not in data, name
    replay = mock(app.fetch_rate, root, "replay", redact=["currency"])
    assert replay("JPY") == 0.0067


def test_secret_in_a_result_is_not_stored(root: Path) -> None:
    def login(user: str) -> dict[str, str]:
        return {"user": user, "access_token": "at_RESULT_SECRET"}

    assert mock(login, root, "new")("ann")["access_token"] == "at_RESULT_SECRET"
    for name, data in every_file(root).items():
        assert b"RESULT_SECRET" not in data, name
    replayed = mock(login, root, "replay")("ann")
    assert replayed["user"] == "ann"
    assert isinstance(replayed["access_token"], snapy.Redacted)


def test_what_a_call_writes_into_a_secret_argument_is_not_stored(root: Path) -> None:
    def refresh(session_token: list[str]) -> int:
        session_token.append("st_WRITTEN_SECRET")
        return len(session_token)

    assert mock(refresh, root, "new")(["st_OLD_SECRET"]) == 2
    for name, data in every_file(root).items():
        assert b"SECRET" not in data, name
    assert mock(refresh, root, "replay")(["st_OLD_SECRET"]) == 2


# -- threads --------------------------------------------------------------------------------------


def test_threads_record_then_replay_their_own_calls(app: Any, root: Path) -> None:
    threads, calls = 8, 25

    def run(fake: Any) -> tuple[list[str], dict[int, list[float]]]:
        errors: list[str] = []
        results: dict[int, list[float]] = {}
        start = threading.Barrier(threads)

        def worker(t: int) -> None:
            start.wait()
            try:
                results[t] = [fake("EUR", float(t * 1000 + i)) for i in range(calls)]
            except BaseException as exc:
                errors.append(repr(exc))

        workers = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        return errors, results

    expected = {t: [1.1 * (t * 1000 + i) for i in range(calls)] for t in range(threads)}
    recorder = mock(app.fetch_rate, root, "new")
    assert run(recorder) == ([], expected)
    assert app.REAL_CALLS["fetch_rate"] == threads * calls
    assert len(bundles(recorder.recordings_folder)) == threads * calls
    replay = mock(app.fetch_rate, root, "replay")
    assert run(replay) == ([], expected)
    assert app.REAL_CALLS["fetch_rate"] == threads * calls
    assert {c.source for c in replay.calls} == {"replayed"}
    assert len(replay.calls) == threads * calls


# -- where the recordings go ------------------------------------------------------------------


def test_outside_pytest_recordings_and_test_id_are_required(
    app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PYTEST_CURRENT_TEST")
    with pytest.raises(snapy.SnapyError) as info:
        snapy.mock(app.fetch_rate)
    assert str(info.value) == (
        "snapy.mock('fetch_rate') needs recordings= (the __recordings__ folder) and "
        "test_id= outside a pytest test"
    )
    with pytest.raises(snapy.SnapyError) as info:
        snapy.mock(app.fetch_rate, recordings=snapy.RecordingStore("unused"))
    assert str(info.value) == "snapy.mock() needs test_id= outside a pytest test"


def test_under_pytest_the_test_is_detected(
    app: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tests").mkdir()  # where the test file is

    def detect() -> Any:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("PYTEST_CURRENT_TEST", "tests/test_pay.py::TestPay::test_eur (call)")
            return snapy.mock(app.fetch_rate, mode="new")

    recorder = detect()
    recorder("EUR")
    folder = tmp_path / "tests" / "__recordings__" / "test_pay" / "TestPay.test_eur"
    assert recorder.recordings_folder == folder / "fakeapp.rates.fetch_rate"
    [path] = bundles(folder / "fakeapp.rates.fetch_rate")
    assert body(path)["test"] == "test_pay::TestPay.test_eur"
    monkeypatch.chdir(tmp_path.parent)
    snapy.flush_recordings()  # a later flush writes the index where the recordings are
    assert (folder / "fakeapp.rates.fetch_rate" / "index.json").is_file()


def test_under_pytest_from_another_folder_the_test_file_is_found(
    app: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Node ids are relative to pytest's rootdir; here the current folder is elsewhere.
    monkeypatch.chdir(tmp_path)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTEST_CURRENT_TEST", "tests/unit/test_replay.py::test_x (call)")
        fake = snapy.mock(app.fetch_rate, mode="replay")
    here = Path(__file__).resolve().parent
    assert fake.recordings_folder == (
        here / "__recordings__" / "test_replay" / "test_x" / "fakeapp.rates.fetch_rate"
    )


def test_recording_store_is_shared_per_root(tmp_path: Path) -> None:
    one = snapy.recording_store(tmp_path / "one")
    assert snapy.recording_store(tmp_path / "one") is one
    assert snapy.recording_store(str(tmp_path / "one")) is one
    assert snapy.recording_store(tmp_path / "two") is not one
    assert one.root == tmp_path / "one"


def test_mocks_of_one_root_share_the_store(app: Any, root: Path) -> None:
    recorder = snapy.mock(app.tick, recordings=root, test_id=TEST_ID, mode="new")
    recorder()
    recorder()
    replay = snapy.mock(app.tick, recordings=root, test_id=TEST_ID, mode="replay")
    # The same run: both recordings were used by the recorder, so the replay repeats the last.
    assert replay() == 2
    assert snapy.recording_store(root).unused() == []


# -- round trip -----------------------------------------------------------------------------------


def echo(value: Any) -> Any:
    return value


# Mapping keys that look like secrets are redacted in results by design (tested above).
plain_keys = st.text(max_size=8).filter(lambda k: not snapy.ArgumentFilter().is_sensitive(k))
plain = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text()
    | st.binary()
    | st.datetimes(timezones=st.none() | st.just(dt.UTC))
    | st.decimals(allow_nan=False, allow_infinity=False),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(plain_keys, inner, max_size=4)
        | st.frozensets(st.integers() | st.text(max_size=8), max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None)
@given(plain)
def test_round_trip_record_write_read_replay(value: Any) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        assert mock(echo, root, "new")(value) == value
        replayed = mock(echo, root, "replay")(value)
        assert replayed == value
        assert type(replayed) is type(value)
        if isinstance(value, decimal.Decimal):
            assert str(replayed) == str(value)
