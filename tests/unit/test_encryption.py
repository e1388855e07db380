"""Encryption at rest: keys, the encrypted envelope, its errors, and the encryption settings."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from snapy import (
    ConfigError,
    CorruptFileError,
    DecryptionError,
    EncryptionKeyError,
    SignatureMismatchError,
    _settings,
    configure,
    get_settings,
    refresh_settings,
)
from snapy._crypto import Keyring, decode_key, key_id
from snapy._envelope import FORMAT, Header, pack, parse_body, sealed_summary, unpack
from snapy._settings import load_settings

PAYLOAD = b'{"arguments": {"email": "alice@example.com"}, "value": {"$decimal": "9.99"}}'
KEY = bytes(range(32))
OLD = bytes(range(100, 132))
OTHER = bytes(range(200, 232))
KEY_TEXT = base64.urlsafe_b64encode(KEY).decode()
OLD_TEXT = base64.urlsafe_b64encode(OLD).decode()
SIGNING = b"0123456789abcdef-signing-key"
KEY_FORM = (
    "use the base64 form of 32 random bytes (44 characters), e.g. the output of "
    '`python -c "import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())"`'
)
FILE_FORM = (
    "it must hold one key a line, each the base64 form of 32 random bytes (44 characters): "
    "the first encrypts, the others are old keys that still decrypt"
)


def ident(key: bytes) -> str:
    return hashlib.sha256(b"snapy encryption key id\0" + key).hexdigest()[:8]


def ring(*keys: bytes) -> Keyring:
    labels = ["SNAPY_ENCRYPTION_KEY"] + ["SNAPY_ENCRYPTION_OLD_KEYS"] * (len(keys) - 1)
    return Keyring(list(zip(labels, keys, strict=True)))


def write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "1-0-abc.bundle"
    path.write_bytes(data)
    return path


def split(data: bytes) -> tuple[bytes, bytes]:
    head, _, payload = data.partition(b"\n")
    return head, payload


def with_checksum(head: bytes, payload: bytes) -> bytes:
    """`head` + `payload` with the checksum made right again, as a careful attacker would."""
    checksum = hashlib.blake2b(payload, digest_size=16).hexdigest().encode()
    return re.sub(rb"checksum=[0-9a-f]{32}", b"checksum=" + checksum, head) + b"\n" + payload


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    saved, outer_environ, outer_dotenv = _settings._current, dict(os.environ), Path.cwd() / ".env"
    monkeypatch.chdir(tmp_path)
    refresh_settings(environ={}, dotenv_path=tmp_path / "missing.env")
    yield
    if saved is not None:
        _settings._install(saved)
    else:
        refresh_settings(environ=outer_environ, dotenv_path=outer_dotenv)


# -- keys ------------------------------------------------------------------------------------


def test_key_id_is_a_short_hash_of_the_key() -> None:
    assert key_id(KEY) == ident(KEY)
    assert re.fullmatch(r"[0-9a-f]{8}", key_id(KEY))
    assert key_id(KEY) != key_id(OLD)


@pytest.mark.parametrize(
    "text",
    [
        KEY_TEXT,
        KEY_TEXT.rstrip("="),
        base64.b64encode(KEY).decode(),
        f"  {KEY_TEXT}\n",
    ],
    ids=["urlsafe", "unpadded", "standard", "spaces"],
)
def test_key_text_forms_decode_to_the_key(text: str) -> None:
    assert decode_key(text) == KEY


@pytest.mark.parametrize(
    "text",
    [
        "",
        base64.urlsafe_b64encode(KEY[:16]).decode(),
        base64.urlsafe_b64encode(KEY + b"!").decode(),
        KEY.hex(),
        "!" * 43 + "=",
        KEY_TEXT[:-2] + "==",
    ],
    ids=["empty", "16-bytes", "33-bytes", "hex", "not-base64", "bad-padding"],
)
def test_what_is_not_a_key_text(text: str) -> None:
    assert decode_key(text) is None


def test_keyring_repr_names_key_ids_never_keys() -> None:
    keys = ring(KEY, OLD)
    assert repr(keys) == (
        f"Keyring(encrypts with key id {ident(KEY)}; SNAPY_ENCRYPTION_KEY: {ident(KEY)}; "
        f"SNAPY_ENCRYPTION_OLD_KEYS: {ident(OLD)})"
    )
    assert keys.key_ids == [ident(KEY), ident(OLD)]
    with pytest.raises(ValueError, match=r"^an encryption key is 32 bytes, not 16$"):
        Keyring([("SNAPY_ENCRYPTION_KEY", KEY[:16])])


# -- the encrypted envelope -----------------------------------------------------------------


def test_encrypted_header_names_cipher_and_key_and_hides_the_payload() -> None:
    data = pack(PAYLOAD, serializer="pickle", signing_key=None, encryption=ring(KEY))
    head, stored = split(data)
    checksum = hashlib.blake2b(stored, digest_size=16).hexdigest()
    assert (
        head
        == (
            f"snapy-bundle format=1 serializer=pickle encoding=json+aes256gcm keyid={ident(KEY)} "
            f"checksum={checksum}"
        ).encode()
    )
    assert len(stored) == 12 + len(PAYLOAD) + 16  # nonce, ciphertext, tag
    assert b"alice" not in data and b"9.99" not in data


def test_encrypted_file_round_trips_with_its_key(tmp_path: Path) -> None:
    path = write(tmp_path, pack(PAYLOAD, serializer="dill", signing_key=None, encryption=ring(KEY)))
    header, payload = unpack(path.read_bytes(), path, None, encryption=ring(KEY))
    stored = split(path.read_bytes())[1]
    checksum = hashlib.blake2b(stored, digest_size=16).hexdigest()
    assert header == Header(FORMAT, "dill", "json+aes256gcm", checksum, False, ident(KEY))
    assert header.encrypted is True
    assert payload == PAYLOAD
    assert parse_body(payload, path)["arguments"] == {"email": "alice@example.com"}


def test_compressed_payload_is_compressed_then_encrypted(tmp_path: Path) -> None:
    big = b'{"rows": [' + b", ".join(b'"alice@example.com"' for _ in range(2000)) + b"]}"
    data = pack(big, serializer="pickle", signing_key=None, compress=True, encryption=ring(KEY))
    head, stored = split(data)
    assert b" encoding=json+zlib+aes256gcm keyid=" in head
    assert len(stored) == 12 + len(zlib.compress(big, 6)) + 16
    path = write(tmp_path, data)
    assert unpack(data, path, None, encryption=ring(KEY))[1] == big


def test_every_write_gets_a_fresh_nonce() -> None:
    one = pack(PAYLOAD, serializer="pickle", signing_key=None, encryption=ring(KEY))
    two = pack(PAYLOAD, serializer="pickle", signing_key=None, encryption=ring(KEY))
    assert split(one)[1][:12] != split(two)[1][:12]
    assert one != two


def test_plain_file_loads_while_a_key_is_set(tmp_path: Path) -> None:
    path = write(tmp_path, pack(PAYLOAD, serializer="pickle", signing_key=None, encryption=None))
    header, payload = unpack(path.read_bytes(), path, None, encryption=ring(KEY))
    assert (header.encrypted, header.key_id, payload) == (False, None, PAYLOAD)


def test_encrypted_file_without_a_key_names_the_file_and_the_setting(tmp_path: Path) -> None:
    path = write(
        tmp_path, pack(PAYLOAD, serializer="pickle", signing_key=None, encryption=ring(KEY))
    )
    with pytest.raises(EncryptionKeyError) as info:
        unpack(path.read_bytes(), path, None, encryption=None)
    assert str(info.value) == (
        f"{path}: encrypted with key id {ident(KEY)}, but no encryption key is set: set "
        "SNAPY_ENCRYPTION_KEY or SNAPY_ENCRYPTION_KEY_FILE to the key it was written with"
    )
    assert (info.value.path, info.value.key_id) == (path, ident(KEY))


def test_encrypted_file_with_another_key_lists_the_configured_key_ids(tmp_path: Path) -> None:
    path = write(
        tmp_path, pack(PAYLOAD, serializer="pickle", signing_key=None, encryption=ring(KEY))
    )
    with pytest.raises(EncryptionKeyError) as info:
        unpack(path.read_bytes(), path, None, encryption=ring(OTHER, OLD))
    assert str(info.value) == (
        f"{path}: encrypted with key id {ident(KEY)}, which is not among the keys configured "
        f"(SNAPY_ENCRYPTION_KEY: {ident(OTHER)}; SNAPY_ENCRYPTION_OLD_KEYS: {ident(OLD)}): add "
        "the key it was written with to SNAPY_ENCRYPTION_OLD_KEYS (or as a further line of "
        "SNAPY_ENCRYPTION_KEY_FILE)"
    )


def test_rotation_old_keys_decrypt_and_new_writes_use_the_new_key(tmp_path: Path) -> None:
    old_file = write(
        tmp_path, pack(PAYLOAD, serializer="pickle", signing_key=None, encryption=ring(OLD))
    )
    rotated = ring(KEY, OLD)
    assert unpack(old_file.read_bytes(), old_file, None, encryption=rotated)[1] == PAYLOAD
    new = pack(PAYLOAD, serializer="pickle", signing_key=None, encryption=rotated)
    assert f" keyid={ident(KEY)} ".encode() in split(new)[0]
    with pytest.raises(EncryptionKeyError):  # the new file needs the new key
        unpack(new, old_file, None, encryption=ring(OLD))


def test_modified_ciphertext_fails_its_checksum_before_decryption(tmp_path: Path) -> None:
    head, stored = split(pack(PAYLOAD, serializer="pickle", signing_key=None, encryption=ring(KEY)))
    flipped = stored[:20] + bytes([stored[20] ^ 1]) + stored[21:]
    path = write(tmp_path, head + b"\n" + flipped)
    with pytest.raises(CorruptFileError) as info:
        unpack(path.read_bytes(), path, None, encryption=None)  # no key needed to see it
    assert str(info.value) == (
        f"{path}: checksum mismatch: the file is truncated or was modified (delete it, or "
        "run `snapy verify` to find every such file)"
    )


@pytest.mark.parametrize("where", [0, 12, -1], ids=["nonce", "ciphertext", "tag"])
def test_modified_ciphertext_with_its_checksum_fixed_never_decrypts(
    tmp_path: Path, where: int
) -> None:
    head, stored = split(pack(PAYLOAD, serializer="pickle", signing_key=None, encryption=ring(KEY)))
    flipped = bytearray(stored)
    flipped[where] ^= 0x80
    path = write(tmp_path, with_checksum(head, bytes(flipped)))
    with pytest.raises(DecryptionError) as info:
        unpack(path.read_bytes(), path, None, encryption=ring(KEY))
    assert str(info.value) == (
        f"{path}: decryption with key id {ident(KEY)} failed: the encrypted payload or its "
        "header was modified (delete the file, or run `snapy verify` to find every such file)"
    )
    assert isinstance(info.value, CorruptFileError)


def test_truncated_ciphertext_with_its_checksum_fixed_never_decrypts(tmp_path: Path) -> None:
    head, stored = split(pack(PAYLOAD, serializer="pickle", signing_key=None, encryption=ring(KEY)))
    for cut in (stored[:27], b""):
        path = write(tmp_path, with_checksum(head, cut))
        with pytest.raises(DecryptionError, match="failed: the encrypted payload or its header"):
            unpack(path.read_bytes(), path, None, encryption=ring(KEY))


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b" serializer=pickle ", b" serializer=dill "),
        (b" encoding=json+aes256gcm ", b" encoding=json+zlib+aes256gcm "),
        (b" checksum=", b" note=1 checksum="),
        (b"format=1 ", b"format=1 extra=x "),
    ],
    ids=["serializer", "encoding", "added-field", "inserted-field"],
)
def test_header_edits_fail_decryption(tmp_path: Path, old: bytes, new: bytes) -> None:
    data = pack(PAYLOAD, serializer="pickle", signing_key=None, encryption=ring(KEY))
    assert data.count(old) == 1
    path = write(tmp_path, data.replace(old, new))
    with pytest.raises(DecryptionError, match=f"decryption with key id {ident(KEY)} failed"):
        unpack(path.read_bytes(), path, None, encryption=ring(KEY))


def test_key_id_swapped_for_another_configured_key_fails_decryption(tmp_path: Path) -> None:
    data = pack(PAYLOAD, serializer="pickle", signing_key=None, encryption=ring(KEY))
    path = write(tmp_path, data.replace(ident(KEY).encode(), ident(OLD).encode()))
    with pytest.raises(DecryptionError, match=f"decryption with key id {ident(OLD)} failed"):
        unpack(path.read_bytes(), path, None, encryption=ring(KEY, OLD))


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b" encoding=json+aes256gcm ", b" encoding=json "),
        (b" keyid=", b" keyid=zz"),
        (b" keyid=", b" keyid=0"),
    ],
    ids=["cipher-dropped", "bad-key-id", "long-key-id"],
)
def test_malformed_encryption_fields_are_a_malformed_header(
    tmp_path: Path, old: bytes, new: bytes
) -> None:
    data = pack(PAYLOAD, serializer="pickle", signing_key=None, encryption=ring(KEY))
    path = write(tmp_path, data.replace(old, new, 1))
    with pytest.raises(CorruptFileError, match=r"malformed snapy-bundle header b'snapy-bundle "):
        unpack(path.read_bytes(), path, None, encryption=ring(KEY))


def test_stripping_the_encryption_fields_leaves_no_readable_payload(tmp_path: Path) -> None:
    data = pack(PAYLOAD, serializer="pickle", signing_key=None, encryption=ring(KEY))
    stripped = data.replace(b"+aes256gcm keyid=" + ident(KEY).encode(), b"")
    path = write(tmp_path, stripped)
    header, payload = unpack(path.read_bytes(), path, None, encryption=ring(KEY))
    assert header.encrypted is False
    with pytest.raises(CorruptFileError, match=r"payload is not valid JSON"):
        parse_body(payload, path)


def test_signing_and_encryption_together(tmp_path: Path) -> None:
    data = pack(PAYLOAD, serializer="pickle", signing_key=SIGNING, encryption=ring(KEY))
    head, stored = split(data)
    unsigned = head[: head.index(b" hmac=")]
    assert unsigned.startswith(b"snapy-bundle format=1 serializer=pickle encoding=json+aes256gcm ")
    mac = hmac.new(SIGNING, unsigned + stored, hashlib.sha256).hexdigest()
    assert head == unsigned + b" hmac=" + mac.encode()  # the HMAC covers the encrypted bytes
    path = write(tmp_path, data)
    header, payload = unpack(data, path, SIGNING, encryption=ring(KEY))
    assert (header.signed, header.encrypted, payload) == (True, True, PAYLOAD)


def test_signature_is_checked_before_decryption(tmp_path: Path) -> None:
    head, stored = split(
        pack(PAYLOAD, serializer="pickle", signing_key=SIGNING, encryption=ring(KEY))
    )
    flipped = stored[:-1] + bytes([stored[-1] ^ 1])
    path = write(tmp_path, with_checksum(head, flipped))
    for keys in (ring(KEY), None):  # refused as forged whether or not the key is at hand
        with pytest.raises(SignatureMismatchError, match="HMAC signature does not match"):
            unpack(path.read_bytes(), path, SIGNING, encryption=keys)


def test_decode_false_checks_the_envelope_without_a_key(tmp_path: Path) -> None:
    data = pack(PAYLOAD, serializer="pickle", signing_key=SIGNING, encryption=ring(KEY))
    path = write(tmp_path, data)
    header, stored = unpack(data, path, SIGNING, encryption=None, decode=False)
    assert (header.key_id, stored) == (ident(KEY), split(data)[1])


def test_pack_and_unpack_follow_the_current_settings(tmp_path: Path) -> None:
    assert b"aes256gcm" not in pack(PAYLOAD, serializer="pickle", signing_key=None)
    configure(encryption_key=KEY)
    data = pack(PAYLOAD, serializer="pickle", signing_key=None)
    assert f" keyid={ident(KEY)} ".encode() in split(data)[0]
    path = write(tmp_path, data)
    assert unpack(data, path, None)[1] == PAYLOAD
    configure(encryption_key=None)
    with pytest.raises(EncryptionKeyError, match="but no encryption key is set"):
        unpack(data, path, None)


def test_sealed_summary_shows_names_only_when_encrypting() -> None:
    assert sealed_summary("charge", ["amount", "card"], "result", encryption=None) is None
    keys = ring(KEY)
    assert sealed_summary("charge", ["amount", "card"], "result", encryption=keys) == (
        "charge(amount, card) -> <encrypted>"
    )
    assert sealed_summary("charge", {"amount": 1}, "exception", encryption=keys) == (
        "charge(amount) raised <encrypted>"
    )
    assert sealed_summary("tick", [], "exception type", encryption=keys) == (
        "tick() raised <encrypted>"
    )
    assert sealed_summary("rows", ["day"], "generator") is None  # settings: no key
    configure(encryption_key=KEY)
    assert sealed_summary("rows", ["day"], "generator") == "rows(day) -> <encrypted>"


# -- settings --------------------------------------------------------------------------------


def load(tmp_path: Path, **environ: str) -> _settings.Settings:
    return load_settings(environ=environ, dotenv_path=tmp_path / "missing.env")


def test_no_encryption_by_default(tmp_path: Path) -> None:
    settings = load(tmp_path)
    assert settings.encryption is None
    assert (settings.encryption_key, settings.encryption_key_file) == (None, None)
    assert settings.encryption_old_keys == ()


def test_key_from_the_environment(tmp_path: Path) -> None:
    settings = load(tmp_path, SNAPY_ENCRYPTION_KEY=KEY_TEXT, SNAPY_ENCRYPTION_OLD_KEYS=OLD_TEXT)
    assert settings.encryption_key == KEY
    assert settings.encryption_old_keys == (OLD,)
    assert settings.encryption is not None
    assert settings.encryption.key_id == ident(KEY)
    assert settings.encryption.key_ids == [ident(KEY), ident(OLD)]
    assert settings.source_of("encryption_key") == "environment"
    shown = repr(settings)
    assert KEY_TEXT not in shown and OLD_TEXT not in shown and repr(KEY) not in shown


def test_old_keys_are_comma_separated_with_spaces_and_empty_items_skipped(tmp_path: Path) -> None:
    other = base64.b64encode(OTHER).decode()
    settings = load(
        tmp_path,
        SNAPY_ENCRYPTION_KEY=KEY_TEXT,
        SNAPY_ENCRYPTION_OLD_KEYS=f" {OLD_TEXT} ,{other},",
    )
    assert settings.encryption_old_keys == (OLD, OTHER)


def test_key_from_the_dotenv_file(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"SNAPY_ENCRYPTION_KEY={KEY_TEXT}\n")
    settings = load_settings(environ={}, dotenv_path=dotenv)
    assert settings.encryption is not None and settings.encryption.key_id == ident(KEY)
    assert settings.source_of("encryption_key") == f".env file {str(dotenv)!r}"


def test_key_file_first_line_encrypts_further_lines_decrypt(tmp_path: Path) -> None:
    key_file = tmp_path / "snapy.key"
    key_file.write_text(f"# rotated 2024-05\n{KEY_TEXT}\n\n  {OLD_TEXT}  \n")
    settings = load(tmp_path, SNAPY_ENCRYPTION_KEY_FILE="snapy.key")
    assert settings.encryption_key_file is not None
    assert settings.encryption_key_file.path == key_file
    assert settings.encryption_key_file.keys == (KEY, OLD)
    assert repr(settings.encryption_key_file) == f"KeyFile({str(key_file)!r}, 2 key(s))"
    assert settings.encryption is not None
    assert settings.encryption.key_ids == [ident(KEY), ident(OLD)]
    assert repr(settings.encryption) == (
        f"Keyring(encrypts with key id {ident(KEY)}; SNAPY_ENCRYPTION_KEY_FILE: {ident(KEY)}, "
        f"{ident(OLD)})"
    )
    assert KEY_TEXT not in repr(settings)


@pytest.mark.parametrize(
    ("content", "cause"),
    [
        (None, "cannot read the key file (No such file or directory); "),
        ("", "the file holds no key; "),
        ("# only a comment\n\n", "the file holds no key; "),
        (f"{KEY_TEXT}\nnot-a-key\n", "line 2 is not a key; "),
        (KEY.hex() + "\n", "line 1 is not a key; "),
    ],
    ids=["missing", "empty", "comments", "bad-line", "hex"],
)
def test_malformed_key_file_names_the_variable_and_the_line(
    tmp_path: Path, content: str | None, cause: str
) -> None:
    if content is not None:
        (tmp_path / "snapy.key").write_text(content)
    with pytest.raises(ConfigError) as info:
        load(tmp_path, SNAPY_ENCRYPTION_KEY_FILE="snapy.key")
    assert (
        str(info.value) == f"SNAPY_ENCRYPTION_KEY_FILE='snapy.key' is not valid: {cause}{FILE_FORM}"
    )
    assert "not-a-key" not in str(info.value)


@pytest.mark.parametrize(
    "raw",
    [KEY_TEXT[:20], KEY.hex(), "x" * 44, base64.b64encode(KEY[:24]).decode()],
    ids=["short", "hex", "not-base64", "24-bytes"],
)
def test_malformed_key_names_the_variable_and_never_shows_the_value(
    tmp_path: Path, raw: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, SNAPY_ENCRYPTION_KEY=raw)
    assert str(info.value) == (
        f"SNAPY_ENCRYPTION_KEY='<hidden, {len(raw)} characters>' is not valid: {KEY_FORM}"
    )
    assert raw not in str(info.value)


def test_malformed_old_key_says_which_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(
            tmp_path,
            SNAPY_ENCRYPTION_KEY=KEY_TEXT,
            SNAPY_ENCRYPTION_OLD_KEYS=f"{OLD_TEXT},sekrit-but-short",
        )
    assert str(info.value) == (
        "SNAPY_ENCRYPTION_OLD_KEYS='<hidden>' is not valid: key 2 of 2 is not a key: each key "
        "must be the base64 form of 32 random bytes (44 characters), the keys separated by commas"
    )


def test_key_and_key_file_together_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "snapy.key").write_text(KEY_TEXT)
    with pytest.raises(ConfigError) as info:
        load(tmp_path, SNAPY_ENCRYPTION_KEY=KEY_TEXT, SNAPY_ENCRYPTION_KEY_FILE="snapy.key")
    assert str(info.value) == (
        f"SNAPY_ENCRYPTION_KEY_FILE={str(tmp_path / 'snapy.key')!r} is not valid: "
        "SNAPY_ENCRYPTION_KEY is set too: set only one of them (old keys go on the lines after "
        "the first one of the file, or in SNAPY_ENCRYPTION_OLD_KEYS)"
    )


def test_old_keys_without_a_current_key_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, SNAPY_ENCRYPTION_OLD_KEYS=OLD_TEXT)
    assert str(info.value) == (
        "SNAPY_ENCRYPTION_OLD_KEYS='<hidden>' is not valid: old keys only decrypt: set "
        "SNAPY_ENCRYPTION_KEY or SNAPY_ENCRYPTION_KEY_FILE to the key that encrypts"
    )


def test_configure_takes_text_or_raw_keys_and_names_its_argument(tmp_path: Path) -> None:
    settings = configure(encryption_key=KEY_TEXT, encryption_old_keys=[OLD])
    assert settings.encryption is not None
    assert repr(settings.encryption) == (
        f"Keyring(encrypts with key id {ident(KEY)}; encryption_key: {ident(KEY)}; "
        f"encryption_old_keys: {ident(OLD)})"
    )
    assert configure(encryption_key=OLD, encryption_old_keys=None).encryption_key == OLD
    before = get_settings()
    with pytest.raises(ConfigError) as info:
        configure(encryption_key=b"too short")
    assert str(info.value) == (f"encryption_key='<hidden, 9 characters>' is not valid: {KEY_FORM}")
    with pytest.raises(ConfigError, match=r"^encryption_old_keys=42 is not valid: use old keys "):
        configure(encryption_old_keys=42)
    assert get_settings() is before
    assert configure(encryption_key=None).encryption is None


def test_configure_key_file_conflicting_with_an_environment_key(tmp_path: Path) -> None:
    (tmp_path / "snapy.key").write_text(KEY_TEXT)
    refresh_settings(
        environ={"SNAPY_ENCRYPTION_KEY": OLD_TEXT}, dotenv_path=tmp_path / "missing.env"
    )
    with pytest.raises(ConfigError) as info:
        configure(encryption_key_file="snapy.key")
    assert str(info.value).startswith(
        f"encryption_key_file={str(tmp_path / 'snapy.key')!r} is not valid: "
        "SNAPY_ENCRYPTION_KEY is set too: set only one of them"
    )
    settings = configure(encryption_key=None, encryption_key_file="snapy.key")
    assert settings.encryption is not None and settings.encryption.key_id == ident(KEY)
