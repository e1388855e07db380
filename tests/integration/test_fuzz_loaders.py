"""Hostile and broken input (issue 9): every loader, fed fuzzed files, raises only `SnapyError`s.

Each loader gets random bytes and mutations of valid files: bit flips, truncations, header
field edits, and fuzzed JSON bodies packed with a valid checksum (and a valid HMAC, or
encrypted with the key) through `snapy._envelope.pack`, so the JSON and tag decoder behind the
envelope is what gets fuzzed. Plain, signed and encrypted trees are fuzzed alike.
The property: the call succeeds, or it raises a `snapy.SnapyError` whose message names the
file (for settings: the variable or the `.env` file); a replayed recording may also raise the
exception the file records. The inputs tried per loader are printed in pytest's summary.

Quick by default (CI); `SNAPY_STRESS=long` runs many more examples (`tox -e stress`).
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import datetime as dt
import decimal
import enum
import io
import json
import os
import re
import shutil
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import snapy
from snapy import _envelope
from snapy._bundle import iso
from snapy._cli import main
from snapy._cli_format import shown
from snapy._plain import Decoder, render
from snapy._settings import ENV_NAMES

LONG = os.environ.get("SNAPY_STRESS") == "long"
# Examples per fuzzing test (42 of them). On the 2-core machine of issue 9: 25 each gave 1,008
# inputs and 6,727 loader calls in ~15 s; the long run's 400 each 16,192 inputs and 107,602
# loader calls in 403 s. SNAPY_FUZZ_EXAMPLES=N asks for more (or fewer).
EXAMPLES = int(os.environ.get("SNAPY_FUZZ_EXAMPLES", 400 if LONG else 25))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
KEY = "fuzz-signing-key-0123456789abcdef"
ENCRYPTION_KEY = base64.b64encode(bytes(range(32))).decode("ascii")
TEST_ID = "test_fuzzed::test_replay"


@pytest.fixture(autouse=True)
def _default_settings(snapy_settings: object) -> None:
    """In-process snapy settings start from the defaults, whatever SNAPY_* the shell has set."""


# -- counting what was tried ---------------------------------------------------------------


class Tally:
    """Inputs fuzzed per kind of file, and loader calls (and refusals) per loader; printed in
    the terminal summary, summed over the mutation kinds written in parentheses."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.inputs: Counter[str] = Counter()
        self.tried: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.tried:
            return
        terminalreporter.section(self.title)
        terminalreporter.write_line(f"{sum(self.inputs.values()):>8} inputs in all:")
        for name, count in sorted(_summed(self.inputs).items()):
            terminalreporter.write_line(f"{count:>8}  {name}")
        tried, refused = _summed(self.tried), _summed(self.refused)
        terminalreporter.write_line(
            f"{sum(tried.values()):>8} loader calls, {sum(refused.values())} refused:"
        )
        for name in sorted(tried):
            terminalreporter.write_line(f"{tried[name]:>8}  {refused[name]:>8} refused  {name}")


def _summed(counts: Counter[str]) -> Counter[str]:
    out: Counter[str] = Counter()
    for name, count in counts.items():
        out[re.sub(r" \([^)]*\)", "", name)] += count
    return out


@pytest.fixture(scope="module")
def tally(pytestconfig: pytest.Config) -> Tally:
    found = Tally("snapy fuzzing: inputs per loader (issue 9)" + (" [long]" if LONG else ""))
    pytestconfig.pluginmanager.register(found, f"snapy-fuzz-tally-{id(found)}")
    return found


def attempt(tally: Tally, loader: str, call: Callable[[], Any], *names: str) -> str:
    """Run one loader on one input: "ok", or the name of the `SnapyError` it raised.

    Any other exception escapes (and fails the test); a `SnapyError` must name one of `names`,
    but for the `CapturedException` a replay raises in place of an unimportable exception.
    """
    tally.tried[loader] += 1
    try:
        call()
    except snapy.CapturedException:
        # A replayed recording of an exception whose class (well named, `module:qualname`)
        # cannot be imported here: snapy raises this stand-in, as it would for a real one.
        return "replayed a stand-in exception"
    except snapy.SnapyError as exc:
        tally.refused[loader] += 1
        assert any(name in str(exc) for name in names), (loader, names, str(exc))
        return type(exc).__name__
    return "ok"


def cli(tally: Tally, loader: str, args: list[str], path: Path) -> tuple[int, str, str]:
    """`snapy <args>` in this process; it must return a status, never raise.

    A failing status must come with a message naming `path` (verify names it on stdout).
    """
    tally.tried[loader] += 1
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(args)
    names = (str(path), shown(path))
    if status != 0:
        tally.refused[loader] += 1
        text = err.getvalue() + (out.getvalue() if args[0] == "verify" else "")
        assert any(name in text for name in names), (args, status, text)
    return status, out.getvalue(), err.getvalue()


# -- what gets stored: every tag of the readable form ----------------------------------------


