"""Recordings on disk: layout, readable files, byte-identical re-recording, mode all, unused."""

from __future__ import annotations

import hashlib
import json
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import snapy

TEST_ID = "test_recordings::TestRates.test_case"
RATE = "fakeapp.rates.fetch_rate"
SIGNATURE = "(currency: 'str', amount: 'float' = 1.0) -> 'float'"


def mock(fn: Callable[..., Any], root: Path | snapy.RecordingStore, mode: str, **kw: Any) -> Any:
    store = root if isinstance(root, snapy.RecordingStore) else snapy.RecordingStore(root)
    return snapy.mock(fn, recordings=store, test_id=TEST_ID, mode=mode, **kw)


def folder(root: Path, target: str = RATE) -> Path:
    return root / "test_recordings" / "TestRates.test_case" / target


def bundle_names(path: Path) -> list[str]:
    return sorted(p.name for p in path.glob("*.bundle"))


def every_file(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def key(target: str, **arguments: Any) -> str:
    return snapy.argument_key(target, arguments)


# -- layout and content -----------------------------------------------------------------------


def test_one_folder_per_test_and_target(app: Any, root: Path) -> None:
    rate = mock(app.fetch_rate, root, "new")
    rate("EUR")
    rate("GBP", 2.0)
    mock(app.tick, root, "new")()
    assert rate.recordings_folder == folder(root)
    assert bundle_names(folder(root)) == [
        f"0000-{key(RATE, currency='EUR', amount=1.0)}.bundle",
        f"0001-{key(RATE, currency='GBP', amount=2.0)}.bundle",
    ]
    assert bundle_names(folder(root, "fakeapp.rates.tick")) == [
        f"0000-{key('fakeapp.rates.tick')}.bundle"
    ]
    snapy.flush_recordings()
    assert sorted(p.name for p in folder(root).iterdir()) == [
        ".lock",
        *bundle_names(folder(root)),
        "index.json",
    ]


def test_recording_file_is_readable_plain_data(app: Any, root: Path) -> None:
    mock(app.fetch_rate, root, "new")("GBP", 2.0)
    [name] = bundle_names(folder(root))
    data = (folder(root) / name).read_bytes()
    payload = (
        "{\n"
        ' "target": "fakeapp.rates.fetch_rate",\n'
        ' "test": "test_recordings::TestRates.test_case",\n'
        f' "key": "{key(RATE, currency="GBP", amount=2.0)}",\n'
        ' "kinds": {},\n'
        f' "signature": "{SIGNATURE}",\n'
        ' "arguments": {\n'
        '  "currency": "GBP",\n'
        '  "amount": 2.0\n'
        " },\n"
        ' "outcome": "result",\n'
        ' "value": 2.5\n'
        "}"
    ).encode()
    checksum = hashlib.blake2b(payload, digest_size=16).hexdigest()
    assert data == (
        f"snapy-bundle format=1 serializer=pickle encoding=json checksum={checksum}\n".encode()
        + payload
    )


def test_index_lists_the_calls_readably(app: Any, root: Path) -> None:
    rate = mock(app.fetch_rate, root, "new")
    rate("EUR")
    with pytest.raises(app.GatewayError):
        rate("XXX", 2.0)
    assert not (folder(root) / "index.json").exists()  # written at flush, not per call
    snapy.flush_recordings()
    data = (folder(root) / "index.json").read_bytes()
    assert data.endswith(b"}\n")
    eur, xxx = key(RATE, currency="EUR", amount=1.0), key(RATE, currency="XXX", amount=2.0)
    assert json.loads(data) == {
        "snapy_recordings": 1,
        "target": RATE,
        "test": TEST_ID,
        "signature": SIGNATURE,
        "calls": [
            {
                "file": f"0000-{eur}.bundle",
                "order": 0,
                "key": eur,
                "outcome": "result",
                "summary": "fetch_rate(currency='EUR', amount=1.0) -> 1.1",
            },
            {
                "file": f"0001-{xxx}.bundle",
                "order": 1,
                "key": xxx,
                "outcome": "exception",
                "summary": "fetch_rate(currency='XXX', amount=2.0) raised "
                "GatewayError(404, 'unknown currency XXX')",
            },
        ],
    }


def test_files_are_private(app: Any, root: Path) -> None:
    mock(app.fetch_rate, root, "new")("EUR")
    for path in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), path


