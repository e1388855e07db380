"""Serializers for values without a readable form, and the registry that names them."""

from __future__ import annotations

import pickle
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dill
import pytest

from snapy import (
    BaseSerializer,
    DillSerializer,
    PickleSerializer,
    SerializationError,
    Serializer,
    UnsupportedFormatError,
    _serializers,
    register_serializer,
)
from snapy._serializers import registered, resolve_serializer, serializer_named


@pytest.fixture(autouse=True)
def isolated_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The two built-in serializers only; registrations end with the test."""
    monkeypatch.setattr(
        _serializers, "_REGISTRY", {"pickle": PickleSerializer(), "dill": DillSerializer()}
    )
    yield


class Reversing(BaseSerializer):
    """A toy serializer for str values."""

    name = "reversing"

    def dumps(self, obj: Any) -> bytes:
        return str(obj)[::-1].encode()

    def loads(self, data: bytes) -> Any:
        return data.decode()[::-1]


def test_plain_objects_use_the_c_pickler() -> None:
    value = {"a": [1, 2.5, None], "b": (Path("x"), b"\x00")}
    data = PickleSerializer().dumps(value)
    assert data == pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    assert PickleSerializer().loads(data) == value


def test_lambda_falls_back_to_dill() -> None:
    offset = 3
    add = lambda x: x + offset  # noqa: E731
    with pytest.raises((AttributeError, pickle.PicklingError), match="local object"):
        pickle.dumps(add)  # the C pickler refuses it; the exception type varies by version
    data = PickleSerializer().dumps(add)
    assert PickleSerializer().loads(data)(1) == 4
    assert dill.loads(data)(2) == 5


def test_dill_output_loads_with_dill() -> None:
    data = DillSerializer().dumps(lambda: "hi")
    assert DillSerializer().loads(data)() == "hi"
    assert PickleSerializer().loads(data)() == "hi"


def test_socket_cannot_be_serialized() -> None:
    with socket.socket() as sock, pytest.raises(SerializationError) as info:
        PickleSerializer().dumps(sock)
    assert str(info.value) == (
        "cannot serialize socket object with pickle or dill: cannot pickle 'socket' object"
    )
    assert isinstance(info.value, TypeError)
    assert isinstance(info.value.__cause__, TypeError)


def test_generator_cannot_be_serialized() -> None:
    with pytest.raises(SerializationError) as info:
        PickleSerializer().dumps(i for i in range(3))
    assert str(info.value) == (
        "cannot serialize generator object with pickle or dill: cannot pickle 'generator' object"
    )
    with pytest.raises(SerializationError) as info:
        DillSerializer().dumps(i for i in range(3))
    assert str(info.value) == (
        "cannot serialize generator object with dill: cannot pickle 'generator' object"
    )


def test_seed_names_serialize_and_deserialize_are_aliases() -> None:
    serializer = Reversing()
    assert serializer.serialize("abc") == b"cba"
    assert serializer.deserialize(b"cba") == "abc"


def test_base_serializer_must_be_subclassed() -> None:
    with pytest.raises(NotImplementedError):
        BaseSerializer().dumps(1)
    with pytest.raises(NotImplementedError):
        BaseSerializer().loads(b"")


def test_builtin_serializers_are_registered_by_name() -> None:
    assert isinstance(serializer_named("pickle"), PickleSerializer)
    assert type(serializer_named("dill")) is DillSerializer
    assert isinstance(PickleSerializer(), Serializer)


def test_unknown_serializer_name_lists_the_known_ones() -> None:
    path = Path("/captures/m/f/1-0-abc.bundle")
    with pytest.raises(UnsupportedFormatError) as info:
        serializer_named("yaml", path)
    assert str(info.value) == (
        f"{path}: written with serializer 'yaml', which is not registered here "
        "(known: dill, pickle); call snapy.register_serializer() with it before loading"
    )
    assert info.value.path == path


def test_unknown_serializer_without_a_path_names_memory() -> None:
    with pytest.raises(UnsupportedFormatError, match=r"^<memory>: written with serializer 'x'"):
        serializer_named("x")


def test_registered_serializer_can_be_found_and_listed() -> None:
    custom = Reversing()
    register_serializer(custom)
    assert serializer_named("reversing") is custom
    assert sorted(registered()) == ["dill", "pickle", "reversing"]
    with pytest.raises(UnsupportedFormatError, match=r"\(known: dill, pickle, reversing\)"):
        serializer_named("nope")


class NoLoads:
    name = "half"

    def dumps(self, obj: Any) -> bytes:
        return b""


class NumberName:
    name = 5

    def dumps(self, obj: Any) -> bytes:
        return b""

    def loads(self, data: bytes) -> Any:
        return None


@pytest.mark.parametrize("candidate", [object(), NoLoads(), NumberName(), "pickle"])
def test_register_rejects_what_is_not_a_serializer(candidate: Any) -> None:
    with pytest.raises(TypeError) as info:
        register_serializer(candidate)
    assert str(info.value) == f"{candidate!r} is not a serializer: it needs name, dumps and loads"
    assert sorted(registered()) == ["dill", "pickle"]


def test_resolve_serializer_from_an_option() -> None:
    assert resolve_serializer(None) is serializer_named("pickle")
    assert resolve_serializer("dill") is serializer_named("dill")
    custom = Reversing()
    assert resolve_serializer(custom) is custom
    assert serializer_named("reversing") is custom