class Color(enum.Enum):
    RED = 1


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Opaque:
    """Has no readable form: stored pickled."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Opaque) and other.value == self.value


class Refused(Exception):
    pass


VALUE = {
    "tuple": (1, 2.5, None),
    "set": {1, 2},
    "frozen": frozenset({"a"}),
    "dict": {1: "x", "$k": 2},
    "raw": b"\x00\xffab",
    "text": b"ok",
    "buffer": bytearray(b"z"),
    "when": dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
    "day": dt.date(2026, 1, 2),
    "time": dt.time(1, 2),
    "delay": dt.timedelta(1, 2, 3),
    "amount": decimal.Decimal("9.99"),
    "id": uuid.UUID(int=5),
    "z": complex(1, 2),
    "path": PurePosixPath("/x/y"),
    "color": Color.RED,
    "point": Point(1, 2),
    "blob": Opaque(3),
    "inf": float("inf"),
    "list": [[1], {"k": "v"}],
}


def work(a: Any, b: int = 2, *rest: Any, c: Any = None, **more: Any) -> Any:
    return VALUE


def refuse(a: int) -> None:
    raise Refused(a, "refused")


def grow(items: list[Any], token: str) -> int:
    items.append({"added": Opaque(len(items))})
    return len(items)


def work_call(fn: Callable[..., Any]) -> Any:
    return fn(1, 3, 4, c=Opaque(1), z="q")


@dataclasses.dataclass(frozen=True)
class Stored:
    """The valid files everything is mutated from (each test works on a copy)."""

    root: Path

    def copy(self, to: Path) -> Path:
        target = to / "tree"
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(self.root, target)
        return target


def _make_tree(root: Path, key: bytes | None) -> None:
    captures = root / "captures"
    storage = snapy.CaptureStorage(captures, signing_key=key, retention=10)
    for fn, call in ((work, work_call), (refuse, lambda f: f(5))):
        wrapped = snapy.capture(fn, storage=storage, production_mode=False)
        for _ in range(2):  # two bundles: `snapy diff` compares them
            with contextlib.suppress(Refused):
                call(wrapped)
    snapy.flush_captures()
    store = snapy.RecordingStore(root / "tests" / "__recordings__", signing_key=key)
    for fn, call in (
        (work, work_call),
        (refuse, lambda f: f(5)),
        (grow, lambda f: f([1], token="hidden")),
    ):
        mock = snapy.mock(fn, recordings=store, test_id=TEST_ID, mode="new")
        with contextlib.suppress(Refused):
            call(mock)
    store.flush()


@pytest.fixture(scope="module")
def plain_tree(tmp_path_factory: pytest.TempPathFactory) -> Stored:
    root = tmp_path_factory.mktemp("plain")
    _make_tree(root, None)
    return Stored(root)


@pytest.fixture(scope="module")
def encrypted_tree(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stored]:
    """Every file encrypted (`SNAPY_ENCRYPTION_KEY`); settings go back to the defaults after."""
    root = tmp_path_factory.mktemp("encrypted")
    nowhere = root / "no.env"
    snapy.refresh_settings(environ={"SNAPY_ENCRYPTION_KEY": ENCRYPTION_KEY}, dotenv_path=nowhere)
    try:
        _make_tree(root, None)
    finally:
        snapy.refresh_settings(environ={}, dotenv_path=nowhere)
    yield Stored(root)


@pytest.fixture(scope="module")
def signed_tree(tmp_path_factory: pytest.TempPathFactory) -> Stored:
    root = tmp_path_factory.mktemp("signed")
    _make_tree(root, KEY.encode())
    return Stored(root)


def capture_bundles(tree: Path) -> list[Path]:
    return sorted((tree / "captures").rglob("*.bundle"))


def recording_bundles(tree: Path) -> list[Path]:
    return sorted((tree / "tests" / "__recordings__").rglob("*.bundle"))


def test_the_valid_trees_hold_every_kind_of_file(plain_tree: Stored, signed_tree: Stored) -> None:
    for stored, signed in ((plain_tree, False), (signed_tree, True)):
        captures = [p.relative_to(stored.root / "captures") for p in capture_bundles(stored.root)]
        assert [(p.parts[0], p.parts[1]) for p in captures] == [(__name__, "refuse")] * 2 + [
            (__name__, "work")
        ] * 2
        recordings = [p.parent.name for p in recording_bundles(stored.root)]
        assert recordings == [f"{__name__}.{name}" for name in ("grow", "refuse", "work")]
        for path in capture_bundles(stored.root) + recording_bundles(stored.root):
            head = path.read_bytes().partition(b"\n")[0]
            assert (b" hmac=" in head) is signed
        grow = body_of(recording_bundles(stored.root)[0].read_bytes())
        assert sorted(grow["mutations"]) == ["items"]
        assert list(grow["arguments"]["token"]) == ["$redacted"]


# -- mutations -------------------------------------------------------------------------------

TAGS = [
    "$tuple",
    "$set",
    "$frozenset",
    "$dict",
    "$float",
    "$bytes",
    "$b64",
    "$bytearray",
    "$datetime",
    "$date",
    "$time",
    "$timedelta",
    "$decimal",
    "$uuid",
    "$complex",
    "$path",
    "$redacted",
    "$pickle",
    "$enum",
    "$dataclass",
    "$exception",
    "$nope",
]
FIELDS = ["type", "repr", "name", "fields", "args", "state", "message", "target", "key"]
FIELDS += ["arguments", "value", "outcome", "kinds", "meta", "mutations", "signature", "test"]
WORDS = [
    "builtins:ValueError",
    f"{__name__}:Point",
    f"{__name__}:Color",
    f"{__name__}:Refused",
    "os:system",
    ":",
    "..x:y",
    "RED",
    "AAAA",
    "gASVAAAAAAAAAAAu",
    "2026-01-02T03:04:05+00:00",
    "2026-01-02",
    "1e999",
    "NaN",
    "-0",
    "exception",
    "result",
    "generator",
    "result type",
    "POSITIONAL_OR_KEYWORD",
    "VAR_KEYWORD",
]
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(WORDS)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(TAGS + FIELDS) | st.text(max_size=4), children, max_size=4
        )
    ),
    max_leaves=12,
)


def _nodes(node: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield at
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _nodes(value, (*at, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _nodes(value, (*at, i))


def mutate_json(body: Any, data: st.DataObject) -> Any:
    """`body` with one node replaced, deleted, or given a new key, as `data` draws."""
    places = list(_nodes(body))
    at = places[data.draw(st.integers(0, len(places) - 1), label="node")]
    new = data.draw(json_values, label="new value")
    how = data.draw(st.sampled_from(["replace", "delete", "add"]), label="how")
    if not at:
        return new
    body = json.loads(json.dumps(body))
    parent = body
    for step in at[:-1]:
        parent = parent[step]
    if how == "delete":
        del parent[at[-1]]
    elif how == "add" and isinstance(parent, dict):
        parent[data.draw(st.sampled_from(TAGS + FIELDS), label="key")] = new
    else:
        parent[at[-1]] = new
    return body


def repacked(original: bytes, body: Any, key: bytes | None, compress: bool) -> bytes:
    """`body` packed as snapy packs files: right checksum, and HMAC with `key`."""
    header, _ = _envelope.unpack(original, Path("original"), None)
    payload = json.dumps(body).encode("utf-8", "surrogatepass")
    return _envelope.pack(payload, serializer=header.serializer, signing_key=key, compress=compress)


def body_of(data: bytes) -> Any:
    return json.loads(_envelope.unpack(data, Path("original"), None)[1])


def flipped(data: bytes, d: st.DataObject) -> bytes:
    out = bytearray(data)
    for _ in range(d.draw(st.integers(1, 3), label="flips")):
        position = d.draw(st.integers(0, len(out) - 1), label="position")
        out[position] ^= 1 << d.draw(st.integers(0, 7), label="bit")
    return bytes(out)


def truncated(data: bytes, d: st.DataObject) -> bytes:
    return data[: d.draw(st.integers(0, len(data) - 1), label="length")]


HEADER_FIELDS = ["format", "serializer", "encoding", "checksum", "hmac", "extra", "snapy-bundle"]


def header_edited(data: bytes, d: st.DataObject) -> bytes:
    head, _, payload = data.partition(b"\n")
    items = head.split(b" ")
    field = d.draw(st.sampled_from(HEADER_FIELDS), label="field")
    value = d.draw(
        st.binary(max_size=12) | st.sampled_from([b"", b"2", b"0", b"9" * 5000, b"dill", b"x=y"]),
        label="value",
    )
    how = d.draw(st.sampled_from(["set", "append", "drop", "repeat"]), label="how")
    matching = [i for i, item in enumerate(items) if item.split(b"=")[0] == field.encode()]
    if how == "drop" and matching:
        del items[matching[0]]
    elif how == "repeat" and matching:
        items.insert(matching[0] + 1, items[matching[0]])
    elif how == "set" and matching:
        items[matching[0]] = field.encode() + b"=" + value
    else:
        items.append(field.encode() + b"=" + value)
    return b" ".join(items) + b"\n" + payload


def mutation(kind: str, original: bytes, d: st.DataObject, key: bytes | None) -> bytes:
    if kind == "random bytes":
        return d.draw(st.binary(max_size=400), label="bytes")
    if kind == "bit flips":
        return flipped(original, d)
    if kind == "truncation":
        return truncated(original, d)
    if kind == "header edit":
        return header_edited(original, d)
    body = mutate_json(body_of(original), d)
    return repacked(original, body, key, d.draw(st.booleans(), label="compress"))


MUTATIONS = ["random bytes", "bit flips", "truncation", "header edit", "json body"]


# -- capture bundles -------------------------------------------------------------------------


def _capture_loaders(tally: Tally, kind: str, tree: Path, path: Path, key: bytes | None) -> str:
    """Every loader of a capture bundle on the (fuzzed) file at `path`; the store's verdict."""
    name = f"{path.parent.parent.name}.{path.parent.name}"
    verdict = attempt(
        tally,
        f"capture bundle ({kind}): CaptureStorage.load",
        lambda: snapy.CaptureStorage(tree / "captures", signing_key=key).load(path),
        str(path),
    )
    newest = sorted(path.parent.glob("*.bundle"))[-1]
    attempt(
        tally,
        f"capture bundle ({kind}): snapy.load_capture",
        lambda: snapy.load_capture(name, path=tree / "captures"),
        str(newest),
    )
    for args in (
        ["show", str(path)],
        ["show", "--json", str(path)],
        ["show", "--unpickle", str(path)],
        ["diff", str(path.parent) + "@0", str(path.parent) + "@1"],
        ["diff", "--json", str(path.parent)],
        ["verify", str(tree / "captures")],
    ):
        command = " ".join(a for a in args if not a.startswith("/"))
        status, out, _ = cli(tally, f"capture bundle ({kind}): snapy {command}", args, path)
        if args[0] == "verify" and verdict != "ok" and "json body" not in kind:
            # Refused by its envelope: `snapy verify` finds it too (a body that parses but
            # fails to unpickle is beyond what verify reads).
            assert status == 1 and f"{shown(path)}: " in out, out
    return verdict


