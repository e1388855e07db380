"""Test recordings: one folder per test and target, read in code review.

    <recordings>/<test module>/<test name>/<target module.qualname>/<order>-<argkey>.bundle
                                                                  /index.json

Files hold no times, pids or versions, so re-recording the same calls with the same results
writes the same bytes and an unchanged recording never shows up in `git diff`. A test's
recordings are loaded once, when its mock first needs them, and only that folder is read.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._bundle import Target, check_body
from ._envelope import pack, parse_body, sealed_summary, unpack
from ._errors import CorruptFileError, StoreError
from ._keys import redaction_key
from ._locks import file_lock
from ._paths import inside, is_digits, make_dirs
from ._plain import Decoder, render
from ._serializers import Serializer, resolve_serializer, serializer_named
from ._store import atomic_write, index_text, is_tmp

INDEX = "index.json"
SUFFIX = ".bundle"
log = logging.getLogger("snapy")
# Every recording this process replayed or recorded (for the unused-recordings report).
_used: set[Path] = set()

# Stores whose indexes are not written yet, held until flushed even when no mock is left.
_dirty: set[RecordingStore] = set()
_dirty_lock = threading.Lock()


def used_recordings() -> set[Path]:
    """The recording files this process replayed or recorded."""
    return set(_used)


def unused_recordings(root: Path, test_id: str, used: set[Path]) -> list[Path]:
    """The recording files of test `test_id` under `root` that are not in `used`."""
    test_folder = inside(root, *test_id.split("::", 1))
    if not test_folder.is_dir():
        return []
    return sorted(path for path in test_folder.glob(f"*/*{SUFFIX}") if path.absolute() not in used)


def prune_recordings(paths: list[Path], signing_key: bytes | None = None) -> None:
    """Delete recording files and bring each folder's index in line (removed when empty)."""
    by_folder: dict[Path, list[Path]] = {}
    for path in paths:
        by_folder.setdefault(path.parent, []).append(path)
    for folder, files in by_folder.items():
        with file_lock(folder / ".lock", 10.0):
            for path in files:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
            if any(p.name.endswith(SUFFIX) for p in folder.iterdir()):
                store = RecordingStore(folder.parent.parent.parent, signing_key=signing_key)
                store._write_index(store._read(folder))
            else:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(folder / INDEX)
        if not any(p.name != ".lock" for p in folder.iterdir()):
            for leftover in folder.iterdir():
                leftover.unlink()
            folder.rmdir()
            # the test's folder and its module's folder go too once nothing is left in them
            for parent in (folder.parent, folder.parent.parent):
                with contextlib.suppress(OSError):
                    parent.rmdir()


def flush_recordings() -> None:
    """Write the `index.json` of every recording set changed in this process.

    `replaying` does it when it stops and process exit does it anyway; call it after using
    `snapy.mock` directly when the index must be on disk now.
    """
    with _dirty_lock:
        stores = list(_dirty)
    for store in stores:
        store.flush()


@atexit.register
def _flush_at_exit() -> None:
    try:
        flush_recordings()
    except Exception as exc:  # an index can always be rebuilt from the recordings
        log.warning("could not write a recordings index at exit: %s", exc)


@dataclass
class Recording:
    """One recorded call; values stay encoded until a replay or a miss report needs them."""

    order: int
    key: str
    path: Path
    body: dict[str, Any] = field(default_factory=dict)
    serializer: str = "pickle"
    error: StoreError | None = None
    _arguments: Any = None
    _summary: str | None = None

    def decoder(self) -> Decoder:
        return Decoder(serializer_named(self.serializer, self.path))

    def arguments(self) -> dict[str, Any]:
        """The recorded arguments by parameter name, decoded once."""
        if self._arguments is None:
            self._arguments = self.decoder().decode(self.body.get("arguments", {}))
        return dict(self._arguments)

    def summary(self) -> str:
        """One readable line for the index, rendered once."""
        if self._summary is None:
            name = self.body["target"].rpartition(".")[2]
            sealed = sealed_summary(name, self.body["arguments"], self.body["outcome"])
            if sealed is not None:  # the index is not encrypted: it must not show the values
                self._summary = sealed
                return sealed
            args = ", ".join(f"{k}={render(v, 60)}" for k, v in self.body["arguments"].items())
            shown = render(self.body["value"], 80)
            end = f" raised {shown}" if self.body["outcome"] == "exception" else f" -> {shown}"
            self._summary = f"{self.body['target'].rpartition('.')[2]}({args}){end}"
        return self._summary


