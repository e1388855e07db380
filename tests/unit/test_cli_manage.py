"""`snapy verify`, `prune` and `clear` through `main([...])`, on trees of real captures and
recordings; every deleting command leaves a tree that `verify` accepts."""

from __future__ import annotations

import hashlib
import io
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import filelock
import pytest
from test_cli import (
    KEY,
    MODULE,
    Shop,
    Terminal,
    body,
    bundles,
    captures,
    convert,
    fetch_rate,
    human,
    recordings,
    rel,
    run,
)

import snapy

__all__ = ["captures", "recordings"]  # fixtures shared with test_cli

SUMMARY = "checked {} bundle(s) and {} index(es) in {} folder(s): {}"


def index_files(folder: Path) -> list[str]:
    return [b["file"] for b in json.loads((folder / "index.json").read_text())["bundles"]]


def rechecksum(path: Path, old: bytes, new: bytes) -> None:
    """Change the payload and fix the checksum, as someone who knows the format would."""
    head, payload = path.read_bytes().split(b"\n", 1)
    payload = payload.replace(old, new)
    digest = hashlib.blake2b(payload, digest_size=16).hexdigest().encode()
    fields = [f if not f.startswith(b"checksum=") else b"checksum=" + digest for f in head.split()]
    path.write_bytes(b" ".join(fields) + b"\n" + payload)


@pytest.fixture
def signed(snapy_settings: Callable[..., Any], tmp_path: Path) -> Path:
    """Captures written with SNAPY_SIGNING_KEY set (the key stays set)."""
    root = tmp_path / "signed"
    snapy_settings(SNAPY_CAPTURE_DIR=str(root), SNAPY_SIGNING_KEY=KEY)
    for amount in range(4):
        convert(amount, "USD")
    Shop().total(1)
    snapy.flush_captures()
    return root


# -- verify -----------------------------------------------------------------------------------


def test_verify_accepts_a_sound_tree_of_captures_and_recordings(
    captures: Path, recordings: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "verify", captures.parent) == (
        0,
        [SUMMARY.format(11, 4, 4, "no problems")],
        "",
    )


