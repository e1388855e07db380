"""One stored call: what a loader returns, and what a writer is handed."""

from __future__ import annotations

import datetime as dt
import importlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._paths import split_target
from ._plain import render
from ._signature import CallShape


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
        text = (
            json.dumps(head, ensure_ascii=False)[:-1]
            + f', "arguments": {self.arguments_json}, "outcome": "{self.outcome}", '
            f'"value": {self.value_json}, "meta": {json.dumps(self.meta, ensure_ascii=False)}}}'
        )
        return text.encode("utf-8", "surrogatepass")

    def summary(self) -> str:
        """A short readable line for the index: `fn(a=1) -> 2`."""
        args = ", ".join(f"{k}={render(v, 60)}" for k, v in self.arguments.items())
        if self.outcome == "exception":
            end = f" raised {render(self.value, 80)}"
        elif self.outcome == "result":
            end = f" -> {render(self.value, 80)}"
        else:
            end = f" -> <{self.outcome}>"
        text = f"{self.target.qualname}({args}){end}"
        return text if len(text) <= 240 else text[:237] + "..."


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
        fn = getattr(fn, "__snapy_unwrapped__", fn)
        unknown = [name for name in overrides if name not in self.arguments and name not in
                   _parameters(fn)]
        if unknown:
            raise TypeError(
                f"replay() of {self.target!r} got overrides for unknown parameters {unknown!r}; "
                f"the captured call has {list(self.arguments)!r}"
            )
        arguments = {**self.arguments, **overrides}
        args, kwargs = CallShape.split(arguments, self.kinds)
        return fn(*args, **kwargs)


def _parameters(fn: Callable[..., Any]) -> list[str]:
    try:
        return CallShape(fn).names
    except (TypeError, ValueError):
        return []


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
