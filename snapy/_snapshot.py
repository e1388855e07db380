"""Snapshot assertions that work under pytest (through syrupy) and under `python -m unittest`.

syrupy's `snapshot` fixture does not exist under `python -m unittest`. There, snapy reads and
writes the same `.ambr` files with syrupy's own `AmberDataSerializer`, under the same entry
names (`Class.test`, `Class.test.1`, `Class.test[name]`; the counter counts every assertion of
the test, as syrupy's does), so a file written by either runner passes in the other unchanged.
"""

from __future__ import annotations

import difflib
import logging
import os
import sys
from pathlib import Path
from typing import Any, Protocol

from syrupy.data import Snapshot, SnapshotCollection
from syrupy.exceptions import TaintedSnapshotError
from syrupy.extensions.amber import AmberDataSerializer, AmberSnapshotExtension

from ._redact import ArgumentFilter, Redactor
from ._settings import get_settings

SNAPSHOT_DIR = "__snapshots__"
log = logging.getLogger("snapy")
_announced = False
# A snapshot shows a secret as `<redacted>` (the repr of `Redacted`), as a replayed result
# holds it: the key only has to be the same within this process.
_HIDE = Redactor(ArgumentFilter(), os.urandom(32))


def _announce_update() -> None:
    """Say once per process that snapshots are being written, and why (pytest has a header)."""
    global _announced
    if _announced:
        return
    _announced = True
    source = get_settings().source_of("snapshot_update")
    message = f"snapy: updating snapshots (SNAPSHOT_UPDATE, from {source})"
    log.info(message)
    print(message, file=sys.stderr)


def _tainted_message(where: str, update: str) -> str:
    return (
        f"{where} was written by another version of the amber format (this syrupy writes "
        f"version {AmberDataSerializer.VERSION}); run with {update} to regenerate it"
    )


def update_requested() -> bool:
    """Whether `SNAPSHOT_UPDATE` asks to write snapshots (the twin of `--snapshot-update`)."""
    return get_settings().snapshot_update


class SnapshotBackend(Protocol):
    def assert_match(self, value: Any, name: str | None, exclude: Any) -> None: ...


class AmberFileBackend:
    """Snapshots of one test, kept in `<test dir>/__snapshots__/<test file stem>.ambr`."""

    def __init__(self, test_file: Path, test_name: str, update: bool) -> None:
        self.location = test_file.parent / SNAPSHOT_DIR / f"{test_file.stem}.ambr"
        self.test_name = test_name
        self.update = update
        self.executions = 0
        if update:
            _announce_update()

    def entry_name(self, name: str | None) -> str:
        index: str | int = name if name else self.executions
        if isinstance(index, str):
            return f"{self.test_name}[{index}]"
        return f"{self.test_name}.{index}" if index else self.test_name

    def assert_match(self, value: Any, name: str | None, exclude: Any) -> None:
        __tracebackhide__ = True
        entry = self.entry_name(name)
        self.executions += 1
        serialized = AmberDataSerializer.serialize(_HIDE.value(value), exclude=exclude)
        collection = self._read()
        stored = collection.get(entry) if collection is not None else None
        if stored is not None and stored.data == serialized and not _tainted(collection):
            return
        if self.update:
            self._write(collection, entry, serialized)
            return
        if stored is None:
            raise AssertionError(
                f"snapshot {entry!r} does not exist in {str(self.location)!r}; run with "
                "SNAPSHOT_UPDATE=1 to write it"
            )
        if _tainted(collection):
            where = f"snapshot {entry!r} in {str(self.location)!r}"
            raise AssertionError(_tainted_message(where, "SNAPSHOT_UPDATE=1"))
        raise AssertionError(
            f"value does not match snapshot {entry!r} in {str(self.location)!r} "
            "(- snapshot, + value; SNAPSHOT_UPDATE=1 updates it):\n"
            + "\n".join(diff_lines(str(stored.data), serialized))
        )

    def _read(self) -> SnapshotCollection | None:
        if not self.location.is_file():
            return None
        return AmberDataSerializer.read_file(str(self.location))

    def _write(self, collection: SnapshotCollection | None, entry: str, data: str) -> None:
        self.location.parent.mkdir(parents=True, exist_ok=True)
        if collection is None:
            collection = SnapshotCollection(location=str(self.location))
        # Entries keep the order they have in the file (new ones go last), so an update from
        # this runner does not reorder a file that syrupy wrote in collection order.
        order = {s.name: i for i, s in enumerate(collection)}
        order.setdefault(entry, len(order))
        collection.add(Snapshot(name=entry, data=data))
        # A temporary file and a rename, so a reader never sees half a file; not syrupy's file
        # lock, whose `.ambr.lock` only a pytest session removes (here it stayed behind).
        temporary = SnapshotCollection(location=f"{self.location}.{os.getpid()}.tmp")
        temporary.merge(collection)
        try:
            AmberDataSerializer.write_file(temporary, name_order=order, file_lock=False)
            os.replace(temporary.location, self.location)
        finally:
            Path(temporary.location).unlink(missing_ok=True)


class RedactedAmberExtension(AmberSnapshotExtension):
    """syrupy's amber snapshots, with secrets shown as `<redacted>` as replayed results show
    them (the default extension of syrupy's `snapshot` fixture under snapy's plugin)."""

    def serialize(self, data: Any, **kwargs: Any) -> str:
        return super().serialize(_HIDE.value(data), **kwargs)


def _tainted(collection: SnapshotCollection | None) -> bool:
    return bool(collection is not None and collection.tainted)


def diff_lines(snapshot: str, value: str) -> list[str]:
    """A unified diff of two serialized values, without file headers."""
    lines = difflib.unified_diff(snapshot.splitlines(), value.splitlines(), lineterm="", n=3)
    return [line for line in lines if not line.startswith(("---", "+++"))]


class SyrupyBackend:
    """Snapshots through syrupy's `snapshot` fixture (pytest): updates, reports, unused."""

    def __init__(self, snapshot: Any) -> None:
        self.snapshot = snapshot

    def assert_match(self, value: Any, name: str | None, exclude: Any) -> None:
        __tracebackhide__ = True
        value = _HIDE.value(value)
        assertion = self.snapshot(name=name, exclude=exclude) if name or exclude else self.snapshot
        if assertion == value:
            return
        result = assertion.executions[assertion.num_executions - 1]
        where = f"snapshot {result.snapshot_name!r} in {str(result.snapshot_location)!r}"
        if isinstance(result.exception, TaintedSnapshotError):  # syrupy's has no message
            raise AssertionError(
                _tainted_message(where, "--snapshot-update (or SNAPSHOT_UPDATE=1)")
            ) from None
        if result.exception is not None:
            raise result.exception
        if result.recalled_data is None:
            raise AssertionError(
                f"{where} does not exist; run with --snapshot-update (or SNAPSHOT_UPDATE=1) to "
                "write it"
            )
        raise AssertionError(
            f"value does not match {where} (- snapshot, + value; --snapshot-update or "
            "SNAPSHOT_UPDATE=1 updates it):\n"
            + "\n".join(diff_lines(str(result.recalled_data), str(result.asserted_data)))
        )