def test_verify_finds_a_truncated_file_a_tampered_signed_file_and_a_lost_file(
    signed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = bundles(signed / MODULE / "convert")
    files[0].write_bytes(files[0].read_bytes()[:-40])
    rechecksum(files[1], b'"amount": 1', b'"amount": 9')
    files[2].unlink()
    status, out, err = run(capsys, "verify", signed)
    assert (status, err) == (1, "")
    assert out == [
        f"{rel(files[0])}: checksum mismatch: the file is truncated or was modified (delete it, or "
        "run `snapy verify` to find every such file)",
        f"{rel(files[1])}: HMAC signature does not match: the file was modified or signed with "
        "another SNAPY_SIGNING_KEY; refusing to load it",
        f"{rel(files[2])}: listed in index.json but the file does not exist",
        SUMMARY.format(4, 2, 2, "3 problem(s)"),
    ]


def test_verify_without_the_key_checks_signed_files_by_checksum_only(
    signed: Path, snapy_settings: Callable[..., Any], capsys: pytest.CaptureFixture[str]
) -> None:
    rechecksum(bundles(signed / MODULE / "convert")[1], b'"amount": 1', b'"amount": 9')
    snapy_settings(SNAPY_CAPTURE_DIR=str(signed))
    assert run(capsys, "verify", signed) == (
        0,
        [
            SUMMARY.format(5, 2, 2, "no problems"),
            "5 signed bundle(s) were checked by checksum only: set SNAPY_SIGNING_KEY to verify "
            "their signatures",
        ],
        "",
    )


def test_verify_with_a_key_refuses_unsigned_files(
    captures: Path, snapy_settings: Callable[..., Any], capsys: pytest.CaptureFixture[str]
) -> None:
    snapy_settings(SNAPY_CAPTURE_DIR=str(captures), SNAPY_SIGNING_KEY=KEY)
    status, out, _ = run(capsys, "verify", captures / MODULE / "Shop.total")
    files = bundles(captures / MODULE / "Shop.total")
    cause = (
        "the file is not signed but SNAPY_SIGNING_KEY is set; refusing to load it (re-capture "
        "it with the key set, or delete it)"
    )
    assert (status, out) == (
        1,
        [
            f"{rel(files[0])}: {cause}",
            f"{rel(files[1])}: {cause}",
            SUMMARY.format(2, 1, 1, "2 problem(s)"),
        ],
    )


def test_verify_reports_leftovers_unindexed_bundles_foreign_files_and_newer_formats(
    captures: Path, recordings: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conv, shop = captures / MODULE / "convert", captures / MODULE / "Shop.total"
    (conv / ".tmp-x1.part").write_bytes(b"half")
    (captures / ".tmp-y2.part").write_bytes(b"half")
    extra = conv / ("9" * 20 + "-1.1-" + body(bundles(conv)[0])["key"] + ".bundle")
    extra.write_bytes(bundles(conv)[0].read_bytes())
    (shop / "index.json").unlink()
    (shop / "old.pkl").write_bytes(b"\x80\x04")
    rec = recordings / "test_rates" / "test_convert" / f"{MODULE}.fetch_rate"
    index = json.loads((rec / "index.json").read_text())
    (rec / "index.json").write_text(json.dumps({**index, "snapy_recordings": 2}))
    newer = bundles(recordings / "test_rates" / "TestRates.test_usd" / f"{MODULE}.fetch_rate")[0]
    newer.write_bytes(newer.read_bytes().replace(b"format=1", b"format=2", 1))
    status, out, _ = run(capsys, "verify", captures.parent)
    assert status == 1
    assert out == [
        f"{rel(captures / '.tmp-y2.part')}: temporary file left by an interrupted write; delete it",
        f"{rel(shop / 'index.json')}: missing: 2 bundle(s) have no index (snapy rebuilds it on the "
        "next write to this folder)",
        f"{rel(shop / 'old.pkl')}: not a snapy file (a bundle of another tool or an older snapy "
        "format?); this snapy cannot read it",
        f"{rel(conv / '.tmp-x1.part')}: temporary file left by an interrupted write; delete it",
        f"{rel(extra)}: the bundle is not listed in index.json",
        f"{rel(newer)}: written in snapy file format 2; this snapy reads format 1 and older: "
        "upgrade snapy to read it",
        f"{rel(rec / 'index.json')}: index format 2 is newer than this snapy reads (1): "
        "upgrade snapy to use this folder",
        SUMMARY.format(12, 3, 4, "7 problem(s)"),
    ]


def test_verify_json_lists_each_problem_with_a_stable_kind(
    captures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lost = bundles(captures / MODULE / "Shop.total")[0]
    lost.unlink()
    status, out, _ = run(capsys, "verify", captures, "--json")
    assert status == 1
    assert json.loads("\n".join(out)) == {
        "ok": False,
        "checked": {"folders": 2, "bundles": 6, "indexes": 2},
        "unchecked_signatures": 0,
        "problems": [
            {
                "path": str(lost),
                "kind": "missing-file",
                "cause": "listed in index.json but the file does not exist",
            }
        ],
    }


def test_verify_one_bundle_file(captures: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = bundles(captures / MODULE / "convert")[0]
    assert run(capsys, "verify", path) == (0, [SUMMARY.format(1, 0, 0, "no problems")], "")


def test_verify_of_a_missing_folder_exits_3(
    captures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(capsys, "verify", captures / "nope")
    assert (status, out) == (3, [])
    assert err.startswith(f"snapy: {rel(captures / 'nope')!r} does not exist; folders in ")


# -- prune ------------------------------------------------------------------------------------


def test_prune_dry_run_says_what_would_go_and_deletes_nothing(
    captures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conv = captures / MODULE / "convert"
    files = bundles(conv)
    before = {p: p.read_bytes() for p in captures.rglob("*") if p.is_file()}
    status, out, _ = run(capsys, "prune", captures, "--keep", "2", "--dry-run")
    assert status == 0
    gone = sum(p.stat().st_size for p in files[:3])
    assert out[0] == f"would delete 3 bundle(s) of {MODULE}.convert ({human(gone)}), 2 left"
    assert [line.split()[-1] for line in out[1:4]] == [rel(p) for p in files[:3]]
    assert out[4] == (
        f"would delete 3 bundle(s) of 1 target(s), {human(gone)} in all; run again without "
        "--dry-run to delete them"
    )
    assert {p: p.read_bytes() for p in captures.rglob("*") if p.is_file()} == before


def test_prune_keeps_the_newest_and_leaves_a_tree_verify_accepts(
    captures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conv = captures / MODULE / "convert"
    files = bundles(conv)
    gone = human(sum(p.stat().st_size for p in files[:3]))
    status, out, _ = run(capsys, "prune", captures, "--keep", "2")
    assert (status, out) == (
        0,
        [
            f"deleted 3 bundle(s) of {MODULE}.convert ({gone}), 2 left",
            f"deleted 3 bundle(s) of 1 target(s), {gone} in all",
        ],
    )
    assert bundles(conv) == files[3:]
    assert index_files(conv) == [p.name for p in files[3:]]
    assert run(capsys, "verify", captures)[0] == 0
    assert snapy.load_capture(convert, path=captures).exception.args == ("negative amount", -1)


def test_prune_rewrites_an_index_that_lists_a_lost_file(
    captures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shop = captures / MODULE / "Shop.total"
    bundles(shop)[0].unlink()
    assert run(capsys, "prune", captures, "--keep", "10") == (
        0,
        ["nothing to delete: no function has more than 10 bundle(s)"],
        "",
    )
    assert index_files(shop) == [p.name for p in bundles(shop)]
    assert run(capsys, "verify", captures)[0] == 0


def test_prune_of_more_than_a_handful_refuses_without_a_terminal_or_yes(
    captures: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    status, out, err = run(capsys, "prune", captures, "--keep", "0")
    assert (status, out) == (1, [])
    assert err == (
        "snapy: delete 7 bundle(s) of 2 target(s)?: not asked, because stdin is not a "
        "terminal; nothing deleted. Pass --yes to delete without asking, or --dry-run to see "
        "what would go\n"
    )
    assert len(list(captures.rglob("*.bundle"))) == 7
    status, out, _ = run(capsys, "prune", captures, "--keep", "0", "--yes")
    assert status == 0 and out[-1].startswith("deleted 7 bundle(s) of 2 target(s), ")
    assert list(captures.rglob("*.bundle")) == []
    assert run(capsys, "verify", captures)[0] == 0


@pytest.mark.parametrize(("answer", "status", "left"), [("y\n", 0, 0), ("n\n", 1, 7), ("", 1, 7)])
def test_prune_asks_on_a_terminal(
    captures: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    answer: str,
    status: int,
    left: int,
) -> None:
    monkeypatch.setattr("sys.stdin", Terminal(answer))
    done, out, err = run(capsys, "prune", captures, "--keep", "0")
    assert done == status
    assert err.startswith("delete 7 bundle(s) of 2 target(s)? [y/N] ")
    if status:
        assert (out, err) == (
            [],
            "delete 7 bundle(s) of 2 target(s)? [y/N] snapy: nothing deleted\n",
        )
    assert len(list(captures.rglob("*.bundle"))) == left


def test_prune_leaves_a_folder_of_a_newer_index_format_alone(
    captures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shop = captures / MODULE / "Shop.total"
    index = json.loads((shop / "index.json").read_text())
    (shop / "index.json").write_text(json.dumps({**index, "snapy_index": 2}))
    before = (shop / "index.json").read_bytes(), bundles(shop)
    status, out, err = run(capsys, "prune", captures, "--keep", "1")
    assert status == 0
    assert err == (
        f"snapy: skipped {rel(shop)}: index format 2 is newer than this snapy reads (1): "
        "upgrade snapy to use this folder\n"
    )
    assert out[0].startswith(f"deleted 4 bundle(s) of {MODULE}.convert (")
    assert ((shop / "index.json").read_bytes(), bundles(shop)) == before
    status, _, err = run(capsys, "clear", shop)
    assert status == 1
    assert err == (
        f"snapy: {rel(shop)}: index format 2 is newer than this snapy reads (1): upgrade snapy "
        "to use this folder; nothing deleted\n"
    )


def test_prune_of_recordings_explains_why_not(
    recordings: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "prune", recordings, "--keep", "1") == (
        1,
        [],
        f"snapy: no captures to prune in {rel(recordings)!r} (it holds 2 recording folder(s)); "
        "tests replay every recording they keep, so prune does not thin them: delete one "
        "target's with `snapy clear`, or re-record a test with SIDE_EFFECT_CAPTURE=all\n",
    )


def test_prune_waits_for_the_folder_lock_and_gives_up_with_status_4(
    captures: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("snapy._cli_manage.LOCK_TIMEOUT", 0.2)
    conv = captures / MODULE / "convert"
    held, release = threading.Event(), threading.Event()

    def writer() -> None:
        with filelock.FileLock(conv / ".lock"):
            held.set()
            release.wait(10)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        held.wait(10)
        status, out, err = run(capsys, "prune", captures, "--keep", "1")
    finally:
        release.set()
        thread.join()
    assert (status, out) == (4, [])
    assert err == (
        f"snapy: {rel(conv / '.lock')}: another process has held the lock for 0.2 s; try again\n"
    )
    assert len(bundles(conv)) == 5


def test_prune_that_may_not_delete_exits_4(
    captures: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(path: Any) -> None:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr("snapy._store.os.unlink", refuse)
    status, out, err = run(capsys, "prune", captures, "--keep", "4")
    first = bundles(captures / MODULE / "convert")[0]
    assert (status, out) == (4, [])
    assert err == f"snapy: {rel(first)}: cannot delete (Permission denied)\n"


def test_prune_json(captures: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = bundles(captures / MODULE / "Shop.total")[0]
    size = first.stat().st_size
    status, out, _ = run(capsys, "prune", captures, "--keep", "4", "--json", "--dry-run")
    assert status == 0
    conv = bundles(captures / MODULE / "convert")[0]
    rows = [{"name": f"{MODULE}.convert", "kind": "capture", "path": str(conv),
             "bytes": conv.stat().st_size}]  # fmt: skip
    assert json.loads("\n".join(out)) == {
        "dry_run": True,
        "deleted": rows,
        "bundles": 1,
        "bytes": conv.stat().st_size,
    }
    assert first.stat().st_size == size


# -- clear ------------------------------------------------------------------------------------


def test_clear_a_captured_function(captures: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conv = captures / MODULE / "convert"
    gone = human(sum(p.stat().st_size for p in bundles(conv)))
    status, out, _ = run(capsys, "clear", f"{MODULE}.convert", "--dry-run")
    assert (
        status == 0 and out[0] == f"would delete 5 bundle(s) of {MODULE}.convert ({gone}), 0 left"
    )
    assert len(bundles(conv)) == 5
    assert run(capsys, "clear", f"{MODULE}.convert") == (
        0,
        [
            f"deleted 5 bundle(s) of {MODULE}.convert ({gone}), 0 left",
            f"deleted 5 bundle(s) of 1 target(s), {gone} in all",
        ],
        "",
    )
    assert sorted(p.name for p in conv.iterdir()) == [".lock"]
    assert run(capsys, "verify", captures)[:2] == (0, [SUMMARY.format(2, 1, 1, "no problems")])
    assert [line.split()[0] for line in run(capsys, "list", captures)[1][1:-1]] == [
        f"{MODULE}.Shop.total"
    ]
    convert(7)
    snapy.flush_captures()
    assert snapy.load_capture(convert).arguments["amount"] == 7


def test_clear_a_recorded_target_and_replay_then_misses(
    recordings: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name = f"test_rates::test_convert::{MODULE}.fetch_rate"
    status, out, _ = run(capsys, "clear", name, "--path", recordings.parent, "--json")
    folder = recordings / "test_rates" / "test_convert" / f"{MODULE}.fetch_rate"
    data = json.loads("\n".join(out))
    assert (status, data["dry_run"], data["bundles"]) == (0, False, 3)
    assert [row["name"] for row in data["deleted"]] == [name] * 3
    assert sorted(p.name for p in folder.iterdir()) == [".lock"]
    assert run(capsys, "verify", recordings)[:2] == (0, [SUMMARY.format(1, 1, 1, "no problems")])
    store = snapy.RecordingStore(recordings)
    mock = snapy.mock(fetch_rate, recordings=store, test_id="test_rates::test_convert")
    with pytest.raises(snapy.RecordingNotFoundError) as miss:
        mock("EUR", "USD")
    assert miss.value.kind == "no recordings"


def test_clear_of_more_than_a_handful_asks(
    captures: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    convert(9)
    snapy.flush_captures()
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    status, _, err = run(capsys, "clear", f"{MODULE}.convert")
    assert status == 1 and err.startswith("snapy: delete 6 bundle(s) of 1 target(s)?: not asked")
    assert run(capsys, "clear", f"{MODULE}.convert", "-y")[0] == 0


def test_clear_an_unknown_target_or_a_single_file(
    captures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run(capsys, "clear", f"{MODULE}.Shop.totl")
    assert status == 1
    assert err.startswith(
        f"snapy: nothing stored for '{MODULE}.Shop.totl' in {rel(captures)!r}; stored targets, "
        f"nearest first: {MODULE}.Shop.total, "
    )
    path = bundles(captures / MODULE / "convert")[0]
    assert run(capsys, "clear", path) == (
        1,
        [],
        f"snapy: clear deletes every bundle of a target; {str(path)!r} is one bundle file: give "
        f"its target, '{MODULE}.convert', or delete the file and run `snapy verify`\n",
    )
