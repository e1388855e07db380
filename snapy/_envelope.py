"""The envelope every stored bundle starts with: magic, format, serializer, checksum, HMAC.

The header is one line of text so a reviewer sees what a file is:

    snapy-bundle format=1 serializer=pickle encoding=json checksum=<blake2b-128> hmac=<sha256>

`hmac` is present when a signing key was set; it covers the header (without itself) and the
payload and is verified before anything in the payload is parsed or unpickled.

With an encryption key (`SNAPY_ENCRYPTION_KEY`), the payload is AES-256-GCM encrypted, after
compression, and the header says so and names the key:

    snapy-bundle format=1 serializer=pickle encoding=json+aes256gcm keyid=<8 hex> checksum=...

The checksum and the HMAC cover the encrypted bytes, so `snapy verify` checks them without the
key; the encryption binds every other header field (its associated data), so an edited header
fails to decrypt. A load checks the HMAC, then the checksum, then decrypts, then parses.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from ._crypto import CIPHER, KEY_ID, Keyring, no_key_error
from ._errors import CorruptFileError, SignatureMismatchError, UnsupportedFormatError
from ._settings import get_settings

MAGIC = b"snapy-bundle"
FORMAT = 1
_MAX_HEADER = 1024
_ENCRYPTED = "+" + CIPHER
_ENCODINGS = ("json", "json+zlib", "json" + _ENCRYPTED, "json+zlib" + _ENCRYPTED)
_UNBOUND = ("checksum", "hmac")  # fields computed over the encrypted bytes, after encrypting


class _FromSettings(Enum):
    TOKEN = "the keys of the current settings"


#: Default of `encryption=`: the keyring of `snapy.get_settings()` at the time of the call.
FROM_SETTINGS = _FromSettings.TOKEN
Encryption = Keyring | None | _FromSettings


@dataclass(frozen=True)
class Header:
    """What the first line of a stored file says about the payload after it."""

    format: int
    serializer: str
    encoding: str
    checksum: str
    signed: bool
    key_id: str | None = None

    @property
    def encrypted(self) -> bool:
        """Whether the payload is encrypted (`key_id` names the key it needs)."""
        return self.key_id is not None


def _checksum(payload: bytes) -> str:
    return hashlib.blake2b(payload, digest_size=16).hexdigest()


def _mac(key: bytes, head: bytes, payload: bytes) -> str:
    mac = hmac.new(key, head, hashlib.sha256)
    mac.update(payload)
    return mac.hexdigest()


def _keyring(encryption: Encryption) -> Keyring | None:
    return get_settings().encryption if isinstance(encryption, _FromSettings) else encryption


def pack(
    payload: bytes,
    *,
    serializer: str,
    signing_key: bytes | None,
    compress: bool = False,
    encryption: Encryption = FROM_SETTINGS,
) -> bytes:
    """The file content for `payload` (JSON text), optionally zlib-compressed, encrypted and
    signed. `encryption` defaults to the keyring of the current settings (None: plain)."""
    keyring = _keyring(encryption)
    encoding = "json"
    if compress:
        payload = zlib.compress(payload, 6)
        encoding = "json+zlib"
    head = b"%s format=%d serializer=%s" % (MAGIC, FORMAT, serializer.encode("ascii"))
    if keyring is None:
        head += b" encoding=" + encoding.encode("ascii")
    else:
        head += b" encoding=%s%s keyid=%s" % (
            encoding.encode("ascii"),
            _ENCRYPTED.encode("ascii"),
            keyring.key_id.encode("ascii"),
        )
        payload = keyring.encrypt(payload, head)
    head += b" checksum=" + _checksum(payload).encode("ascii")
    if signing_key is not None:
        head += b" hmac=" + _mac(signing_key, head, payload).encode("ascii")
    return head + b"\n" + payload


def unpack(
    data: bytes,
    path: Path,
    signing_key: bytes | None,
    *,
    encryption: Encryption = FROM_SETTINGS,
    decode: bool = True,
) -> tuple[Header, bytes]:
    """Check the envelope of `data` (read from `path`) and return the plain payload.

    Raises `CorruptFileError`, `SignatureMismatchError`, `UnsupportedFormatError`,
    `EncryptionKeyError` or `DecryptionError`, each naming `path`; with a signing key, an
    unsigned or tampered file never reaches a decryption or a parser. An encrypted file needs
    its key in `encryption` (default: the current settings); a plain file loads with or
    without one. With `decode=False`, only the header, HMAC and checksum are checked and the
    payload is returned as stored (maybe compressed and encrypted).
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
        key_id = fields.get("keyid")
        if (key_id is not None) != encoding.endswith(_ENCRYPTED) or not KEY_ID.match(
            key_id or "00000000"
        ):
            raise ValueError("keyid missing, misplaced or malformed")
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
    header = Header(version, serializer, encoding, checksum, signature is not None, key_id)
    if not decode:
        return header, payload
    if key_id is not None:
        keyring = _keyring(encryption)
        if keyring is None:
            raise no_key_error(path, key_id)
        payload = keyring.decrypt(key_id, payload, _associated(items), path)
    if encoding.startswith("json+zlib"):
        try:
            payload = zlib.decompress(payload)
        except zlib.error as exc:
            raise CorruptFileError(path, f"compressed payload is damaged ({exc})") from None
    return header, payload


def _associated(items: Iterable[list[str]]) -> bytes:
    """What `pack` encrypted against: the header up to, without, its checksum and HMAC.

    Rebuilt from every field but those two, so a field added or changed anywhere fails.
    """
    kept = ["=".join(item) for item in items if item[0] not in _UNBOUND]
    return b" ".join([MAGIC, *(field.encode("ascii") for field in kept)])


def parse_body(payload: bytes, path: Path) -> dict[str, Any]:
    """The JSON object an unpacked payload holds; anything else is a `CorruptFileError`."""
    try:
        text = payload.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError as exc:
        raise CorruptFileError(path, f"payload is not valid JSON ({exc})") from None
    return json_object(text, path, "payload")


def json_object(data: str | bytes, path: Path, what: str) -> dict[str, Any]:
    """The JSON object `data` (read from `path`) holds; anything else is a `CorruptFileError`
    whose cause starts with `what` (`payload`, `index`)."""
    try:
        value = json.loads(data)
    except (UnicodeDecodeError, ValueError) as exc:
        raise CorruptFileError(path, f"{what} is not valid JSON ({exc})") from None
    except RecursionError:  # json's parser recurses once per level of nesting
        raise CorruptFileError(path, f"{what} is not valid JSON (nested too deeply)") from None
    if not isinstance(value, dict):
        raise CorruptFileError(path, f"{what} is not a JSON object")
    return value


def sealed_summary(
    name: str,
    argument_names: Iterable[str],
    outcome: str,
    *,
    encryption: Encryption = FROM_SETTINGS,
) -> str | None:
    """The index summary of a call stored encrypted, or None when encryption is off.

    `index.json` is never encrypted (listing must not need the key), so with encryption on it
    shows only what the code says, never a value: the function's name, its argument names
    and whether it returned or raised, e.g. `charge(amount, card) -> <encrypted>`.
    """
    if _keyring(encryption) is None:
        return None
    verb = "raised" if outcome.startswith("exception") else "->"
    return f"{name}({', '.join(argument_names)}) {verb} <encrypted>"