@pytest.mark.parametrize("kind", MUTATIONS)
def test_capture_bundles(
    kind: str, plain_tree: Stored, tmp_path: Path, tally: Tally, snapy_settings: Any
) -> None:
    tree = plain_tree.copy(tmp_path)
    files = capture_bundles(tree)
    originals = {p: p.read_bytes() for p in files}
    verdicts: Counter[str] = Counter()

    @FUZZ
    @given(st.sampled_from(files), st.data())
    def fuzz(path: Path, d: st.DataObject) -> None:
        tally.inputs[f"capture bundle files ({kind})"] += 1
        try:
            path.write_bytes(mutation(kind, originals[path], d, None))
            verdicts[_capture_loaders(tally, kind, tree, path, None)] += 1
        finally:
            path.write_bytes(originals[path])

    fuzz()
    # The inputs reached past the envelope: some loaded, and the rest were refused.
    assert sum(verdicts.values()) >= 1
    if kind == "json body":
        assert verdicts["ok"] >= 1, verdicts


@pytest.mark.parametrize("kind", MUTATIONS)
def test_signed_capture_bundles(
    kind: str, signed_tree: Stored, tmp_path: Path, tally: Tally, snapy_settings: Any
) -> None:
    """With the key set: a file changed without the key is always refused; one re-signed with
    the key (the JSON body kind) reaches the parser, which refuses it cleanly or loads it."""
    snapy_settings(SNAPY_SIGNING_KEY=KEY)
    tree = signed_tree.copy(tmp_path)
    files = capture_bundles(tree)
    originals = {p: p.read_bytes() for p in files}

    @FUZZ
    @given(st.sampled_from(files), st.data())
    def fuzz(path: Path, d: st.DataObject) -> None:
        data = mutation(kind, originals[path], d, KEY.encode())
        tally.inputs[f"signed capture bundle files ({kind})"] += 1
        try:
            path.write_bytes(data)
            verdict = _capture_loaders(tally, f"signed, {kind}", tree, path, KEY.encode())
            if kind != "json body" and data != originals[path]:
                assert verdict != "ok"
        finally:
            path.write_bytes(originals[path])

    fuzz()


