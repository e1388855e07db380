"""The miss report: every kind of miss, its full text, the nearest recordings and the fix."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import snapy

MODULE = __name__
TEST_ID = "test_miss::test_case"
NODE = "tests/unit/test_miss.py::test_case"
HEAD = "no recording to replay for this call of {target} in test 'test_miss::test_case'"
RECORD = f"SIDE_EFFECT_CAPTURE=1 python -m pytest {NODE}"


def mock(fn: Callable[..., Any], root: Path, mode: str, **options: Any) -> Any:
    """A mock reading the recordings afresh, as a new test run does."""
    return snapy.mock(
        fn, recordings=snapy.RecordingStore(root), test_id=TEST_ID, mode=mode, **options
    )


def record(fn: Callable[..., Any], root: Path, *calls: tuple[Any, ...]) -> list[str]:
    """Record `fn(*args)` for each of `calls` in mode new; the bundle file names, in order."""
    recorder = mock(fn, root, "new")
    for args in calls:
        try:
            recorder(*args)
        except Exception:
            pass
    return sorted(p.name for p in recorder.recordings_folder.glob("*.bundle"))


def miss(call: Callable[[], Any], node: str | None = NODE) -> snapy.RecordingNotFoundError:
    """The miss `call()` raises while the pytest test running is `node` (None: no pytest)."""
    with pytest.MonkeyPatch.context() as patch:
        if node is None:
            patch.delenv("PYTEST_CURRENT_TEST")
        else:
            patch.setenv("PYTEST_CURRENT_TEST", f"{node} (call)")
        with pytest.raises(snapy.RecordingNotFoundError) as info:
            call()
    return info.value


def folder(root: Path, target: str = "fakeapp.rates.fetch_rate") -> Path:
    return root / "test_miss" / "test_case" / target


# -- the kinds of miss ------------------------------------------------------------------------


def test_no_recordings(app: Any, root: Path) -> None:
    replay = mock(app.fetch_rate, root, "replay")
    error = miss(lambda: replay("EUR"))
    assert str(error) == "\n".join(
        [
            HEAD.format(target="fakeapp.rates.fetch_rate"),
            "  call:  fetch_rate(currency='EUR', amount=1.0)",
            "  why:   this test has no recordings of fakeapp.rates.fetch_rate yet",
            f"  recordings folder: {folder(root)}",
            f"  to record it: {RECORD}",
        ]
    )
    assert error.kind == "no recordings"
    assert error.nearest == []
    assert error.target == "fakeapp.rates.fetch_rate"
    assert error.test_id == TEST_ID
    assert error.folder == folder(root)
    assert error.command == RECORD
    assert app.REAL_CALLS["fetch_rate"] == 0


def test_miss_is_a_snapy_error_and_a_test_failure(app: Any, root: Path) -> None:
    replay = mock(app.fetch_rate, root, "replay")
    error = miss(lambda: replay("EUR"))
    assert isinstance(error, snapy.SnapyError)
    assert isinstance(error, AssertionError)


def test_no_match_lists_the_three_nearest_closest_first(app: Any, root: Path) -> None:
    files = record(
        app.fetch_rate,
        root,
        ("JPY", 3.0),  # two differences
        ("GBP", 2.0),  # one difference
        ("USD", 9.0),  # two differences, recorded later than JPY: left out
        ("EUR", 1.0),  # one difference, recorded later than GBP
    )
    assert [f[:4] for f in files] == ["0000", "0001", "0002", "0003"]
    replay = mock(app.fetch_rate, root, "replay")
    error = miss(lambda: replay("EUR", 2.0))
    assert str(error) == "\n".join(
        [
            HEAD.format(target="fakeapp.rates.fetch_rate"),
            "  call:  fetch_rate(currency='EUR', amount=2.0)",
            "  why:   none of the 4 recording(s) of this target in this test has these arguments",
            "  nearest recordings, closest first (recorded -> this call):",
            f"    1. {files[1]}",
            "       currency: 'GBP' -> 'EUR'",
            f"    2. {files[3]}",
            "       amount: 1.0 -> 2.0",
            f"    3. {files[0]}",
            "       currency: 'JPY' -> 'EUR'",
            "       amount: 3.0 -> 2.0",
            f"  recordings folder: {folder(root)}",
            f"  to record it: {RECORD}",
        ]
    )
    assert error.kind == "no match"
    assert [near.path for near in error.nearest] == [
        folder(root) / files[1],
        folder(root) / files[3],
        folder(root) / files[0],
    ]
    assert [near.arguments for near in error.nearest] == [
        {"currency": "GBP", "amount": 2.0},
        {"currency": "EUR", "amount": 1.0},
        {"currency": "JPY", "amount": 3.0},
    ]
    assert [near.differences for near in error.nearest] == [
        ["currency: 'GBP' -> 'EUR'"],
        ["amount: 1.0 -> 2.0"],
        ["currency: 'JPY' -> 'EUR'", "amount: 3.0 -> 2.0"],
    ]
    assert str(error.nearest[2]) == f"{files[0]}: currency: 'JPY' -> 'EUR'; amount: 3.0 -> 2.0"
    assert app.REAL_CALLS["fetch_rate"] == 4  # only the recording run called it


def test_no_match_shows_deep_paths_inside_arguments(app: Any, root: Path) -> None:
    cart = {"items": [{"sku": "A-1", "qty": 2, "price": 5}], "note": "gift"}
    record(app.charge, root, (cart, "sk_test_1"))
    replay = mock(app.charge, root, "replay")
    changed = {"items": [{"sku": "A-1", "qty": 3, "price": 5}], "coupon": "XMAS"}
    error = miss(lambda: replay(changed, "sk_test_1"))
    [near] = error.nearest
    assert near.differences == [
        "cart['coupon']: added 'XMAS'",
        "cart['items'][0]['qty']: 2 -> 3",
        "cart['note']: removed 'gift'",
    ]
    assert "       cart['items'][0]['qty']: 2 -> 3\n" in str(error)


def test_no_match_shows_a_changed_type(app: Any, root: Path) -> None:
    record(app.fetch_rate, root, ("EUR", 2.0))
    replay = mock(app.fetch_rate, root, "replay")
    error = miss(lambda: replay("EUR", 2))
    assert error.nearest[0].differences == ["amount: 2.0 (float) -> 2 (int)"]


def test_no_match_cuts_long_differences(app: Any, root: Path) -> None:
    items = [{"qty": 1, "price": 1} for _ in range(10)]
    record(app.charge, root, ({"items": items}, "k"))
    replay = mock(app.charge, root, "replay")
    more = [{"qty": 2, "price": 1} for _ in range(10)]
    error = miss(lambda: replay({"items": more}, "k"))
    lines = str(error).splitlines()
    start = lines.index("  nearest recordings, closest first (recorded -> this call):")
    assert lines[start + 2 : start + 11] == [
        *(f"       cart['items'][{i}]['qty']: 1 -> 2" for i in range(8)),
        "       ... and 2 more",
    ]
    assert len(error.nearest[0].differences) == 10


def test_no_match_with_another_secret_shows_no_secret(app: Any, root: Path) -> None:
    cart = {"items": [{"qty": 1, "price": 3}]}
    record(app.charge, root, (cart, "sk_live_FIRST_SECRET"))
    replay = mock(app.charge, root, "replay")
    error = miss(lambda: replay(cart, "sk_live_OTHER_SECRET"))
    assert error.nearest[0].differences == [
        "api_key: <redacted> -> <redacted> (another secret, or the redaction key differs: "
        "see .redaction-key in the docs)"
    ]
    assert (
        "  call:  charge(cart={'items': [{'price': 3, 'qty': 1}]}, api_key=<redacted>, "
        "request_id=0)\n"
    ) in str(error)
    assert "SECRET" not in str(error)


def test_exhausted(app: Any, root: Path) -> None:
    files = record(app.tick, root, (), ())
    assert len(files) == 2
    replay = mock(app.tick, root, "replay", on_exhausted="error")
    assert [replay(), replay()] == [1, 2]
    error = miss(replay)
    assert str(error) == "\n".join(
        [
            HEAD.format(target="fakeapp.rates.tick"),
            "  call:  tick()",
            "  why:   all 2 recording(s) of these arguments were used by earlier calls and "
            "on_exhausted='error'; record the extra call, or pass on_exhausted='repeat_last'",
            "  nearest recordings, closest first (recorded -> this call):",
            f"    1. {files[0]}",
            "       same arguments; replayed already by earlier calls of this test",
            f"  recordings folder: {folder(root, 'fakeapp.rates.tick')}",
            f"  to record it: {RECORD}",
        ]
    )
    assert error.kind == "exhausted"
    assert [near.path.name for near in error.nearest] == [files[0]]
    assert error.nearest[0].differences == []
    assert app.REAL_CALLS["tick"] == 2


def make_lookup(with_day: bool) -> Callable[..., str]:
    """Two versions of one function (same module and qualname), before and after a change."""
    if with_day:

        def lookup(currency: str, day: str = "mon") -> str:
            return f"{currency}@{day}"

    else:

        def lookup(currency: str) -> str:  # type: ignore[misc]
            return currency

    return lookup


def test_signature_changed(root: Path) -> None:
    old, new = make_lookup(False), make_lookup(True)
    files = record(old, root, ("EUR",))
    replay = mock(new, root, "replay")
    error = miss(lambda: replay("EUR"))
    target = f"{MODULE}.make_lookup.<locals>.lookup"
    where = replay.recordings_folder
    assert where.parent == root / "test_miss" / "test_case"
    assert sorted(p.name for p in where.glob("*.bundle")) == files
    assert str(error) == "\n".join(
        [
            HEAD.format(target=target),
            "  call:  lookup(currency='EUR', day='mon')",
            "  why:   the recordings were made for make_lookup.<locals>.lookup(currency: 'str') "
            "-> 'str', but the function is now make_lookup.<locals>.lookup(currency: 'str', "
            "day: 'str' = 'mon') -> 'str'; re-record them with SIDE_EFFECT_CAPTURE=all",
            "  nearest recordings, closest first (recorded -> this call):",
            f"    1. {files[0]}",
            "       day: not in the recording -> 'mon'",
            f"  recordings folder: {where}",
            f"  to record it: SIDE_EFFECT_CAPTURE=all python -m pytest {NODE}",
        ]
    )
    assert error.kind == "signature changed"
    assert error.command == f"SIDE_EFFECT_CAPTURE=all python -m pytest {NODE}"


def test_a_removed_argument_shows_as_not_passed(root: Path) -> None:
    old, new = make_lookup(True), make_lookup(False)
    record(old, root, ("EUR", "tue"))
    replay = mock(new, root, "replay")
    error = miss(lambda: replay("EUR"))
    assert error.nearest[0].differences == ["day: 'tue' -> not passed"]


@pytest.mark.parametrize(
    ("damage", "cause"),
    [
        (
            lambda data: data.replace(b'"EUR"', b'"EUX"'),
            "checksum mismatch: the file is truncated or was modified (delete it, or run "
            "`snapy verify` to find every such file)",
        ),
        (lambda data: data[:40], "not a snapy bundle (no snapy-bundle header)"),
        (lambda data: b"garbage\n" + data, "not a snapy bundle (no snapy-bundle header)"),
    ],
    ids=["modified", "truncated", "garbage"],
)
def test_unreadable_recording_names_the_file(
    app: Any, root: Path, damage: Callable[[bytes], bytes], cause: str
) -> None:
    [name] = record(app.fetch_rate, root, ("EUR",))
    path = folder(root) / name
    path.write_bytes(damage(path.read_bytes()))
    replay = mock(app.fetch_rate, root, "replay")
    error = miss(lambda: replay("EUR"))
    assert str(error) == "\n".join(
        [
            HEAD.format(target="fakeapp.rates.fetch_rate"),
            "  call:  fetch_rate(currency='EUR', amount=1.0)",
            f"  why:   the recording of these arguments cannot be read: {path}: {cause}",
            f"  recordings folder: {folder(root)}",
            f"  to record it: {RECORD}",
        ]
    )
    assert error.kind == "unreadable"
    assert app.REAL_CALLS["fetch_rate"] == 1


def test_unreadable_recording_keeps_its_place_among_repeats(app: Any, root: Path) -> None:
    files = record(app.tick, root, (), (), ())
    path = folder(root, "fakeapp.rates.tick") / files[1]
    path.write_bytes(path.read_bytes()[:-2])
    replay = mock(app.tick, root, "replay")
    assert replay() == 1
    # Not the third recording in the second's stead: that would be another call's answer.
    error = miss(replay)
    assert error.kind == "unreadable"
    assert str(error).splitlines()[2] == (
        f"  why:   the recording of these arguments cannot be read: {path}: checksum mismatch: "
        "the file is truncated or was modified (delete it, or run `snapy verify` to find "
        "every such file)"
    )
    assert replay() == 3
    assert app.REAL_CALLS["tick"] == 3


def test_unreadable_recording_in_mode_new_is_recorded_again(app: Any, root: Path) -> None:
    [name] = record(app.fetch_rate, root, ("EUR",))
    (folder(root) / name).write_bytes(b"garbage")
    recorder = mock(app.fetch_rate, root, "new")
    assert recorder("EUR") == 1.1
    assert recorder.calls[0].source == "recorded"
    assert app.REAL_CALLS["fetch_rate"] == 2
    assert sorted(p.name for p in folder(root).glob("*.bundle")) == [name, "0001" + name[4:]]


def test_unreadable_payload_that_is_not_a_recording(app: Any, root: Path) -> None:
    from snapy._envelope import pack

    [name] = record(app.fetch_rate, root, ("EUR",))
    path = folder(root) / name
    path.write_bytes(pack(b'{"target": "x"}', serializer="pickle", signing_key=None))
    replay = mock(app.fetch_rate, root, "replay")
    error = miss(lambda: replay("EUR"))
    assert error.kind == "unreadable"
    assert (
        f"  why:   the recording of these arguments cannot be read: {path}: "
        "payload is not a snapy recording\n"
    ) in str(error)


# -- the command that records the call ---------------------------------------------------------


def test_command_under_unittest_names_the_test(app: Any, root: Path) -> None:
    replay = snapy.mock(
        app.fetch_rate,
        recordings=root,
        test_id="tests.test_rates.TestRates.test_eur",
        mode="replay",
    )
    error = miss(lambda: replay("EUR"), node=None)
    assert error.command == (
        "SIDE_EFFECT_CAPTURE=1 python -m unittest tests.test_rates.TestRates.test_eur"
    )
    assert str(error).endswith(
        "\n  to record it: SIDE_EFFECT_CAPTURE=1 python -m unittest "
        "tests.test_rates.TestRates.test_eur"
    )


def test_command_for_another_runner(app: Any, root: Path) -> None:
    replay = snapy.mock(app.fetch_rate, recordings=root, test_id="suite::case", mode="replay")
    error = miss(lambda: replay("EUR"), node=None)
    assert error.command == "SIDE_EFFECT_CAPTURE=1 <the command that runs suite::case>"


def test_command_quotes_a_parametrized_node(app: Any, root: Path) -> None:
    replay = snapy.mock(app.fetch_rate, recordings=root, test_id=TEST_ID, mode="replay")
    error = miss(lambda: replay("EUR"), node="tests/test_a.py::test_b[EUR rate]")
    assert error.command == (
        "SIDE_EFFECT_CAPTURE=1 python -m pytest 'tests/test_a.py::test_b[EUR rate]'"
    )
