"""The envelope of stored files: header, checksum, format version, HMAC, compression."""

from __future__ import annotations

import hashlib
import hmac
import re
import zlib
from pathlib import Path

import pytest

from snapy import CorruptFileError, SignatureMismatchError, UnsupportedFormatError
from snapy._envelope import FORMAT, Header, pack, unpack

PAYLOAD = b'{"args": {"amount": {"$decimal": "9.99"}}, "result": true}'
KEY = b"0123456789abcdef-signing-key"
CHECKSUM = hashlib.blake2b(PAYLOAD, digest_size=16).hexdigest()


def write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "1-0-abc.bundle"
    path.write_bytes(data)
    return path


def test_header_is_one_readable_line_before_the_payload() -> None:
    data = pack(PAYLOAD, serializer="pickle", signing_key=None)
    assert data == (
        b"snapy-bundle format=1 serializer=pickle encoding=json checksum="
        + CHECKSUM.encode()
        + b"\n"
        + PAYLOAD
    )


def test_unsigned_file_unpacks_to_its_payload(tmp_path: Path) -> None:
    path = write(tmp_path, pack(PAYLOAD, serializer="dill", signing_key=None))
    header, payload = unpack(path.read_bytes(), path, None)
    assert header == Header(FORMAT, "dill", "json", CHECKSUM, signed=False)
    assert payload == PAYLOAD


def test_signed_header_ends_with_hmac_of_header_and_payload() -> None:
    data = pack(PAYLOAD, serializer="pickle", signing_key=KEY)
    head, _, payload = data.partition(b"\n")
    unsigned = (
        b"snapy-bundle format=1 serializer=pickle encoding=json checksum=" + CHECKSUM.encode()
    )
    mac = hmac.new(KEY, unsigned + PAYLOAD, hashlib.sha256).hexdigest()
    assert head == unsigned + b" hmac=" + mac.encode()
    assert payload == PAYLOAD


def test_signed_file_verifies_with_its_key(tmp_path: Path) -> None:
    path = write(tmp_path, pack(PAYLOAD, serializer="pickle", signing_key=KEY))
    header, payload = unpack(path.read_bytes(), path, KEY)
    assert header.signed is True
    assert payload == PAYLOAD


def test_signed_file_still_loads_without_a_key(tmp_path: Path) -> None:
    path = write(tmp_path, pack(PAYLOAD, serializer="pickle", signing_key=KEY))
    assert unpack(path.read_bytes(), path, None)[1] == PAYLOAD


def test_flipped_payload_byte_fails_the_checksum(tmp_path: Path) -> None:
    data = bytearray(pack(PAYLOAD, serializer="pickle", signing_key=None))
    data[-5] ^= 0x01
    path = write(tmp_path, bytes(data))
    with pytest.raises(CorruptFileError) as info:
        unpack(path.read_bytes(), path, None)
    assert type(info.value) is CorruptFileError
    assert str(info.value) == (
        f"{path}: checksum mismatch: the file is truncated or was modified (delete it, or "
        "run `snapy verify` to find every such file)"
    )
    assert info.value.path == path


def test_truncated_file_fails_the_checksum(tmp_path: Path) -> None:
    path = write(tmp_path, pack(PAYLOAD, serializer="pickle", signing_key=None)[:-10])
    with pytest.raises(CorruptFileError, match=r"checksum mismatch") as info:
        unpack(path.read_bytes(), path, None)
    assert str(info.value).startswith(f"{path}: ")


def test_file_cut_inside_the_header_is_not_a_bundle(tmp_path: Path) -> None:
    path = write(tmp_path, pack(PAYLOAD, serializer="pickle", signing_key=None)[:30])
    with pytest.raises(CorruptFileError) as info:
        unpack(path.read_bytes(), path, None)
    assert str(info.value) == f"{path}: not a snapy bundle (no snapy-bundle header)"


@pytest.mark.parametrize(
    "garbage",
    [b"", b"\x80\x04\x95garbage pickle", b"snapy-bundle", b"snapy-bundle " + b"x" * 2000 + b"\n"],
    ids=["empty", "pickle", "magic-only", "header-too-long"],
)
def test_garbage_is_not_a_bundle(tmp_path: Path, garbage: bytes) -> None:
    path = write(tmp_path, garbage)
    with pytest.raises(CorruptFileError) as info:
        unpack(garbage, path, None)
    assert str(info.value) == f"{path}: not a snapy bundle (no snapy-bundle header)"


@pytest.mark.parametrize(
    "head",
    [
        b"snapy-bundle format=one serializer=pickle encoding=json checksum=00",
        b"snapy-bundle format=1 serializer=pickle encoding=json",
        b"snapy-bundle format=1 serializer=pickle junk encoding=json checksum=00",
        b"snapy-bundle format=1 serializer=pickle encoding=json checksum=\xc3\xa9",
        b"snapy-bundle format=1 serializer=pickle encoding=json checksum=00 checksum=11",
    ],
    ids=["format-not-int", "no-checksum", "field-without-value", "non-ascii", "repeated"],
)
def test_malformed_header_is_corrupt(tmp_path: Path, head: bytes) -> None:
    path = tmp_path / "f.bundle"
    with pytest.raises(CorruptFileError) as info:
        unpack(head + b"\n{}", path, None)
    assert str(info.value) == f"{path}: malformed snapy-bundle header {head!r}"