# -- recording files -------------------------------------------------------------------------


def _recorded_exception(data: bytes) -> type[BaseException] | None:
    """The type of exception the file records, if it is readable and records one."""
    try:
        body = body_of(data)
        if body.get("outcome") != "exception":
            return None
        value = Decoder(snapy.PickleSerializer()).decode(body["value"])
    except Exception:
        return None
    return type(value) if isinstance(value, BaseException) else None


def _recording_loaders(
    tally: Tally, kind: str, tree: Path, path: Path, key: bytes | None, names: Path | None = None
) -> str:
    """Every loader of a recording on the (fuzzed) file at `path`; the replay's verdict.

    Errors must name `names` (default: `path`; a fuzzed index names its folder).
    """
    names = path if names is None else names
    recordings = tree / "tests" / "__recordings__"
    target = path.parent.name.rpartition(".")[2]
    call = {
        "work": work_call,
        "refuse": lambda f: f(5),
        "grow": lambda f: f([1], token="hidden"),
    }[target]

    def replay() -> None:
        store = snapy.RecordingStore(recordings, signing_key=key)
        with snapy.replaying(
            f"{__name__}:{target}", recordings=store, test_id=TEST_ID, mode="replay"
        ) as mock:
            try:
                call(mock)
            except snapy.SnapyError:
                raise
            except Exception as exc:
                # Replaying raises what the file records: allowed when the file records it.
                assert type(exc) is _recorded_exception(path.read_bytes()), exc

    verdict = attempt(tally, f"recording ({kind}): replaying", replay, str(names))

    def load() -> None:
        store = snapy.RecordingStore(recordings, signing_key=key)
        rset = store.recordings(TEST_ID, snapy.Target(__name__, target))
        for rec in rset.recordings:
            if rec.error is not None:
                assert str(rec.path) in str(rec.error), rec.error
                assert isinstance(rec.error, snapy.StoreError)

    attempt(tally, f"recording ({kind}): RecordingStore", load, str(names))
    for args in (
        ["show", str(path)],
        ["show", "--json", str(path)],
        ["verify", str(recordings)],
    ):
        command = " ".join(a for a in args if not a.startswith("/"))
        cli(tally, f"recording ({kind}): snapy {command}", args, names)
    return verdict


@pytest.mark.parametrize("kind", MUTATIONS)
def test_recording_files(
    kind: str, plain_tree: Stored, tmp_path: Path, tally: Tally, snapy_settings: Any
) -> None:
    tree = plain_tree.copy(tmp_path)
    files = recording_bundles(tree)
    originals = {p: p.read_bytes() for p in files}
    verdicts: Counter[str] = Counter()
    before = sorted(p for p in tree.rglob("*"))

    @FUZZ
    @given(st.sampled_from(files), st.data())
    def fuzz(path: Path, d: st.DataObject) -> None:
        tally.inputs[f"recording files ({kind})"] += 1
        try:
            path.write_bytes(mutation(kind, originals[path], d, None))
            verdicts[_recording_loaders(tally, kind, tree, path, None)] += 1
        finally:
            path.write_bytes(originals[path])
        assert sorted(p for p in tree.rglob("*")) == before  # replaying wrote nothing

    fuzz()
    if kind == "json body":
        assert verdicts["ok"] >= 1, verdicts


@pytest.mark.parametrize("kind", MUTATIONS)
def test_signed_recording_files(
    kind: str, signed_tree: Stored, tmp_path: Path, tally: Tally, snapy_settings: Any
) -> None:
    snapy_settings(SNAPY_SIGNING_KEY=KEY)
    tree = signed_tree.copy(tmp_path)
    files = recording_bundles(tree)
    originals = {p: p.read_bytes() for p in files}

    @FUZZ
    @given(st.sampled_from(files), st.data())
    def fuzz(path: Path, d: st.DataObject) -> None:
        data = mutation(kind, originals[path], d, KEY.encode())
        tally.inputs[f"signed recording files ({kind})"] += 1
        try:
            path.write_bytes(data)
            verdict = _recording_loaders(tally, f"signed, {kind}", tree, path, KEY.encode())
            if kind != "json body" and data != originals[path]:
                assert verdict == "RecordingNotFoundError", verdict
        finally:
            path.write_bytes(originals[path])

    fuzz()


