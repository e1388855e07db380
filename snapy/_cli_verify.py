"""`snapy verify`: every file's envelope, checksum and signature, and each index against the disk.

Nothing is unpickled: a bundle is checked up to its JSON payload, its argument key and its
target. An encrypted bundle is decrypted with the configured keys (`SNAPY_ENCRYPTION_KEY`);
without the right one, its checksum and signature are still checked and the missing key is
the problem reported. Each problem names the file and the cause; `kind` is a stable word for
`--json`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._bundle import check_body
from ._cli_errors import AccessError
from ._envelope import Header, parse_body, unpack
from ._errors import (
    CorruptFileError,
    EncryptionKeyError,
    SignatureMismatchError,
    StoreError,
    UnsupportedFormatError,
)
from ._inspect import CAPTURE, INDEX, SUFFIX, Folder, Scan, is_tmp
from ._serializers import serializer_named

#: Every `kind` a problem can have, in the order `--json` documents them.
KINDS = (
    "unreadable",  # the file or folder cannot be read (permissions, I/O)
    "corrupt",  # not a snapy bundle, malformed header, checksum mismatch, bad JSON
    "signature",  # HMAC mismatch, or unsigned while SNAPY_SIGNING_KEY is set
    "unsupported",  # newer format, unknown encoding or serializer, a foreign file
    "encryption",  # encrypted with a key that is not configured, or no encryption key set
    "index",  # index.json missing, unreadable or of a newer format
    "missing-file",  # listed in index.json, not on disk
    "not-indexed",  # on disk, not listed in index.json
    "mismatch",  # file name, index and content disagree (key, target, size)
    "leftover-temp",  # a temporary file left by an interrupted write
)
_KNOWN = {INDEX, ".lock", ".redaction-key"}
_REQUIRED = ("target", "key", "arguments", "outcome", "value")


@dataclass(frozen=True)
class Problem:
    path: Path
    kind: str
    cause: str


@dataclass
class Report:
    """What `verify` checked and found."""

    folders: int = 0
    bundles: int = 0
    indexes: int = 0
    unchecked_signatures: int = 0
    problems: list[Problem] = field(default_factory=list)


@dataclass
class Stored:
    """One bundle read up to its JSON payload."""

    path: Path
    header: Header
    body: dict[str, Any]
    size: int


def read_bundle(
    path: Path, signing_key: bytes | None, *, require_signature: bool, unsigned: str = ""
) -> Stored:
    """Read and check `path`. With `require_signature` and a key, an unsigned file is refused
    (with the cause `unsigned`, if given); otherwise a signed file is checked against the key
    when there is one. An encrypted file is decrypted with the keys of the current settings,
    after its checksum and signature are checked.

    Raises `AccessError` (cannot read) or a `StoreError` naming the file.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AccessError(path, f"cannot read the file ({exc.strerror or exc})") from None
    first = data.find(b"\n", 0, 1024)
    signed = first > 0 and b" hmac=" in data[:first]
    # The checksum first: a truncated signed file then reads as truncated, not as forged.
    # Neither check decrypts or parses the payload.
    unpack(data, path, None, decode=False)
    if unsigned and signing_key is not None and require_signature and not signed:
        raise SignatureMismatchError(path, unsigned)
    check = signing_key is not None and (signed or require_signature)
    header, payload = unpack(data, path, signing_key if check else None)
    body = parse_body(payload, path)
    if any(k not in body for k in _REQUIRED):
        raise CorruptFileError(path, "payload is not a snapy bundle (target, key, ... missing)")
    check_body(body, path)  # what `snapy show` and loaders would refuse, verify reports
    serializer_named(header.serializer, path)
    return Stored(path, header, body, len(data))


def _kind(exc: StoreError) -> str:
    if isinstance(exc, SignatureMismatchError):
        return "signature"
    if isinstance(exc, UnsupportedFormatError):
        return "unsupported"
    if isinstance(exc, EncryptionKeyError):
        return "encryption"
    return "corrupt"


def check_bundle(
    path: Path, signing_key: bytes | None, report: Report, folder: Folder | None = None
) -> None:
    """Add the problems of one bundle file to `report`."""
    report.bundles += 1
    try:
        stored = read_bundle(path, signing_key, require_signature=True)
    except AccessError as exc:
        report.problems.append(Problem(path, "unreadable", exc.cause))
        return
    except StoreError as exc:
        report.problems.append(Problem(path, _kind(exc), exc.cause))
        return
    if stored.header.signed and signing_key is None:
        report.unchecked_signatures += 1
    body = stored.body
    key = path.name[: -len(SUFFIX)].rpartition("-")[2]
    if body["key"] != key:
        report.problems.append(
            Problem(path, "mismatch", f"holds argument key {body['key']!r}, its name says {key!r}")
        )
    if folder is None or folder.index is None:
        return
    if body["target"] != folder.target:
        cause = f"holds a call of {body['target']!r}, the index is for {folder.target!r}"
        report.problems.append(Problem(path, "mismatch", cause))
    rows = folder.index.get("bundles") if folder.kind == CAPTURE else None
    for row in rows if isinstance(rows, list) else []:
        if isinstance(row, dict) and row.get("file") == path.name:
            said = row.get("size")
            if isinstance(said, int) and said != stored.size:
                cause = f"index.json says {said} bytes, the file has {stored.size}"
                report.problems.append(Problem(path, "mismatch", cause))


def check_folder(folder: Folder, signing_key: bytes | None, report: Report) -> None:
    report.folders += 1
    on_disk = {e.path.name for e in folder.entries}
    if INDEX in folder.names:
        report.indexes += 1
    if folder.index_error is not None:
        report.problems.append(Problem(folder.path / INDEX, "index", folder.index_error))
    elif INDEX not in folder.names:
        report.problems.append(
            Problem(
                folder.path / INDEX,
                "index",
                f"missing: {len(on_disk)} bundle(s) have no index (snapy rebuilds it on the "
                "next write to this folder)",
            )
        )
    else:
        for name in folder.listed:
            if name not in on_disk:
                report.problems.append(
                    Problem(
                        folder.path / name,
                        "missing-file",
                        "listed in index.json but the file does not exist",
                    )
                )
        for name in sorted(on_disk - set(folder.listed)):
            report.problems.append(
                Problem(folder.path / name, "not-indexed", "the bundle is not listed in index.json")
            )
    for entry in folder.entries:
        check_bundle(entry.path, signing_key, report, folder)
    for name in folder.names:
        if is_tmp(name):
            report.problems.append(_leftover(folder.path / name))
        elif not (name in _KNOWN or name.endswith(SUFFIX) or name.startswith(".")):
            report.problems.append(
                Problem(
                    folder.path / name,
                    "unsupported",
                    "not a snapy file (a bundle of another tool or an older snapy format?); "
                    "this snapy cannot read it",
                )
            )


def _leftover(path: Path) -> Problem:
    return Problem(path, "leftover-temp", "temporary file left by an interrupted write; delete it")


def verify(found: Scan, signing_key: bytes | None) -> Report:
    """Check every folder of `found`; problems come sorted by path."""
    report = Report()
    for folder in found.folders:
        check_folder(folder, signing_key, report)
    report.problems.extend(_leftover(path) for path in found.stray)
    report.problems.extend(Problem(p, "unreadable", cause) for p, cause in found.unreadable)
    report.problems.sort(key=lambda p: (str(p.path), p.kind))
    return report


def problem_rows(problems: Iterable[Problem]) -> list[dict[str, str]]:
    return [{"path": str(p.path), "kind": p.kind, "cause": p.cause} for p in problems]