def test_keys_do_not_depend_on_dict_or_set_order(root: Path) -> None:
    def weigh(tags: set[str], weights: dict[str, float]) -> float:
        return sum(weights.get(t, 0.0) for t in tags)

    mock(weigh, root, "new")({"a", "b", "c"}, {"a": 1.0, "b": 2.0})
    replay = mock(weigh, root, "replay")
    assert replay({"c", "b", "a"}, {"b": 2.0, "a": 1.0}) == 3.0


def test_store_repr_names_its_root(root: Path) -> None:
    assert repr(snapy.RecordingStore(root)) == f"RecordingStore({str(root)!r})"


# -- re-recording -------------------------------------------------------------------------------


def rates_app_run(app: Any, root: Path, mode: str) -> None:
    """One run of a test that touches every kind of recorded value."""
    app.reset()
    store = snapy.RecordingStore(root)
    rate = mock(app.fetch_rate, store, mode)
    rate("EUR")
    rate("GBP", 3.5)
    with pytest.raises(app.GatewayError):
        rate("XXX")
    tick = mock(app.tick, store, mode)
    tick()
    tick()
    tick()
    charge = mock(app.charge, store, mode)
    charge({"items": [{"qty": 2, "price": 5}], "auth": {"token": "t0k"}}, "sk_live_123")
    fill = mock(app.fill, store, mode)
    fill(["a"], {"tags": {"x", "y", "z"}})
    streamed = mock(app.stream_rates, store, mode)
    assert list(streamed(["JPY", "EUR"])) == [("JPY", 0.0067), ("EUR", 1.1)]


def test_re_recording_the_same_calls_writes_the_same_bytes(app: Any, root: Path) -> None:
    rates_app_run(app, root, "new")
    first = every_file(root)
    assert len([name for name in first if name.endswith(".bundle")]) == 9
    rates_app_run(app, root, "all")
    assert every_file(root) == first
    rates_app_run(app, root, "all")
    assert every_file(root) == first


def test_mode_all_removes_stale_recordings(app: Any, root: Path) -> None:
    rate = mock(app.fetch_rate, root, "new")
    rate("EUR")
    rate("GBP")
    rate("JPY")
    assert len(bundle_names(folder(root))) == 3
    mock(app.fetch_rate, root, "all")("GBP")
    gbp = key(RATE, currency="GBP", amount=1.0)
    assert bundle_names(folder(root)) == [f"0000-{gbp}.bundle"]
    snapy.flush_recordings()
    index = json.loads((folder(root) / "index.json").read_bytes())
    assert [call["file"] for call in index["calls"]] == [f"0000-{gbp}.bundle"]
    replay = mock(app.fetch_rate, root, "replay")
    assert replay("GBP") == 1.25
    with pytest.raises(snapy.RecordingNotFoundError) as info:
        replay("EUR")
    assert info.value.kind == "no match"


def test_mode_all_without_calls_leaves_no_recordings(app: Any, root: Path) -> None:
    mock(app.fetch_rate, root, "new")("EUR")
    mock(app.fetch_rate, root, "all")
    assert bundle_names(folder(root)) == []
    snapy.flush_recordings()
    assert json.loads((folder(root) / "index.json").read_bytes())["calls"] == []


def test_mode_all_keeps_every_call_of_this_run(app: Any, root: Path) -> None:
    mock(app.fetch_rate, root, "new")("JPY")
    store = snapy.RecordingStore(root)
    mock(app.fetch_rate, store, "all")("EUR")
    mock(app.fetch_rate, store, "all")("GBP")  # a second mock in the same run
    assert bundle_names(folder(root)) == [
        f"0000-{key(RATE, currency='EUR', amount=1.0)}.bundle",
        f"0001-{key(RATE, currency='GBP', amount=1.0)}.bundle",
    ]


def test_mode_all_re_records_repeats_in_order(app: Any, root: Path) -> None:
    tick = mock(app.tick, root, "new")
    tick()
    app.reset()
    for _ in range(10):
        app.tick()  # the clock moved on
    again = mock(app.tick, root, "all")
    assert [again(), again()] == [11, 12]
    replay = mock(app.tick, root, "replay")
    assert [replay(), replay(), replay()] == [11, 12, 12]


# -- unused recordings ----------------------------------------------------------------------------


