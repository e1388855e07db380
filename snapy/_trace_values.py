"""What the tracer keeps of a value: a copy taken when the event happens, redacted and bounded.

Arguments, return values, yielded values and exceptions are frozen at event time, so a later
mutation does not change the trace: plain containers are copied, secrets are replaced by
`Redacted` (argument names, mapping keys and attribute names, as for captures), dataclasses and
objects without a repr of their own become `ObjectState` (their public attributes), anything
else becomes `ReprText` (its repr without memory addresses). At most about `max_repr` items are
copied per value, since the text of a value is cut at `max_repr` characters anyway.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import fractions
import gc
import os
import types
import uuid
from collections.abc import Iterable, Mapping
from pathlib import PurePath
from typing import Any

from ._plain import short_repr
from ._redact import ArgumentFilter, Redacted, Redactor

# Hashes redacted values so that equal secrets compare equal within a process; the text of a
# trace shows `<redacted>` only, so the key never needs to be the same elsewhere.
_KEY = os.urandom(32)
_MAX_DEPTH = 8
_SCALARS = frozenset(
    {type(None), bool, int, float, complex, decimal.Decimal, fractions.Fraction, range}
    | {dt.datetime, dt.date, dt.time, dt.timedelta, dt.timezone, uuid.UUID, Redacted}
)
_WRAPPED = "async_generator_wrapped_value"
_SUSPENDABLE = (types.GeneratorType, types.CoroutineType, types.AsyncGeneratorType)
_SNAPY = os.path.dirname(os.path.abspath(__file__)) + os.sep


class ReprText:
    """A value shown by its text (an object's repr, or a cut marker)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ReprText) and other.text == self.text

    def __hash__(self) -> int:
        return hash(("ReprText", self.text))


MORE = ReprText("...")


@dataclasses.dataclass(frozen=True)
class ObjectState:
    """An object shown by its public attributes: `Order(id=1, total=9.5)`."""

    type_name: str
    fields: dict[str, Any]

    def __repr__(self) -> str:
        return render(self, 10**9)

    def __hash__(self) -> int:
        return hash((self.type_name, render(self, 10**9)))


@dataclasses.dataclass(frozen=True)
class TracedException:
    """An exception as it was raised: its class and its (frozen) arguments."""

    type: type[BaseException]
    args: tuple[Any, ...]

    def __repr__(self) -> str:
        return render(self, 10**9)


@dataclasses.dataclass(frozen=True)
class GeneratorResult:
    """What a generator produced: the values it yielded, then what it returned.

    `exhausted` is False for a generator that was closed or left suspended before its end.
    """

    yielded: tuple[Any, ...]
    returned: Any = None
    exhausted: bool = True

    def __repr__(self) -> str:
        return render(self, 10**9)


class Freezer:
    """Copies, redacts and bounds values for a trace."""

    def __init__(self, argument_filter: ArgumentFilter, max_repr: int) -> None:
        self.filter = argument_filter
        self.max_repr = max_repr
        self.redactor = Redactor(argument_filter, _KEY)

    def arguments(self, names: Iterable[str], values: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in names:
            try:
                value = values[name]
            except KeyError:  # deleted before the event, or not bound yet
                continue
            try:
                keep = self.filter.should_capture(name, value)
            except Exception:  # a filter that fails hides the value; the call goes on
                keep = False
            out[name] = self.value(value) if keep else self.redacted(value)
        return out

    def plan(self, names: Iterable[str]) -> tuple[tuple[str, bool], ...] | None:
        """(name, hidden) per argument, decided once per function; None if values decide.

        Only a filter that overrides `should_capture` looks at values; the default one
        decides by name, so the decision can be kept (~200 ns a call saved, measured here).
        """
        if type(self.filter).should_capture is not ArgumentFilter.should_capture:
            return None
        return tuple((name, self.filter.is_sensitive(name)) for name in names)

    def planned(
        self, plan: tuple[tuple[str, bool], ...], values: Mapping[str, Any]
    ) -> tuple[Any, ...]:
        """The arguments' frozen values, in `plan` order (`UNBOUND` where there is none).

        A tuple, not a dict: CPython stops tracking a tuple of plain values in the garbage
        collector, and a trace holds one per call (collections rescanned every one of them).
        """
        out: list[Any] = []
        for name, hidden in plan:
            try:
                value = values[name]
            except KeyError:
                out.append(UNBOUND)
                continue
            if hidden:
                out.append(self.redacted(value))
            else:
                out.append(self.value(value))
        return tuple(out)

    def redacted(self, value: Any) -> Redacted:
        try:
            return Redacted(self.redactor.digest(value))
        except Exception:  # a value the canonical form cannot handle is still hidden
            return Redacted("")

    def value(self, value: Any) -> Any:
        kind = type(value)
        try:
            if kind in _SCALARS:
                return value
        except TypeError:  # a class whose metaclass is unhashable: frozen below
            pass
        if kind is str or kind is bytes:
            return value if len(value) <= self.max_repr else value[: self.max_repr + 1]
        try:
            return self._freeze(value, [self.max_repr], 0, set())
        except Exception:  # a half-built object (an __init__ just called): never fail the call
            return ReprText(f"<{kind.__qualname__} object>")

    def exception(self, exc: BaseException | None) -> TracedException:
        if exc is None:
            return TracedException(BaseException, ())
        try:
            return TracedException(type(exc), tuple(self.value(a) for a in exc.args))
        except Exception:  # exc.args is not a tuple, or a broken argument
            return TracedException(type(exc), ())

    def yielded(self, value: Any, async_generator: bool) -> Any:
        """The result an (async) generator yielded; `NOT_A_RESULT` for an `await`'s yield."""
        if not async_generator:
            return self.value(value)
        if type(value).__name__ != _WRAPPED:
            return NOT_A_RESULT
        inner = gc.get_referents(value)  # the wrapper has no Python API; it holds one value
        return self.value(inner[0]) if len(inner) == 1 else ReprText("<unknown>")

    def _item(self, value: Any, budget: list[int], depth: int, seen: set[int]) -> Any:
        kind = type(value)
        try:
            if kind in _SCALARS:
                return value
        except TypeError:  # a class whose metaclass is unhashable: frozen below
            pass
        if kind is str or kind is bytes:
            return value if len(value) <= self.max_repr else value[: self.max_repr + 1]
        return self._freeze(value, budget, depth, seen)

    def _freeze(self, value: Any, budget: list[int], depth: int, seen: set[int]) -> Any:
        budget[0] -= 1
        if budget[0] < 0 or depth > _MAX_DEPTH or id(value) in seen:
            return MORE
        kind = type(value)
        if isinstance(value, (enum.Enum, PurePath)):
            return value
        seen.add(id(value))
        try:
            if kind is list or kind is tuple:
                return kind(self._items(value, budget, depth, seen))
            if isinstance(value, dict):
                return self._mapping(value, budget, depth, seen)
            if kind is set or kind is frozenset:
                items = self._items(value, budget, depth, seen)
                try:
                    return kind(items)
                except TypeError:  # an item that froze into something unhashable
                    return ReprText(render(items, self.max_repr))
            if isinstance(value, BaseException):
                args = tuple(self._items(value.args, budget, depth, seen))
                return TracedException(type(value), args)
            if isinstance(value, tuple) and hasattr(kind, "_fields"):  # a namedtuple
                state = value._asdict()  # type: ignore[attr-defined]
                return ObjectState(kind.__qualname__, self._mapping(state, budget, depth, seen))
            if isinstance(value, _SUSPENDABLE) and _made_by_snapy(value):
                # A replayed generator: made by snapy's replay internals, in one place while
                # recording and another while replaying; its name would differ between both.
                return ReprText(f"<{kind.__name__} object>")
            state = _public_state(value)
            if state is not None:
                return ObjectState(kind.__qualname__, self._mapping(state, budget, depth, seen))
            return ReprText(_cut(short_repr(self.redactor.value(value)), self.max_repr))
        finally:
            seen.discard(id(value))

    def _items(
        self, value: Iterable[Any], budget: list[int], depth: int, seen: set[int]
    ) -> list[Any]:
        out: list[Any] = []
        for item in value:
            if budget[0] <= 0:
                out.append(MORE)
                break
            budget[0] -= 1
            out.append(self._item(item, budget, depth + 1, seen))
        return out

    def _mapping(
        self, value: Mapping[Any, Any], budget: list[int], depth: int, seen: set[int]
    ) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        for key, item in value.items():
            if budget[0] <= 0:
                out[MORE] = MORE
                break
            budget[0] -= 1
            if isinstance(key, str) and self.filter.is_sensitive(key):
                out[key] = self.redacted(item)
            else:
                out[self._item(key, budget, depth + 1, seen)] = self._item(
                    item, budget, depth + 1, seen
                )
        return out


NOT_A_RESULT = ReprText("<not a result>")
UNBOUND = ReprText("<unbound>")


def _made_by_snapy(value: Any) -> bool:
    code = getattr(value, "gi_code", None) or getattr(value, "cr_code", None)
    code = code or getattr(value, "ag_code", None)
    return isinstance(code, types.CodeType) and code.co_filename.startswith(_SNAPY)


def _public_state(value: Any) -> dict[str, Any] | None:
    """The attributes a dataclass, or an object with the default repr, is shown by."""
    kind = type(value)
    if isinstance(value, type):
        return None
    if dataclasses.is_dataclass(value):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value) if f.repr}
    own_repr: Any = kind.__repr__
    if own_repr is object.__repr__:
        state = getattr(value, "__dict__", None)
        if isinstance(state, dict):
            return {k: v for k, v in state.items() if isinstance(k, str) and k[:1] != "_"}
    return None


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 3, 0)] + "..."


