"""One stored call: what a loader returns, and what a writer is handed."""

from __future__ import annotations

import datetime as dt
import importlib
import inspect
import json
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._envelope import sealed_summary
from ._errors import CorruptFileError, SnapyError
from ._paths import split_target
from ._plain import check, render, short_repr
from ._redact import Redacted
from ._signature import CallShape

_P = inspect.Parameter


def iso(time_ns: int) -> str:
    """A UTC ISO-8601 time, to the microsecond, from nanoseconds since the epoch."""
    return dt.datetime.fromtimestamp(time_ns / 1e9, dt.UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class Target:
    """A function by module and qualified name."""

    module: str
    qualname: str

    @property
    def name(self) -> str:
        return f"{self.module}.{self.qualname}"

    @classmethod
    def of(cls, fn: Callable[..., Any]) -> Target:
        return cls(getattr(fn, "__module__", None) or "__main__", fn.__qualname__)


@dataclass
class PendingBundle:
    """A call ready to be written: its values are already encoded (JSON text)."""

    target: Target
    key: str
    time_ns: int
    seq: str
    arguments: Any
    arguments_json: str
    kinds: Mapping[str, str]
    outcome: str
    value: Any
    value_json: str
    meta: dict[str, Any]

    @property
    def filename(self) -> str:
        return f"{self.time_ns:020d}-{self.seq}-{self.key}.bundle"

    def payload(self) -> bytes:
        head = {"target": self.target.name, "key": self.key, "kinds": self.kinds}
        # The readable time is made here, on the writer's thread, not on the captured call.
        meta = {"time_ns": self.time_ns, "time": iso(self.time_ns), **self.meta}
        text = (
            json.dumps(head, ensure_ascii=False)[:-1]
            + f', "arguments": {self.arguments_json}, "outcome": "{self.outcome}", '
            f'"value": {self.value_json}, "meta": {json.dumps(meta, ensure_ascii=False)}}}'
        )
        return text.encode("utf-8", "surrogatepass")

    def summary(self) -> str:
        """A short readable line for the index: `fn(a=1) -> 2`."""
        sealed = sealed_summary(self.target.qualname, self.arguments, self.outcome)
        if sealed is not None:  # the index is not encrypted: it must not show the values
            return sealed
        args = ", ".join(f"{k}={render(v, 60)}" for k, v in self.arguments.items())
        if self.outcome == "exception":
            end = f" raised {render(self.value, 80)}"
        elif self.outcome == "result":
            end = f" -> {render(self.value, 80)}"
        else:  # minimal capture or a generator: only the type was stored
            kind = self.value.get("type") if isinstance(self.value, dict) else None
            end = f" -> <{self.outcome}: {kind}>" if kind else f" -> <{self.outcome}>"
        text = f"{self.target.qualname}({args}){end}"
        return text if len(text) <= 240 else text[:237] + "..."


#: The fields of a stored call and their JSON types; the optional ones are checked if present.
_FIELDS: Mapping[str, type] = {"target": str, "key": str, "arguments": dict, "outcome": str}
_OPTIONAL: Mapping[str, type] = {
    "kinds": dict,
    "meta": dict,
    "mutations": dict,
    "test": str,
    "signature": str,
}
_JSON_TYPES = {dict: "an object", list: "a list", str: "a string", int: "a number"}


def check_body(body: Mapping[str, Any], path: Path) -> None:
    """Raise `CorruptFileError` naming `path` unless `body` is a well-formed stored call.

    Checks each field's type and the shape of every stored value (arguments, value, mutations)
    without unpickling or importing anything, so what shows, diffs or replays the call can
    rely on them.
    """
    for name, kind in (*_FIELDS.items(), *_OPTIONAL.items()):
        if name not in body:
            if name in _FIELDS:
                raise CorruptFileError(path, f"payload is not a snapy bundle ({name!r} missing)")
            continue
        if type(body[name]) is not kind:
            found = _JSON_TYPES.get(type(body[name]), type(body[name]).__name__)
            raise CorruptFileError(
                path, f"payload field {name!r} is {found}, not {_JSON_TYPES[kind]}"
            )
    if "value" not in body:
        raise CorruptFileError(path, "payload is not a snapy bundle ('value' missing)")
    if not all(type(v) is str for v in body.get("kinds", {}).values()):
        raise CorruptFileError(path, "payload field 'kinds' holds a value that is not a string")
    values = [("value", body["value"])]
    for field_name in ("arguments", "mutations"):
        values += [(f"{field_name}[{k!r}]", v) for k, v in body.get(field_name, {}).items()]
    for where, node in values:
        try:
            check(node)
        except ValueError as exc:
            raise CorruptFileError(path, f"stored value {where} is malformed: {exc}") from None


@dataclass
class Capture:
    """One stored call of a function, loaded back: arguments, outcome and metadata."""

    target: str
    arguments: dict[str, Any]
    kinds: dict[str, str]
    outcome: str
    result: Any
    exception: BaseException | None
    key: str
    meta: dict[str, Any]
    path: Path
    args: tuple[Any, ...] = field(init=False)
    kwargs: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.args, self.kwargs = CallShape.split(self.arguments, self.kinds)

    @property
    def time(self) -> dt.datetime:
        """When the call was captured (UTC)."""
        return dt.datetime.fromtimestamp(self.meta["time_ns"] / 1e9, dt.UTC)

    def replay(self, fn: Callable[..., Any] | None = None, /, **overrides: Any) -> Any:
        """Call `fn` (default: the function now at the captured import path) with these arguments.

        `overrides` replace arguments by parameter name, e.g. a redacted password or an
        argument left out with `ignore_args`. A function decorated with `@snapy.capture` is
        called undecorated, so replaying does not capture again.
        """
        if fn is None:
            fn = _resolve(self.target)
        fn = _undecorated(fn)
        shape = _shape(fn)
        names = shape.names if shape is not None else []
        unknown = [name for name in overrides if name not in self.arguments and name not in names]
        if unknown:
            raise TypeError(
                f"replay() of {self.target!r} got overrides for unknown parameters {unknown!r}; "
                f"the captured call has {list(self.arguments)!r}"
            )
        arguments = {**self.arguments, **overrides}
        if shape is not None and all(name in names for name in arguments):
            args, kwargs = _call_of(shape, arguments)
        else:  # another function with other parameter names: rebuild the call by position
            args, kwargs = CallShape.split(arguments, self.kinds)
        return fn(*args, **kwargs)

    def outcome_of_replay(self, fn: Callable[..., Any] | None = None, /, **overrides: Any) -> Any:
        """What replaying returns now, or `{"raised": type, "args": args}` when it raises:
        a value to compare with a snapshot."""
        try:
            return self.replay(fn, **overrides)
        except Exception as exc:
            return {"raised": f"{type(exc).__module__}.{type(exc).__qualname__}", "args": exc.args}

    def assert_replays(self, fn: Callable[..., Any] | None = None, /, **overrides: Any) -> Any:
        """Replay and check the outcome is the captured one; returns the result.

        The result must equal the captured result (parts stored redacted match anything), or
        the raised exception must have the captured type and arguments.
        """
        __tracebackhide__ = True
        if self.outcome not in ("result", "exception"):
            raise SnapyError(
                f"capture {self.key} of {self.target} stored only {self.outcome!r}, not a value "
                "to compare; compare with a snapshot instead (snapshot=True)"
            )
        where = f"replaying capture {self.key} of {self.target}"
        try:
            result = self.replay(fn, **overrides)
        except Exception as exc:
            expected = self.exception
            if expected is None:
                raise AssertionError(
                    f"{where} raised {exc!r}; the captured call returned {short_repr(self.result)}"
                ) from exc
            if type(exc) is not type(expected) or exc.args != expected.args:
                raise AssertionError(
                    f"{where} raised {exc!r}; the captured call raised {expected!r}"
                ) from exc
            return exc
        if self.exception is not None:
            raise AssertionError(
                f"{where} returned {short_repr(result)}; the captured call raised "
                f"{self.exception!r}"
            )
        if _masked(self.result, result) != self.result:
            from ._miss import argument_differences

            lines = argument_differences({"result": self.result}, {"result": result})
            raise AssertionError(
                f"{where} returned another result (captured -> now):\n  " + "\n  ".join(lines)
            )
        return result


def _masked(expected: Any, actual: Any) -> Any:
    """`actual` with the parts that `expected` holds redacted taken from `expected`."""
    if isinstance(expected, Redacted):
        return expected
    if isinstance(expected, dict) and isinstance(actual, dict):
        return {k: _masked(expected[k], v) if k in expected else v for k, v in actual.items()}
    if isinstance(expected, list | tuple) and type(actual) is type(expected):
        items = [_masked(e, a) for e, a in zip(expected, actual, strict=False)]
        return type(actual)([*items, *actual[len(items) :]])
    return actual


def _undecorated(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn` without `@snapy.capture`; a bound method stays bound to its instance or class."""
    inner = getattr(fn, "__snapy_unwrapped__", None)
    if inner is None:
        return fn
    if inspect.ismethod(fn):
        return types.MethodType(inner, fn.__self__)
    return inner  # type: ignore[no-any-return]


def _shape(fn: Callable[..., Any]) -> CallShape | None:
    try:
        return CallShape(fn)
    except (TypeError, ValueError):
        return None


def _call_of(
    shape: CallShape, arguments: Mapping[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """`(args, kwargs)` that call a function of this `shape` with `arguments` by name.

    An argument left out with `ignore_args` leaves a gap: the parameters after it go by name, so
    none of them lands in the missing one's place.
    """
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    gap = False
    for p in shape.params:
        if p.name not in arguments:
            gap = gap or p.kind in (_P.POSITIONAL_ONLY, _P.POSITIONAL_OR_KEYWORD)
            continue
        value = arguments[p.name]
        if p.kind is _P.VAR_POSITIONAL:
            args.extend(value)
        elif p.kind is _P.VAR_KEYWORD:
            kwargs.update(value)
        elif p.kind is _P.KEYWORD_ONLY or (gap and p.kind is _P.POSITIONAL_OR_KEYWORD):
            kwargs[p.name] = value
        else:
            args.append(value)
    return tuple(args), kwargs


def _resolve(target: str) -> Callable[..., Any]:
    errors = []
    for module, qualname in split_target(target):
        try:
            obj: Any = importlib.import_module(module)
        except ImportError as exc:
            errors.append(str(exc))
            continue
        try:
            for part in qualname.split("."):
                obj = getattr(obj, part)
        except AttributeError as exc:
            errors.append(str(exc))
            continue
        if callable(obj):
            return obj  # type: ignore[no-any-return]
    raise LookupError(
        f"cannot import {target!r} to replay it ({'; '.join(errors) or 'not callable'}); "
        "pass the function: capture.replay(fn)"
    )