def test_unused_lists_what_this_run_did_not_replay(app: Any, root: Path) -> None:
    rate = mock(app.fetch_rate, root, "new")
    rate("EUR")
    rate("GBP")
    rate("JPY")
    tick = mock(app.tick, root, "new")
    tick()
    tick()
    mock(app.fill, root, "new")(["a"], {})
    rates_folder, tick_folder = folder(root), folder(root, "fakeapp.rates.tick")
    store = snapy.RecordingStore(root)
    assert store.unused() == []
    mock(app.fetch_rate, store, "replay")("GBP")
    mock(app.tick, store, "replay")()
    eur, _, jpy = bundle_names(rates_folder)
    _, second_tick = bundle_names(tick_folder)
    # `fill` was not mocked in this run: its recordings are not this run's to judge.
    assert store.unused() == sorted(
        [rates_folder / eur, rates_folder / jpy, tick_folder / second_tick]
    )


def test_unused_lists_an_unreadable_recording(app: Any, root: Path) -> None:
    tick = mock(app.tick, root, "new")
    tick()
    tick()
    first, _ = bundle_names(folder(root, "fakeapp.rates.tick"))
    (folder(root, "fakeapp.rates.tick") / first).write_bytes(b"garbage")
    store = snapy.RecordingStore(root)
    replay = mock(app.tick, store, "replay")
    with pytest.raises(snapy.RecordingNotFoundError):
        replay()
    assert replay() == 2
    assert store.unused() == [folder(root, "fakeapp.rates.tick") / first]


def test_unused_is_empty_when_every_recording_was_replayed(app: Any, root: Path) -> None:
    tick = mock(app.tick, root, "new")
    tick()
    tick()
    store = snapy.RecordingStore(root)
    replay = mock(app.tick, store, "replay")
    replay()
    replay()
    replay()
    assert store.unused() == []


def test_recordings_made_in_this_run_count_as_used(app: Any, root: Path) -> None:
    store = snapy.RecordingStore(root)
    mock(app.fetch_rate, store, "new")("EUR")
    assert store.unused() == []


def test_unused_of_the_shared_store(app: Any, root: Path) -> None:
    mock(app.fetch_rate, root, "new")("EUR")
    mock(app.fetch_rate, root, "new")("GBP")
    replay = snapy.mock(app.fetch_rate, recordings=root, test_id=TEST_ID, mode="replay")
    replay("GBP")
    [eur, _] = bundle_names(folder(root))
    assert snapy.recording_store(root).unused() == [folder(root) / eur]


def test_index_is_written_when_replaying_stops_one_call_per_line(app: Any, root: Path) -> None:
    with snapy.replaying(RATE, recordings=snapy.RecordingStore(root), test_id=TEST_ID, mode="new"):
        app.fetch_rate("EUR")
        app.fetch_rate("GBP", 2.0)
        assert not (folder(root) / "index.json").exists()
    eur, gbp = key(RATE, currency="EUR", amount=1.0), key(RATE, currency="GBP", amount=2.0)
    lines = (folder(root) / "index.json").read_text().splitlines()
    assert lines == [
        f'{{"snapy_recordings": 1, "target": "{RATE}", "test": "{TEST_ID}", '
        f'"signature": "{SIGNATURE}",',
        ' "calls": [',
        f'  {{"file": "0000-{eur}.bundle", "order": 0, "key": "{eur}", "outcome": "result", '
        '"summary": "fetch_rate(currency=\'EUR\', amount=1.0) -> 1.1"},',
        f'  {{"file": "0001-{gbp}.bundle", "order": 1, "key": "{gbp}", "outcome": "result", '
        '"summary": "fetch_rate(currency=\'GBP\', amount=2.0) -> 2.5"}',
        " ]}",
    ]


def lookup(currency: str) -> str:
    return currency.lower()


def lookup_with_day(currency: str, day: str = "mon") -> str:
    return currency.lower() + day


lookup_with_day.__name__ = lookup_with_day.__qualname__ = "lookup"


def test_a_changed_signature_is_found_without_an_index(root: Path) -> None:
    mock(lookup, root, "new")("EUR")
    snapy.flush_recordings()
    where = root / "test_recordings" / "TestRates.test_case" / f"{__name__}.lookup"
    (where / "index.json").unlink()  # as if the recording run was killed before its exit
    with pytest.raises(snapy.RecordingNotFoundError) as info:
        mock(lookup_with_day, root, "replay")("EUR")
    assert info.value.kind == "signature changed"
    assert "the recordings were made for lookup(currency: 'str') -> 'str'" in str(info.value)
