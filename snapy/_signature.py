"""Argument keys: blake2b-128 over a type-tagged canonical form, never over pickle bytes.

Equal values pickle differently (dict order, memo identity, set order under PYTHONHASHSEED), so
the key is computed from a canonical form: dicts and sets sorted, floats by `float.hex`, enums by
name, dataclasses by field, other objects by (module, qualname, state), cycles marked, never a
memory address. Arguments are bound with `inspect.signature` first, so `f(1, b=2)` and
`f(1, 2)` agree and defaults count.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import hashlib
import inspect
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_P = inspect.Parameter


def canonical(value: Any) -> bytes:
    """The canonical bytes of `value`: equal for equal plain values in any process."""
    out: list[str] = []
    _canon(value, out, {})
    return "".join(out).encode("utf-8", "surrogatepass")


def argument_key(target: str, arguments: Mapping[str, Any]) -> str:
    """The key of one call of `target` (`module.qualname`) with bound `arguments`."""
    out: list[str] = ["K", str(len(target)), ":", target]
    seen: dict[int, int] = {}
    for name in sorted(arguments):
        out.append(f"a{len(name)}:{name}")
        _canon(arguments[name], out, seen)
    data = "".join(out).encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _qual(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _canon(value: Any, out: list[str], seen: dict[int, int]) -> None:
    kind = type(value)
    if value is None:
        out.append("N")
    elif kind is bool:
        out.append("T" if value else "F")
    elif kind is int:
        out.append(f"i{value};")
    elif kind is float:
        out.append(f"f{value.hex()};")
    elif kind is str:
        out.append(f"s{len(value)}:{value}")
    elif kind is bytes or kind is bytearray:
        out.append(f"{'b' if kind is bytes else 'B'}{len(value)}:{value.hex()}")
    elif kind in (list, tuple, dict, set, frozenset) or isinstance(value, Mapping):
        _container(value, out, seen)
    elif isinstance(value, enum.Enum):
        out.append(f"E{_qual(kind)}.{value.name};")
    elif kind in (dt.datetime, dt.date, dt.time):
        out.append(f"D{kind.__name__}:{value.isoformat()}|{getattr(value, 'tzinfo', None)!s};")
    elif kind is dt.timedelta or kind is decimal.Decimal or kind is uuid.UUID:
        out.append(f"V{kind.__name__}:{value!s};")
    elif isinstance(value, type):
        out.append(f"t{_qual(value)};")
    elif inspect.isroutine(value):
        out.append(f"r{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', '')};")
    else:
        _object(value, out, seen)


def _container(value: Any, out: list[str], seen: dict[int, int]) -> None:
    ident = id(value)
    if ident in seen:
        out.append(f"@{seen[ident]};")
        return
    seen[ident] = len(seen)
    kind = type(value)
    try:
        if kind is list or kind is tuple:
            out.append(f"{'L' if kind is list else 'U'}{len(value)}[")
            for item in value:
                _canon(item, out, seen)
            out.append("]")
        elif kind is set or kind is frozenset:
            out.append(f"{'S' if kind is set else 'Z'}{len(value)}[")
            out.extend(sorted(_piece(item, seen) for item in value))
            out.append("]")
        else:
            tag = "M" if kind is dict else f"M{_qual(kind)}"
            out.append(f"{tag}{len(value)}[")
            out.extend(sorted(_piece(k, seen) + _piece(v, seen) for k, v in value.items()))
            out.append("]")
    finally:
        del seen[ident]


def _piece(value: Any, seen: dict[int, int]) -> str:
    out: list[str] = []
    _canon(value, out, seen)
    text = "".join(out)
    return f"{len(text)}:{text}"


def _object(value: Any, out: list[str], seen: dict[int, int]) -> None:
    ident = id(value)
    if ident in seen:
        out.append(f"@{seen[ident]};")
        return
    out.append(f"O{_qual(type(value))}(")
    if dataclasses.is_dataclass(value):
        state: Any = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    else:
        state = _state(value)
    seen[ident] = len(seen)
    try:
        _canon(state, out, seen)
    finally:
        del seen[ident]
    out.append(")")


def _state(value: Any) -> Any:
    """What identifies an object's value: its reduce arguments and state, or a cleaned repr."""
    if isinstance(value, BaseException):
        return (value.args, {k: v for k, v in vars(value).items() if not k.startswith("__")})
    try:
        reduced = value.__reduce_ex__(4)
    except Exception:
        reduced = None
    if isinstance(reduced, tuple) and len(reduced) >= 2:
        args = reduced[1]
        if reduced[0].__name__ == "__newobj__" and args:
            args = args[1:]
        state = reduced[2] if len(reduced) > 2 else None
        items = list(reduced[3]) if len(reduced) > 3 and reduced[3] is not None else None
        pairs = dict(reduced[4]) if len(reduced) > 4 and reduced[4] is not None else None
        return (args, state, items, pairs)
    return _ADDRESS.sub("", repr(value))


def signature_of(fn: Callable[..., Any]) -> inspect.Signature:
    """`fn`'s signature; `(*args, **kwargs)` for a built-in that declares none (`time.time`
    on 3.11)."""
    try:
        return inspect.signature(fn)
    except ValueError:
        return inspect.Signature([_P("args", _P.VAR_POSITIONAL), _P("kwargs", _P.VAR_KEYWORD)])


class CallShape:
    """How a function takes its arguments: binds calls and rebuilds `(args, kwargs)`."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.signature = signature_of(fn)
        params = list(self.signature.parameters.values())
        self.names = [p.name for p in params]
        self.positional = [
            p.name for p in params if p.kind in (_P.POSITIONAL_ONLY, _P.POSITIONAL_OR_KEYWORD)
        ]
        self.keyword = [p.name for p in params if p.kind is _P.KEYWORD_ONLY]
        self.var_positional = next((p.name for p in params if p.kind is _P.VAR_POSITIONAL), None)
        self.var_keyword = next((p.name for p in params if p.kind is _P.VAR_KEYWORD), None)
        self.params = params

    def kinds(self) -> dict[str, str]:
        """Parameter kinds other than positional-or-keyword, as stored in bundles."""
        marks = {
            _P.POSITIONAL_ONLY: "/",
            _P.VAR_POSITIONAL: "*",
            _P.KEYWORD_ONLY: "kw",
            _P.VAR_KEYWORD: "**",
        }
        return {p.name: marks[p.kind] for p in self.params if p.kind in marks}

    def bind(self, args: Iterable[Any], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """Every parameter's value for this call, defaults applied."""
        bound = self.signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return dict(bound.arguments)

    @staticmethod
    def split(
        arguments: Mapping[str, Any], kinds: Mapping[str, str]
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """`(args, kwargs)` that call a function with these bound `arguments` again."""
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        for name, value in arguments.items():
            kind = kinds.get(name)
            if kind is None or kind == "/":
                args.append(value)
            elif kind == "*":
                args.extend(value)
            elif kind == "kw":
                kwargs[name] = value
            else:
                kwargs.update(value)
        return tuple(args), kwargs
