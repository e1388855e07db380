"""Encryption at rest: AES-256-GCM with one key that encrypts and old keys that still decrypt.

A key is 32 random bytes, written as base64 (44 characters; the urlsafe alphabet and the
standard one are both accepted). A stored file names its key by a key id, the first 8 hex
digits of a SHA-256 of the key, so a file written with a key that is not configured is
reported as such rather than as damage; the key itself is never written anywhere.

`cryptography` is an optional dependency (`pip install 'snapy[encryption]'`): it is imported
only when a key is configured, and snapy works without it as long as none is.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._errors import ConfigError, DecryptionError, EncryptionKeyError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

#: The name of the cipher in a file's `encoding` field (`json+aes256gcm`).
CIPHER = "aes256gcm"
KEY_SIZE = 32
NONCE_SIZE = 12
TAG_SIZE = 16
KEY_ID = re.compile(r"^[0-9a-f]{8}$")
#: A shell line that prints a new key.
NEW_KEY = 'python -c "import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())"'
KEY_FORM = (
    f"use the base64 form of {KEY_SIZE} random bytes (44 characters), e.g. the output of "
    f"`{NEW_KEY}`"
)
INSTALL = "pip install 'snapy[encryption]'"
_KEY_TEXT = re.compile(r"^[A-Za-z0-9_+/-]{43}=?$")


def aesgcm_class() -> type[AESGCM] | None:
    """`cryptography`'s AES-GCM, or None when the package is not installed."""
    try:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    except ImportError:
        return None
    return AESGCM


def key_id(key: bytes) -> str:
    """The id a file written with `key` carries: 8 hex digits that reveal nothing of it."""
    return hashlib.sha256(b"snapy encryption key id\0" + key).hexdigest()[:8]


def _hidden(raw: object) -> object:
    """What an error shows of a malformed key: its length, never its text."""
    return f"<hidden, {len(raw)} characters>" if isinstance(raw, str | bytes) else raw


def _require_cryptography(name: str, shown: object) -> None:
    if aesgcm_class() is None:
        raise ConfigError(
            name,
            shown,
            f"encryption needs the cryptography package, which is not installed: {INSTALL}",
        )


def decode_key(text: str) -> bytes | None:
    """The 32 bytes a key's text form stands for, or None if `text` is not one."""
    text = text.strip()
    if not _KEY_TEXT.match(text):
        return None
    try:
        key = base64.b64decode(text.replace("-", "+").replace("_", "/") + "=" * (44 - len(text)))
    except (binascii.Error, ValueError):
        return None
    return key if len(key) == KEY_SIZE else None


def parse_encryption_key(name: str, raw: object) -> bytes | None:
    """A key from its base64 text, or the 32 raw bytes (from `configure()`); None is no key."""
    if raw is None:
        return None
    if isinstance(raw, bytes) and len(raw) == KEY_SIZE:
        key: bytes | None = raw
    elif isinstance(raw, str):
        key = decode_key(raw)
    else:
        key = None
    if key is None:
        raise ConfigError(name, _hidden(raw), KEY_FORM)
    _require_cryptography(name, "<hidden>")
    return key


def parse_old_keys(name: str, raw: object) -> tuple[bytes, ...]:
    """Old keys, comma separated (or a sequence from `configure()`); empty items are skipped."""
    if raw is None:
        return ()
    if isinstance(raw, str):
        items: Sequence[object] = [item for item in raw.split(",") if item.strip()]
    elif isinstance(raw, list | tuple):
        items = raw
    else:
        raise ConfigError(
            name, _hidden(raw), f"use old keys separated by commas, each one as {KEY_FORM[4:]}"
        )
    keys = []
    for number, item in enumerate(items, 1):
        try:
            key = parse_encryption_key(name, item)
        except ConfigError as exc:
            if "cryptography" in exc.expected:
                raise
            raise ConfigError(
                name,
                "<hidden>",
                f"key {number} of {len(items)} is not a key: each key must be the base64 "
                f"form of {KEY_SIZE} random bytes (44 characters), the keys separated by commas",
            ) from None
        if key is not None:
            keys.append(key)
    return tuple(keys)


class KeyFile:
    """A key file as read: the first key encrypts, further keys (one a line) still decrypt.

    Blank lines and lines starting with `#` are skipped. The repr shows the path, never a key.
    """

    __slots__ = ("keys", "path")

    def __init__(self, path: Path, keys: Sequence[bytes]) -> None:
        self.path = path
        self.keys = tuple(keys)

    def __repr__(self) -> str:
        return f"KeyFile({str(self.path)!r}, {len(self.keys)} key(s))"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, KeyFile) and (self.path, self.keys) == (other.path, other.keys)

    def __hash__(self) -> int:
        return hash((self.path, self.keys))


