"""Secrets never reach disk or screen (issue 9), whichever way they travel through snapy.

One real project runs in a subprocess: production capture, a test that records a side effect
(mode new) and snapshots its result, a miss report, a traced call tree snapshotted with
`TracedSnapshot`, a `SnapTestCase` with `assertMatchSnapshot` and `assertMatchTrace`, then the
same tests replaying; then `snapy list/show/diff/stats/verify` (and `--json`) over what was
stored. Every default pattern is a secret as an argument name, as a mapping key three and forty
levels deep, as an object attribute, as a `**kwargs` name, in a cycle, in a result, in what the
call writes into an argument, and as a parameter default. Every file under the project and
every output is searched for each secret: raw (also JSON text), hex, base64, inside pickles and
compressed payloads. The numbers searched are printed in pytest's summary.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import inspect
import io
import json
import os
import re
import subprocess
import sys
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import snapy
from snapy._cli import main
from snapy._redact import Redactor
from snapy._replay import signature_text

SOURCE_ROOT = str(Path(snapy.__file__).resolve().parents[1])
PATTERNS = list(snapy.DEFAULT_PATTERNS)
PLACES = ["arg", "deep", "deeper", "attr", "kwarg", "cycle", "result", "mutation", "default"]


def secret_of(pattern: str, place: str) -> str:
    """The secret of `pattern` at `place`, computed the way the project computes it."""
    return "S" + hashlib.sha256(f"{pattern}/{place}".encode()).hexdigest()[:24]


SECRETS = {(p, place): secret_of(p, place) for p in PATTERNS for place in PLACES}
VISIBLE = ["alice-visible-user", "visible-attr-marker", "visible-deep-marker"]

APP = '''
"""An application whose calls carry every kind of secret."""

import snapy
from secret_source import secret_of

PATTERNS = list(snapy.DEFAULT_PATTERNS)


class Creds:
    def __init__(self, values):
        self.login = "visible-attr-marker"
        self.__dict__.update(values)


def arguments(user):
    """Each pattern as an argument, a key 3 and 40 levels deep, an attribute, a kwarg, in a loop."""
    far = []
    for p in PATTERNS:
        node = {p: secret_of(p, "deeper"), "note": "visible-deep-marker"}
        for _ in range(40):
            node = {"level": node}
        far.append(node)
    loop = {p: secret_of(p, "cycle") for p in PATTERNS}
    loop["again"] = loop
    args = {p: secret_of(p, "arg") for p in PATTERNS}
    args.update(
        user=user,
        payload={"items": [{p: secret_of(p, "deep") for p in PATTERNS}], "far": far},
        creds=Creds({p: secret_of(p, "attr") for p in PATTERNS}),
        loop=loop,
        inbox={},
        **{f"x_{p}": secret_of(p, "kwarg") for p in PATTERNS},
    )
    return args


def _answer(user, inbox):
    inbox.update({p: secret_of(p, "mutation") for p in PATTERNS})
    return {"user": user, "session": {p: secret_of(p, "result") for p in PATTERNS}}


def gateway(
    user, password, token, secret, key, auth, api_key, access_token, refresh_token,
    payload, creds, loop, inbox, session_key=secret_of("key", "default"), **extra
):
    """The side effect the tests record and replay."""
    return _answer(user, inbox)


@snapy.capture
def login(
    user, password, token, secret, key, auth, api_key, access_token, refresh_token,
    payload, creds, loop, inbox, session_key=secret_of("key", "default"), **extra
):
    """Captured in production."""
    return _answer(user, inbox)


def checkout(user):
    return gateway(**arguments(user))

'''

SOURCE = """
import hashlib


def secret_of(pattern, place):
    # Computed, so that no source or bytecode file holds a secret; outside `app`, so the
    # tracer does not record the function that makes them.
    return "S" + hashlib.sha256(f"{pattern}/{place}".encode()).hexdigest()[:24]
"""

TESTS = """
from pathlib import Path

import pytest

import app
import snapy

HERE = Path(__file__).parent


def test_capture():
    for user in ("alice-visible-user", "bob"):
        app.login(**app.arguments(user))
    assert snapy.flush_captures()


def test_record(side_effects, snapshot):
    side_effects.replay("app.gateway")
    result = app.checkout("alice-visible-user")
    assert result == snapshot


def _miss():
    mock = snapy.mock(
        app.gateway,
        recordings=HERE / "__recordings__",
        test_id="test_flow::test_record",
        mode="replay",
    )
    arguments = app.arguments("alice-visible-user")
    arguments["password"] = "another-password-value"
    arguments["payload"]["items"][0]["token"] = "another-token-value"
    return mock(**arguments)


def test_miss_report():
    with pytest.raises(snapy.RecordingNotFoundError) as excinfo:
        _miss()
    print(excinfo.value)
    (HERE / "miss-report.txt").write_text(str(excinfo.value))


