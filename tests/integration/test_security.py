"""What reaches disk is safe: secrets redacted, private modes, names kept inside, files signed."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import pickle
import re
import shutil
import stat
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import snapy
from snapy._cli import main


@pytest.fixture(autouse=True)
def _default_settings(snapy_settings: object) -> None:
    """In-process snapy settings start from the defaults, whatever SNAPY_* the shell has set."""


SOURCE_ROOT = str(Path(snapy.__file__).resolve().parents[1])
KEY = "integration-signing-key-0123456789"


def run(tmp_path: Path, script: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run `script` (a file in `tmp_path`) with capture settings from `env` only."""
    environ = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONDONTWRITEBYTECODE": "1",
        # The snapy under test, whichever environment runs this (a tox env holds a copy).
        "PYTHONPATH": SOURCE_ROOT,
        **env,
    }
    return subprocess.run(
        [sys.executable, script, *args],
        cwd=tmp_path,
        env=environ,
        capture_output=True,
        text=True,
        timeout=30,
    )


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from _strings(value)


def stored_bytes(root: Path) -> dict[Path, list[bytes]]:
    """Every file under `root` as bytes, plus what its JSON holds base64-encoded (pickles)."""
    found: dict[Path, list[bytes]] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        forms = [data]
        text = data
        if path.suffix == ".bundle":
            head, _, text = data.partition(b"\n")
            if b" encoding=json+zlib " in head:
                text = zlib.decompress(text)
                forms.append(text)
        if path.suffix in (".bundle", ".json"):
            for string in _strings(json.loads(text)):
                try:
                    forms.append(base64.b64decode(string, validate=True))
                except (binascii.Error, ValueError):
                    pass
        found[path] = forms
    return found


APP = """
import dataclasses

import snapy


class Credentials:
    def __init__(self, user, secret):
        self.user = user
        self.secret = secret


@dataclasses.dataclass
class Config:
    host: str
    secret: str


@snapy.capture
def login(user, password, api_key, requests, creds, config):
    return {"user": user, "session": {"access_token": "S6-access-token-0e5d"}}
"""

LOGIN = """
import json

import app
import snapy

result = app.login(
    "alice-visible-1",
    password="S1-password-7f3a",
    api_key="S2-api-key-91bc",
    requests=[{"path": "/pay", "auth": {"token": "S3-nested-token-44d2"}}],
    creds=app.Credentials("bob-visible-2", "S4-object-secret-c0de"),
    config=app.Config("db-visible-3", "S5-dataclass-secret-b1e5"),
)
capture = snapy.load_capture("app.login")
args = capture.arguments
print(json.dumps({
    "returned": result,
    "user": repr(args["user"]),
    "password": repr(args["password"]),
    "api_key": repr(args["api_key"]),
    "path": repr(args["requests"][0]["path"]),
    "auth": repr(args["requests"][0]["auth"]),
    "creds.user": repr(args["creds"].user),
    "creds.secret": repr(args["creds"].secret),
    "config.host": repr(args["config"].host),
    "config.secret": repr(args["config"].secret),
    "access_token": repr(capture.result["session"]["access_token"]),
}))
"""

SECRETS = [
    "S1-password-7f3a",
    "S2-api-key-91bc",
    "S3-nested-token-44d2",
    "S4-object-secret-c0de",
    "S5-dataclass-secret-b1e5",
    "S6-access-token-0e5d",
]