@pytest.mark.parametrize("kind", MUTATIONS)
@pytest.mark.parametrize("what", ["capture bundle", "recording"])
def test_encrypted_files(
    kind: str,
    what: str,
    encrypted_tree: Stored,
    tmp_path: Path,
    tally: Tally,
    snapy_settings: Any,
) -> None:
    """With the encryption key set: a file changed without the key is refused before anything
    is parsed, or holds what it held; one encrypted again with the key (the JSON body kind)
    reaches the parser, which refuses it cleanly or loads it."""
    snapy_settings(SNAPY_ENCRYPTION_KEY=ENCRYPTION_KEY)
    tree = encrypted_tree.copy(tmp_path)
    files = capture_bundles(tree) if what == "capture bundle" else recording_bundles(tree)
    originals = {p: p.read_bytes() for p in files}
    assert all(b" encoding=json+aes256gcm keyid=" in data for data in originals.values())
    loaders = _capture_loaders if what == "capture bundle" else _recording_loaders

    @FUZZ
    @given(st.sampled_from(files), st.data())
    def fuzz(path: Path, d: st.DataObject) -> None:
        data = mutation(kind, originals[path], d, None)
        tally.inputs[f"encrypted {what} files ({kind})"] += 1
        try:
            path.write_bytes(data)
            verdict = loaders(tally, f"encrypted, {kind}", tree, path, None)
            if kind != "json body" and verdict == "ok":
                # Loaded after a change without the key: only a field outside the encrypted
                # header (an `hmac=` on an unsigned file) changed, never what the file holds.
                assert body_of(data) == body_of(originals[path])
        finally:
            path.write_bytes(originals[path])

    fuzz()


# -- indexes ---------------------------------------------------------------------------------

INDEX_WORDS = ["bundles", "calls", "file", "time_ns", "size", "summary", "outcome", "key"]
INDEX_WORDS += ["snapy_index", "snapy_recordings", "target", "module", "qualname", "test"]
INDEX_WORDS += ["signature", "call_count", "order", "created"]
index_values = st.recursive(
    scalars | st.sampled_from([2**70, -(2**70), 10**30, 253_402_300_800 * 10**9]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(INDEX_WORDS) | st.text(max_size=4), children, max_size=5)
    ),
    max_leaves=14,
)


def index_mutation(kind: str, original: bytes, d: st.DataObject) -> bytes:
    if kind == "random bytes":
        return d.draw(st.binary(max_size=300), label="bytes")
    if kind == "bit flips":
        return flipped(original, d)
    if kind == "truncation":
        return truncated(original, d)
    index = json.loads(original)
    places = list(_nodes(index))
    at = places[d.draw(st.integers(0, len(places) - 1), label="node")]
    new = d.draw(index_values, label="new value")
    if not at:
        return json.dumps(new).encode()
    parent = index
    for step in at[:-1]:
        parent = parent[step]
    parent[at[-1]] = new
    return json.dumps(index).encode()


INDEX_MUTATIONS = ["random bytes", "bit flips", "truncation", "json"]


@pytest.mark.parametrize("kind", INDEX_MUTATIONS)
def test_capture_indexes_through_the_cli(
    kind: str, plain_tree: Stored, tmp_path: Path, tally: Tally, snapy_settings: Any
) -> None:
    tree = plain_tree.copy(tmp_path)
    indexes = sorted((tree / "captures").rglob("index.json"))
    originals = {p: p.read_bytes() for p in indexes}

    @FUZZ
    @given(st.sampled_from(indexes), st.data())
    def fuzz(path: Path, d: st.DataObject) -> None:
        tally.inputs[f"capture index.json files ({kind})"] += 1
        try:
            path.write_bytes(index_mutation(kind, originals[path], d))
            root = str(tree / "captures")
            for args in (
                ["list", root],
                ["list", "--json", root],
                ["stats", "--json", root],
                ["stats", root],
                ["verify", root],
                ["show", str(path.parent)],
                ["diff", str(path.parent)],
                ["prune", "--keep", "1", "--dry-run", root],
                ["clear", "--dry-run", str(path.parent)],
            ):
                command = " ".join(a for a in args if not a.startswith("/"))
                label = f"capture index.json ({kind}): snapy {command}"
                cli(tally, label, args, path.parent)
            attempt(
                tally,
                f"capture index.json ({kind}): snapy.load_capture",
                lambda: snapy.load_capture(
                    f"{path.parent.parent.name}.{path.parent.name}", path=root
                ),
                str(path.parent),
            )
        finally:
            path.write_bytes(originals[path])

    fuzz()


BAD_INDEX = b'{"snapy_index": 1, "target": "x.y", "bundles": [1, "two", {"file": 3}]}'


@FUZZ
@given(d=st.data())
@example(d=None)
def test_capture_indexes_through_list_captures(
    d: st.DataObject | None, plain_tree: Stored, tmp_path: Path, tally: Tally
) -> None:
    tree = plain_tree.copy(tmp_path)
    path = sorted((tree / "captures").rglob("index.json"))[0]
    original = path.read_bytes()
    path.write_bytes(BAD_INDEX if d is None else index_mutation("json", original, d))
    tally.inputs["capture index.json files, through list_captures"] += 1
    attempt(
        tally,
        "capture index.json: snapy.list_captures",
        lambda: snapy.list_captures(tree / "captures"),
        str(path),
    )