def test_miss_on_screen():
    _miss()


def test_trace(snapshot):
    with snapy.FunctionTracer(["app"]) as tracer:
        app.checkout("alice-visible-user")
    assert tracer == snapshot(extension_class=snapy.TracedSnapshot)


class TestUnittestStyle(snapy.SnapTestCase):
    side_effects = ["app.gateway"]

    def test_snapshots(self):
        result = app.checkout("alice-visible-user")
        self.assertMatchSnapshot(result)
        with snapy.FunctionTracer(["app"]) as tracer:
            app.checkout("alice-visible-user")
        self.assertMatchTrace(tracer)
"""


@dataclass
class Searched:
    """Where the secrets were looked for, and where each was found."""

    places: Counter[str] = field(default_factory=Counter)
    forms: int = 0
    found: dict[str, list[str]] = field(default_factory=dict)

    def search(self, kind: str, where: str, forms: list[bytes]) -> None:
        self.places[kind] += 1
        self.forms += len(forms)
        for name, value in SECRETS.items():
            needles = _needles(value)
            if any(needle in form for form in forms for needle in needles):
                self.found.setdefault(f"{name[0]}@{name[1]}", []).append(f"{kind}: {where}")


def _needles(value: str) -> list[bytes]:
    raw = value.encode()
    return [raw, raw.hex().encode(), base64.b64encode(raw), json.dumps(value).encode()]


_BLOB = re.compile(rb"[A-Za-z0-9+/]{16,}={0,2}")


def forms_of(data: bytes) -> list[bytes]:
    """`data`, what its bundle payload decompresses to, and every base64 blob in it decoded
    (pickles are stored base64-encoded; a pickle holds its strings as UTF-8)."""
    forms = [data]
    if data.startswith(b"snapy-bundle ") and b" encoding=json+zlib " in data.partition(b"\n")[0]:
        with contextlib.suppress(zlib.error):
            forms.append(zlib.decompress(data.partition(b"\n")[2]))
    for form in list(forms):
        for blob in _BLOB.findall(form):
            with contextlib.suppress(binascii.Error, ValueError):
                forms.append(base64.b64decode(blob + b"=" * (-len(blob) % 4)))
    return forms


@pytest.fixture(scope="module")
def tally(pytestconfig: pytest.Config) -> Searched:
    searched = Searched()

    class Summary:
        def pytest_terminal_summary(self, terminalreporter: Any) -> None:
            terminalreporter.section("snapy secrets search (issue 9)")
            terminalreporter.write_line(
                f"{len(SECRETS)} secrets ({len(PATTERNS)} patterns x {len(PLACES)} places) "
                f"searched in {sum(searched.places.values())} places, "
                f"{searched.forms} decoded forms: "
                + ", ".join(f"{n} {kind}" for kind, n in sorted(searched.places.items()))
            )
            leaks: Counter[str] = Counter()
            for secret, places in searched.found.items():
                for kind in {place.partition(": ")[0] for place in places}:
                    leaks[kind] += 1
            terminalreporter.write_line(
                "secrets found: "
                + (", ".join(f"{n} in {kind}" for kind, n in sorted(leaks.items())) or "none")
            )

    pytestconfig.pluginmanager.register(Summary(), f"snapy-secrets-summary-{id(searched)}")
    return searched


def _run(project: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONDONTWRITEBYTECODE": "1",
        # The snapy under test, whichever environment runs this (a tox env holds a copy).
        "PYTHONPATH": os.pathsep.join([str(project), SOURCE_ROOT]),
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly", *args],
        cwd=project,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
    )


@dataclass
class Project:
    root: Path
    outputs: dict[str, str]


def _outcomes(done: subprocess.CompletedProcess[str]) -> str:
    return done.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The project, after a recording run, a replaying run and the `snapy` commands."""
    root = tmp_path_factory.mktemp("project")
    (root / "app.py").write_text(APP)
    (root / "secret_source.py").write_text(SOURCE)
    (root / "test_flow.py").write_text(TESTS)
    (root / "pytest.ini").write_text("[pytest]\nfilterwarnings = error\n")
    outputs: dict[str, str] = {}
    recording = _run(
        root,
        "--snapshot-update",
        "-v",
        SNAPY_CAPTURE_ENABLED="1",
        SNAPY_CAPTURE_DIR=str(root / "captures"),
        SIDE_EFFECT_CAPTURE="1",
    )
    outputs["pytest, recording run: stdout"] = recording.stdout
    outputs["pytest, recording run: stderr"] = recording.stderr
    replaying = _run(root, "-v")
    outputs["pytest, replaying run: stdout"] = replaying.stdout
    outputs["pytest, replaying run: stderr"] = replaying.stderr
    (root / "outcomes.txt").write_text(
        f"{_outcomes(recording)}\n{_outcomes(replaying)}\n", encoding="utf-8"
    )

    captures, recordings = root / "captures", root / "__recordings__"
    capture_folder = captures / "app" / "login"
    (recorded,) = (recordings / "test_flow" / "test_record").iterdir()
    commands = [
        ["list", str(captures)],
        ["list", "--json", str(captures)],
        ["list", str(root)],
        ["stats", str(root)],
        ["stats", "--json", str(root)],
        ["verify", str(root)],
        ["verify", "--json", str(root)],
        ["show", str(capture_folder)],
        ["show", "--json", str(capture_folder)],
        ["show", "--unpickle", str(capture_folder)],
        ["show", str(recorded)],
        ["show", "--json", str(recorded)],
        ["show", "--unpickle", str(recorded)],
        ["diff", str(capture_folder)],
        ["diff", "--json", str(capture_folder)],
    ]
    cwd = Path.cwd()
    os.chdir(root)
    try:
        for args in commands:
            out, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                status = main(args)
            label = "snapy " + " ".join(os.path.relpath(a, root) if "/" in a else a for a in args)
            outputs[f"{label}: stdout"] = out.getvalue()
            outputs[f"{label}: stderr"] = err.getvalue()
            outputs[f"{label}: status"] = str(status)
    finally:
        os.chdir(cwd)
    return Project(root, outputs)


