"""`snapy list`, `show`, `diff`, `stats` and the command's errors, run through `main([...])`.

Trees are made by real captures and real recordings. Times, pids and sizes differ from run to
run, so expected lines are built from the index and the files, never from the code under test.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import snapy
from snapy._cli import main

MODULE = __name__
KEY = "0123456789abcdef0123456789abcdef"
unpickled: list[Any] = []


class Token:
    """Has no readable form, so it is pickled; records every unpickling."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"Token({self.value!r})"

    def __setstate__(self, state: dict[str, Any]) -> None:
        unpickled.append(state)
        self.__dict__.update(state)


@snapy.capture(production_mode=False, retention=10)
def convert(amount: int, currency: str = "EUR", *, api_key: str | None = None) -> Any:
    if amount < 0:
        raise ValueError("negative amount", amount)
    return {"amount": amount * 2, "currency": currency, "voucher": Token(amount)}


class Shop:
    @snapy.capture(production_mode=False, retention=10)
    def total(self, *prices: int, discount: int = 0) -> int:
        return sum(prices) - discount


def countdown(n: int) -> Any:
    yield from range(n, 0, -1)


@snapy.capture(production_mode=False, minimal_capture=True)
def export(day: str) -> dict[str, Any]:
    return {"day": day, "rows": [1, 2, 3]}


@snapy.capture(production_mode=False)
def report(name: str, n: int) -> dict[str, Any]:
    return {"name": name, "rows": list(range(n)), "totals": {"sum": sum(range(n)), "n": n}}


def fill(rows: list[int], limit: int) -> int:
    rows.extend(range(limit))
    return limit


RATES = {"USD": 1.08, "GBP": 0.87}


def fetch_rate(base: str, quote: str) -> float:
    return RATES[quote]


# -- trees and helpers ------------------------------------------------------------------------


@pytest.fixture
def captures(snapy_settings: Callable[..., Any], tmp_path: Path) -> Path:
    """4 results and 1 exception of `convert`, 2 calls of `Shop.total`."""
    unpickled.clear()
    root = tmp_path / "captures"
    snapy_settings(SNAPY_CAPTURE_DIR=str(root))
    for amount in range(4):
        convert(amount, "USD", api_key="sk_live_1")
    with pytest.raises(ValueError):
        convert(-1)
    Shop().total(1, 2, 3)
    Shop().total(4, discount=1)
    snapy.flush_captures()
    return root


@pytest.fixture
def recordings(snapy_settings: Callable[..., Any], tmp_path: Path) -> Path:
    """3 calls recorded in one test (one raised) and 1 in another."""
    root = tmp_path / "tests" / "__recordings__"
    mock = snapy.mock(fetch_rate, recordings=root, test_id="test_rates::test_convert", mode="new")
    mock("EUR", "USD")
    mock("EUR", "GBP")
    with pytest.raises(KeyError):
        mock("EUR", "XXX")
    other = snapy.mock(
        fetch_rate, recordings=root, test_id="test_rates::TestRates.test_usd", mode="new"
    )
    other("EUR", "USD")
    snapy.flush_recordings()
    return root


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, list[str], str]:
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out.splitlines(), err


def body(path: Path) -> dict[str, Any]:
    return json.loads(path.read_bytes().split(b"\n", 1)[1])