def parse_key_file(name: str, raw: object) -> KeyFile | None:
    """Read the key file at `raw` now (a relative path is taken from the current folder)."""
    if raw is None:
        return None
    if isinstance(raw, KeyFile):
        return raw
    if not isinstance(raw, str | os.PathLike) or not os.fspath(raw).strip():
        raise ConfigError(name, raw, "use the path of a file holding one key a line")
    path = Path(raw).absolute()
    try:
        lines = path.read_text("ascii").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        cause = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(
            name, str(raw), f"cannot read the key file ({cause}); " + _FILE_FORM
        ) from None
    keys = []
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        key = decode_key(text)
        if key is None:
            raise ConfigError(
                name,
                str(raw),
                f"line {number} is not a key; " + _FILE_FORM,
            )
        keys.append(key)
    if not keys:
        raise ConfigError(name, str(raw), "the file holds no key; " + _FILE_FORM)
    _require_cryptography(name, str(raw))
    return KeyFile(path, keys)


_FILE_FORM = (
    f"it must hold one key a line, each the base64 form of {KEY_SIZE} random bytes (44 "
    "characters): the first encrypts, the others are old keys that still decrypt"
)


class Keyring:
    """The key that encrypts what snapy writes, and every key that may decrypt what it reads.

    `keys` pairs where each key came from (a setting's name, shown in errors) with the key; the
    first one encrypts. Needs `cryptography` (settings check it before building one).
    """

    __slots__ = ("_by_id", "_cipher", "key_id", "where")

    def __init__(self, keys: Sequence[tuple[str, bytes]]) -> None:
        aesgcm = aesgcm_class()
        if aesgcm is None:
            raise ImportError(f"snapy encryption needs the cryptography package: {INSTALL}")
        if not keys:
            raise ValueError("a keyring needs at least one key")
        self._by_id: dict[str, list[Any]] = {}
        groups: dict[str, list[str]] = {}
        for label, key in keys:
            if len(key) != KEY_SIZE:
                raise ValueError(f"an encryption key is {KEY_SIZE} bytes, not {len(key)}")
            ident = key_id(key)
            ciphers = self._by_id.setdefault(ident, [])
            ciphers.append(aesgcm(key))
            ids = groups.setdefault(label, [])
            if ident not in ids:
                ids.append(ident)
        self.key_id = key_id(keys[0][1])
        self._cipher = self._by_id[self.key_id][0]
        #: The keys configured, by key id and setting (never the keys themselves).
        self.where = "; ".join(f"{label}: {', '.join(ids)}" for label, ids in groups.items())

    def __repr__(self) -> str:
        return f"Keyring(encrypts with key id {self.key_id}; {self.where})"

    @property
    def key_ids(self) -> list[str]:
        """Every key id this keyring decrypts, the encrypting one first."""
        return list(self._by_id)

    def encrypt(self, plaintext: bytes, associated: bytes) -> bytes:
        """`nonce + ciphertext + tag` of `plaintext`, bound to `associated` (the file header).

        A fresh random 96-bit nonce per file: safe for about 2**32 files per key, far more
        than a store holds between two key rotations.
        """
        nonce = os.urandom(NONCE_SIZE)
        sealed: bytes = self._cipher.encrypt(nonce, plaintext, associated)
        return nonce + sealed

    def decrypt(self, ident: str, data: bytes, associated: bytes, path: Path) -> bytes:
        """The plaintext of `data` written with key `ident`; raises an error naming `path`."""
        ciphers = self._by_id.get(ident)
        if ciphers is None:
            raise EncryptionKeyError(
                path,
                f"encrypted with key id {ident}, which is not among the keys configured "
                f"({self.where}): add the key it was written with to SNAPY_ENCRYPTION_OLD_KEYS "
                "(or as a further line of SNAPY_ENCRYPTION_KEY_FILE)",
                ident,
            )
        if len(data) >= NONCE_SIZE + TAG_SIZE:
            from cryptography.exceptions import InvalidTag

            nonce, sealed = data[:NONCE_SIZE], data[NONCE_SIZE:]
            for cipher in ciphers:  # two configured keys with one id: try both
                try:
                    plaintext: bytes = cipher.decrypt(nonce, sealed, associated)
                except InvalidTag:
                    continue
                return plaintext
        raise DecryptionError(
            path,
            f"decryption with key id {ident} failed: the encrypted payload or its header was "
            "modified (delete the file, or run `snapy verify` to find every such file)",
        )


def no_key_error(path: Path, ident: str) -> EncryptionKeyError:
    """The error for an encrypted file read while no encryption key is configured."""
    hint = "" if aesgcm_class() is not None else f" (and install cryptography: {INSTALL})"
    return EncryptionKeyError(
        path,
        f"encrypted with key id {ident}, but no encryption key is set: set "
        f"SNAPY_ENCRYPTION_KEY or SNAPY_ENCRYPTION_KEY_FILE to the key it was written with{hint}",
        ident,
    )
