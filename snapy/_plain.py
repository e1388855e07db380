"""The readable form of stored values: JSON with `$`-tags, pickling only what needs it.

Recordings are read in code review, so plain data stays text: `{"$tuple": [1, 2]}`,
`{"$decimal": "9.99"}`, `{"$datetime": "2026-11-22T10:00:00+00:00"}`. An object that has no
readable form is a leaf `{"$pickle": <base64>, "type": ..., "repr": ...}` written by the
configured serializer; its `repr` is for reviewers only and never read back. A JSON object whose
first key starts with `$` is a tag; dicts that could be mistaken for one are stored as
`{"$dict": [[key, value], ...]}`.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import datetime as dt
import decimal
import enum
import importlib
import math
import re
import reprlib
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path, PurePath
from typing import Any

from ._errors import CapturedException, SerializationError
from ._redact import Redacted
from ._serializers import Serializer, serializer_named

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_PRINTABLE = re.compile(rb"[\x20-\x7e]*")
_repr = reprlib.Repr()
_repr.maxstring = 80
_repr.maxother = 80
_repr.maxlevel = 3


class _Cycle(Exception):
    """A container holds itself; the whole value is pickled instead."""


@dataclasses.dataclass(frozen=True)
class PickledValue:
    """A stored pickled object that was not unpickled (loading it was not allowed)."""

    type: str
    repr: str
    data: bytes = dataclasses.field(repr=False)

    def __repr__(self) -> str:
        return f"<pickled {self.type}: {self.repr}>"


def short_repr(value: object) -> str:
    """A bounded repr without memory addresses (they change from run to run)."""
    try:
        text = _repr.repr(value)
    except Exception:
        text = f"<{type(value).__qualname__} object>"
    return _ADDRESS.sub("", text)


def type_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


_importable: dict[type, bool] = {}


def _is_importable(cls: type) -> bool:
    """Whether `cls` can be found again by module and qualname (no `<locals>`)."""
    known = _importable.get(cls)
    if known is None:
        known = _find(cls.__module__, cls.__qualname__) is cls
        _importable[cls] = known
    return known


def _find(module: str, qualname: str) -> Any:
    if "<" in qualname:
        return None
    target: Any = sys.modules.get(module)
    for part in qualname.split("."):
        target = getattr(target, part, None)
    return target


def _import(name: str) -> Any:
    module, _, qualname = name.partition(":")
    if not qualname:
        parts = name.split(".")
        for i in range(len(parts) - 1, 0, -1):
            mod = ".".join(parts[:i])
            if _imported(mod):
                found = _find(mod, ".".join(parts[i:]))
                if found is not None:
                    return found
        return None
    return _find(module, qualname) if _imported(module) else None


def _imported(module: str) -> bool:
    """Whether `module` (a name read from a file) could be imported.

    `import_module` refuses an empty name with ValueError and a relative one with TypeError,
    and a module may fail as it runs; a stored file can name any of them.
    """
    try:
        importlib.import_module(module)
    except Exception:
        return False
    return True


def type_ref(cls: type) -> str:
    """`module:qualname`, the unambiguous way to name a class in a stored file."""
    return f"{cls.__module__}:{cls.__qualname__}"


class Encoder:
    """Encodes values into the readable form; `serializer` writes the objects it cannot."""

    def __init__(self, serializer: Serializer) -> None:
        self.serializer = serializer

    def encode(self, value: Any) -> Any:
        try:
            return self._encode(value, set())
        except _Cycle:
            return self._pickle(value)

    def _pickle(self, value: Any) -> dict[str, Any]:
        data = self.serializer.dumps(value)
        return {
            "$pickle": base64.b64encode(data).decode("ascii"),
            "type": type_name(type(value)),
            "repr": short_repr(value),
        }

    def _encode(self, value: Any, path: set[int]) -> Any:
        kind = type(value)
        if value is None or kind is bool or kind is int or kind is str:
            return value
        if kind is float:
            if math.isfinite(value):
                return value
            return {"$float": repr(value)}
        if kind is list or kind is tuple or kind is set or kind is frozenset or kind is dict:
            ident = id(value)
            if ident in path:
                raise _Cycle
            path.add(ident)
            try:
                if kind is list:
                    return [self._encode(v, path) for v in value]
                if kind is tuple:
                    return {"$tuple": [self._encode(v, path) for v in value]}
                if kind is dict:
                    return self._dict(value, path)
                items = sorted((self._encode(v, path) for v in value), key=_order)
                return {"$set" if kind is set else "$frozenset": items}
            finally:
                path.discard(ident)
        encoder = _SIMPLE.get(kind)
        if encoder is not None:
            try:
                return encoder(value)
            except _NotPlain:
                return self._pickle(value)
        if kind is Redacted:
            return {"$redacted": value.digest}
        if isinstance(value, enum.Enum) and _is_importable(kind):
            if kind.__members__.get(value.name) is value:
                return {"$enum": type_ref(kind), "name": value.name}
        elif isinstance(value, BaseException):
            with _visiting(value, path):
                return self._exception(value, path)
        elif dataclasses.is_dataclass(value) and _is_importable(kind):
            state = (
                vars(value)
                if hasattr(value, "__dict__")
                else {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
            )
            with _visiting(value, path):
                return {"$dataclass": type_ref(kind), "fields": self._dict(state, path)}
        return self._pickle(value)

    def _dict(self, value: dict[Any, Any], path: set[int]) -> Any:
        if all(type(k) is str and not k.startswith("$") for k in value):
            return {k: self._encode(v, path) for k, v in value.items()}
        return {"$dict": [[self._encode(k, path), self._encode(v, path)] for k, v in value.items()]}

    def _exception(self, exc: BaseException, path: set[int]) -> Any:
        kind = type(exc)
        if not _is_importable(kind):
            try:
                return self._pickle(exc)
            except SerializationError:
                pass
        node: dict[str, Any] = {
            "$exception": type_ref(kind),
            "args": [self._encode(a, path) for a in exc.args],
        }
        state = {k: v for k, v in vars(exc).items() if not k.startswith("__")}
        if state:
            node["state"] = self._dict(state, path)
        node["message"] = short_repr(exc)
        return node


def _bytes(value: bytes) -> dict[str, str]:
    if _PRINTABLE.fullmatch(value):  # not match(): its `$` also passes a trailing newline
        return {"$bytes": value.decode("ascii")}
    return {"$b64": base64.b64encode(value).decode("ascii")}


def _fixed_offset(tz: dt.tzinfo | None) -> bool:
    """Whether an ISO offset restores `tz` exactly (a named `timezone` would lose its name)."""
    if tz is None:
        return True
    if type(tz) is not dt.timezone:
        return False
    offset = tz.utcoffset(None)
    # fromisoformat() drops an offset's microseconds (CPython 3.11-3.13: "+00:00:00.000001").
    return offset.microseconds == 0 and tz.tzname(None) == dt.timezone(offset).tzname(None)


def _datetime(value: dt.datetime) -> Any:
    if value.fold or not _fixed_offset(value.tzinfo):
        raise _NotPlain
    return {"$datetime": value.isoformat()}


def _time(value: dt.time) -> Any:
    if value.fold or not _fixed_offset(value.tzinfo):
        raise _NotPlain
    return {"$time": value.isoformat()}


@contextlib.contextmanager
def _visiting(value: object, path: set[int]) -> Iterator[None]:
    """Marks `value` as being encoded; meeting it again inside itself is a cycle."""
    ident = id(value)
    if ident in path:
        raise _Cycle
    path.add(ident)
    try:
        yield
    finally:
        path.discard(ident)


class _NotPlain(Exception):
    """The value has no exact readable form (a zoneinfo datetime); it is pickled."""


_SIMPLE: dict[type, Callable[[Any], Any]] = {
    bytes: _bytes,
    bytearray: lambda v: {"$bytearray": _bytes(bytes(v))},
    dt.datetime: _datetime,
    dt.date: lambda v: {"$date": v.isoformat()},
    dt.time: _time,
    dt.timedelta: lambda v: {"$timedelta": [v.days, v.seconds, v.microseconds]},
    decimal.Decimal: lambda v: {"$decimal": str(v)},
    uuid.UUID: lambda v: {"$uuid": str(v)},
    complex: lambda v: {"$complex": [repr(v.real), repr(v.imag)]},
}
for _path_type in (type(Path()), type(PurePath())):
    _SIMPLE[_path_type] = lambda v: {"$path": str(v), "type": type(v).__name__}


def _order(node: Any) -> str:
    """A total order for set members, independent of PYTHONHASHSEED."""
    import json

    return json.dumps(node, sort_keys=True, ensure_ascii=False)


class Decoder:
    """Turns the readable form back into values.

    With `allow_pickle=False` pickled leaves come back as `PickledValue` and nothing is
    unpickled or imported (for listing and showing untrusted files). With `strict=True` every
    tagged node's shape is checked before it is decoded (`check` does; the replay path decodes
    files it checked once, and skips it: it cost a third more per decode).
    """

    def __init__(
        self, serializer: Serializer, allow_pickle: bool = True, *, strict: bool = False
    ) -> None:
        self.serializer = serializer
        self.allow_pickle = allow_pickle
        self.strict = strict

    def decode(self, node: Any) -> Any:
        """The value `node` stands for; a node its type cannot rebuild raises `ValueError`."""
        kind = type(node)
        if kind is list:
            return [self.decode(v) for v in node]
        if kind is not dict:
            return node
        if not node:
            return {}
        first = next(iter(node))
        if not first.startswith("$"):
            return {k: self.decode(v) for k, v in node.items()}
        handler = _TAGS.get(first)
        if handler is None:
            raise ValueError(f"unknown tag {first!r}")
        if self.strict:
            problem = shape_problem(first, node)
            if problem:
                raise ValueError(problem)
        try:
            return handler(self, node)
        except (TypeError, KeyError, AttributeError, IndexError, ArithmeticError) as exc:
            # A node of the wrong shape, or one whose content its type refuses: an
            # unhashable set member, a timedelta out of range, Decimal("") (InvalidOperation
            # is an ArithmeticError, not a ValueError).
            problem = shape_problem(first, node)
            raise ValueError(
                problem or f"{first} cannot be rebuilt ({type(exc).__name__}: {exc})"
            ) from None

    def _pickle(self, node: dict[str, Any]) -> Any:
        data = base64.b64decode(node["$pickle"], validate=True)
        if not self.allow_pickle:
            return PickledValue(str(node.get("type")), str(node.get("repr")), data)
        return self.serializer.loads(data)

    def _class(self, name: str, base: type) -> Any:
        if not self.allow_pickle:
            return None
        found = _import(name)
        return found if isinstance(found, type) and issubclass(found, base) else None

    def _enum(self, node: dict[str, Any]) -> Any:
        cls = self._class(node["$enum"], enum.Enum)
        if cls is None:
            return PickledValue(node["$enum"], node["name"], b"")
        return cls[node["name"]]

    def _dataclass(self, node: dict[str, Any]) -> Any:
        fields = self.decode(node["fields"])
        cls = self._class(node["$dataclass"], object)
        if not isinstance(cls, type) or not dataclasses.is_dataclass(cls):
            return PickledValue(node["$dataclass"], short_repr(fields), b"")
        obj = cls.__new__(cls)
        for name, value in fields.items():
            object.__setattr__(obj, name, value)
        return obj

    def _exception(self, node: dict[str, Any]) -> Any:
        args = tuple(self.decode(a) for a in node["args"])
        state = self.decode(node["state"]) if "state" in node else {}
        cls = self._class(node["$exception"], BaseException)
        if cls is None:
            message = str(args[0]) if len(args) == 1 else (str(args) if args else "")
            return CapturedException(node["$exception"], message or node.get("message", ""))
        try:
            exc = cls(*args)
        except Exception:
            exc = cls.__new__(cls, *args)
            exc.args = args
        for name, value in state.items():
            setattr(exc, name, value)
        return exc


def _decode_bytes(node: dict[str, Any]) -> bytes:
    if type(node) is not dict or not ({"$bytes", "$b64"} & node.keys()):
        raise ValueError(f"not a $bytes or $b64 node: {short_repr(node)}")
    if "$bytes" in node:
        return str(node["$bytes"]).encode("ascii")
    return base64.b64decode(node["$b64"], validate=True)


def _decode_path(node: dict[str, Any]) -> PurePath:
    kinds = {"PosixPath": Path, "WindowsPath": Path, "PurePosixPath": PurePath}
    return kinds.get(node.get("type", ""), PurePath)(node["$path"])


_TAGS: dict[str, Callable[[Decoder, dict[str, Any]], Any]] = {
    "$tuple": lambda d, n: tuple(d.decode(v) for v in n["$tuple"]),
    "$set": lambda d, n: {d.decode(v) for v in n["$set"]},
    "$frozenset": lambda d, n: frozenset(d.decode(v) for v in n["$frozenset"]),
    "$dict": lambda d, n: {d.decode(k): d.decode(v) for k, v in n["$dict"]},
    "$float": lambda d, n: float(n["$float"]),
    "$bytes": lambda d, n: _decode_bytes(n),
    "$b64": lambda d, n: _decode_bytes(n),
    "$bytearray": lambda d, n: bytearray(_decode_bytes(n["$bytearray"])),
    "$datetime": lambda d, n: dt.datetime.fromisoformat(n["$datetime"]),
    "$date": lambda d, n: dt.date.fromisoformat(n["$date"]),
    "$time": lambda d, n: dt.time.fromisoformat(n["$time"]),
    "$timedelta": lambda d, n: dt.timedelta(*n["$timedelta"]),
    "$decimal": lambda d, n: decimal.Decimal(n["$decimal"]),
    "$uuid": lambda d, n: uuid.UUID(n["$uuid"]),
    "$complex": lambda d, n: complex(float(n["$complex"][0]), float(n["$complex"][1])),
    "$path": lambda d, n: _decode_path(n),
    "$redacted": lambda d, n: Redacted(str(n["$redacted"])),
    "$pickle": Decoder._pickle,
    "$enum": Decoder._enum,
    "$dataclass": Decoder._dataclass,
    "$exception": Decoder._exception,
}


# What each tag's node must hold, checked before it is decoded or rendered: stored files are
# read from disk and may be damaged or hostile (issue 9), and the wrong type in one field
# would otherwise surface as a TypeError far from the file that holds it.
_SHAPES: dict[str, tuple[tuple[str, type, bool], ...]] = {
    "$tuple": (("$tuple", list, True),),
    "$set": (("$set", list, True),),
    "$frozenset": (("$frozenset", list, True),),
    "$dict": (("$dict", list, True),),
    "$float": (("$float", str, True),),
    "$bytes": (("$bytes", str, True),),
    "$b64": (("$b64", str, True),),
    "$bytearray": (("$bytearray", dict, True),),
    "$datetime": (("$datetime", str, True),),
    "$date": (("$date", str, True),),
    "$time": (("$time", str, True),),
    "$timedelta": (("$timedelta", list, True),),
    "$decimal": (("$decimal", str, True),),
    "$uuid": (("$uuid", str, True),),
    "$complex": (("$complex", list, True),),
    "$path": (("$path", str, True), ("type", str, False)),
    "$redacted": (("$redacted", str, True),),
    "$pickle": (("$pickle", str, True), ("type", str, False), ("repr", str, False)),
    "$enum": (("$enum", str, True), ("name", str, True)),
    "$dataclass": (("$dataclass", str, True), ("fields", dict, True)),
    "$exception": (
        ("$exception", str, True),
        ("args", list, True),
        ("state", dict, False),
        ("message", str, False),
    ),
}


#: How a stored file names a class (`type_ref`): `module:qualname`, e.g. `app.errors:Refused`
#: or `tests.test_x:test_y.<locals>.Failure`.
_NAME = r"[^\W\d]\w*"
_CLASS_REF = re.compile(rf"^{_NAME}(?:\.{_NAME})*:(?:{_NAME}|<locals>)(?:\.(?:{_NAME}|<locals>))*$")
_CLASS_TAGS = ("$exception", "$enum", "$dataclass")


def shape_problem(tag: str, node: dict[str, Any]) -> str:
    """Why `node` (tagged `tag`) is not a well-formed node of its tag; "" when it is."""
    for name, kind, required in _SHAPES.get(tag, ()):
        if name not in node:
            if required:
                return f"{tag} node has no {name!r}"
            continue
        value = node[name]
        if type(value) is not kind:
            return f"{tag} node holds {type(value).__name__} in {name!r}, not {kind.__name__}"
    if tag in _CLASS_TAGS and not _CLASS_REF.match(node[tag]):
        return f"{tag} node names no class ({reprlib.repr(node[tag])}, not module:qualname)"
    if tag == "$dict" and not all(type(p) is list and len(p) == 2 for p in node[tag]):
        return "$dict node holds an entry that is not a [key, value] pair"
    if tag == "$complex" and not (len(node[tag]) == 2 and all(type(p) is str for p in node[tag])):
        return "$complex node does not hold two strings"
    if tag == "$timedelta" and not (
        len(node[tag]) <= 7 and all(type(p) in (int, float) for p in node[tag])
    ):
        return "$timedelta node does not hold up to seven numbers"
    return ""


#: JSON nesting `check` accepts. Values are redacted before they are stored, and anything
#: deeper than 32 levels is redacted whole (`snapy._redact`), so 100 leaves room to spare.
MAX_DEPTH = 100


def check(node: Any) -> None:
    """Raise `ValueError` if `node` is not a well-formed stored value.

    Decodes the way `snapy show` reads files: nothing is unpickled and nothing imported. The
    depth is measured first, without recursion, so a hostile file cannot exhaust the stack.
    """
    pending = [(node, 0)]
    while pending:
        item, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise ValueError(f"the value is nested more than {MAX_DEPTH} levels deep")
        if type(item) is list:
            pending.extend((child, depth + 1) for child in item)
        elif type(item) is dict:
            pending.extend((child, depth + 1) for child in item.values())
    try:
        Decoder(serializer_named("pickle"), allow_pickle=False, strict=True).decode(node)
    except RecursionError:
        raise ValueError("the value is nested too deeply to read back") from None


_MAX_RENDER_DEPTH = 50


def render(node: Any, limit: int = 200) -> str:
    """A short Python-like text of an encoded value, without unpickling or importing.

    Never fails: a malformed node (a damaged or hostile file) is shown as the JSON it holds.
    """
    text = _render(node, 0)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _render(node: Any, depth: int) -> str:
    if depth > _MAX_RENDER_DEPTH:
        return "..."
    if type(node) is list:
        return "[" + ", ".join(_render(v, depth + 1) for v in node) + "]"
    if type(node) is not dict:
        return repr(node)
    if not node:
        return "{}"
    first = next(iter(node))
    if not first.startswith("$"):
        return "{" + ", ".join(f"{k!r}: {_render(v, depth + 1)}" for k, v in node.items()) + "}"
    if first not in _TAGS or shape_problem(first, node):
        return repr(node)
    try:
        return _render_tagged(first, node, depth + 1)
    except ValueError:  # a string its type cannot read: float("x"), bad base64
        return repr(node)


def _render_tagged(first: str, node: dict[str, Any], depth: int) -> str:
    value = node[first]
    if first == "$tuple":
        inner = ", ".join(_render(v, depth) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if first in ("$set", "$frozenset"):
        inner = ", ".join(_render(v, depth) for v in value)
        return f"{{{inner}}}" if first == "$set" else f"frozenset({{{inner}}})"
    if first == "$dict":
        return "{" + ", ".join(f"{_render(k, depth)}: {_render(v, depth)}" for k, v in value) + "}"
    if first == "$redacted":
        return "<redacted>"
    if first == "$pickle":
        return f"<{node.get('type')}: {node.get('repr')}>"
    if first == "$enum":
        return f"{value.rpartition(':')[2]}.{node['name']}"
    if first == "$dataclass":
        fields = ", ".join(f"{k}={_render(v, depth)}" for k, v in node["fields"].items())
        return f"{value.rpartition(':')[2]}({fields})"
    if first == "$exception":
        args = ", ".join(_render(a, depth) for a in node["args"])
        return f"{value.rpartition(':')[2]}({args})"
    if first in ("$bytes", "$b64"):
        return repr(_decode_bytes(node))
    if first == "$bytearray":
        return f"bytearray({_render(value, depth)})"
    if first == "$timedelta":
        return "timedelta(" + ", ".join(repr(v) for v in value) + ")"
    if first == "$complex":
        return repr(complex(float(value[0]), float(value[1])))
    return f"{_DISPLAY.get(first, first[1:])}({value!r})"


_DISPLAY = {
    "$decimal": "Decimal",
    "$uuid": "UUID",
    "$datetime": "datetime",
    "$date": "date",
    "$time": "time",
    "$timedelta": "timedelta",
    "$float": "float",
    "$path": "Path",
}