def bundles(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.bundle"))


def stamp(ns: int) -> str:
    return dt.datetime.fromtimestamp(ns / 1e9, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def exact(ns: int) -> str:
    return dt.datetime.fromtimestamp(ns / 1e9, dt.UTC).isoformat(timespec="microseconds")


def rel(path: Path) -> str:
    """How the command prints a path: relative to the current folder (`tmp_path` here)."""
    return os.path.relpath(path)


def human(n: int) -> str:
    return f"{n} B" if n < 1024 else f"{n / 1024:.1f} KiB"


def columns(rows: list[list[str]], right: set[int]) -> list[str]:
    """Rows laid out as the command's tables are: two spaces apart, padded to the widest."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(
            c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(r)
        ).rstrip()
        for r in rows
    ]


def capture_row(folder: Path) -> tuple[list[str], dict[str, Any]]:
    index = json.loads((folder / "index.json").read_text())
    times = [b["time_ns"] for b in index["bundles"]]
    total = sum(p.stat().st_size for p in bundles(folder))
    n = len(index["bundles"])
    cells = [index["target"], str(n), str(index["call_count"]), human(total)]
    cells += [stamp(min(times)), stamp(max(times))]
    row = {
        "kind": "capture",
        "name": index["target"],
        "target": index["target"],
        "test": None,
        "folder": str(folder),
        "bundles": n,
        "calls": index["call_count"],
        "bytes": total,
        "newest": exact(max(times)),
        "oldest": exact(min(times)),
    }
    return cells, row


def recording_row(folder: Path) -> tuple[list[str], dict[str, Any]]:
    index = json.loads((folder / "index.json").read_text())
    files = bundles(folder)
    times = [p.stat().st_mtime_ns for p in files]
    total = sum(p.stat().st_size for p in files)
    name = f"{index['test']}::{index['target']}"
    cells = [name, str(len(files)), str(len(files)), human(total)]
    cells += [stamp(min(times)), stamp(max(times))]
    row = {
        "kind": "recording",
        "name": name,
        "target": index["target"],
        "test": index["test"],
        "folder": str(folder),
        "bundles": len(files),
        "calls": len(files),
        "bytes": total,
        "newest": exact(max(times)),
        "oldest": exact(min(times)),
    }
    return cells, row


HEADERS = ["target", "bundles", "calls", "size", "oldest (UTC)", "newest (UTC)"]


# -- list -------------------------------------------------------------------------------------


def test_list_prints_every_captured_function_in_aligned_columns(
    captures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shop, shop_row = capture_row(captures / MODULE / "Shop.total")
    conv, conv_row = capture_row(captures / MODULE / "convert")
    status, out, err = run(capsys, "list", captures)
    assert (status, err) == (0, "")
    total = human(shop_row["bytes"] + conv_row["bytes"])
    assert out == [*columns([HEADERS, shop, conv], {1, 2, 3}), f"2 target(s), 7 bundle(s), {total}"]
    assert shop[0] == f"{MODULE}.Shop.total" and shop[1:3] == ["2", "2"]
    assert conv[0] == f"{MODULE}.convert" and conv[1:3] == ["5", "5"]


def test_list_json_is_one_object_per_target_with_exact_values(
    captures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(capsys, "list", captures, "--json")
    assert status == 0
    assert json.loads("\n".join(out)) == [
        capture_row(captures / MODULE / "Shop.total")[1],
        capture_row(captures / MODULE / "convert")[1],
    ]


def test_list_reads_the_capture_folder_from_the_settings_without_a_path(
    captures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(capsys, "list")
    assert status == 0
    assert out[1].startswith(f"{MODULE}.Shop.total ") and out[2].startswith(f"{MODULE}.convert ")


def test_list_finds_recordings_under_a_tests_folder_named_by_test_and_target(
    recordings: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = f"{MODULE}.fetch_rate"
    one, _ = recording_row(recordings / "test_rates" / "TestRates.test_usd" / target)
    three, _ = recording_row(recordings / "test_rates" / "test_convert" / target)
    status, out, _ = run(capsys, "list", recordings.parent)
    assert status == 0
    assert one[0] == f"test_rates::TestRates.test_usd::{target}"
    assert three[0] == f"test_rates::test_convert::{target}"
    assert out[:3] == columns([HEADERS, one, three], {1, 2, 3})
    assert out[3].startswith("2 target(s), 4 bundle(s), ")


def test_list_of_a_folder_holding_captures_and_recordings_lists_both(
    captures: Path, recordings: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(capsys, "list", captures.parent, "--json")
    assert status == 0
    rows = json.loads("\n".join(out))
    assert [(r["kind"], r["name"]) for r in rows] == [
        ("capture", f"{MODULE}.Shop.total"),
        ("capture", f"{MODULE}.convert"),
        ("recording", f"test_rates::TestRates.test_usd::{MODULE}.fetch_rate"),
        ("recording", f"test_rates::test_convert::{MODULE}.fetch_rate"),
    ]


def test_list_of_a_missing_folder_names_the_nearest_folders_and_exits_3(
    captures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (captures.parent / "tests").mkdir()
    status, out, err = run(capsys, "list", captures.parent / "captuers")
    assert (status, out) == (3, [])
    assert err == (
        f"snapy: {rel(captures.parent / 'captuers')!r} does not exist; folders in "
        f"{rel(captures.parent)!r}, nearest first: captures, tests; pass PATH: a capture "
        "folder or a tests folder holding __recordings__\n"
    )


def test_list_of_a_missing_default_folder_says_where_the_default_came_from(
    snapy_settings: Callable[..., Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run(capsys, "list")
    assert status == 3
    assert err == (
        f"snapy: {rel(tmp_path / 'captures')!r} does not exist; SNAPY_CAPTURE_DIR is not set; "
        "pass PATH: a capture folder or a tests folder holding __recordings__\n"
    )


def test_list_of_an_empty_folder_exits_3(
    snapy_settings: Callable[..., Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty").mkdir()
    status, _, err = run(capsys, "list", tmp_path / "empty")
    assert status == 3
    assert err == (
        f"snapy: {rel(tmp_path / 'empty')!r} is empty (no index.json or .bundle files under "
        "it); pass PATH: a capture folder or a tests folder holding __recordings__\n"
    )


def test_list_of_a_folder_without_snapy_files_exits_3(
    snapy_settings: Callable[..., Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("x = 1\n")
    status, _, err = run(capsys, "list", tmp_path / "src")
    assert status == 3
    assert "holds no snapy captures or recordings (no index.json or .bundle files" in err


def test_list_of_a_file_exits_3(
    snapy_settings: Callable[..., Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notes.txt").write_text("x")
    status, _, err = run(capsys, "list", tmp_path / "notes.txt")
    assert status == 3
    assert err.startswith(f"snapy: {rel(tmp_path / 'notes.txt')!r} is a file, not a folder; ")


def test_list_of_an_unreadable_folder_exits_4(
    captures: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def walk(top: Any, onerror: Callable[[OSError], None]) -> Any:
        onerror(PermissionError(13, "Permission denied", str(top)))
        return iter([])

    monkeypatch.setattr("snapy._inspect.os.walk", walk)
    status, out, err = run(capsys, "list", captures)
    assert (status, out) == (4, [])
    assert err == f"snapy: {rel(captures)}: cannot list the folder (Permission denied)\n"


def test_list_warns_about_a_damaged_index_and_still_lists_the_files(
    captures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    index = captures / MODULE / "convert" / "index.json"
    index.write_text("{not json")
    status, out, err = run(capsys, "list", captures)
    assert status == 0
    assert err.startswith(f"snapy: {rel(index)}: index is not valid JSON (")
    assert err.endswith(" (run `snapy verify`)\n")
    assert out[2].split()[:3] == [f"{MODULE}.convert", "5", "5"]


# -- show -------------------------------------------------------------------------------------


def took(ns: int) -> str:
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.1f} {unit}"
    return f"{ns} ns"


def show_lines(path: Path, position: int, count: int, result: list[str]) -> list[str]:
    stored = body(path)
    meta = stored["meta"]
    which = " (the newest)" if position == count - 1 else (" (the oldest)" if position == 0 else "")
    lines = [
        f"target     {MODULE}.convert",
        f"file       {rel(path)}",
        f"bundle     {position + 1} of {count}, --index {position}{which}",
        f"key        {stored['key']}",
        f"stored     {human(path.stat().st_size)}, serializer=pickle encoding=json, not signed",
        "arguments",
        f"    amount = {stored['arguments']['amount']}",
        f"    currency = {stored['arguments']['currency']!r}",
        "    api_key = <redacted>",
        *result,
        "meta",
    ]
    for name, value in meta.items():
        if name == "duration_ns":
            name, value = "duration", took(value)
        if name != "time_ns":
            lines.append(f"    {name} = {value}")
    return lines


def test_show_prints_the_newest_bundle_by_parameter_name(
    captures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = bundles(captures / MODULE / "convert")
    status, out, err = run(capsys, "show", f"{MODULE}.convert")
    assert (status, err) == (0, "")
    assert out == show_lines(files[-1], 4, 5, ["raised", "    ValueError('negative amount', -1)"])


def test_show_leaves_pickled_objects_unopened(
    captures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = bundles(captures / MODULE / "convert")
    status, out, _ = run(capsys, "show", f"{MODULE}:convert", "--index", "1")
    assert status == 0
    result = [
        "result",
        f"    {{'amount': 2, 'currency': 'USD', 'voucher': <pickled {MODULE}.Token: Token(1)>}}",
    ]
    assert out == show_lines(files[1], 1, 5, result)
    assert unpickled == []


def test_show_unpickle_shows_the_real_object(
    captures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(capsys, "show", f"{MODULE}.convert", "--index", "0", "--unpickle")
    assert status == 0
    assert "    {'amount': 0, 'currency': 'USD', 'voucher': Token(0)}" in out
    assert unpickled == [{"value": 0}]


def test_show_unpickle_refuses_an_unsigned_file_when_a_signing_key_is_set(
    captures: Path, snapy_settings: Callable[..., Any], capsys: pytest.CaptureFixture[str]
) -> None:
    snapy_settings(SNAPY_CAPTURE_DIR=str(captures), SNAPY_SIGNING_KEY=KEY)
    path = bundles(captures / MODULE / "convert")[0]
    status, out, err = run(capsys, "show", f"{MODULE}.convert", "-i", "0", "--unpickle")
    assert (status, out) == (1, [])
    assert err == (
        f"snapy: {rel(path)}: the file is not signed but SNAPY_SIGNING_KEY is set: --unpickle "
        "refuses it, as unpickling runs code the file names; without --unpickle, snapy show "
        "prints its plain data and leaves pickled objects unopened\n"
    )
    assert unpickled == []
    status, out, _ = run(capsys, "show", f"{MODULE}.convert", "-i", "0")
    assert status == 0
    assert out[4].endswith(", not signed (SNAPY_SIGNING_KEY is set: --unpickle refuses it)")


def test_show_by_key_prefix_and_by_file(captures: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = bundles(captures / MODULE / "convert")
    key = body(files[2])["key"]
    _, by_key, _ = run(capsys, "show", f"{MODULE}.convert", "--key", key[:6])
    _, by_file, _ = run(capsys, "show", files[2])
    _, by_folder, _ = run(capsys, "show", files[2].parent, "-i", "2")
    assert by_key == by_file == by_folder
    assert by_key[2] == "bundle     3 of 5, --index 2"


def test_show_a_method_by_colon_name(captures: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "show", f"{MODULE}:Shop.total")
    assert status == 0
    assert out[0] == f"target     {MODULE}.Shop.total"
    assert out[5:10] == ["arguments", "    prices = (4,)", "    discount = 1", "result", "    3"]


def test_show_json_holds_the_rendered_and_the_stored_values(
    captures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = bundles(captures / MODULE / "convert")[1]
    stored = body(path)
    status, out, _ = run(capsys, "show", f"{MODULE}.convert", "-i", "1", "--json")
    assert status == 0
    assert json.loads("\n".join(out)) == {
        "kind": "capture",
        "name": f"{MODULE}.convert",
        "target": f"{MODULE}.convert",
        "test": None,
        "file": str(path),
        "index": 1,
        "count": 5,
        "key": stored["key"],
        "outcome": "result",
        "signed": False,
        "serializer": "pickle",
        "signature": None,
        "arguments": {"amount": "1", "currency": "'USD'", "api_key": "<redacted>"},
        "value": "{'amount': 2, 'currency': 'USD', 'voucher': "
        f"<pickled {MODULE}.Token: Token(1)>}}",
        "mutations": {},
        "meta": stored["meta"],
        "stored": {"arguments": stored["arguments"], "value": stored["value"]},
    }


def test_show_a_recording_by_folder_and_by_full_name(
    recordings: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = recordings / "test_rates" / "test_convert" / f"{MODULE}.fetch_rate"
    path = bundles(folder)[2]
    expected = [
        f"target     {MODULE}.fetch_rate",
        "test       test_rates::test_convert",
        f"file       {rel(path)}",
        "bundle     3 of 3, --index 2 (the newest)",
        f"key        {body(path)['key']}",
        f"stored     {human(path.stat().st_size)}, serializer=pickle encoding=json, not signed",
        "signature  (base: 'str', quote: 'str') -> 'float'",
        "arguments",
        "    base = 'EUR'",
        "    quote = 'XXX'",
        "raised",
        "    KeyError('XXX')",
    ]
    status, out, _ = run(capsys, "show", folder)
    assert (status, out) == (0, expected)
    name = f"test_rates::test_convert::{MODULE}.fetch_rate"
    assert run(capsys, "show", name, "--path", recordings.parent) == (0, expected, "")


def test_show_a_target_recorded_in_two_tests_asks_which(
    recordings: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(capsys, "show", f"{MODULE}.fetch_rate", "-p", recordings)
    assert (status, out) == (1, [])
    usd = recordings / "test_rates" / "TestRates.test_usd" / f"{MODULE}.fetch_rate"
    conv = recordings / "test_rates" / "test_convert" / f"{MODULE}.fetch_rate"
    assert err == (
        f"snapy: '{MODULE}.fetch_rate' names 2 targets in {rel(recordings)!r}: "
        f"test_rates::TestRates.test_usd::{MODULE}.fetch_rate ({rel(usd)}), "
        f"test_rates::test_convert::{MODULE}.fetch_rate ({rel(conv)}); give the full name "
        "(test module::test name::target) or the folder path\n"
    )


def test_show_an_unknown_target_lists_the_nearest_names(
    captures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(capsys, "show", f"{MODULE}.convrt")
    assert (status, out) == (1, [])
    assert err == (
        f"snapy: nothing stored for '{MODULE}.convrt' in {rel(captures)!r}; stored targets, "
        f"nearest first: {MODULE}.convert, {MODULE}.Shop.total; run `snapy list {rel(captures)}` "
        "to see all 2\n"
    )


def test_show_an_unknown_key_or_index(captures: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "show", f"{MODULE}.Shop.total", "--key", "zz")
    keys = [body(p)["key"] for p in bundles(captures / MODULE / "Shop.total")]
    assert status == 1
    assert err.startswith(f"snapy: '{MODULE}.Shop.total' has no bundle with key 'zz'; its keys")
    assert all(k in err for k in keys)
    status, _, err = run(capsys, "show", f"{MODULE}.Shop.total", "--index", "2")
    assert status == 1
    assert err == (
        f"snapy: '{MODULE}.Shop.total' has 2 bundle(s), index 0 (oldest) to 1 (or -1 for the "
        "newest); there is no index 2\n"
    )


def test_show_a_truncated_file_names_it_and_exits_1(
    captures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = bundles(captures / MODULE / "convert")[-1]
    path.write_bytes(path.read_bytes()[:200])
    status, out, err = run(capsys, "show", f"{MODULE}.convert")
    assert (status, out) == (1, [])
    assert err == (
        f"snapy: {rel(path)}: checksum mismatch: the file is truncated or was modified (delete it, "
        "or run `snapy verify` to find every such file)\n"
    )


def test_show_says_what_a_generator_or_a_minimal_capture_stored(
    captures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with warnings.catch_warnings():
        # Python 3.13 deprecates the code swap that capturing a generator function does
        # (snapy._wrapgen, reported separately); this test is about what `show` prints.
        warnings.simplefilter("ignore", DeprecationWarning)
        captured = snapy.capture(production_mode=False)(countdown)
        assert list(captured(2)) == [2, 1]
    export("2026-11-22")
    snapy.flush_captures()
    status, out, _ = run(capsys, "show", f"{MODULE}.countdown")
    assert status == 0
    assert out[5:9] == [
        "arguments",
        "    n = 2",
        "result",
        "    <builtins.generator> (a generator: the items it yields are not captured)",
    ]
    status, out, _ = run(capsys, "show", f"{MODULE}.export")
    assert out[5:9] == [
        "arguments",
        "    day = '2026-11-22'",
        "result",
        "    <builtins.dict> (only the type was stored: minimal_capture)",
    ]


def test_show_lays_a_long_value_out_over_lines(
    captures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report("weekly", 40)
    snapy.flush_captures()
    status, out, _ = run(capsys, "show", f"{MODULE}.report")
    assert status == 0
    first = ", ".join(str(i) for i in range(22)) + ","  # 77 columns: 22 would make 81 > 80
    assert out[8:17] == [
        "result",
        "    {",
        "        'name': 'weekly',",
        "        'rows': [",
        "            " + first,
        "            " + ", ".join(str(i) for i in range(22, 40)) + ",",
        "        ],",
        "        'totals': {'sum': 780, 'n': 40},",
        "    }",
    ]


def test_show_what_a_recorded_call_changed_in_its_arguments(
    recordings: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mock = snapy.mock(fill, recordings=recordings, test_id="test_fill::test_fill", mode="new")
    mock([], 3)
    snapy.flush_recordings()
    status, out, _ = run(capsys, "show", f"test_fill::test_fill::{MODULE}.fill", "-p", recordings)
    assert status == 0
    assert out[7:] == [
        "arguments",
        "    rows = []",
        "    limit = 3",
        "result",
        "    3",
        "mutations (what the call changed in its arguments)",
        "    rows = [0, 1, 2]",
    ]


def test_show_of_a_file_with_an_index_is_a_usage_error(
    captures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = bundles(captures / MODULE / "convert")[0]
    assert run(capsys, "show", path, "--index", "0") == (
        2,
        [],
        "snapy: --key and --index choose a bundle of a target, not of a bundle file\n",
    )


def test_show_a_file_of_a_newer_format_says_to_upgrade(
    captures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = bundles(captures / MODULE / "convert")[-1]
    path.write_bytes(path.read_bytes().replace(b"format=1", b"format=2", 1))
    assert run(capsys, "show", f"{MODULE}.convert") == (
        1,
        [],
        f"snapy: {rel(path)}: written in snapy file format 2; this snapy reads format 1 and "
        "older: upgrade snapy to read it\n",
    )


def test_show_an_unreadable_file_exits_4(
    captures: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = bundles(captures / MODULE / "convert")[-1]
    read = Path.read_bytes

    def refuse(self: Path) -> bytes:
        if self.name.endswith(".bundle"):
            raise PermissionError(13, "Permission denied", str(self))
        return read(self)

    monkeypatch.setattr(Path, "read_bytes", refuse)
    assert run(capsys, "show", f"{MODULE}.convert") == (
        4,
        [],
        f"snapy: {rel(path)}: cannot read the file (Permission denied)\n",
    )


def test_show_key_and_index_together_is_a_usage_error(
    captures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["show", f"{MODULE}.convert", "--key", "a", "--index", "0"])
    err = capsys.readouterr().err
    assert status == 2
    assert "argument --index/-i: not allowed with argument --key/-k" in err


# -- diff -------------------------------------------------------------------------------------


def header(mark: str, name: str, path: Path, position: int, count: int, ns: int) -> str:
    return f"{mark} {name} bundle {position + 1} of {count} ({stamp(ns)}): {rel(path)}"


def test_diff_of_one_target_compares_its_two_newest_bundles(
    captures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = bundles(captures / MODULE / "convert")
    times = [body(p)["meta"]["time_ns"] for p in files]
    redacted = [body(p)["arguments"]["api_key"]["$redacted"][:8] for p in files[3:]]
    name = f"{MODULE}.convert"
    status, out, err = run(capsys, "diff", name)
    assert (status, err) == (0, "")
    assert out == [
        header("---", name, files[3], 3, 5, times[3]),
        header("+++", name, files[4], 4, 5, times[4]),
        "amount: 3 -> -1",
        "currency: 'USD' -> 'EUR'",
        f"api_key: <redacted #{redacted[0]}> -> <redacted #{redacted[1]}>",
        "outcome: returned {'amount': 6, 'currency': 'USD', 'voucher': "
        f"<pickled {MODULE}.Token: Token(3)>}} -> raised ValueError('negative amount', -1)",
        "4 difference(s)",
    ]


def test_diff_of_two_chosen_bundles_shows_one_line_per_changed_path(
    captures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name = f"{MODULE}.convert"
    status, out, _ = run(capsys, "diff", f"{name}@0", f"{name}@2")
    assert status == 0
    assert out[2:] == [
        "amount: 0 -> 2",
        "result['amount']: 0 -> 4",
        f"result['voucher']: <pickled {MODULE}.Token: Token(0)> -> "
        f"<pickled {MODULE}.Token: Token(2)>",
        "3 difference(s)",
    ]
    assert unpickled == []


def test_diff_of_two_capture_folders_compares_their_newest_bundles(
    captures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(
        capsys, "diff", captures / MODULE / "Shop.total", captures / MODULE / "convert"
    )
    assert status == 0
    assert out[2:] == [
        f"target: '{MODULE}.Shop.total' -> '{MODULE}.convert'",
        "prices: removed (4,)",
        "discount: removed 1",
        "amount: added -1",
        "currency: added 'EUR'",
        "api_key: added <redacted #"
        + body(bundles(captures / MODULE / "convert")[-1])["arguments"]["api_key"]["$redacted"][:8]
        + ">",
        "outcome: returned 3 -> raised ValueError('negative amount', -1)",
        "7 difference(s)",
    ]


def test_diff_of_recordings_and_of_equal_bundles(
    recordings: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conv = recordings / "test_rates" / "test_convert" / f"{MODULE}.fetch_rate"
    usd = recordings / "test_rates" / "TestRates.test_usd" / f"{MODULE}.fetch_rate"
    status, out, _ = run(capsys, "diff", f"{conv}@0", f"{conv}@1")
    assert (status, out[2:]) == (
        0,
        ["quote: 'USD' -> 'GBP'", "result: 1.08 -> 0.87", "2 difference(s)"],
    )
    status, out, _ = run(capsys, "diff", f"{conv}@0", usd)
    assert (status, out[2:]) == (
        0,
        ["test: 'test_rates::test_convert' -> 'test_rates::TestRates.test_usd'", "1 difference(s)"],
    )
    status, out, _ = run(capsys, "diff", bundles(conv)[0], bundles(conv)[0])
    assert (status, out[2:]) == (0, ["no differences: same arguments and the same outcome"])


def test_diff_json(captures: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = bundles(captures / MODULE / "Shop.total")
    times = [body(p)["meta"]["time_ns"] for p in files]
    status, out, _ = run(capsys, "diff", f"{MODULE}.Shop.total", "--json")
    assert status == 0
    name = f"{MODULE}.Shop.total"
    assert json.loads("\n".join(out)) == {
        "a": {"name": name, "file": str(files[0]), "index": 0, "count": 2, "time": exact(times[0])},
        "b": {"name": name, "file": str(files[1]), "index": 1, "count": 2, "time": exact(times[1])},
        "differences": [
            {"path": "prices[0]", "change": "changed", "old": "1", "new": "4"},
            {"path": "prices[1]", "change": "removed", "old": "2", "new": None},
            {"path": "prices[2]", "change": "removed", "old": "3", "new": None},
            {"path": "discount", "change": "changed", "old": "0", "new": "1"},
            {"path": "result", "change": "changed", "old": "6", "new": "3"},
        ],
    }


def test_diff_of_a_target_with_one_bundle_says_what_to_do(
    recordings: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    usd = recordings / "test_rates" / "TestRates.test_usd" / f"{MODULE}.fetch_rate"
    status, out, err = run(capsys, "diff", usd)
    assert (status, out) == (1, [])
    assert err == (
        f"snapy: 'test_rates::TestRates.test_usd::{MODULE}.fetch_rate' has 1 bundle(s); nothing "
        "older to compare the chosen one with: give two bundles, `snapy diff A B`\n"
    )


# -- stats ------------------------------------------------------------------------------------


def test_stats_counts_per_module_and_finds_the_largest_bundles(
    captures: Path, recordings: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = [p for p in captures.parent.rglob("*.bundle")]
    sizes = {p: p.stat().st_size for p in files}
    capture_bytes = sum(s for p, s in sizes.items() if captures in p.parents)
    recording_bytes = sum(s for p, s in sizes.items() if recordings in p.parents)
    status, out, _ = run(capsys, "stats", captures.parent, "--top", "3")
    assert status == 0
    assert out[:4] == columns(
        [
            ["module", "kind", "targets", "bundles", "size"],
            [MODULE, "captures", "2", "7", human(capture_bytes)],
            ["test_rates", "recordings", "2", "4", human(recording_bytes)],
            ["total", "", "4", "11", human(capture_bytes + recording_bytes)],
        ],
        {2, 3, 4},
    )
    assert out[4:6] == ["", "largest bundles (3 of 11):"]
    largest = sorted(files, key=lambda p: (-sizes[p], str(p)))[:3]
    assert [line.split()[-1] for line in out[6:]] == [rel(p) for p in largest]
    status, out, _ = run(capsys, "stats", captures.parent, "--json", "--top", "1")
    data = json.loads("\n".join(out))
    assert data["modules"] == [
        {"module": MODULE, "kind": "capture", "targets": 2, "bundles": 7, "bytes": capture_bytes},
        {"module": "test_rates", "kind": "recording", "targets": 2, "bundles": 4,
         "bytes": recording_bytes},
    ]  # fmt: skip
    assert data["total"] == {"targets": 4, "bundles": 11, "bytes": capture_bytes + recording_bytes}
    assert data["largest"] == [
        {"name": f"{MODULE}.convert", "path": str(largest[0]), "bytes": sizes[largest[0]]}
    ]


# -- the command as a whole ------------------------------------------------------------------


def test_help_documents_every_command_and_the_exit_statuses(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("list", "show", "diff", "verify", "prune", "clear", "stats"):
        assert f"    {command} " in out
    assert "  3  PATH does not exist, is empty, or holds no snapy captures or recordings" in out
    assert main(["show", "--help"]) == 0
    assert "Unpickling runs code named in the file" in capsys.readouterr().out.replace(
        "\n", " "
    ).replace("  ", " ")


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "the following arguments are required: COMMAND" in capsys.readouterr().err
    assert main(["prune", "--keep", "-1"]) == 2
    assert "'-1' is not a whole number of bundles (0 or more)" in capsys.readouterr().err


def test_a_malformed_setting_exits_2(
    snapy_settings: Callable[..., Any],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken() -> Any:
        raise snapy.ConfigError("SNAPY_RETENTION", "x", "use a whole number")

    monkeypatch.setattr("snapy._cli.get_settings", broken)
    assert main(["list"]) == 2
    assert (
        capsys.readouterr().err == "snapy: SNAPY_RETENTION='x' is not valid: use a whole number\n"
    )


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("tty", "no_color", "coloured"), [(True, None, True), (True, "1", False), (False, None, False)]
)
def test_colour_only_on_a_terminal_and_never_with_no_color(
    captures: Path,
    monkeypatch: pytest.MonkeyPatch,
    tty: bool,
    no_color: str | None,
    coloured: bool,
) -> None:
    if no_color is None:
        monkeypatch.delenv("NO_COLOR", raising=False)
    else:
        monkeypatch.setenv("NO_COLOR", no_color)
    monkeypatch.delenv("TERM", raising=False)
    out = Terminal() if tty else io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    assert main(["verify", str(captures)]) == 0
    text = out.getvalue()
    assert ("\033[" in text) is coloured
    plain = text.replace("\033[32m", "").replace("\033[0m", "")
    assert plain == "checked 7 bundle(s) and 2 index(es) in 2 folder(s): no problems\n"


def test_list_in_process_sees_captures_still_queued(
    captures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """examples/capture_demo.py calls `main(["list", folder])` right after capturing."""
    from snapy._cli import main as snapy_cli

    for amount in range(10, 15):
        convert(amount)
    assert snapy_cli(["list", str(captures)]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[2].split()[:3] == [f"{MODULE}.convert", "10", "10"]


def test_what_a_hostile_index_holds_cannot_drive_the_terminal(
    captures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    index_path = captures / MODULE / "convert" / "index.json"
    index = json.loads(index_path.read_text())
    index["target"] = "evil\x1b]0;owned\x07\x1b[2J\r\x9b\u202etxt.exe"
    index_path.write_text(json.dumps(index))
    status, out, err = run(capsys, "list", captures)
    assert (status, err) == (0, "")
    assert any(
        line.startswith("evil\\x1b]0;owned\\x07\\x1b[2J\\x0d\\x9b\\u202etxt.exe ") for line in out
    )
    controls = [c for c in "".join(out) if ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F]
    assert controls == [] and "\u202e" not in "".join(out)
