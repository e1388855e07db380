"""Serializers for the values that the readable form cannot hold (custom objects).

A serializer has a `name` (written into each file's envelope) and `dumps`/`loads`; the seed's
names `serialize`/`deserialize` are kept as aliases. The default is the C pickler with dill as
the fallback (dill alone costs ~60x: 47 µs vs 0.8 µs for a small payload measured here), and
always loads with dill, which reads plain pickles too.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import dill

from ._errors import SerializationError, UnsupportedFormatError


@runtime_checkable
class Serializer(Protocol):
    """Turns one object into bytes and back; `name` identifies it in stored files."""

    name: str

    def dumps(self, obj: Any) -> bytes: ...

    def loads(self, data: bytes) -> Any: ...


class BaseSerializer:
    """Convenience base: subclasses define `name`, `dumps` and `loads`."""

    name = "base"

    def dumps(self, obj: Any) -> bytes:
        raise NotImplementedError

    def loads(self, data: bytes) -> Any:
        raise NotImplementedError

    def serialize(self, obj: Any) -> bytes:
        """The seed's name for `dumps`."""
        return self.dumps(obj)

    def deserialize(self, data: bytes) -> Any:
        """The seed's name for `loads`."""
        return self.loads(data)


class PickleSerializer(BaseSerializer):
    """C pickle first, dill for what pickle refuses (lambdas, local classes); loads with dill."""

    name = "pickle"

    def dumps(self, obj: Any) -> bytes:
        try:
            return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:
            pass
        try:
            data: bytes = dill.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            raise SerializationError(
                f"cannot serialize {type(obj).__qualname__} object with pickle or dill: {exc}"
            ) from exc
        return data

    def loads(self, data: bytes) -> Any:
        return dill.loads(data)


class DillSerializer(PickleSerializer):
    """dill for everything (slower; pickles functions and classes by value)."""

    name = "dill"

    def dumps(self, obj: Any) -> bytes:
        try:
            data: bytes = dill.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            raise SerializationError(
                f"cannot serialize {type(obj).__qualname__} object with dill: {exc}"
            ) from exc
        return data


_REGISTRY: dict[str, Serializer] = {}


def register_serializer(serializer: Serializer) -> None:
    """Make `serializer` loadable by its name (needed to read files it wrote)."""
    if not isinstance(serializer, Serializer) or not isinstance(serializer.name, str):
        raise TypeError(f"{serializer!r} is not a serializer: it needs name, dumps and loads")
    _REGISTRY[serializer.name] = serializer


def serializer_named(name: str, path: Any = "<memory>") -> Serializer:
    """The registered serializer called `name`; an unknown name names the file at fault."""
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise UnsupportedFormatError(
            path,
            f"written with serializer {name!r}, which is not registered here (known: "
            f"{known}); call snapy.register_serializer() with it before loading",
        ) from None


def resolve_serializer(value: Serializer | str | None) -> Serializer:
    """A serializer from an option: an instance (registered on the way) or a registered name."""
    if value is None:
        return _REGISTRY["pickle"]
    if isinstance(value, str):
        return serializer_named(value)
    register_serializer(value)
    return value


def registered() -> Mapping[str, Serializer]:
    return dict(_REGISTRY)


register_serializer(PickleSerializer())
register_serializer(DillSerializer())