def test_a_capture_over_a_malformed_index_rebuilds_it(tmp_path: Path) -> None:
    root = tmp_path / "captures"
    captured = snapy.capture(refuse, path=root, retention=10, production_mode=False)
    with pytest.raises(Refused):
        captured(1)
    assert snapy.flush_captures()
    (index,) = root.rglob("index.json")
    index.write_bytes(b'{"snapy_index": 1, "bundles": [1, "two", {"file": 3}], "call_count": "x"}')
    with pytest.raises(Refused):
        captured(2)
    snapy.flush_captures()
    bundles = sorted(p.name for p in index.parent.glob("*.bundle"))
    assert len(bundles) == 2
    assert [e["file"] for e in json.loads(index.read_bytes())["bundles"]] == bundles


@pytest.mark.parametrize("kind", INDEX_MUTATIONS)
def test_recording_indexes(
    kind: str, plain_tree: Stored, tmp_path: Path, tally: Tally, snapy_settings: Any
) -> None:
    tree = plain_tree.copy(tmp_path)
    recordings = tree / "tests" / "__recordings__"
    indexes = sorted(recordings.rglob("index.json"))
    originals = {p: p.read_bytes() for p in indexes}

    @FUZZ
    @given(st.sampled_from(indexes), st.data())
    def fuzz(path: Path, d: st.DataObject) -> None:
        (bundle,) = path.parent.glob("*.bundle")
        tally.inputs[f"recording index.json files ({kind})"] += 1
        try:
            path.write_bytes(index_mutation(kind, originals[path], d))
            _recording_loaders(tally, f"index.json, {kind}", tree, bundle, None, path.parent)
            for args in (
                ["list", str(recordings)],
                ["stats", str(recordings)],
                ["clear", "--dry-run", str(path.parent)],
            ):
                cli(tally, f"recording index.json ({kind}): snapy {args[0]}", args, path.parent)
        finally:
            path.write_bytes(originals[path])

    fuzz()


# -- nesting deeper than the JSON parser goes --------------------------------------------------

DEEP = b"[" * 100_000 + b"]" * 100_000


def test_a_bundle_nested_too_deeply_is_refused_by_the_store(
    plain_tree: Stored, tmp_path: Path
) -> None:
    tree = plain_tree.copy(tmp_path)
    path = capture_bundles(tree)[0]
    path.write_bytes(_envelope.pack(DEEP, serializer="pickle", signing_key=None))
    with pytest.raises(snapy.CorruptFileError) as excinfo:
        snapy.CaptureStorage(tree / "captures").load(path)
    assert str(excinfo.value).startswith(f"{path}: payload is not valid JSON")


def test_a_recording_nested_too_deeply_is_unreadable(plain_tree: Stored, tmp_path: Path) -> None:
    tree = plain_tree.copy(tmp_path)
    path = recording_bundles(tree)[-1]
    path.write_bytes(_envelope.pack(DEEP, serializer="pickle", signing_key=None))
    store = snapy.RecordingStore(tree / "tests" / "__recordings__")
    (rec,) = store.recordings(TEST_ID, snapy.Target(__name__, "work")).recordings
    assert str(rec.error).startswith(f"{path}: payload is not valid JSON")


def test_a_recording_index_nested_too_deeply_is_ignored(plain_tree: Stored, tmp_path: Path) -> None:
    tree = plain_tree.copy(tmp_path)
    path = recording_bundles(tree)[-1].parent / "index.json"
    path.write_bytes(DEEP)
    store = snapy.RecordingStore(tree / "tests" / "__recordings__")
    (rec,) = store.recordings(TEST_ID, snapy.Target(__name__, "work")).recordings
    assert rec.error is None


