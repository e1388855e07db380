"""Generated wrappers with the wrapped function's exact signature, and two bodies.

A `functools.wraps` passthrough (`*args, **kwargs`) adds ~130 ns per call here; an
exact-signature passthrough adds ~26 ns, and any extra check on top of it pushes capture-off
past one fifth of the former (measured: 0.17-0.20 without, 0.25 with one flag check). So the
wrapper has no "enabled?" check: it owns two code objects with the same closure layout and
`set_active()` swaps `__code__` between the plain passthrough and the capturing body. The
capturing body samples with a countdown (a geometric draw of how many calls to skip) instead
of a `random()` call per call, which keeps a skipped call near the passthrough cost.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from keyword import iskeyword
from types import CodeType, FunctionType
from typing import Any

_P = inspect.Parameter
_PREFIX = "__snapy_"


def _parameters(sig: inspect.Signature) -> tuple[str, str, str, list[Any]]:
    """(parameter list, call arguments, bound dict literal, default values) as source."""
    params: list[str] = []
    call: list[str] = []
    bound: list[str] = []
    defaults: list[Any] = []
    star_done = False
    previous = None
    for p in sig.parameters.values():
        if p.name.startswith(_PREFIX):
            raise ValueError(f"parameter {p.name!r} uses the prefix snapy reserves")
        if previous is _P.POSITIONAL_ONLY and p.kind is not _P.POSITIONAL_ONLY:
            params.append("/")
        text = p.name
        if p.default is not _P.empty:
            text += f"={_PREFIX}d{len(defaults)}"
            defaults.append(p.default)
        if p.kind is _P.VAR_POSITIONAL:
            params.append("*" + p.name)
            call.append("*" + p.name)
            star_done = True
        elif p.kind is _P.VAR_KEYWORD:
            params.append("**" + p.name)
            call.append("**" + p.name)
        elif p.kind is _P.KEYWORD_ONLY:
            if not star_done:
                params.append("*")
                star_done = True
            params.append(text)
            call.append(f"{p.name}={p.name}")
        else:
            params.append(text)
            call.append(p.name)
        bound.append(f"{p.name!r}: {p.name}")
        previous = p.kind
    if previous is _P.POSITIONAL_ONLY:
        params.append("/")
    return ", ".join(params), ", ".join(call), "{" + ", ".join(bound) + "}", defaults


_TEMPLATE = """
def {p}factory({p}fn, {p}ctl, {p}call{defaults}):
    {p}left = 0
    {a}def {name}({params}):
        return {aw}{p}fn({call})
        ({p}ctl, {p}call, {p}left)
    {a}def {p}capturing({params}):
        nonlocal {p}left
        if {p}left:
            {p}left -= 1
            return {aw}{p}fn({call})
        {p}left = {p}ctl.skip()
        return {aw}{p}call({p}ctl, {bound})
    return {name}, {p}capturing
"""


class GeneratedWrapper:
    """The wrapper function for `fn` plus the means to switch it on and off."""

    def __init__(
        self, fn: Callable[..., Any], ctl: Any, on_call: Callable[..., Any], is_async: bool
    ) -> None:
        sig = inspect.signature(fn)
        params, call, bound, defaults = _parameters(sig)
        name = fn.__name__
        if not name.isidentifier() or iskeyword(name) or name.startswith(_PREFIX):
            name = "wrapper"  # `<lambda>`, or a name that would not compile or would clash
        source = _TEMPLATE.format(
            p=_PREFIX,
            name=name,
            params=params,
            call=call,
            bound=bound,
            a="async " if is_async else "",
            aw="await " if is_async else "",
            defaults="".join(f", {_PREFIX}d{i}" for i in range(len(defaults))),
        )
        namespace: dict[str, Any] = {}
        exec(compile(source, f"<snapy wrapper of {fn.__qualname__}>", "exec"), namespace)
        off, on = namespace[f"{_PREFIX}factory"](fn, ctl, on_call, *defaults)
        if off.__code__.co_freevars != on.__code__.co_freevars:
            raise AssertionError("generated wrapper bodies disagree on their closure")
        functools.update_wrapper(off, fn)
        self.function: FunctionType = off
        self._off: CodeType = off.__code__
        self._on: CodeType = on.__code__.replace(
            co_name=off.__code__.co_name, co_qualname=off.__code__.co_qualname
        )
        self._left = off.__closure__[off.__code__.co_freevars.index(f"{_PREFIX}left")]

    @property
    def active(self) -> bool:
        return self.function.__code__ is self._on

    def set_active(self, active: bool, skip: int = 0) -> None:
        """Swap in the capturing body (skipping `skip` calls first) or the passthrough."""
        if active:
            self._left.cell_contents = skip
            self.function.__code__ = self._on
        else:
            self.function.__code__ = self._off
