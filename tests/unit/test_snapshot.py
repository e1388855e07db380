"""`AmberFileBackend`: syrupy's `.ambr` files read and written without pytest, entry by entry."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from syrupy.filters import props

import snapy
from snapy import _snapshot
from snapy._snapshot import AmberFileBackend, diff_lines, update_requested

SettingsFactory = Callable[..., snapy.Settings]

TEST = "TestInvoices.test_total"
HEADER = "# serializer version: 1\n"
MISSING = "snapshot {entry!r} does not exist in {where!r}; run with SNAPSHOT_UPDATE=1 to write it"


def entry(name: str, *lines: str) -> str:
    """One amber entry as syrupy writes it: name, data indented by two spaces, divider."""
    return f"# name: {name}\n" + "".join(f"  {line}\n" for line in lines) + "# ---\n"


def backend(tmp_path: Path, update: bool = False, test: str = TEST) -> AmberFileBackend:
    return AmberFileBackend(tmp_path / "test_invoices.py", test, update)


@pytest.fixture
def ambr(tmp_path: Path) -> Path:
    return tmp_path / "__snapshots__" / "test_invoices.ambr"


@pytest.fixture(autouse=True)
def quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    """The update announcement is once per process; each test starts before it."""
    monkeypatch.setattr(_snapshot, "_announced", False)


# -- entry names -------------------------------------------------------------------------------


def test_the_file_sits_in_snapshots_next_to_the_test_file(tmp_path: Path, ambr: Path) -> None:
    assert backend(tmp_path).location == ambr


def test_entries_are_named_as_syrupy_names_them(tmp_path: Path, ambr: Path) -> None:
    snapshots = backend(tmp_path, update=True)
    snapshots.assert_match(1, None, None)
    snapshots.assert_match(2, None, None)
    snapshots.assert_match(3, "eur", None)
    assert ambr.read_text() == (
        HEADER + entry(TEST, "1") + entry(f"{TEST}.1", "2") + entry(f"{TEST}[eur]", "3")
    )
    assert [p.name for p in ambr.parent.iterdir()] == [ambr.name]  # no lock or temporary file


def test_the_counter_counts_every_assertion_named_or_not(tmp_path: Path, ambr: Path) -> None:
    # syrupy's index moves on a named assertion too: the third one is `.2`, not `.1`.
    snapshots = backend(tmp_path, update=True)
    for value, name in [("a", None), ("b", "named"), ("c", None), ("d", None)]:
        snapshots.assert_match(value, name, None)
    names = [line[len("# name: ") :] for line in ambr.read_text().splitlines() if "name:" in line]
    assert names == [TEST, f"{TEST}.2", f"{TEST}.3", f"{TEST}[named]"]
    assert [backend(tmp_path).entry_name(n) for n in (None, "x")] == [TEST, f"{TEST}[x]"]


def test_a_second_run_reads_the_entries_back(tmp_path: Path) -> None:
    writer = backend(tmp_path, update=True)
    for value, name in [({"total": 108.0}, None), ([1, 2], "rows"), ("third", None)]:
        writer.assert_match(value, name, None)
    reader = backend(tmp_path)
    for value, name in [({"total": 108.0}, None), ([1, 2], "rows"), ("third", None)]:
        reader.assert_match(value, name, None)
    assert reader.executions == 3


def test_each_test_has_its_own_entries_in_the_shared_file(tmp_path: Path, ambr: Path) -> None:
    backend(tmp_path, update=True, test="TestA.test_one").assert_match("one", None, None)
    backend(tmp_path, update=True, test="TestB.test_two").assert_match("two", None, None)
    assert ambr.read_text() == (
        HEADER + entry("TestA.test_one", "'one'") + entry("TestB.test_two", "'two'")
    )
    again = backend(tmp_path, test="TestA.test_one")
    again.assert_match("one", None, None)
    with pytest.raises(AssertionError, match=r"^snapshot 'TestA\.test_one\.1' does not exist"):
        again.assert_match("two", None, None)


def test_exclude_leaves_properties_out(tmp_path: Path, ambr: Path) -> None:
    value = {"id": 41, "total": 108.0}
    backend(tmp_path, update=True).assert_match(value, None, props("id"))
    assert ambr.read_text() == HEADER + entry(TEST, "dict({", "  'total': 108.0,", "})")
    backend(tmp_path).assert_match({**value, "id": 42}, None, props("id"))


# -- failures ------------------------------------------------------------------------------------


def test_a_missing_snapshot_fails_unless_updating(tmp_path: Path, ambr: Path) -> None:
    with pytest.raises(AssertionError) as missing_file:
        backend(tmp_path).assert_match("x", None, None)
    assert str(missing_file.value) == MISSING.format(entry=TEST, where=str(ambr))
    assert not ambr.parent.exists()

    backend(tmp_path, update=True).assert_match("x", None, None)
    snapshots = backend(tmp_path)
    snapshots.assert_match("x", None, None)
    with pytest.raises(AssertionError) as missing_entry:
        snapshots.assert_match("y", "other", None)
    assert str(missing_entry.value) == MISSING.format(entry=f"{TEST}[other]", where=str(ambr))


def test_a_mismatch_shows_a_unified_diff(tmp_path: Path, ambr: Path) -> None:
    backend(tmp_path, update=True).assert_match(
        {"amount": 100, "quote": "USD", "total": 108.0}, None, None
    )
    before = ambr.read_bytes()
    with pytest.raises(AssertionError) as failed:
        backend(tmp_path).assert_match({"amount": 200, "quote": "USD", "total": 216.0}, None, None)
    assert str(failed.value) == (
        f"value does not match snapshot {TEST!r} in {str(ambr)!r} "
        "(- snapshot, + value; SNAPSHOT_UPDATE=1 updates it):\n"
        "@@ -1,5 +1,5 @@\n"
        " dict({\n"
        "-  'amount': 100,\n"
        "+  'amount': 200,\n"
        "   'quote': 'USD',\n"
        "-  'total': 108.0,\n"
        "+  'total': 216.0,\n"
        " })"
    )
    assert ambr.read_bytes() == before


def test_diff_lines_have_no_file_headers() -> None:
    assert diff_lines("a\nb\nc", "a\nB\nc") == ["@@ -1,3 +1,3 @@", " a", "-b", "+B", " c"]
    assert diff_lines("same", "same") == []


# -- updating ------------------------------------------------------------------------------------


def test_update_rewrites_a_changed_entry_and_keeps_the_others(tmp_path: Path, ambr: Path) -> None:
    writer = backend(tmp_path, update=True)
    writer.assert_match("first", None, None)
    writer.assert_match("second", None, None)
    updater = backend(tmp_path, update=True)
    updater.assert_match("first", None, None)
    updater.assert_match("changed", None, None)
    assert ambr.read_text() == HEADER + entry(TEST, "'first'") + entry(f"{TEST}.1", "'changed'")


def test_update_leaves_a_matching_file_untouched(tmp_path: Path, ambr: Path) -> None:
    # Written in syrupy's collection order (not sorted by name), with a foreign entry.
    text = HEADER + entry("TestZ.test_z", "'z'") + entry(TEST, "'a'")
    ambr.parent.mkdir()
    ambr.write_text(text)
    backend(tmp_path, update=True).assert_match("a", None, None)
    assert ambr.read_text() == text


def test_update_keeps_the_order_of_the_file(tmp_path: Path, ambr: Path) -> None:
    ambr.parent.mkdir()
    ambr.write_text(
        HEADER + entry("TestZ.test_z", "'z'") + entry(TEST, "'old'") + entry("TestA.test_a", "'a'")
    )
    snapshots = backend(tmp_path, update=True)
    snapshots.assert_match("new", None, None)
    snapshots.assert_match("added", None, None)
    snapshots.assert_match("named", "extra", None)
    assert ambr.read_text() == (
        HEADER
        + entry("TestZ.test_z", "'z'")
        + entry(TEST, "'new'")
        + entry(f"{TEST}.1", "'added'")
        + entry("TestA.test_a", "'a'")
        + entry(f"{TEST}[extra]", "'named'")
    )


@pytest.mark.parametrize("first_line", ["# serializer version: 0\n", ""])
def test_a_file_of_another_amber_version_must_be_regenerated(
    tmp_path: Path, ambr: Path, first_line: str
) -> None:
    ambr.parent.mkdir()
    ambr.write_text(first_line + entry(TEST, "'same'") + entry("TestZ.test_z", "'z'"))
    with pytest.raises(AssertionError) as tainted:
        backend(tmp_path).assert_match("same", None, None)
    assert str(tainted.value) == (
        f"snapshot {TEST!r} in {str(ambr)!r} was written by another version of the amber "
        "format (this syrupy writes version 1); run with SNAPSHOT_UPDATE=1 to regenerate it"
    )
    backend(tmp_path, update=True).assert_match("same", None, None)
    assert ambr.read_text() == HEADER + entry(TEST, "'same'") + entry("TestZ.test_z", "'z'")
    backend(tmp_path).assert_match("same", None, None)


def test_update_follows_snapshot_update(snapy_settings: SettingsFactory, tmp_path: Path) -> None:
    assert update_requested() is False
    snapy_settings(SNAPSHOT_UPDATE="1")
    assert update_requested() is True
    snapy_settings(SNAPSHOT_UPDATE="0")
    assert update_requested() is False
    (tmp_path / ".env").write_text("SNAPSHOT_UPDATE=yes\n")
    assert snapy_settings().snapshot_update is True
    assert update_requested() is True


def test_updating_is_announced_once_with_its_source(
    snapy_settings: SettingsFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    backend(tmp_path)
    assert capsys.readouterr().err == ""
    snapy_settings(SNAPSHOT_UPDATE="1")
    backend(tmp_path, update=True)
    backend(tmp_path, update=True)
    assert (
        capsys.readouterr().err == "snapy: updating snapshots (SNAPSHOT_UPDATE, from environment)\n"
    )


def test_a_syrupy_written_file_is_read_the_same(tmp_path: Path, ambr: Path) -> None:
    from syrupy.data import Snapshot, SnapshotCollection
    from syrupy.extensions.amber import AmberDataSerializer

    values: list[tuple[Any, str | None]] = [({"b": [1, 2], "a": None}, None), ({3, 1}, "set")]
    collection = SnapshotCollection(location=str(ambr))
    for index, (value, name) in enumerate(values):
        entry_name = f"{TEST}[{name}]" if name else (f"{TEST}.{index}" if index else TEST)
        collection.add(Snapshot(name=entry_name, data=AmberDataSerializer.serialize(value)))
    ambr.parent.mkdir()
    AmberDataSerializer.write_file(collection)
    snapshots = backend(tmp_path)
    for value, name in values:
        snapshots.assert_match(value, name, None)
