"""Finding what snapy stored under a folder, from indexes and file names; nothing unpickled.

A folder is a capture folder or a recording folder when its `index.json` says so
(`snapy_index` or `snapy_recordings`), or, when the index is missing or damaged, by where it
lies (under `__recordings__`) and how its bundles are named (`<20-digit time>-...` captures,
`<order>-<key>` recordings). Bundles on disk are the truth; the index adds summaries.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._bundle import Target
from ._cli_errors import AccessError, NothingMatched, NotSnapyFolder
from ._cli_format import shown
from ._load import nearest
from ._paths import is_digits, split_target
from ._settings import Settings

CAPTURE = "capture"
RECORDING = "recording"
INDEX = "index.json"
SUFFIX = ".bundle"
#: Index formats this snapy reads (the values of `snapy_index` and `snapy_recordings`).
INDEX_FORMATS = {"snapy_index": 1, "snapy_recordings": 1}
RECORDINGS_DIR = "__recordings__"
_SKIP = {"__pycache__", "__snapshots__", "node_modules", "site-packages"}
_MARKERS = {".redaction-key", ".lock"}
_CAPTURE_NAME = re.compile(r"^\d{20}-")


def is_tmp(name: str) -> bool:
    """A temporary file of an atomic write (`.tmp-*.part`); left over if its writer died."""
    return name.startswith(".tmp-") and name.endswith(".part")


@dataclass
class Entry:
    """One bundle on disk, with what its folder's index says about it."""

    path: Path
    key: str
    size: int
    time_ns: int | None
    order: int | None
    outcome: str | None = None
    summary: str | None = None


@dataclass
class Folder:
    """The bundles of one captured function, or of one target recorded in one test."""

    kind: str
    path: Path
    target: str
    test: str | None
    module: str
    qualname: str
    entries: list[Entry]
    names: list[str]
    index: dict[str, Any] | None = None
    index_error: str | None = None
    listed: list[str] = field(default_factory=list)
    newer: bool = False  # the index was written by a newer snapy: read it, never rewrite it

    @property
    def name(self) -> str:
        """`pkg.mod.fn` for captures; `test module::test name::target` for recordings."""
        return self.target if self.test is None else f"{self.test}::{self.target}"

    @property
    def total_bytes(self) -> int:
        return sum(e.size for e in self.entries)

    @property
    def calls(self) -> int:
        count = (self.index or {}).get("call_count")
        if self.kind == CAPTURE and type(count) is int and count >= len(self.entries):
            return count
        return len(self.entries)

    def times(self) -> list[int]:
        return [e.time_ns for e in self.entries if e.time_ns is not None]

    def storage_target(self) -> Target:
        return Target(self.module, self.qualname)


@dataclass
class Scan:
    """Everything found under `root`: target folders, stray temp files, unreadable folders."""

    root: Path
    folders: list[Folder]
    stray: list[Path]
    unreadable: list[tuple[Path, str]]
    marked: bool  # snapy was here (a lock, a redaction key, __recordings__), targets or not


def scan(root: Path) -> Scan:
    """Walk `root` (not following links, skipping hidden and cache folders)."""
    found = Scan(root, [], [], [], False)

    def failed(exc: OSError) -> None:
        path = Path(exc.filename or root)
        found.unreadable.append((path, exc.strerror or str(exc)))

    for dirpath, dirnames, filenames in os.walk(root, onerror=failed):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in _SKIP)
        here = Path(dirpath)
        if RECORDINGS_DIR in dirnames or _MARKERS & set(filenames):
            found.marked = True
        folder = read_folder(here, sorted(filenames)) if filenames else None
        if folder is not None:
            found.folders.append(folder)
        else:
            found.stray.extend(here / name for name in sorted(filenames) if is_tmp(name))
    found.folders.sort(key=lambda f: (f.kind, f.name, str(f.path)))
    return found


