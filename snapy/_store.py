"""The storage layer shared by capture and replay; its root is always a parameter.

    <root>/<module>/<qualname>/<time_ns>-<seq>-<argkey>.bundle   + index.json, .lock

Writes are atomic (temp file in the same folder, then `os.replace`), so a reader never sees a
half-written file, even when the writer is killed. Writers of one folder (threads, processes,
xdist workers) are serialised by a file lock; under it, retention and the index are computed
from the files actually on disk, so a crash between two steps heals on the next write.
Retention keeps the bundles whose names (their times) sort last; a clock that went back never
makes a new capture sort before a stored one (see `_after_newest`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import logging
import math
import os
import platform
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._bundle import Capture, PendingBundle, Target, check_body, iso
from ._envelope import json_object, pack, parse_body, unpack
from ._errors import CorruptFileError, SnapyError, StoreError
from ._keys import redaction_key
from ._locks import file_lock
from ._paths import inside, is_digits, make_dirs
from ._plain import Decoder
from ._serializers import Serializer, resolve_serializer, serializer_named
from ._version import __version__

log = logging.getLogger("snapy")

INDEX = "index.json"
SUFFIX = ".bundle"
_LOCK = ".lock"
_TMP_PREFIX = ".tmp-"
_TMP_SUFFIX = ".part"
_INDEX_FORMAT = 1
_PYTHON = platform.python_version()
# A bundle is dated when its call ends, before it is written, so one dated more than this
# after the clock's time now means the clock went back (or a host whose clock runs ahead
# shares the folder).
_CLOCK_SLACK_NS = 1_000_000_000


@dataclass(frozen=True)
class TargetInfo:
    """What is stored for one function: read from its index, nothing unpickled."""

    target: str
    module: str
    qualname: str
    bundles: int
    calls: int
    total_bytes: int
    newest: dt.datetime | None
    oldest: dt.datetime | None
    folder: Path


class CaptureStorage:
    """Bundles of calls under `root`, one folder per function (the seed's extension point).

    `retention` keeps the newest N bundles per function (`math.inf` keeps all). With a
    `signing_key` every file is signed and every load verifies it before parsing anything.
    Payloads over `compress_over` bytes are zlib-compressed.
    """

    def __init__(
        self,
        root: Path | str,
        *,
        retention: float = 2,
        signing_key: bytes | None = None,
        serializer: Serializer | str | None = None,
        compress_over: float = 256 * 1024,
        lock_timeout: float = 10.0,
    ) -> None:
        self.root = Path(root).absolute()  # writes happen later, maybe after a chdir
        self.retention = retention
        self.signing_key = signing_key
        self.serializer = resolve_serializer(serializer)
        self.compress_over = compress_over
        self.lock_timeout = lock_timeout
        self._redaction_key: bytes | None = None

    def __repr__(self) -> str:
        return f"CaptureStorage({str(self.root)!r}, retention={self.retention})"

    # -- writing ---------------------------------------------------------------------------

    def folder(self, target: Target) -> Path:
        return inside(self.root, target.module, target.qualname)

    def store_capture(self, bundle: PendingBundle) -> Path | None:
        """Write one bundle now; returns its path, or None when retention dropped it at once."""
        written = self.write(bundle.target, [bundle])
        return written[0] if written else None

    def write(
        self,
        target: Target,
        bundles: Sequence[PendingBundle],
        notes: list[tuple[str, str]] | None = None,
    ) -> list[Path]:
        """Write `bundles` of `target` under the folder lock, apply retention, update the index.

        Bundles that retention would delete at once are never written. Raises `OSError` or
        a lock timeout; the capture writer turns those into warnings. What went well but
        deserves a warning (the clock went back) is added to `notes` as (cause, detail).
        """
        folder = self.folder(target)
        make_dirs(self.root, folder)
        with self._locked(folder):
            index = self._index_for_update(folder, target)
            here = [e.name for e in os.scandir(folder)]
            on_disk = {name for name in here if name.endswith(SUFFIX)}
            for name in here:
                if is_tmp(name):
                    # Every write to this folder happens under its lock, so a temp file seen
                    # here belongs to a writer that was killed; nothing else would remove it.
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(folder / name)
            entries = {e["file"]: e for e in index["bundles"] if e.get("file") in on_disk}
            for name in on_disk - entries.keys():
                entries[name] = self._orphan_entry(folder / name)
            bundles = _after_newest(on_disk, bundles, notes)
            new = {b.filename: b for b in bundles}
            names = sorted(entries.keys() | new.keys())
            keep = names if math.isinf(self.retention) else names[-int(self.retention) :]
            written = []
            for name in keep:
                if name in new:
                    entries[name] = self._write_bundle(folder / name, new[name])
                    written.append(folder / name)
            for name in names[: len(names) - len(keep)]:
                if name in entries:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(folder / name)
            index["bundles"] = [entries[name] for name in keep]
            index["call_count"] = int(index.get("call_count", 0)) + len(bundles)
            index["updated"] = iso(max((b.time_ns for b in bundles), default=0))
            atomic_write(folder / INDEX, index_text(index, "bundles"))
        return written

    def _write_bundle(self, path: Path, bundle: PendingBundle) -> dict[str, Any]:
        payload = bundle.payload()
        compress = len(payload) > self.compress_over
        data = pack(
            payload,
            serializer=self.serializer.name,
            signing_key=self.signing_key,
            compress=compress,
        )
        atomic_write(path, data)
        return {
            "file": path.name,
            "key": bundle.key,
            "size": len(data),
            "time_ns": bundle.time_ns,
            "created": iso(bundle.time_ns),
            "outcome": bundle.outcome,
            "summary": bundle.summary(),
            "serializer": self.serializer.name,
            "signed": self.signing_key is not None,
            "snapy": __version__,
            "python": _PYTHON,
        }

    @staticmethod
    def _orphan_entry(path: Path) -> dict[str, Any]:
        """An index entry for a bundle on disk that the index lost (a writer was killed)."""
        parts = path.name[: -len(SUFFIX)].split("-")
        time_ns = int(parts[0]) if is_digits(parts[0]) else 0
        return {
            "file": path.name,
            "key": parts[-1],
            "size": path.stat().st_size,
            "time_ns": time_ns,
            "created": iso(time_ns),
            "outcome": None,
            "summary": None,
        }

    def _index_for_update(self, folder: Path, target: Target) -> dict[str, Any]:
        try:
            index = self._read_json(folder / INDEX)
        except FileNotFoundError:
            index = None
        except CorruptFileError as exc:
            log.warning("rebuilding %s from the files on disk: %s", folder / INDEX, exc.cause)
            index = None
        if index is None or not isinstance(index.get("bundles"), list):
            return {
                "snapy_index": _INDEX_FORMAT,
                "target": target.name,
                "module": target.module,
                "qualname": target.qualname,
                "call_count": 0,
                "bundles": [],
            }
        # Entries that are not objects naming a file, or a count that is not a number, would
        # fail every later write of this function: they go, and the files on disk refill them.
        index["bundles"] = [
            e for e in index["bundles"] if isinstance(e, dict) and isinstance(e.get("file"), str)
        ]
        if type(index.get("call_count")) is not int:
            index["call_count"] = 0
        return index

    @contextlib.contextmanager
    def _locked(self, folder: Path) -> Iterator[None]:
        with file_lock(folder / _LOCK, self.lock_timeout):
            yield

    def redaction_key(self) -> bytes:
        """The key that hashes redacted values (see `snapy._keys.redaction_key`)."""
        if self._redaction_key is None:
            self._redaction_key = redaction_key(self.root, self.signing_key)
        return self._redaction_key

    # -- deleting --------------------------------------------------------------------------

    def prune(self, target: Target, keep: int, *, dry_run: bool = False) -> list[Path]:
        """Delete all but the newest `keep` bundles of `target`; returns the deleted paths.

        Runs under the folder lock, like `write`, and rewrites the index from the files left
        on disk. With `dry_run` nothing is touched (and no lock taken): the paths returned are
        those that would go now. Raises `OSError` (a lock timeout is one).
        """
        if keep < 0:
            raise ValueError(f"keep must be 0 or more, not {keep!r}")
        return self._delete(target, keep, dry_run)

    def clear(self, target: Target, *, dry_run: bool = False) -> list[Path]:
        """Delete every bundle of `target` and its index; returns the deleted bundle paths.

        The folder and its `.lock` stay: removing a lock file that another writer may be
        waiting on would let two writers in at once.
        """
        return self._delete(target, None, dry_run)

    def _delete(self, target: Target, keep: int | None, dry_run: bool) -> list[Path]:
        folder = self.folder(target)
        if not folder.is_dir():
            return []
        if dry_run:
            names = sorted(p.name for p in folder.iterdir() if p.name.endswith(SUFFIX))
            return [folder / name for name in _doomed(names, keep)]
        with self._locked(folder):
            index = self._index_for_update(folder, target)
            here = [e.name for e in os.scandir(folder)]
            names = sorted(name for name in here if name.endswith(SUFFIX))
            doomed = _doomed(names, keep)
            for name in [*doomed, *(n for n in here if is_tmp(n))]:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(folder / name)
            if keep is None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(folder / INDEX)
                return [folder / name for name in doomed]
            kept = names[len(doomed) :]
            entries = {e["file"]: e for e in index["bundles"] if e.get("file") in kept}
            bundles = [entries.get(name) or self._orphan_entry(folder / name) for name in kept]
            if bundles != index["bundles"] or not (folder / INDEX).is_file():
                index["bundles"] = bundles
                atomic_write(folder / INDEX, index_text(index, "bundles"))
        return [folder / name for name in doomed]

    # -- reading ---------------------------------------------------------------------------

    def targets(self) -> list[TargetInfo]:
        """Every function with an index under the root, sorted by name."""
        found = []
        if not self.root.is_dir():
            return []
        for module_dir in sorted(p for p in self.root.iterdir() if p.is_dir()):
            for folder in sorted(p for p in module_dir.iterdir() if p.is_dir()):
                if (folder / INDEX).is_file():
                    found.append(self.target_info(folder))
        return sorted(found, key=lambda info: info.target)

    def target_info(self, folder: Path) -> TargetInfo:
        index = self._read_json(folder / INDEX)
        # An index is read from disk: each entry is checked before it is used.
        rows = index.get("bundles")
        bundles = [
            b
            for b in (rows if isinstance(rows, list) else [])
            if isinstance(b, dict)
            and isinstance(b.get("file"), str)
            and b["file"].endswith(SUFFIX)
            and "/" not in b["file"]
            and (folder / b["file"]).is_file()
        ]
        times = [b["time_ns"] for b in bundles if _is_time(b.get("time_ns"))]
        calls = index.get("call_count")

        def when(ns: int | None) -> dt.datetime | None:
            return None if ns is None else dt.datetime.fromtimestamp(ns / 1e9, dt.UTC)

        return TargetInfo(
            target=str(index.get("target", folder.name)),
            module=str(index.get("module", folder.parent.name)),
            qualname=str(index.get("qualname", folder.name)),
            bundles=len(bundles),
            calls=calls if type(calls) is int and calls >= 0 else len(bundles),
            total_bytes=sum(b["size"] for b in bundles if type(b.get("size")) is int),
            newest=when(max(times, default=None)),
            oldest=when(min(times, default=None)),
            folder=folder,
        )

    def files(self, target: Target) -> list[Path]:
        """The bundle files of `target`, oldest first."""
        folder = self.folder(target)
        if not folder.is_dir():
            return []
        return sorted(p for p in folder.iterdir() if p.name.endswith(SUFFIX))

    def read_index(self, target: Target) -> dict[str, Any]:
        return self._read_json(self.folder(target) / INDEX)

    def load(self, path: Path, *, allow_pickle: bool = True) -> Capture:
        """Read one bundle file. Only `SnapyError`s escape, each naming `path`."""
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise StoreError(path, f"cannot read the file ({exc.strerror or exc})") from None
        header, payload = unpack(data, path, self.signing_key)
        body = parse_body(payload, path)
        check_body(body, path)
        decoder = Decoder(serializer_named(header.serializer, path), allow_pickle=allow_pickle)
        try:
            arguments = decoder.decode(body["arguments"])
            value = decoder.decode(body["value"])
            outcome = body["outcome"]
            exception = value if outcome == "exception" else None
            if exception is not None and not isinstance(exception, BaseException):
                raise TypeError(f"stored exception is a {type(exception).__name__}")
            return Capture(
                target=body["target"],
                arguments=arguments,
                kinds=dict(body.get("kinds", {})),
                outcome=outcome,
                result=value if outcome == "result" else None,
                exception=exception,
                key=body["key"],
                meta=dict(body.get("meta", {})),
                path=path,
            )
        except SnapyError:
            raise
        except Exception as exc:
            raise CorruptFileError(
                path, f"cannot rebuild the stored values ({type(exc).__name__}: {exc})"
            ) from None

    @staticmethod
    def _read_json(path: Path) -> dict[str, Any]:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise StoreError(path, f"cannot read the file ({exc.strerror or exc})") from None
        return json_object(data, path, "index")


def _is_time(value: object) -> bool:
    """A time in ns that datetime can show (an index may hold any JSON there)."""
    return type(value) is int and 0 <= value < 253_402_300_800 * 10**9


def _after_newest(
    names: Iterable[str], bundles: Sequence[PendingBundle], notes: list[tuple[str, str]] | None
) -> Sequence[PendingBundle]:
    """`bundles`, dated after the newest of `names` when that one is dated ahead of the clock.

    Retention keeps the bundles whose names (their times) sort last. Once the clock went back
    (an NTP step, a clock set right after running ahead), new captures would sort before the
    stored ones and retention would drop them at once, until the clock caught up: instead
    they are dated 1 ns apart after the newest, in the order they were made, and keep the
    clock's reading as `meta["clock_ns"]`. Nothing is renamed on disk.
    """
    # Names start with the time as 20 digits: the greatest name holds the newest time.
    times = (n[:20] for n in names if is_digits(n[:20]))
    newest = int(max(times, default="0"))
    ahead = newest - time.time_ns()
    if ahead <= _CLOCK_SLACK_NS:
        return bundles
    if notes is not None:
        notes.append(
            (
                "clock went back",
                f"the newest bundle here is dated {iso(newest)}, {ahead / 1e9:.3f} s ahead of "
                "the clock; new captures are dated after it",
            )
        )
    dated = []
    last = newest
    for bundle in sorted(bundles, key=lambda b: b.filename):
        if bundle.time_ns <= last:
            meta = {**bundle.meta, "clock_ns": bundle.time_ns}
            bundle = dataclasses.replace(bundle, time_ns=last + 1, meta=meta)
        last = bundle.time_ns
        dated.append(bundle)
    return dated


def _doomed(names: list[str], keep: int | None) -> list[str]:
    """The oldest of `names` (sorted oldest first) beyond the newest `keep`; all if None."""
    return names if keep is None else names[: max(len(names) - keep, 0)]


def is_tmp(name: str) -> bool:
    """A temporary file of `atomic_write`; left behind only by a writer that was killed."""
    return name.startswith(_TMP_PREFIX) and name.endswith(_TMP_SUFFIX)


_to_json = json.JSONEncoder(ensure_ascii=False).encode


def index_text(index: dict[str, Any], entries: str) -> bytes:
    """An index as JSON, one entry of `index[entries]` per line, after the other fields.

    The C encoder does this; `indent=` falls back to the pure-Python one, which held the GIL
    for 329 ms (against 130) rewriting an index of 15,000 bundles. One entry per line also
    keeps diffs of committed indexes readable.
    """
    head = _to_json({k: v for k, v in index.items() if k != entries})[:-1]
    lines = [_to_json(entry) for entry in index[entries]]
    body = ",".join(f"\n  {line}" for line in lines) + ("\n ]}\n" if lines else "]}\n")
    return f'{head},\n "{entries}": [{body}'.encode("utf-8", "surrogatepass")


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` (mode 0600) so that readers see the old file or the new one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_TMP_PREFIX, suffix=_TMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