class RecordingSet:
    """The recordings of one target in one test, with what this run has used of them."""

    def __init__(self, folder: Path, recordings: list[Recording], signature: str | None) -> None:
        self.folder = folder
        self.signature = signature
        self.recordings = sorted(recordings, key=lambda r: r.order)
        self.by_key: dict[str, list[Recording]] = {}
        # Unreadable recordings keep their place: replaying the next one in their stead would
        # answer a call with the result of another.
        for rec in self.recordings:
            self.by_key.setdefault(rec.key, []).append(rec)
        self.cursor: dict[str, int] = {}
        self.used: set[str] = set()
        self.lock = threading.Lock()
        self.reset_done = False
        self.dirty = False
        self._next = max((r.order for r in self.recordings), default=-1) + 1

    def next_order(self) -> int:
        order = self._next
        self._next += 1
        return order

    def unused_order(self, order: int) -> None:
        """`order` was not written after all: the next recording takes it."""
        if self._next == order + 1:
            self._next = order

    def take(self, key: str, repeat_last: bool) -> tuple[Recording | None, int]:
        """The next unused recording of `key` (or the last one again), and how many exist.

        The recording may be unreadable (its `.error` is set).
        """
        found = self.by_key.get(key)
        if not found:
            return None, 0
        position = self.cursor.get(key, 0)
        if position >= len(found):
            if not repeat_last:
                return None, len(found)
            position = len(found) - 1
        self.cursor[key] = position + 1
        if found[position].error is None:
            self.used.add(found[position].path.name)
            _used.add(found[position].path)
        return found[position], len(found)

    def add(self, recording: Recording) -> None:
        self.recordings.append(recording)
        self.by_key.setdefault(recording.key, []).append(recording)
        self.cursor[recording.key] = len(self.by_key[recording.key])
        self.used.add(recording.path.name)
        _used.add(recording.path)

    def clear(self) -> None:
        self._next = 0
        self.recordings.clear()
        self.by_key.clear()
        self.cursor.clear()
        self.used.clear()

    def unused(self) -> list[Path]:
        return [r.path for r in self.recordings if r.path.name not in self.used]


