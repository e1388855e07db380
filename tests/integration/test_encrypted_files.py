"""Encryption at rest end to end: captures, recordings, the `snapy` command, no cryptography."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import snapy
from snapy._cli import main

MODULE = __name__
KEY = base64.urlsafe_b64encode(bytes(range(32))).decode()
OLD = base64.urlsafe_b64encode(bytes(range(100, 132))).decode()
SIGNING = "integration-signing-key-0123456789"
#: What the calls below pass and return; none of it may be readable on disk.
VALUES = [b"alice@example.com", b"19.99", b"39.98", b"Zurich-7781", b"r-alice"]
NO_KEY = (
    "but no encryption key is set: set SNAPY_ENCRYPTION_KEY or SNAPY_ENCRYPTION_KEY_FILE to "
    "the key it was written with"
)

Settings = Callable[..., snapy.Settings]


def ident(text: str) -> str:
    key = base64.urlsafe_b64decode(text)
    return hashlib.sha256(b"snapy encryption key id\0" + key).hexdigest()[:8]


@snapy.capture(production_mode=False, retention=10)
def charge(email: str, amount: Decimal, note: str = "") -> dict[str, Any]:
    if amount < 0:
        raise ValueError("refused", email)
    return {"receipt": f"r-{email.split('@')[0]}", "total": amount * 2}


def rate(city: str) -> Decimal:
    return Decimal("19.99") if city.startswith("Zurich") else Decimal("1")


@pytest.fixture
def root(snapy_settings: Settings, tmp_path: Path) -> Path:
    return tmp_path / "captures"


def use(snapy_settings: Settings, root: Path, **environ: str) -> snapy.Settings:
    return snapy_settings(SNAPY_CAPTURE_DIR=str(root), **environ)


def capture_two(snapy_settings: Settings, root: Path, **environ: str) -> list[Path]:
    use(snapy_settings, root, **environ)
    charge("alice@example.com", Decimal("19.99"), note="Zurich-7781")
    with pytest.raises(ValueError):
        charge("alice@example.com", Decimal("-1"))
    snapy.flush_captures()
    return sorted(root.rglob("*.bundle"))


def leaks(root: Path) -> list[tuple[str, bytes]]:
    """Every (file, value) where a value of the calls is readable in a file under `root`."""
    found = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        found += [(path.name, value) for value in VALUES if value in data]
    return found


def header(path: Path) -> str:
    return path.read_bytes().partition(b"\n")[0].decode()


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, list[str], str]:
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out.splitlines(), err


def rel(path: Path) -> str:
    return os.path.relpath(path)


# -- captures --------------------------------------------------------------------------------


def test_captures_are_encrypted_on_disk_and_load_back(snapy_settings: Settings, root: Path) -> None:
    files = capture_two(snapy_settings, root, SNAPY_ENCRYPTION_KEY=KEY)
    assert len(files) == 2
    for path in files:
        assert re.fullmatch(
            rf"snapy-bundle format=1 serializer=pickle encoding=json\+aes256gcm "
            rf"keyid={ident(KEY)} checksum=[0-9a-f]{{32}}",
            header(path),
        )
    assert [(name, v) for name, v in leaks(root) if name.endswith(".bundle")] == []

    loaded = snapy.load_capture(charge)
    assert loaded.exception is not None
    assert (loaded.exception.args, loaded.kwargs) == (("refused", "alice@example.com"), {})
    first = snapy.load_capture(charge, key=files[0].name.rsplit("-", 1)[1][:-7])
    assert first.args == ("alice@example.com", Decimal("19.99"), "Zurich-7781")
    assert first.result == {"receipt": "r-alice", "total": Decimal("39.98")}
    first.assert_replays()
    (info,) = snapy.list_captures()
    assert (info.target, info.bundles, info.calls) == (f"{MODULE}.charge", 2, 2)


def test_capture_index_shows_names_never_values(snapy_settings: Settings, root: Path) -> None:
    capture_two(snapy_settings, root, SNAPY_ENCRYPTION_KEY=KEY)
    (index_path,) = root.rglob("index.json")
    index = json.loads(index_path.read_text())
    assert [entry["summary"] for entry in index["bundles"]] == [
        "charge(email, amount, note) -> <encrypted>",
        "charge(email, amount, note) raised <encrypted>",
    ]
    assert leaks(root) == []


def test_without_the_key_a_capture_is_a_clear_error(snapy_settings: Settings, root: Path) -> None:
    files = capture_two(snapy_settings, root, SNAPY_ENCRYPTION_KEY=KEY)
    use(snapy_settings, root)
    with pytest.raises(snapy.EncryptionKeyError) as info:
        snapy.load_capture(charge)
    assert str(info.value) == f"{files[-1]}: encrypted with key id {ident(KEY)}, {NO_KEY}"
    assert info.value.key_id == ident(KEY)
    (listed,) = snapy.list_captures()  # listing reads the index only: no key needed
    assert listed.bundles == 2


def test_with_another_key_a_capture_is_a_clear_error(snapy_settings: Settings, root: Path) -> None:
    files = capture_two(snapy_settings, root, SNAPY_ENCRYPTION_KEY=KEY)
    use(snapy_settings, root, SNAPY_ENCRYPTION_KEY=OLD)
    with pytest.raises(snapy.EncryptionKeyError) as info:
        snapy.load_capture(charge)
    assert str(info.value) == (
        f"{files[-1]}: encrypted with key id {ident(KEY)}, which is not among the keys "
        f"configured (SNAPY_ENCRYPTION_KEY: {ident(OLD)}): add the key it was written with to "
        "SNAPY_ENCRYPTION_OLD_KEYS (or as a further line of SNAPY_ENCRYPTION_KEY_FILE)"
    )


def test_rotation_keeps_old_captures_readable(
    snapy_settings: Settings, root: Path, tmp_path: Path
) -> None:
    (old_file, _) = capture_two(snapy_settings, root, SNAPY_ENCRYPTION_KEY=OLD)
    key_file = tmp_path / "snapy.key"
    key_file.write_text(f"# the first key encrypts\n{KEY}\n{OLD}\n")
    use(snapy_settings, root, SNAPY_ENCRYPTION_KEY_FILE=str(key_file))
    assert snapy.load_capture(charge, key=old_file.name.rsplit("-", 1)[1][:-7]).result == {
        "receipt": "r-alice",
        "total": Decimal("39.98"),
    }
    charge("bob@example.com", Decimal("2"))
    snapy.flush_captures()
    newest = sorted(root.rglob("*.bundle"))[-1]
    assert f" keyid={ident(KEY)} " in header(newest)
    assert snapy.load_capture(charge).args == ("bob@example.com", Decimal("2"), "")

    # The old key dropped: the old files are named as needing it.
    use(snapy_settings, root, SNAPY_ENCRYPTION_KEY=KEY)
    with pytest.raises(snapy.EncryptionKeyError, match=f"encrypted with key id {ident(OLD)}, wh"):
        snapy.CaptureStorage(root).load(old_file)


def test_plain_captures_still_load_once_a_key_is_set(snapy_settings: Settings, root: Path) -> None:
    (plain, _) = capture_two(snapy_settings, root)
    assert " encoding=json checksum=" in header(plain)
    use(snapy_settings, root, SNAPY_ENCRYPTION_KEY=KEY)
    charge("carol@example.com", Decimal("3"))
    snapy.flush_captures()
    loaded = [snapy.CaptureStorage(root).load(p) for p in sorted(root.rglob("*.bundle"))]
    assert [c.args[0] for c in loaded] == [
        "alice@example.com",
        "alice@example.com",
        "carol@example.com",
    ]
    assert [" keyid=" in header(c.path) for c in loaded] == [False, False, True]


def test_signing_and_encryption_together(snapy_settings: Settings, root: Path) -> None:
    files = capture_two(snapy_settings, root, SNAPY_ENCRYPTION_KEY=KEY, SNAPY_SIGNING_KEY=SIGNING)
    assert re.fullmatch(
        rf"snapy-bundle format=1 serializer=pickle encoding=json\+aes256gcm keyid={ident(KEY)} "
        r"checksum=[0-9a-f]{32} hmac=[0-9a-f]{64}",
        header(files[0]),
    )
    assert snapy.load_capture(charge).exception is not None

    # The signature is checked first: with it right, only the missing encryption key stops it.
    use(snapy_settings, root, SNAPY_SIGNING_KEY=SIGNING)
    with pytest.raises(snapy.EncryptionKeyError, match=NO_KEY):
        snapy.load_capture(charge)
    # Another signing key: refused as forged before any decryption, with the right key at hand.
    use(snapy_settings, root, SNAPY_ENCRYPTION_KEY=KEY, SNAPY_SIGNING_KEY="another-key-0123456789")
    with pytest.raises(snapy.SignatureMismatchError, match="HMAC signature does not match"):
        snapy.load_capture(charge)


# -- recordings ------------------------------------------------------------------------------


def record(snapy_settings: Settings, tmp_path: Path, **environ: str) -> Path:
    snapy_settings(**environ)
    recordings = tmp_path / "tests" / "__recordings__"
    mock = snapy.mock(rate, recordings=recordings, test_id="test_rates::test_zurich", mode="new")
    assert mock("Zurich-7781") == Decimal("19.99")
    assert mock("Basel") == Decimal("1")
    snapy.flush_recordings()
    return recordings


def replay(recordings: Path, city: str) -> Any:
    store = snapy.RecordingStore(recordings)  # a new store: read from disk again
    mock = snapy.mock(rate, recordings=store, test_id="test_rates::test_zurich", mode="replay")
    return mock(city)


def test_recordings_are_encrypted_and_replay(snapy_settings: Settings, tmp_path: Path) -> None:
    recordings = record(snapy_settings, tmp_path, SNAPY_ENCRYPTION_KEY=KEY)
    files = sorted(recordings.rglob("*.bundle"))
    assert len(files) == 2
    assert all(f" encoding=json+aes256gcm keyid={ident(KEY)} " in header(p) for p in files)
    assert [(name, v) for name, v in leaks(recordings) if name.endswith(".bundle")] == []
    assert replay(recordings, "Zurich-7781") == Decimal("19.99")
    assert replay(recordings, "Basel") == Decimal("1")


def test_recording_index_shows_names_never_values(snapy_settings: Settings, tmp_path: Path) -> None:
    recordings = record(snapy_settings, tmp_path, SNAPY_ENCRYPTION_KEY=KEY)
    (index_path,) = recordings.rglob("index.json")
    index = json.loads(index_path.read_text())
    assert [call["summary"] for call in index["calls"]] == [
        "rate(city) -> <encrypted>",
        "rate(city) -> <encrypted>",
    ]
    assert leaks(recordings) == []


def test_replay_without_the_key_is_an_unreadable_miss(
    snapy_settings: Settings, tmp_path: Path
) -> None:
    recordings = record(snapy_settings, tmp_path, SNAPY_ENCRYPTION_KEY=KEY)
    snapy_settings()
    with pytest.raises(snapy.RecordingNotFoundError) as info:
        replay(recordings, "Basel")
    assert info.value.kind == "unreadable"
    (broken,) = [p for p in recordings.rglob("*.bundle") if p.name.startswith("0001-")]
    assert f"{broken}: encrypted with key id {ident(KEY)}, {NO_KEY}" in str(info.value)


# -- the snapy command -----------------------------------------------------------------------


def test_show_decrypts_with_the_key_and_names_the_setting_without(
    snapy_settings: Settings, root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = capture_two(snapy_settings, root, SNAPY_ENCRYPTION_KEY=KEY)
    status, out, err = run(capsys, "show", f"{MODULE}.charge", "--index", "0")
    assert (status, err) == (0, "")
    assert "    email = 'alice@example.com'" in out
    assert "    note = 'Zurich-7781'" in out
    stored = next(line for line in out if line.startswith("stored"))
    assert stored.endswith(", serializer=pickle encoding=json+aes256gcm, not signed")

    use(snapy_settings, root)
    status, out, err = run(capsys, "show", f"{MODULE}.charge", "--index", "0")
    assert (status, out) == (1, [])
    assert err == f"snapy: {rel(files[0])}: encrypted with key id {ident(KEY)}, {NO_KEY}\n"


def test_verify_with_and_without_the_key(
    snapy_settings: Settings, root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = capture_two(snapy_settings, root, SNAPY_ENCRYPTION_KEY=KEY)
    assert run(capsys, "verify", root) == (
        0,
        ["checked 2 bundle(s) and 1 index(es) in 1 folder(s): no problems"],
        "",
    )
    use(snapy_settings, root)
    status, out, err = run(capsys, "verify", root)
    assert (status, err) == (1, "")
    assert out == [
        *(f"{rel(p)}: encrypted with key id {ident(KEY)}, {NO_KEY}" for p in files),
        "checked 2 bundle(s) and 1 index(es) in 1 folder(s): 2 problem(s)",
    ]
    status, out, _ = run(capsys, "verify", root, "--json")
    data = json.loads("\n".join(out))
    assert status == 1
    assert [(p["kind"], p["path"]) for p in data["problems"]] == [
        ("encryption", str(p)) for p in files
    ]


def test_verify_finds_a_modified_encrypted_file_without_the_key(
    snapy_settings: Settings, root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = capture_two(snapy_settings, root, SNAPY_ENCRYPTION_KEY=KEY)
    data = files[0].read_bytes()
    files[0].write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    use(snapy_settings, root)
    status, out, _ = run(capsys, "verify", root, "--json")
    problems = json.loads("\n".join(out))["problems"]
    assert status == 1
    assert [(p["path"], p["kind"], p["cause"]) for p in problems] == [
        (
            str(files[0]),
            "corrupt",
            "checksum mismatch: the file is truncated or was modified (delete it, or run "
            "`snapy verify` to find every such file)",
        ),
        (str(files[1]), "encryption", f"encrypted with key id {ident(KEY)}, {NO_KEY}"),
    ]


def test_list_stats_and_diff_with_encrypted_captures(
    snapy_settings: Settings, root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capture_two(snapy_settings, root, SNAPY_ENCRYPTION_KEY=KEY)
    status, out, _ = run(capsys, "list", root)
    assert status == 0 and out[-1].startswith("1 target(s), 2 bundle(s), ")
    status, out, _ = run(capsys, "stats", root, "--json")
    assert status == 0 and json.loads("\n".join(out))["total"]["bundles"] == 2
    status, out, err = run(capsys, "diff", f"{MODULE}.charge")
    assert (status, err) == (0, "")
    assert "amount: Decimal('19.99') -> Decimal('-1')" in out
    assert "note: 'Zurich-7781' -> ''" in out

    use(snapy_settings, root)
    assert run(capsys, "list", root)[0] == 0  # the index alone: no key needed
    status, out, err = run(capsys, "diff", f"{MODULE}.charge")
    assert (status, out) == (1, [])
    assert err.endswith(f"encrypted with key id {ident(KEY)}, {NO_KEY}\n")


# -- without cryptography ----------------------------------------------------------------------

NO_CRYPTOGRAPHY = """
import json, sys
sys.modules["cryptography"] = None  # as if it were not installed
from decimal import Decimal
from pathlib import Path
import snapy