def test_the_cli_refuses_an_index_nested_too_deeply(
    plain_tree: Stored, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = plain_tree.copy(tmp_path)
    path = capture_bundles(tree)[0].parent / "index.json"
    path.write_bytes(DEEP)
    assert main(["verify", str(tree / "captures")]) == 1
    out = capsys.readouterr().out
    assert f"{shown(path)}: index is not valid JSON (nested too deeply to read)\n" in out


def test_the_cli_refuses_a_stored_value_nested_too_deeply(
    plain_tree: Stored, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = plain_tree.copy(tmp_path)
    path = capture_bundles(tree)[-1]
    body = body_of(path.read_bytes())
    deep: Any = 1
    for _ in range(60):  # 120 levels of JSON
        deep = {"$tuple": [deep]}
    body["value"] = deep
    path.write_bytes(repacked(path.read_bytes(), body, None, False))
    assert main(["show", str(path)]) == 1
    assert capsys.readouterr().err == (
        f"snapy: {shown(path)}: stored value value is malformed: the value is nested more than "
        "100 levels deep\n"
    )


# -- settings: `.env` files and the environment ------------------------------------------------

SETTINGS = list(ENV_NAMES.values())
setting_values = (
    st.text(max_size=30)
    | st.sampled_from(["1", "inf", "-1", "0", "0.5", "1e999", "nan", "10M", "²", "٣", "  7 k "])
    | st.integers().map(str)
)


@pytest.fixture
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)


def test_env_file_lines(tmp_path: Path, tally: Tally, clean_environ: None) -> None:
    forms = ["{n}={v}", "{n}='{v}'", 'export {n}="{v}"', "{n}={v} # note", "{n}", "{v}"]

    @FUZZ
    @given(
        st.lists(
            st.tuples(st.sampled_from(SETTINGS), setting_values, st.sampled_from(forms)),
            min_size=1,
            max_size=4,
        )
    )
    def fuzz(lines: list[tuple[str, str, str]]) -> None:
        text = "\n".join(form.format(n=name, v=value) for name, value, form in lines)
        (tmp_path / ".env").write_text(text, encoding="utf-8", errors="surrogatepass")
        tally.inputs[".env files (text)"] += 1
        # A value can hold a newline and another assignment: any setting may be at fault.
        attempt(tally, ".env lines", snapy.refresh_settings, *SETTINGS, ".env")

    fuzz()


@FUZZ
@given(data=st.binary(max_size=300))
@example(data=b"SNAPY_RETENTION=\xff\n")
def test_env_file_bytes(data: bytes, tmp_path: Path, tally: Tally, clean_environ: None) -> None:
    (tmp_path / ".env").write_bytes(data)
    tally.inputs[".env files (bytes)"] += 1
    attempt(tally, ".env bytes", snapy.refresh_settings, *SETTINGS, ".env")


def test_environment_values(tmp_path: Path, tally: Tally) -> None:
    @FUZZ
    @given(st.dictionaries(st.sampled_from(SETTINGS), setting_values, min_size=1))
    def fuzz(environ: dict[str, str]) -> None:
        tally.inputs["environment values"] += 1
        attempt(
            tally,
            "environment values",
            lambda: snapy.refresh_settings(environ=environ, dotenv_path=tmp_path / "none.env"),
            *environ,
        )

    fuzz()


@pytest.mark.parametrize("name", ["SNAPY_RETENTION", "SNAPY_MAX_BYTES"])
def test_a_setting_with_thousands_of_digits_is_a_config_error(name: str, tmp_path: Path) -> None:
    with pytest.raises(snapy.ConfigError) as excinfo:
        snapy.refresh_settings(environ={name: "9" * 5000}, dotenv_path=tmp_path / "none.env")
    assert str(excinfo.value).startswith(f"{name}='9999")


# -- exact refusals: what a reader is told ---------------------------------------------------------


def rewrite(path: Path, change: Callable[[dict[str, Any]], Any]) -> None:
    """Change the JSON body of the file at `path`, packed again with a valid checksum."""
    original = path.read_bytes()
    body = body_of(original)
    change(body)
    path.write_bytes(repacked(original, body, None, False))


MALFORMED = [
    (
        lambda b: b["arguments"].update(a={"$tuple": True}),
        "stored value arguments['a'] is malformed: $tuple node holds bool in '$tuple', not list",
    ),
    (
        lambda b: b.update(value={"$set": [[1]]}),
        "stored value value is malformed: $set cannot be rebuilt (TypeError: unhashable type: "
        "'list')",
    ),
    (
        lambda b: b.update(value={"$enum": 1, "name": "RED"}),
        "stored value value is malformed: $enum node holds int in '$enum', not str",
    ),
    (
        lambda b: b.update(value={"$dict": [[1, 2, 3]]}),
        "stored value value is malformed: $dict node holds an entry that is not a [key, value] "
        "pair",
    ),
    (
        lambda b: b.update(value={"$timedelta": [10**9]}),
        "stored value value is malformed: $timedelta cannot be rebuilt (OverflowError: days="
        "1000000000; must have magnitude <= 999999999)",
    ),
    (
        lambda b: b.update(value={"$decimal": ""}),
        "stored value value is malformed: $decimal cannot be rebuilt (InvalidOperation: "
        "[<class 'decimal.ConversionSyntax'>])",
    ),
    (
        lambda b: b.update(value={"$datetime": "yesterday"}),
        "stored value value is malformed: Invalid isoformat string: 'yesterday'",
    ),
    (
        lambda b: b.update(value={"$nope": 1}),
        "stored value value is malformed: unknown tag '$nope'",
    ),
    (lambda b: b.update(arguments=[1]), "payload field 'arguments' is a list, not an object"),
    (lambda b: b.update(target=7), "payload field 'target' is a number, not a string"),
    (
        lambda b: b["kinds"].update(a=1),
        "payload field 'kinds' holds a value that is not a string",
    ),
]


@pytest.mark.parametrize(("change", "cause"), MALFORMED)
def test_snapy_show_and_diff_say_what_is_malformed(
    change: Callable[[dict[str, Any]], Any],
    cause: str,
    plain_tree: Stored,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tree = plain_tree.copy(tmp_path)
    path = capture_bundles(tree)[-1]
    rewrite(path, change)
    capsys.readouterr()
    for args in (["show", str(path)], ["show", "--json", str(path)], ["diff", str(path.parent)]):
        assert main(args) == 1
        assert capsys.readouterr() == ("", f"snapy: {shown(path)}: {cause}\n")


@pytest.mark.parametrize(("change", "cause"), MALFORMED[:8])
def test_a_malformed_recording_is_an_unreadable_miss_and_is_recorded_again(
    change: Callable[[dict[str, Any]], Any], cause: str, plain_tree: Stored, tmp_path: Path
) -> None:
    tree = plain_tree.copy(tmp_path)
    recordings = tree / "tests" / "__recordings__"
    path = recording_bundles(tree)[-1]
    rewrite(path, change)
    replay = snapy.mock(
        work, recordings=snapy.RecordingStore(recordings), test_id=TEST_ID, mode="replay"
    )
    with pytest.raises(snapy.RecordingNotFoundError) as excinfo:
        work_call(replay)
    assert excinfo.value.kind == "unreadable"
    assert str(excinfo.value).splitlines()[2] == (
        f"  why:   the recording of these arguments cannot be read: {path}: {cause}"
    )
    recorder = snapy.mock(
        work, recordings=snapy.RecordingStore(recordings), test_id=TEST_ID, mode="new"
    )
    assert work_call(recorder) == VALUE
    assert recorder.calls[0].source == "recorded"


@pytest.mark.parametrize(
    ("index", "change", "cause"),
    [
        (-1, lambda b: b.update(outcome="weird"), "unknown outcome 'weird' in the recording"),
        (
            -1,
            lambda b: b.update(outcome="exception"),
            "cannot rebuild the recorded values (TypeError: the recorded exception is a dict "
            "value)",
        ),
        (
            -1,
            lambda b: b.update(outcome="generator"),
            "cannot rebuild the recorded values (TypeError: the recorded items are a dict value)",
        ),
        (
            -1,
            lambda b: b["value"]["blob"].update({"$pickle": "bm90IGEgcGlja2xl"}),
            "cannot rebuild the recorded values (UnpicklingError: invalid load key, 'n'.)",
        ),
        (
            0,
            lambda b: b["mutations"].update(items=5),
            "cannot rebuild the recorded values (TypeError: argument 'items' is a list value; "
            "the recording makes it a int value)",
        ),
    ],
)
def test_a_recording_that_cannot_be_replayed_is_an_unreadable_miss(
    index: int,
    change: Callable[[dict[str, Any]], Any],
    cause: str,
    plain_tree: Stored,
    tmp_path: Path,
) -> None:
    tree = plain_tree.copy(tmp_path)
    path = recording_bundles(tree)[index]
    rewrite(path, change)
    fn, call = (work, work_call) if index else (grow, lambda f: f([1], token="hidden"))
    store = snapy.RecordingStore(tree / "tests" / "__recordings__")
    replay = snapy.mock(fn, recordings=store, test_id=TEST_ID, mode="replay")
    with pytest.raises(snapy.RecordingNotFoundError) as excinfo:
        call(replay)
    assert excinfo.value.kind == "unreadable"
    assert str(excinfo.value).splitlines()[2] == (
        f"  why:   the recording of these arguments cannot be read: {path}: {cause}"
    )


@pytest.mark.parametrize(
    ("node", "text"),
    [
        ({"$tuple": 5}, "{'$tuple': 5}"),
        ({"$dict": [[1]]}, "{'$dict': [[1]]}"),
        ({"$complex": ["x", "1"]}, "{'$complex': ['x', '1']}"),
        ({"$b64": "***"}, "{'$b64': '***'}"),
        ({"$bytearray": {"$nope": 1}}, "bytearray({'$nope': 1})"),
        (
            {"$enum": f"{__name__}:Color", "name": ["RED"]},
            f"{{'$enum': '{__name__}:Color', 'name': ['RED']}}",
        ),
        ([[[[1]]]], "[[[[1]]]]"),
    ],
)
def test_render_shows_a_malformed_node_as_the_json_it_holds(node: Any, text: str) -> None:
    assert render(node, 1000) == text


def test_render_stops_at_fifty_levels() -> None:
    deep: Any = 1
    for _ in range(1000):
        deep = [deep]
    assert render(deep, 1000) == "[" * 51 + "..." + "]" * 51


def test_a_stored_class_name_that_cannot_be_imported_is_not_an_error() -> None:
    decoder = Decoder(snapy.PickleSerializer())
    for name in (":", ".x:y", "", "..", "a\x00b:c"):
        value = decoder.decode({"$enum": name, "name": "RED"})
        assert value == snapy.PickledValue(name, "RED", b"")
        error = decoder.decode({"$exception": name, "args": ["boom"]})
        assert (type(error), error.type_name, error.message) == (
            snapy.CapturedException,
            name,
            "boom",
        )


def test_snapy_list_ignores_times_no_clock_can_show(
    plain_tree: Stored, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = plain_tree.copy(tmp_path)
    folder = capture_bundles(tree)[-1].parent
    index = json.loads((folder / "index.json").read_bytes())
    for entry, time_ns in zip(index["bundles"], [10**30, -5], strict=True):
        entry["time_ns"] = time_ns
    (folder / "index.json").write_text(json.dumps(index))
    capsys.readouterr()
    assert main(["list", "--json", str(tree / "captures")]) == 0
    (row,) = [r for r in json.loads(capsys.readouterr().out) if r["name"].endswith(".work")]
    names = sorted(p.name for p in folder.glob("*.bundle"))
    # Each time comes from the bundle's file name instead.
    assert (row["oldest"], row["newest"]) == (iso(int(names[0][:20])), iso(int(names[1][:20])))


@pytest.mark.parametrize(
    "change",
    [lambda b: b.update(arguments=[1]), lambda b: b.update(target=7)],
    ids=["args", "target"],
)
def test_recording_next_to_a_malformed_recording_writes_its_index(
    change: Callable[[dict[str, Any]], Any], plain_tree: Stored, tmp_path: Path
) -> None:
    tree = plain_tree.copy(tmp_path)
    path = recording_bundles(tree)[-1]
    rewrite(path, change)
    store = snapy.RecordingStore(tree / "tests" / "__recordings__")
    recorder = snapy.mock(work, recordings=store, test_id=TEST_ID, mode="new")
    assert work_call(recorder) == VALUE
    store.flush()
    index = json.loads((path.parent / "index.json").read_bytes())
    assert [call["file"] for call in index["calls"]] == ["0001" + path.name[4:]]