def test_secrets_never_reach_disk(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(APP)
    (tmp_path / "login.py").write_text(LOGIN)
    root = tmp_path / "captures"
    done = run(tmp_path, "login.py", SNAPY_CAPTURE_ENABLED="1", SNAPY_CAPTURE_DIR=str(root))
    assert (done.returncode, done.stderr) == (0, "")
    assert json.loads(done.stdout) == {
        "returned": {
            "user": "alice-visible-1",
            "session": {"access_token": "S6-access-token-0e5d"},
        },
        "user": "'alice-visible-1'",
        "password": "<redacted>",
        "api_key": "<redacted>",
        "path": "'/pay'",
        "auth": "<redacted>",
        "creds.user": "'bob-visible-2'",
        "creds.secret": "<redacted>",
        "config.host": "'db-visible-3'",
        "config.secret": "<redacted>",
        "access_token": "<redacted>",
    }

    stored = stored_bytes(root)
    assert sorted(p.name for p in stored if p.suffix != ".bundle") == [
        ".lock",
        ".redaction-key",
        "index.json",
    ]
    assert len([p for p in stored if p.suffix == ".bundle"]) == 1
    for secret in SECRETS:
        leaks = [str(p) for p, forms in stored.items() if any(secret.encode() in f for f in forms)]
        assert leaks == [], secret
    # The search does reach plain text and the inside of pickles: what is not secret is found.
    for visible in ("alice-visible-1", "bob-visible-2", "db-visible-3"):
        assert any(visible.encode() in f for forms in stored.values() for f in forms), visible
    (bundle,) = (p for p in stored if p.suffix == ".bundle")
    assert b"bob-visible-2" not in bundle.read_bytes()  # only inside the pickle


MODES = """
import os
import sys

os.umask(int(sys.argv[1], 8))

import snapy


@snapy.capture
def ping(n):
    return n


def pay(amount, token):
    return amount


ping(1)
snapy.flush_captures()
recorder = snapy.mock(pay, recordings="__recordings__", test_id="test_m::test_x", mode="new")
recorder(5, token="t-1")
snapy.flush_recordings()
open("plain.txt", "w").close()
"""


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077])
def test_files_are_0600_and_folders_0700_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    (tmp_path / "modes.py").write_text(MODES)
    root = tmp_path / "captures"
    done = run(
        tmp_path, "modes.py", oct(umask), SNAPY_CAPTURE_ENABLED="1", SNAPY_CAPTURE_DIR=str(root)
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    # The umask was in effect: a file the script made itself has the mode it allows.
    assert stat.S_IMODE((tmp_path / "plain.txt").stat().st_mode) == 0o666 & ~umask

    recordings = tmp_path / "__recordings__"
    modes = {
        p.relative_to(tmp_path).as_posix(): stat.S_IMODE(p.stat().st_mode)
        for p in [root, *root.rglob("*"), recordings, *recordings.rglob("*")]
    }
    bundle = next(name for name in modes if name.endswith(".bundle") and "captures" in name)
    recorded = next(name for name in modes if name.endswith(".bundle") and name != bundle)
    pay = "__recordings__/test_m/test_x/__main__.pay"
    assert modes == {
        "captures": 0o700,
        "captures/.redaction-key": 0o600,
        "captures/__main__": 0o700,
        "captures/__main__/ping": 0o700,
        "captures/__main__/ping/.lock": 0o600,
        "captures/__main__/ping/index.json": 0o600,
        bundle: 0o600,
        "__recordings__": 0o700,
        "__recordings__/.redaction-key": 0o600,
        "__recordings__/test_m": 0o700,
        "__recordings__/test_m/test_x": 0o700,
        pay: 0o700,
        f"{pay}/.lock": 0o600,
        f"{pay}/index.json": 0o600,
        recorded: 0o600,
    }
    assert recorded.startswith(f"{pay}/0000-")


NAMES_APP = """
import snapy


def outer():
    @snapy.capture
    def inner(x):
        return x + 1

    return inner


inner = outer()
double = snapy.capture(lambda y: y * 2)


def escape(z):
    return z


escape.__module__ = "../../outside"
escape.__qualname__ = "../../../etc/passwd"
escape = snapy.capture(escape)


def long(w):
    return w


long.__qualname__ = "x" * 300
long = snapy.capture(long)
"""

NAMES_RUN = """
import app

print(app.inner(1), app.double(2), app.escape(3), app.long(4))
"""


def test_locals_lambdas_and_hostile_names_stay_inside_the_root(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "app.py").write_text(NAMES_APP)
    (work / "names.py").write_text(NAMES_RUN)
    root = work / "captures"
    done = run(work, "names.py", SNAPY_CAPTURE_ENABLED="1", SNAPY_CAPTURE_DIR=str(root))
    assert (done.returncode, done.stdout, done.stderr) == (0, "2 4 3 4\n", "")

    assert sorted(p.name for p in tmp_path.iterdir()) == ["work"]
    assert sorted(p.name for p in work.iterdir()) == ["app.py", "captures", "names.py"]
    real_root = os.path.realpath(root)
    everything = list(root.rglob("*"))
    assert all(os.path.realpath(p).startswith(real_root + os.sep) for p in everything)
    folders = sorted(p.relative_to(root).as_posix() for p in everything if p.is_dir())
    hashed = "-[0-9a-f]{8}"
    patterns = [
        f"_\\._\\.\\._outside{hashed}",
        f"_\\._\\.\\._outside{hashed}/_\\._\\.\\._\\.\\._etc_passwd{hashed}",
        "app",
        f"app/_lambda_{hashed}",
        f"app/outer\\._locals_\\.inner{hashed}",
        f"app/{'x' * 91}{hashed}",
    ]
    assert len(folders) == len(patterns)
    for folder, pattern in zip(folders, patterns, strict=True):
        assert re.fullmatch(pattern, folder), (folder, pattern)
    assert all(len(name) <= 100 for p in everything for name in [p.name])

    assert snapy.load_capture("app.outer.<locals>.inner", path=root).result == 2
    assert snapy.load_capture("app.<lambda>", path=root).result == 4
    assert snapy.load_capture("../../outside:../../../etc/passwd", path=root).result == 3
    assert snapy.load_capture(f"app.{'x' * 300}", path=root).result == 4


CARD_APP = """
import snapy


class Card:
    def __init__(self, number):
        self.number = number


@snapy.capture
def charge(card, amount):
    return {"charged": amount, "last4": card.number[-4:]}
"""

CHARGE = """
import app

print(app.charge(app.Card("4242424242424242"), 5))
"""

LOAD = """
import json
import sys

import snapy

try:
    capture = snapy.load_capture("app.charge", path=sys.argv[1])
except snapy.SnapyError as exc:
    print(json.dumps({"error": type(exc).__name__, "message": str(exc)}))
else:
    card = capture.arguments["card"]
    print(json.dumps({"card": type(card).__name__, "amount": capture.arguments["amount"]}))
"""


class _OpensAFile:
    """Unpickling this opens (creates) `path`: what a tampered pickle could make a loader do."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return (open, (self.path, "w"))


def _capture_charge(work: Path, **env: str) -> Path:
    """Capture one call of `app.charge` under `work/captures`; the path of its bundle."""
    work.mkdir(parents=True, exist_ok=True)
    for name, text in (("app.py", CARD_APP), ("charge.py", CHARGE), ("load.py", LOAD)):
        (work / name).write_text(text)
    root = work / "captures"
    done = run(work, "charge.py", SNAPY_CAPTURE_ENABLED="1", SNAPY_CAPTURE_DIR=str(root), **env)
    assert (done.returncode, done.stdout, done.stderr) == (
        0,
        "{'charged': 5, 'last4': '4242'}\n",
        "",
    )
    (bundle,) = root.rglob("*.bundle")
    return bundle


@pytest.fixture(scope="module")
def signed_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with one signed capture of `app.charge` (copied by each test)."""
    work = tmp_path_factory.mktemp("signed")
    _capture_charge(work, SNAPY_SIGNING_KEY=KEY)
    return work


def _load(work: Path, **env: str) -> dict[str, Any]:
    done = run(work, "load.py", str(work / "captures"), **env)
    assert (done.returncode, done.stderr) == (0, "")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _rewrite(path: Path, change: str, marker: Path) -> None:
    """Change the file as an attacker would, keeping its checksum right (only the HMAC tells)."""
    head, _, payload = path.read_bytes().partition(b"\n")
    assert re.fullmatch(
        rb"snapy-bundle format=1 serializer=pickle encoding=json checksum=[0-9a-f]{32} "
        rb"hmac=[0-9a-f]{64}",
        head,
    )
    body = json.loads(payload)
    if change == "pickle":
        assert set(body["arguments"]["card"]) == {"$pickle", "type", "repr"}
        evil = pickle.dumps(_OpensAFile(str(marker)))
        body["arguments"]["card"]["$pickle"] = base64.b64encode(evil).decode("ascii")
    elif change == "value":
        body["arguments"]["amount"] = 5000
    else:
        head = head.replace(b" serializer=pickle ", b" serializer=dill ")
    payload = json.dumps(body).encode()
    checksum = hashlib.blake2b(payload, digest_size=16).hexdigest().encode()
    head = re.sub(rb"checksum=[0-9a-f]{32}", b"checksum=" + checksum, head)
    path.write_bytes(head + b"\n" + payload)


@pytest.mark.parametrize(
    ("change", "unsigned_load"),
    [
        ("pickle", {"card": "TextIOWrapper", "amount": 5}),
        ("value", {"card": "Card", "amount": 5000}),
        ("header", {"card": "Card", "amount": 5}),
    ],
)
def test_a_tampered_signed_file_is_refused_before_anything_is_unpickled(
    tmp_path: Path,
    signed_template: Path,
    change: str,
    unsigned_load: dict[str, Any],
    snapy_settings: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    work = tmp_path / "work"
    shutil.copytree(signed_template, work)
    (bundle,) = (work / "captures").rglob("*.bundle")
    assert _load(work, SNAPY_SIGNING_KEY=KEY) == {"card": "Card", "amount": 5}
    marker = tmp_path / "unpickled-a-tampered-file"
    _rewrite(bundle, change, marker)

    message = (
        f"{bundle}: HMAC signature does not match: the file was modified or signed with another "
        "SNAPY_SIGNING_KEY; refusing to load it"
    )
    assert _load(work, SNAPY_SIGNING_KEY=KEY) == {
        "error": "SignatureMismatchError",
        "message": message,
    }
    with pytest.raises(snapy.SignatureMismatchError) as excinfo:
        snapy.CaptureStorage(work / "captures", signing_key=KEY.encode()).load(bundle)
    assert (excinfo.value.path, str(excinfo.value)) == (bundle, message)
    snapy_settings(SNAPY_SIGNING_KEY=KEY)
    assert main(["show", "--unpickle", str(bundle)]) == 1
    assert (
        capsys.readouterr().err
        == f"snapy: {bundle.relative_to(tmp_path)}: {message[len(str(bundle)) + 2 :]}\n"
    )
    assert not marker.exists()

    # Without a key the checksum alone passes the same file: the HMAC is what protects.
    assert _load(work) == unsigned_load
    assert marker.exists() == (change == "pickle")


def test_a_file_signed_with_another_key_is_refused(tmp_path: Path, signed_template: Path) -> None:
    (bundle,) = signed_template.joinpath("captures").rglob("*.bundle")
    with pytest.raises(snapy.SignatureMismatchError) as excinfo:
        snapy.CaptureStorage(bundle.parents[2], signing_key=b"another-key-0123456789").load(bundle)
    assert str(excinfo.value) == (
        f"{bundle}: HMAC signature does not match: the file was modified or signed with another "
        "SNAPY_SIGNING_KEY; refusing to load it"
    )


NOT_SIGNED = (
    "the file is not signed but SNAPY_SIGNING_KEY is set; refusing to load it "
    "(re-capture it with the key set, or delete it)"
)


def test_an_unsigned_file_is_refused_when_a_key_is_set(tmp_path: Path) -> None:
    bundle = _capture_charge(tmp_path)
    assert not re.search(rb" hmac=", bundle.read_bytes().partition(b"\n")[0])
    assert _load(tmp_path) == {"card": "Card", "amount": 5}
    assert _load(tmp_path, SNAPY_SIGNING_KEY=KEY) == {
        "error": "SignatureMismatchError",
        "message": f"{bundle}: {NOT_SIGNED}",
    }


def test_a_signed_file_with_its_signature_stripped_is_refused(
    tmp_path: Path, signed_template: Path
) -> None:
    work = tmp_path / "work"
    shutil.copytree(signed_template, work)
    (bundle,) = (work / "captures").rglob("*.bundle")
    head, _, payload = bundle.read_bytes().partition(b"\n")
    bundle.write_bytes(re.sub(rb" hmac=[0-9a-f]{64}$", b"", head) + b"\n" + payload)
    with pytest.raises(snapy.SignatureMismatchError) as excinfo:
        snapy.CaptureStorage(work / "captures", signing_key=KEY.encode()).load(bundle)
    assert str(excinfo.value) == f"{bundle}: {NOT_SIGNED}"
    assert _load(work) == {"card": "Card", "amount": 5}


# -- recordings: the same refusals on the replay path ------------------------------------------


class Receipt:
    """Has no readable form: a recording stores it pickled."""

    def __init__(self, amount: int) -> None:
        self.amount = amount


def pay(amount: int) -> Receipt:
    return Receipt(amount)


PAY_TEST = "test_shop::test_pay"


def _pay_mock(root: Path, key: str | None, mode: str) -> Any:
    store = snapy.RecordingStore(root, signing_key=None if key is None else key.encode())
    return snapy.mock(pay, recordings=store, test_id=PAY_TEST, mode=mode)


@pytest.fixture
def signed_recording(tmp_path: Path) -> Path:
    """One signed recording of `pay(5)` under `tmp_path/__recordings__`; its path."""
    root = tmp_path / "__recordings__"
    recorder = _pay_mock(root, KEY, "new")
    assert recorder(5).amount == 5
    recorder.__snapy_replayer__.store.flush()
    (path,) = root.rglob("*.bundle")
    assert re.search(rb" hmac=[0-9a-f]{64}\n", path.read_bytes())
    return path


def _why(error: snapy.RecordingNotFoundError) -> str:
    return str(error).splitlines()[2]


def _tamper_recording(path: Path, change: str, marker: Path) -> None:
    """Change a recording as an attacker would, keeping its checksum right."""
    head, _, payload = path.read_bytes().partition(b"\n")
    body = json.loads(payload)
    if change == "pickle":
        assert set(body["value"]) == {"$pickle", "type", "repr"}
        evil = pickle.dumps(_OpensAFile(str(marker)))
        body["value"]["$pickle"] = base64.b64encode(evil).decode("ascii")
    elif change == "header":
        head = head.replace(b" serializer=pickle ", b" serializer=dill ")
    payload = json.dumps(body, indent=1).encode()
    checksum = hashlib.blake2b(payload, digest_size=16).hexdigest().encode()
    head = re.sub(rb"checksum=[0-9a-f]{32}", b"checksum=" + checksum, head)
    if change == "stripped":
        head = re.sub(rb" hmac=[0-9a-f]{64}$", b"", head)
    path.write_bytes(head + b"\n" + payload)


HMAC_MISMATCH = (
    "HMAC signature does not match: the file was modified or signed with another "
    "SNAPY_SIGNING_KEY; refusing to load it"
)


@pytest.mark.parametrize(
    ("change", "cause"),
    [("pickle", HMAC_MISMATCH), ("header", HMAC_MISMATCH), ("stripped", NOT_SIGNED)],
)
def test_a_tampered_signed_recording_is_refused_before_anything_is_unpickled(
    tmp_path: Path,
    signed_recording: Path,
    change: str,
    cause: str,
    snapy_settings: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    marker = tmp_path / "unpickled-a-tampered-recording"
    _tamper_recording(signed_recording, change, marker)
    root = tmp_path / "__recordings__"

    replay = _pay_mock(root, KEY, "replay")
    with pytest.raises(snapy.RecordingNotFoundError) as excinfo:
        replay(5)
    assert excinfo.value.kind == "unreadable"
    assert _why(excinfo.value) == (
        f"  why:   the recording of these arguments cannot be read: {signed_recording}: {cause}"
    )
    # `new` records the call again next to it, and still unpickles nothing.
    recorder = _pay_mock(root, KEY, "new")
    assert recorder(5).amount == 5
    assert recorder.calls[0].source == "recorded"
    assert not marker.exists()
    snapy_settings(SNAPY_SIGNING_KEY=KEY)
    capsys.readouterr()
    assert main(["show", "--unpickle", str(signed_recording)]) == 1
    if change == "stripped":
        cause = (
            "the file is not signed but SNAPY_SIGNING_KEY is set: --unpickle refuses it, as "
            "unpickling runs code the file names; without --unpickle, snapy show prints its "
            "plain data and leaves pickled objects unopened"
        )
    shown = signed_recording.relative_to(tmp_path)
    assert capsys.readouterr() == ("", f"snapy: {shown}: {cause}\n")
    assert not marker.exists()

    # Without a key the checksum alone lets the same file through: the HMAC is what protects.
    if change == "pickle":
        opened = _pay_mock(root, None, "replay")(5)
        opened.close()
        assert type(opened).__name__ == "TextIOWrapper"
        assert marker.exists()


def test_a_recording_signed_with_another_key_is_refused(
    tmp_path: Path, signed_recording: Path
) -> None:
    replay = _pay_mock(tmp_path / "__recordings__", "another-signing-key-0123456789", "replay")
    with pytest.raises(snapy.RecordingNotFoundError) as excinfo:
        replay(5)
    assert _why(excinfo.value) == (
        f"  why:   the recording of these arguments cannot be read: {signed_recording}: "
        f"{HMAC_MISMATCH}"
    )


def test_an_unsigned_recording_is_refused_when_a_key_is_set(tmp_path: Path) -> None:
    root = tmp_path / "__recordings__"
    assert _pay_mock(root, None, "new")(5).amount == 5
    (path,) = root.rglob("*.bundle")
    assert b" hmac=" not in path.read_bytes().partition(b"\n")[0]
    assert _pay_mock(root, None, "replay")(5).amount == 5
    with pytest.raises(snapy.RecordingNotFoundError) as excinfo:
        _pay_mock(root, KEY, "replay")(5)
    assert _why(excinfo.value) == (
        f"  why:   the recording of these arguments cannot be read: {path}: {NOT_SIGNED}"
    )