class RecordingStore:
    """Recordings under one root (a `__recordings__` folder); the root is always explicit."""

    def __init__(
        self,
        root: Path | str,
        *,
        signing_key: bytes | None = None,
        serializer: Serializer | str | None = None,
        lock_timeout: float = 10.0,
    ) -> None:
        self.root = Path(root).absolute()  # writes happen later, maybe after a chdir
        self.signing_key = signing_key
        self.serializer = resolve_serializer(serializer)
        self.lock_timeout = lock_timeout
        self._sets: dict[Path, RecordingSet] = {}
        self._key: bytes | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"RecordingStore({str(self.root)!r})"

    def folder(self, test_id: str, target: Target) -> Path:
        return inside(self.root, *test_id.split("::", 1), target.name)

    def start_test(self, test_id: str) -> None:
        """A new run of `test_id` begins: its recordings replay from the first one again.

        Recordings are read once per process; without this, a test run twice in one process
        (a rerun plugin, a suite run twice) would go on where its previous run stopped.
        """
        if not self._sets:  # nothing read yet: the common case, run before every pytest test
            return
        test_folder = inside(self.root, *test_id.split("::", 1))
        with self._lock:
            sets = [rset for folder, rset in self._sets.items() if folder.parent == test_folder]
        for rset in sets:
            with rset.lock:
                rset.cursor.clear()
                rset.reset_done = False

    def redaction_key(self) -> bytes:
        if self._key is None:
            self._key = redaction_key(self.root, self.signing_key)
        return self._key

    def recordings(self, test_id: str, target: Target) -> RecordingSet:
        """The recordings of `target` in `test_id`, read from disk on first use in this run."""
        folder = self.folder(test_id, target)
        with self._lock:
            found = self._sets.get(folder)
            if found is None:
                found = self._sets[folder] = self._read(folder)
        return found

    def _read(self, folder: Path) -> RecordingSet:
        signature = None
        try:
            index = json.loads((folder / INDEX).read_bytes())
            signature = index.get("signature") if isinstance(index, dict) else None
        except (OSError, ValueError, RecursionError):  # RecursionError: nested too deeply
            pass
        recordings = []
        if folder.is_dir():
            for path in folder.iterdir():
                if path.name.endswith(SUFFIX):
                    recordings.append(self._load(path))
        if signature is None:  # the index was never flushed (a killed run): ask the files
            signature = next(
                (r.body["signature"] for r in recordings if "signature" in r.body), None
            )
        return RecordingSet(folder, recordings, signature)

    def _load(self, path: Path) -> Recording:
        stem = path.name[: -len(SUFFIX)]
        order_text, _, key = stem.partition("-")
        order = int(order_text) if is_digits(order_text) else -1
        try:
            header, payload = unpack(path.read_bytes(), path, self.signing_key)
            body = parse_body(payload, path)
            if not {"arguments", "outcome", "value"} <= body.keys():
                raise CorruptFileError(path, "payload is not a snapy recording")
            # Fields of the wrong type would fail the index summary, a replay or a miss report.
            check_body(body, path)
            return Recording(order, key, path, body, header.serializer)
        except OSError as exc:
            error = StoreError(path, f"cannot read the file ({exc.strerror or exc})")
        except StoreError as exc:
            error = exc
        return Recording(order, key, path, error=error)

    @contextlib.contextmanager
    def _locked(self, folder: Path) -> Iterator[None]:
        lock = file_lock(folder / ".lock", self.lock_timeout)
        try:
            make_dirs(self.root, folder)
            lock.acquire()
        except OSError as exc:  # a read-only folder, or a .lock that is a link (ELOOP)
            raise StoreError(
                folder / ".lock", f"cannot lock the folder ({exc.strerror or exc})"
            ) from exc
        try:
            yield
        finally:
            lock.release()

    def append(self, rset: RecordingSet, body: dict[str, Any]) -> Recording:
        """Write one recorded call of `rset`; its index follows at `flush()`.

        Rewriting the index on every append made recording N calls cost O(N²): 295 ms per
        call at 10,000 recordings, against 2.6 ms with the index written once.
        """
        payload = json.dumps(body, indent=1, ensure_ascii=False).encode("utf-8", "surrogatepass")
        data = pack(payload, serializer=self.serializer.name, signing_key=self.signing_key)
        with rset.lock:
            with self._locked(rset.folder):
                order = rset.next_order()
                path = rset.folder / f"{order:04d}-{body['key']}{SUFFIX}"
                # Another process may have recorded into this test since this one read it (a
                # test id shared by two classes under xdist): 4 processes recording one key
                # kept 202 of 805 calls before this check. Every write here holds the lock.
                while path.exists():
                    order = rset.next_order()
                    path = rset.folder / f"{order:04d}-{body['key']}{SUFFIX}"
                try:
                    atomic_write(path, data)
                except OSError as exc:
                    rset.unused_order(order)
                    raise StoreError(
                        path,
                        f"cannot write the recording ({type(exc).__name__}: {exc}); the call "
                        "was made but not recorded: free the disk or fix the folder's "
                        "permissions, then record again",
                    ) from exc
            recording = Recording(order, body["key"], path, body, self.serializer.name)
            rset.add(recording)
            self._mark_dirty(rset)
        return recording

    def reset_once(self, rset: RecordingSet, signature: str) -> None:
        """Forget every recording of `rset`, once per run (mode `all` records them anew)."""
        with rset.lock:
            if rset.reset_done:
                return
            rset.reset_done = True
        with rset.lock, self._locked(rset.folder):
            for path in rset.folder.iterdir():
                if path.name.endswith(SUFFIX):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(path)
            rset.clear()
            rset.signature = signature
            self._mark_dirty(rset)

    def _mark_dirty(self, rset: RecordingSet) -> None:
        rset.dirty = True
        with _dirty_lock:
            _dirty.add(self)

    def flush(self) -> None:
        """Write the index of every recording set that changed since the last flush.

        `replaying` flushes when it stops, and every store flushes at process exit.
        """
        with _dirty_lock:
            _dirty.discard(self)
        with self._lock:
            sets = [rset for rset in self._sets.values() if rset.dirty]
        for rset in sets:
            if not rset.folder.is_dir():  # deleted since (a finished temp dir): leave it gone
                rset.dirty = False
                continue
            with rset.lock, self._locked(rset.folder):
                self._write_index(rset)
                rset.dirty = False

    def _write_index(self, rset: RecordingSet) -> None:
        """`index.json` of the files on disk, one call per line (the fast C encoder, and
        diffs that read well). Files this set does not know (another store or process wrote
        them) are read; files it knows that are gone are left out.

        Runs under the folder's lock, as every write there does: a temporary file seen now
        belongs to a writer that was killed, and goes."""
        known = {r.path.name: r for r in rset.recordings if r.body}
        recordings = []
        if rset.folder.is_dir():
            for path in rset.folder.iterdir():
                if is_tmp(path.name):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(path)
                elif path.name.endswith(SUFFIX):
                    rec = known.get(path.name) or self._load(path)
                    if rec.body:
                        recordings.append(rec)
        body = next((r.body for r in recordings), {})
        index = {
            "snapy_recordings": 1,
            "target": body.get("target"),
            "test": body.get("test"),
            "signature": rset.signature,
            "calls": [
                {
                    "file": r.path.name,
                    "order": r.order,
                    "key": r.key,
                    "outcome": r.body.get("outcome"),
                    "summary": r.summary(),
                }
                for r in sorted(recordings, key=lambda r: (r.order, r.path.name))
            ],
        }
        atomic_write(rset.folder / INDEX, index_text(index, "calls"))

    def unused(self) -> list[Path]:
        """Recordings of the tests this store served that no call used in this run."""
        with self._lock:
            sets = list(self._sets.values())
        return sorted(path for rset in sets for path in rset.unused())