out = {}

@snapy.capture(production_mode=False)
def pay(amount):
    return amount * 2

snapy.configure(capture_dir="plain")
pay(Decimal("2.5"))
snapy.flush_captures()
out["plain"] = str(snapy.load_capture(pay).result)
for name, value in [
    ("SNAPY_ENCRYPTION_KEY", sys.argv[1]),
    ("SNAPY_ENCRYPTION_KEY_FILE", sys.argv[2]),
    ("SNAPY_ENCRYPTION_OLD_KEYS", sys.argv[1]),
]:
    try:
        snapy.refresh_settings(environ={name: value})
    except snapy.ConfigError as exc:
        out[name] = str(exc)
snapy.refresh_settings(environ={})
try:
    snapy.CaptureStorage("encrypted").load(Path(sys.argv[3]))
except snapy.EncryptionKeyError as exc:
    out["load"] = str(exc)
print(json.dumps(out))
"""


def test_snapy_works_without_cryptography_until_a_key_is_set(
    snapy_settings: Settings, tmp_path: Path
) -> None:
    (encrypted, _) = capture_two(snapy_settings, tmp_path / "encrypted", SNAPY_ENCRYPTION_KEY=KEY)
    key_file = tmp_path / "snapy.key"
    key_file.write_text(KEY + "\n")
    done = subprocess.run(
        [sys.executable, "-c", NO_CRYPTOGRAPHY, KEY, str(key_file), str(encrypted)],
        cwd=tmp_path,
        env={"PATH": os.environ.get("PATH", ""), "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    install = (
        "encryption needs the cryptography package, which is not installed: "
        "pip install 'snapy[encryption]'"
    )
    assert json.loads(done.stdout) == {
        "plain": "5.0",
        "SNAPY_ENCRYPTION_KEY": f"SNAPY_ENCRYPTION_KEY='<hidden>' is not valid: {install}",
        "SNAPY_ENCRYPTION_KEY_FILE": f"SNAPY_ENCRYPTION_KEY_FILE={str(key_file)!r} is not "
        f"valid: {install}",
        "SNAPY_ENCRYPTION_OLD_KEYS": f"SNAPY_ENCRYPTION_OLD_KEYS='<hidden>' is not valid: "
        f"{install}",
        "load": f"{encrypted}: encrypted with key id {ident(KEY)}, {NO_KEY} (and install "
        "cryptography: pip install 'snapy[encryption]')",
    }