def render(value: Any, limit: int) -> str:
    """The text of a frozen value, at most `limit` characters."""
    return _cut(_render(value), limit)


def _render(value: Any) -> str:
    kind = type(value)
    if kind is list:
        return "[" + ", ".join(_render(v) for v in value) + "]"
    if kind is tuple:
        inner = ", ".join(_render(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if kind is dict:
        entries = ("..." if k is MORE else f"{_render(k)}: {_render(v)}" for k, v in value.items())
        return "{" + ", ".join(entries) + "}"
    if kind is set or kind is frozenset:
        if not value:
            return "set()" if kind is set else "frozenset()"
        inner = "{" + ", ".join(sorted(_render(v) for v in value)) + "}"
        return inner if kind is set else f"frozenset({inner})"
    if kind is ObjectState:
        fields = ", ".join(f"{k}={_render(v)}" for k, v in value.fields.items())
        return f"{value.type_name}({fields})"
    if kind is TracedException:
        return f"{value.type.__qualname__}({', '.join(_render(a) for a in value.args)})"
    if kind is GeneratorResult:
        text = "yields [" + ", ".join(_render(v) for v in value.yielded) + "]"
        if value.returned is not None:
            text += f", returns {_render(value.returned)}"
        return text if value.exhausted else text + " (not exhausted)"
    if isinstance(value, ReprText):
        return value.text
    try:
        if kind in _SCALARS or kind is str or kind is bytes:
            return repr(value)
    except TypeError:  # a class whose metaclass is unhashable
        pass
    return short_repr(value)