def test_newer_format_is_unsupported_with_exact_message(tmp_path: Path) -> None:
    data = pack(PAYLOAD, serializer="pickle", signing_key=None).replace(b"format=1", b"format=2")
    path = write(tmp_path, data)
    with pytest.raises(UnsupportedFormatError) as info:
        unpack(data, path, None)
    assert str(info.value) == (
        f"{path}: written in snapy file format 2; this snapy reads format 1 and older: "
        "upgrade snapy to read it"
    )


def test_unknown_encoding_is_unsupported(tmp_path: Path) -> None:
    data = pack(PAYLOAD, serializer="pickle", signing_key=None).replace(b"=json", b"=yaml")
    path = write(tmp_path, data)
    with pytest.raises(UnsupportedFormatError) as info:
        unpack(data, path, None)
    assert str(info.value) == f"{path}: unknown payload encoding 'yaml'"


def test_modified_signed_file_is_refused(tmp_path: Path) -> None:
    data = pack(PAYLOAD, serializer="pickle", signing_key=KEY).replace(b"9.99", b"0.01")
    path = write(tmp_path, data)
    with pytest.raises(SignatureMismatchError) as info:
        unpack(data, path, KEY)
    assert str(info.value) == (
        f"{path}: HMAC signature does not match: the file was modified or signed with "
        "another SNAPY_SIGNING_KEY; refusing to load it"
    )


def test_payload_and_checksum_both_rewritten_still_fail_the_hmac(tmp_path: Path) -> None:
    forged_payload = PAYLOAD.replace(b"9.99", b"0.01")
    forged_sum = hashlib.blake2b(forged_payload, digest_size=16).hexdigest().encode()
    head = pack(PAYLOAD, serializer="pickle", signing_key=KEY).partition(b"\n")[0]
    forged = head.replace(CHECKSUM.encode(), forged_sum) + b"\n" + forged_payload
    with pytest.raises(SignatureMismatchError):
        unpack(forged, tmp_path / "f", KEY)


def test_file_signed_with_another_key_is_refused(tmp_path: Path) -> None:
    data = pack(PAYLOAD, serializer="pickle", signing_key=b"another-key-of-16-bytes")
    with pytest.raises(SignatureMismatchError, match="HMAC signature does not match"):
        unpack(data, tmp_path / "f", KEY)


def test_unsigned_file_is_refused_when_a_key_is_set(tmp_path: Path) -> None:
    data = pack(PAYLOAD, serializer="pickle", signing_key=None)
    path = write(tmp_path, data)
    with pytest.raises(SignatureMismatchError) as info:
        unpack(data, path, KEY)
    assert str(info.value) == (
        f"{path}: the file is not signed but SNAPY_SIGNING_KEY is set; refusing to load it "
        "(re-capture it with the key set, or delete it)"
    )


@pytest.mark.parametrize(
    "extra",
    [b" serializer=dill", b" encoding=json+zlib", b" format=0"],
    ids=["serializer", "encoding", "format"],
)
def test_field_appended_after_the_hmac_is_refused(tmp_path: Path, extra: bytes) -> None:
    # Fields after `hmac=` are outside the signed text: accepting them would let anyone
    # change which serializer loads a signed payload.
    head, _, payload = pack(PAYLOAD, serializer="pickle", signing_key=KEY).partition(b"\n")
    path = tmp_path / "f"
    with pytest.raises(CorruptFileError, match=re.escape(f"{path}: malformed snapy-bundle header")):
        unpack(head + extra + b"\n" + payload, path, KEY)


def test_compressed_payload_round_trips(tmp_path: Path) -> None:
    big = PAYLOAD * 200
    data = pack(big, serializer="pickle", signing_key=KEY, compress=True)
    head, _, body = data.partition(b"\n")
    assert b" encoding=json+zlib " in head
    assert zlib.decompress(body) == big
    assert len(data) < len(big) // 10
    header, payload = unpack(data, tmp_path / "f", KEY)
    assert header.encoding == "json+zlib"
    assert header.checksum == hashlib.blake2b(body, digest_size=16).hexdigest()
    assert payload == big


def test_damaged_compressed_payload_with_valid_checksum_is_corrupt(tmp_path: Path) -> None:
    body = b"not zlib at all"
    head = (
        b"snapy-bundle format=1 serializer=pickle encoding=json+zlib checksum="
        + hashlib.blake2b(body, digest_size=16).hexdigest().encode()
    )
    path = tmp_path / "f"
    with pytest.raises(CorruptFileError) as info:
        unpack(head + b"\n" + body, path, None)
    assert str(info.value).startswith(f"{path}: compressed payload is damaged (Error -3 ")