def test_the_runs_did_what_the_search_relies_on(project: Project) -> None:
    outcomes = (project.root / "outcomes.txt").read_text().splitlines()
    assert re.fullmatch(r"=+ 1 failed, 5 passed.* =+", outcomes[0]), outcomes[0]
    for run in ("recording", "replaying"):
        out = project.outputs[f"pytest, {run} run: stdout"]
        assert "FAILED test_flow.py::test_miss_on_screen - " in out
        assert "no recording to replay for this call of app.gateway in test " in out
    # The miss says which secrets differ, never how.
    another = (
        "<redacted> -> <redacted> (another secret, or the redaction key differs: see "
        ".redaction-key in the docs)"
    )
    miss = (project.root / "miss-report.txt").read_text().splitlines()
    assert miss[5:7] == [
        f"       password: {another}",
        f"       payload['items'][0]['token']: {another}",
    ]
    statuses = {k: v for k, v in project.outputs.items() if k.endswith(": status")}
    assert statuses == dict.fromkeys(statuses, "0")
    names = sorted(p.relative_to(project.root).as_posix() for p in project.root.rglob("*"))
    bundles = [n for n in names if n.endswith(".bundle")]
    assert len([n for n in bundles if n.startswith("captures/app/login/")]) == 2
    # test_record's call, and TestUnittestStyle's two equal calls (replayed in order)
    assert len([n for n in bundles if n.startswith("__recordings__/")]) == 3
    assert "__snapshots__/test_flow.ambr" in names
    assert "miss-report.txt" in names


def _files(project: Project) -> list[Path]:
    """Every file of the project but the bytecode Python caches for its sources (when this
    process unpickles a capture it imports the project's modules, and may cache them)."""
    return sorted(
        p for p in project.root.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    )


def test_the_search_reaches_plain_text_and_the_inside_of_pickles(project: Project) -> None:
    found = {
        marker: sorted(
            p.relative_to(project.root).as_posix()
            for p in _files(project)
            if any(marker.encode() in form for form in forms_of(p.read_bytes()))
        )
        for marker in VISIBLE
    }
    assert "miss-report.txt" in found["alice-visible-user"]
    assert any(n.startswith("captures/") for n in found["visible-attr-marker"])
    assert any(n.startswith("__recordings__/") for n in found["visible-attr-marker"])
    # Only inside pickles: the readable form of a bundle never shows the object's attributes.
    (bundle, *_) = sorted((project.root / "captures").rglob("*.bundle"))
    assert b"visible-attr-marker" not in bundle.read_bytes()
    assert any(b"visible-attr-marker" in f for f in forms_of(bundle.read_bytes()))


TRACES = {"test_trace", "TestUnittestStyle.test_snapshots.1"}


