"""The envelope every stored bundle starts with: magic, format, serializer, checksum, HMAC.

The header is one line of text so a reviewer sees what a file is:

    snapy-bundle format=1 serializer=pickle encoding=json checksum=<blake2b-128> hmac=<sha256>

`hmac` is present when a signing key was set; it covers the header (without itself) and the
payload and is verified before anything in the payload is parsed or unpickled.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._errors import CorruptFileError, SignatureMismatchError, UnsupportedFormatError

MAGIC = b"snapy-bundle"
FORMAT = 1
_MAX_HEADER = 1024
_ENCODINGS = ("json", "json+zlib")


@dataclass(frozen=True)
class Header:
    """What the first line of a stored file says about the payload after it."""

    format: int
    serializer: str
    encoding: str
    checksum: str
    signed: bool


def _checksum(payload: bytes) -> str:
    return hashlib.blake2b(payload, digest_size=16).hexdigest()


def _mac(key: bytes, head: bytes, payload: bytes) -> str:
    mac = hmac.new(key, head, hashlib.sha256)
    mac.update(payload)
    return mac.hexdigest()


def pack(
    payload: bytes, *, serializer: str, signing_key: bytes | None, compress: bool = False
) -> bytes:
    """The file content for `payload` (JSON text), optionally zlib-compressed and signed."""
    encoding = "json"
    if compress:
        payload = zlib.compress(payload, 6)
        encoding = "json+zlib"
    head = b"%s format=%d serializer=%s encoding=%s checksum=%s" % (
        MAGIC,
        FORMAT,
        serializer.encode("ascii"),
        encoding.encode("ascii"),
        _checksum(payload).encode("ascii"),
    )
    if signing_key is not None:
        head += b" hmac=" + _mac(signing_key, head, payload).encode("ascii")
    return head + b"\n" + payload


def unpack(data: bytes, path: Path, signing_key: bytes | None) -> tuple[Header, bytes]:
    """Check the envelope of `data` (read from `path`) and return the plain payload.

    Raises `CorruptFileError`, `SignatureMismatchError` or `UnsupportedFormatError`, each
    naming `path`; with a signing key, an unsigned or tampered file never reaches a parser.
    """
    end = data.find(b"\n", 0, _MAX_HEADER)
    if not data.startswith(MAGIC + b" ") or end < 0:
        raise CorruptFileError(path, "not a snapy bundle (no snapy-bundle header)")
    head, payload = data[:end], data[end + 1 :]
    try:
        # ASCII only: hmac.compare_digest raises TypeError on other text. A repeated field,
        # or one after `hmac=`, would change what the file means without breaking its HMAC.
        items = [item.split("=", 1) for item in head[len(MAGIC) + 1 :].decode("ascii").split(" ")]
        fields = dict(items)
        if len(fields) != len(items) or ("hmac" in fields and items[-1][0] != "hmac"):
            raise ValueError("repeated field or field after hmac")
        version = int(fields["format"])
        serializer, encoding, checksum = (
            fields["serializer"],
            fields["encoding"],
            fields["checksum"],
        )
    except (ValueError, KeyError, UnicodeDecodeError):
        raise CorruptFileError(path, f"malformed snapy-bundle header {head[:120]!r}") from None
    if version > FORMAT:
        raise UnsupportedFormatError(
            path,
            f"written in snapy file format {version}; this snapy reads format {FORMAT} "
            "and older: upgrade snapy to read it",
        )
    if encoding not in _ENCODINGS:
        raise UnsupportedFormatError(path, f"unknown payload encoding {encoding!r}")
    signature = fields.get("hmac")
    if signing_key is not None:
        if signature is None:
            raise SignatureMismatchError(
                path,
                "the file is not signed but SNAPY_SIGNING_KEY is set; refusing to load it "
                "(re-capture it with the key set, or delete it)",
            )
        signed_head = head[: head.rindex(b" hmac=")]
        if not hmac.compare_digest(signature, _mac(signing_key, signed_head, payload)):
            raise SignatureMismatchError(
                path,
                "HMAC signature does not match: the file was modified or signed with "
                "another SNAPY_SIGNING_KEY; refusing to load it",
            )
    if not hmac.compare_digest(checksum, _checksum(payload)):
        raise CorruptFileError(
            path,
            "checksum mismatch: the file is truncated or was modified (delete it, or "
            "run `snapy verify` to find every such file)",
        )
    if encoding == "json+zlib":
        try:
            payload = zlib.decompress(payload)
        except zlib.error as exc:
            raise CorruptFileError(path, f"compressed payload is damaged ({exc})") from None
    return Header(version, serializer, encoding, checksum, signature is not None), payload


def parse_body(payload: bytes, path: Path) -> dict[str, Any]:
    """The JSON object an unpacked payload holds; anything else is a `CorruptFileError`."""
    try:
        body = json.loads(payload.decode("utf-8", "surrogatepass"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise CorruptFileError(path, f"payload is not valid JSON ({exc})") from None
    if not isinstance(body, dict):
        raise CorruptFileError(path, "payload is not a JSON object")
    return body