def _index(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    try:
        value = json.loads(path.read_bytes())
    except OSError as exc:
        return None, f"cannot read the index ({exc.strerror or exc})"
    except ValueError as exc:
        return None, f"index is not valid JSON ({exc})"
    except RecursionError:
        return None, "index is not valid JSON (nested too deeply to read)"
    if not isinstance(value, dict):
        return None, "index is not a JSON object"
    return value, None


def read_folder(path: Path, names: Sequence[str]) -> Folder | None:
    """The target folder at `path` (holding `names`), or None if it is not one."""
    bundles = [n for n in names if n.endswith(SUFFIX)]
    index, error = _index(path / INDEX) if INDEX in names else (None, None)
    kind = next((k for k in INDEX_FORMATS if index is not None and k in index), None)
    if kind is None and index is not None:
        if not bundles:
            return None  # somebody else's index.json
        error = "index.json is not a snapy index (no snapy_index or snapy_recordings key)"
        index = None
    if index is None and not bundles and error is None:
        return None
    if kind is not None and index is not None:
        version = index.get(kind)
        if not isinstance(version, int) or version > INDEX_FORMATS[kind]:
            error = (
                f"index format {version!r} is newer than this snapy reads "
                f"({INDEX_FORMATS[kind]}): upgrade snapy to use this folder"
            )
    under_recordings = RECORDINGS_DIR in path.parts
    if kind == "snapy_recordings" or (
        kind is None and (under_recordings or not all(_CAPTURE_NAME.match(n) for n in bundles))
    ):
        folder = _recording_folder(path, names, bundles, index, error)
    else:
        folder = _capture_folder(path, names, bundles, index, error)
    folder.newer = error is not None and kind is not None
    return folder


def _size(path: Path) -> tuple[int, int | None]:
    try:
        info = path.stat()
    except OSError:
        return 0, None
    return info.st_size, info.st_mtime_ns


def _listed(index: dict[str, Any] | None, key: str) -> list[dict[str, Any]]:
    rows = (index or {}).get(key)
    return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []


#: The last nanosecond a time can be shown at (datetime stops at the year 9999).
_MAX_NS = 253_402_300_800 * 10**9 - 1


def _time_ns(value: object) -> int | None:
    """A time an index or a file name gives, if it is one that can be shown."""
    if type(value) is int and 0 <= value <= _MAX_NS:
        return value
    return None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _capture_folder(
    path: Path,
    names: Sequence[str],
    bundles: list[str],
    index: dict[str, Any] | None,
    error: str | None,
) -> Folder:
    rows = _listed(index, "bundles")
    by_file = {str(r.get("file")): r for r in rows}
    entries = []
    for name in sorted(bundles):
        row = by_file.get(name, {})
        stem = name[: -len(SUFFIX)].split("-")
        size, _ = _size(path / name)
        time_ns = _time_ns(row.get("time_ns"))
        if time_ns is None and is_digits(stem[0]):
            time_ns = _time_ns(int(stem[0]))
        outcome, summary = _text(row.get("outcome")), _text(row.get("summary"))
        entries.append(Entry(path / name, stem[-1], size, time_ns, None, outcome, summary))
    module = str((index or {}).get("module") or path.parent.name)
    qualname = str((index or {}).get("qualname") or path.name)
    target = str((index or {}).get("target") or f"{module}.{qualname}")
    listed = [str(r.get("file")) for r in rows]
    return Folder(
        CAPTURE, path, target, None, module, qualname, entries, list(names), index, error, listed
    )


def _recording_folder(
    path: Path,
    names: Sequence[str],
    bundles: list[str],
    index: dict[str, Any] | None,
    error: str | None,
) -> Folder:
    rows = _listed(index, "calls")
    by_file = {str(r.get("file")): r for r in rows}
    entries = []
    for name in bundles:
        row = by_file.get(name, {})
        order_text, _, key = name[: -len(SUFFIX)].partition("-")
        size, mtime = _size(path / name)
        order = int(order_text) if is_digits(order_text) else None
        outcome, summary = _text(row.get("outcome")), _text(row.get("summary"))
        entries.append(Entry(path / name, key, size, _time_ns(mtime), order, outcome, summary))
    entries.sort(key=lambda e: (e.order if e.order is not None else -1, e.path.name))
    target = str((index or {}).get("target") or path.name)
    test = (index or {}).get("test")
    if not isinstance(test, str) or not test:
        test = f"{path.parent.parent.name}::{path.parent.name}"
    qualname = target.rpartition(".")[2]
    listed = [str(r.get("file")) for r in rows]
    module = test.split("::")[0]
    return Folder(
        RECORDING, path, target, test, module, qualname, entries, list(names), index, error, listed
    )


def checked_root(path: Path, what: str) -> Scan:
    """`scan(path)`, or a `NotSnapyFolder`/`AccessError` naming `path` and what exists."""
    if not path.exists():
        raise NotSnapyFolder(path, f"{shown(path)!r} does not exist{_nearby(path)}; {what}")
    if not path.is_dir():
        raise NotSnapyFolder(path, f"{shown(path)!r} is a file, not a folder; {what}")
    found = scan(path)
    for where, cause in found.unreadable:
        if where == path:
            raise AccessError(path, f"cannot list the folder ({cause})")
    if not found.folders and not found.marked:
        try:
            empty = not any(path.iterdir())
        except OSError as exc:
            raise AccessError(path, f"cannot list the folder ({exc.strerror or exc})") from None
        state = "is empty" if empty else "holds no snapy captures or recordings"
        raise NotSnapyFolder(
            path,
            f"{shown(path)!r} {state} (no index.json or .bundle files under it); {what}",
        )
    return found


def _nearby(path: Path) -> str:
    parent = path.parent
    try:
        names = [p.name for p in parent.iterdir() if p.is_dir() and not p.name.startswith(".")]
    except OSError:
        return ""
    if not names:
        return ""
    return f"; folders in {shown(parent)!r}, nearest first: " + ", ".join(nearest(path.name, names))


def matches(folder: Folder, text: str) -> bool:
    """Whether `text` names `folder`: its full name, or for a capture `pkg.mod:Qual.name`."""
    if text in (folder.name, str(folder.path)):
        return True
    if folder.kind == CAPTURE:
        readings = split_target(text)
        return (folder.module, folder.qualname) in readings or folder.target == text
    return "::" not in text and folder.target == text.replace(":", ".")


def resolve(text: str, found: Scan) -> Folder:
    """The one folder of `found` that `text` names; else `NothingMatched` with nearest names."""
    hits = [f for f in found.folders if matches(f, text)]
    if len(hits) == 1:
        return hits[0]
    if hits:
        names = [f"{f.name} ({shown(f.path)})" for f in hits]
        raise NothingMatched(
            f"{text!r} names {len(hits)} targets in {shown(found.root)!r}: {', '.join(names)}; "
            "give the full name (test module::test name::target) or the folder path",
            names,
        )
    names = sorted({f.name for f in found.folders})
    close = nearest(text, names)
    raise NothingMatched(
        f"nothing stored for {text!r} in {shown(found.root)!r}; "
        + (f"stored targets, nearest first: {', '.join(close)}; " if close else "")
        + f"run `snapy list {shown(found.root)}` to see all {len(names)}",
        close,
    )


def select(folder: Folder, key: str | None = None, index: int | None = None) -> int:
    """The position in `folder.entries` of the bundle with `key` (a prefix will do) or at
    `index` (0 the oldest, -1 the newest); the newest when neither is given."""
    count = len(folder.entries)
    if count == 0:
        raise NothingMatched(f"{folder.name!r} has no bundles left in {shown(folder.path)!r}")
    if key is not None:
        hits = [i for i, e in enumerate(folder.entries) if e.key.startswith(key)]
        if not hits:
            keys = nearest(key, sorted({e.key for e in folder.entries}))
            raise NothingMatched(
                f"{folder.name!r} has no bundle with key {key!r}; its keys, nearest first: "
                f"{', '.join(keys)}; `snapy list` and `snapy show` print them",
                keys,
            )
        if len({folder.entries[i].key for i in hits}) > 1:
            keys = sorted({folder.entries[i].key for i in hits})
            raise NothingMatched(
                f"key prefix {key!r} of {folder.name!r} matches several keys: "
                f"{', '.join(keys)}; give more of the key",
                keys,
            )
        return hits[-1]
    position = -1 if index is None else index
    if not -count <= position < count:
        raise NothingMatched(
            f"{folder.name!r} has {count} bundle(s), index 0 (oldest) to {count - 1} "
            f"(or -1 for the newest); there is no index {position}"
        )
    return position % count


def find_target(text: str, root: Path, hint: str) -> tuple[Folder, int | None]:
    """The folder that `text` names (a bundle file, a target folder, or a name stored under
    `root`) and, when it is a bundle file, that bundle's position in the folder."""
    path = Path(text)
    if path.is_file():
        folder = None
        if path.name.endswith(SUFFIX):
            try:
                names = sorted(os.listdir(path.parent))
            except OSError as exc:
                raise AccessError(path.parent, f"cannot list the folder ({exc.strerror})") from None
            folder = read_folder(path.parent, names)
        if folder is None:
            raise NotSnapyFolder(path, f"{text!r} is a file but not a snapy bundle (*.bundle)")
        files = [e.path.name for e in folder.entries]
        return folder, files.index(path.name)
    if path.is_dir():
        found = checked_root(path, hint)
        if len(found.folders) == 1:
            return found.folders[0], None
        if not found.folders:
            raise NothingMatched(f"{text!r} holds no captures or recordings any more")
        names = [f.name for f in found.folders]
        raise NothingMatched(
            f"{text!r} holds {len(names)} targets, not one: {', '.join(names[:10])}"
            f"{', ...' if len(names) > 10 else ''}; name one of them, or give its folder",
            names,
        )
    return resolve(text, checked_root(root, hint)), None


def root_of(path: str | None, settings: Settings, option: str = "PATH") -> tuple[Path, str]:
    """The folder to look in and, for error messages, what the user can do about it."""
    where = f"pass {option}: a capture folder or a tests folder holding __recordings__"
    if path is not None:
        return Path(path), where
    source = settings.source_of("capture_dir")
    origin = "is not set" if source == "default" else f"comes from {source}"
    return settings.capture_dir, f"SNAPY_CAPTURE_DIR {origin}; {where}"