def _ambr_entries(text: str) -> dict[str, str]:
    """The entries of an amber file by name."""
    parts = re.split(r"^# name: (.+)$", text, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def _places(project: Project) -> list[tuple[str, str, bytes]]:
    """(kind, name, bytes) of every file (an amber file: of each entry) and every output."""
    found = []
    for path in _files(project):
        name = path.relative_to(project.root).as_posix()
        if name.startswith("__snapshots__/"):
            for entry, text in _ambr_entries(path.read_text()).items():
                kind = "trace snapshots" if entry in TRACES else "value snapshots"
                found.append((kind, f"{name} [{entry}]", text.encode()))
            continue
        kind = "other files"
        for prefix, what in (
            ("captures/", "captures"),
            ("__recordings__/", "recordings"),
            ("miss-report.txt", "miss report"),
        ):
            if name.startswith(prefix):
                kind = what
        found.append((kind, name, path.read_bytes()))
    for label, text in project.outputs.items():
        if label.startswith("pytest, recording run"):
            kind = "pytest output, recording run"
        elif label.startswith("pytest, replaying run"):
            kind = "pytest output, replaying run"
        else:
            kind = "snapy output"
        found.append((kind, label, text.encode("utf-8", "surrogatepass")))
    return found


def test_the_places_are_all_there(project: Project) -> None:
    kinds = Counter(kind for kind, _, _ in _places(project))
    assert kinds == {
        "captures": 5,  # app.login: 2 bundles, index, lock; the redaction key
        "recordings": 8,  # 2 tests: 3 bundles, 2 indexes, 2 locks; the redaction key
        "miss report": 1,
        "trace snapshots": 2,
        "value snapshots": 2,
        "pytest output, recording run": 2,  # stdout, stderr
        "pytest output, replaying run": 2,
        "snapy output": 45,  # 15 commands: stdout, stderr, exit status
        "other files": 5,  # the sources, pytest.ini, outcomes.txt
    }


@pytest.mark.parametrize(
    "kind",
    [
        "captures",
        "recordings",
        "miss report",
        "trace snapshots",
        "value snapshots",
        "pytest output, recording run",
        "pytest output, replaying run",
        "snapy output",
        "other files",
    ],
)
def test_no_secret_anywhere(project: Project, kind: str, tally: Searched) -> None:
    searched = Searched()
    for where, name, data in _places(project):
        if where == kind:
            searched.search(kind, name, forms_of(data))
    tally.places.update(searched.places)
    tally.forms += searched.forms
    for secret, places in searched.found.items():
        tally.found.setdefault(secret, []).extend(places)
    assert searched.places[kind] >= 1
    assert searched.found == {}


def test_replaying_passes_against_the_snapshots_of_the_recording_run(project: Project) -> None:
    outcomes = (project.root / "outcomes.txt").read_text().splitlines()
    assert re.fullmatch(r"=+ 1 failed, 5 passed.* =+", outcomes[1]), outcomes[1]


# -- the rules behind it, one by one -------------------------------------------------------------

KEY = b"0123456789abcdef0123456789abcdef"


def _nested(levels: int) -> dict[str, Any]:
    node: dict[str, Any] = {"password": "S-nested-secret", "note": "kept"}
    for _ in range(levels):
        node = {"level": node}
    return node


def test_a_secret_within_32_levels_is_hidden_alone() -> None:
    out = Redactor(snapy.ArgumentFilter(), KEY).value({"top": _nested(31)})
    node = out["top"]
    for _ in range(31):
        node = node["level"]
    assert node["note"] == "kept"
    assert type(node["password"]) is snapy.Redacted


def test_a_branch_deeper_than_32_levels_is_hidden_whole() -> None:
    value = {"top": _nested(40), "plain": [1, 2]}
    out = Redactor(snapy.ArgumentFilter(), KEY).value(value)
    node, hops = out["top"], 0
    while not isinstance(node, snapy.Redacted):
        node, hops = node["level"], hops + 1
    assert hops == 32  # levels 1 to 32 are kept, the 33rd is hidden with all below it
    assert out["plain"] is value["plain"]


def test_a_cycle_back_to_a_container_holding_a_secret_hides_it_whole() -> None:
    redactor = Redactor(snapy.ArgumentFilter(), KEY)
    loop: dict[str, Any] = {"secret": "S-cycle-secret", "n": 1}
    loop["again"] = loop
    holder = {"loop": loop, "plain": "kept"}
    out = redactor.value(holder)
    assert type(out["loop"]) is snapy.Redacted
    assert out["plain"] == "kept"
    assert loop["secret"] == "S-cycle-secret"  # the caller's value is left alone
    # The same cycle without a secret is kept as it is.
    plain: list[Any] = [1]
    plain.append(plain)
    assert redactor.value(plain) is plain


def test_secret_defaults_are_hidden_in_the_signature_recordings_store() -> None:
    def call(
        user: str,
        api_key: str = "S-default-key",
        headers: dict[str, str] = {"Authorization": "Bearer S-default"},
        retries: int = 3,
    ) -> None: ...

    text = signature_text(inspect.signature(call), snapy.ArgumentFilter())
    assert text == (
        "(user: 'str', api_key: 'str' = <redacted>, headers: 'dict[str, str]' = "
        "{'Authorization': <redacted>}, retries: 'int' = 3) -> 'None'"
    )
