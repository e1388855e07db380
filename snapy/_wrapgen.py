"""The capture/replay wrapper: a clone of the function whose code is swapped in place.

A `functools.wraps` passthrough (`*args, **kwargs`) adds ~130 ns per call here; even an
exact-signature passthrough adds ~28 ns (one more Python frame), 0.22 of the former on 3.11 and
0.26 on 3.13, over the one fifth that capture-off may cost. So while capture is off the wrapper
is a clone of the function (its code, globals, defaults and closure): a call costs exactly a
bare call. `set_active()` swaps the clone's `__code__` for a generated body with the function's
exact signature and the same number of free variables. A clone's closure cannot be changed, so
that body finds its state in the function's module globals: `__snapy_<n>_skips__` (the sampling
countdown), `__snapy_<n>_fn__` (the function) and the registry `__snapy_wrappers__`, all removed
when the wrapper is collected. It samples with a countdown over `itertools.repeat` (a geometric
draw of how many calls to skip) instead of a `random()` call per call, allocating nothing.
"""

from __future__ import annotations

import functools
import inspect
import itertools
import weakref
from collections.abc import Callable, Iterable
from keyword import iskeyword
from types import CodeType, FunctionType
from typing import Any

from ._signature import signature_of

_P = inspect.Parameter
_PREFIX = "__snapy_"
_REGISTRY = "__snapy_wrappers__"
_keys = itertools.count(1)


def _parameters(sig: inspect.Signature) -> tuple[str, str, str]:
    """(parameter list, call arguments, bound dict literal) as source.

    Defaults are written as `None`: a code object holds no defaults, the clone carries the
    function's own `__defaults__` and `__kwdefaults__`.
    """
    params: list[str] = []
    call: list[str] = []
    bound: list[str] = []
    star_done = False
    previous = None
    for p in sig.parameters.values():
        if p.name.startswith(_PREFIX):
            raise ValueError(f"parameter {p.name!r} uses the prefix snapy reserves")
        if previous is _P.POSITIONAL_ONLY and p.kind is not _P.POSITIONAL_ONLY:
            params.append("/")
        text = p.name
        if p.default is not _P.empty:
            text += "=None"
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
    return ", ".join(params), ", ".join(call), "{" + ", ".join(bound) + "}"


_TEMPLATE = """
def {p}factory():
    {freevars_init}
    {a}def {name}({params}):
        global {skips}
        __tracebackhide__ = True  # pytest shows the caller's line, not this wrapper
        for _ in {skips}:
            return {aw}{fn}({call})
        {p}s = {registry}[{key}]
        {skips} = {p}s.draw()
        return {aw}{p}s.call({p}s.ctl, {bound})
        ({freevars})  # unreachable: gives the body the clone's number of free variables
    return {name}
"""


_PASSTHROUGH = """
def {p}factory():
    def {name}({params}):
        return {fn}({call})
    return {name}
"""


class _State:
    """What the capturing body reads on each call, from the module's registry."""

    __slots__ = ("call", "ctl", "fn")

    def __init__(self, fn: Callable[..., Any], ctl: Any, call: Callable[..., Any]) -> None:
        self.fn = fn
        self.ctl = ctl
        self.call = call

    def draw(self) -> Iterable[None]:
        """The calls to let through before the next capture, from the control's `skip()`."""
        return _skips(self.ctl.skip())


def _skips(count: int) -> Iterable[None]:
    return itertools.repeat(None, count) if count else ()


def _compile(source: str, qualname: str) -> FunctionType:
    namespace: dict[str, Any] = {}
    # compile() refuses a file name holding a NUL, and a __qualname__ may hold one.
    name = qualname.replace("\0", "\\0")
    exec(compile(source, f"<snapy wrapper of {name}>", "exec"), namespace)
    made: FunctionType = namespace[f"{_PREFIX}factory"]()
    return made


def _defaults(sig: inspect.Signature) -> tuple[tuple[Any, ...] | None, dict[str, Any] | None]:
    """`__defaults__` and `__kwdefaults__` that give a generated function `sig`'s defaults."""
    positional = tuple(
        p.default
        for p in sig.parameters.values()
        if p.kind in (_P.POSITIONAL_ONLY, _P.POSITIONAL_OR_KEYWORD) and p.default is not _P.empty
    )
    keyword = {
        p.name: p.default
        for p in sig.parameters.values()
        if p.kind is _P.KEYWORD_ONLY and p.default is not _P.empty
    }
    return positional or None, keyword or None


def _forget(
    namespace: dict[str, Any], registry: dict[int, _State], key: int, names: tuple[str, ...]
) -> None:
    registry.pop(key, None)
    for name in names:
        namespace.pop(name, None)


class GeneratedWrapper:
    """The wrapper function for `fn` plus the means to switch it on and off.

    For a plain Python function the wrapper is a clone running the function's own code, so
    switched off it costs nothing. A generator function (3.13 deprecates swapping a generator's
    code for a plain function's) and a callable without Python code (`open`, `time.time`) get a
    generated passthrough as their off code instead: one Python frame more, only for them.
    """

    def __init__(
        self, fn: Callable[..., Any], ctl: Any, on_call: Callable[..., Any], is_async: bool
    ) -> None:
        sig = signature_of(fn)
        params, call, bound = _parameters(sig)
        name = getattr(fn, "__name__", type(fn).__name__)
        qualname = getattr(fn, "__qualname__", name)
        ident = name
        if not ident.isidentifier() or iskeyword(ident) or ident.startswith(_PREFIX):
            ident = "wrapper"  # `<lambda>`, or a name that would not compile or would clash
        own: CodeType | None = getattr(fn, "__code__", None)
        if inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn):
            own = None
        closure = fn.__closure__ if own is not None else None
        # A built-in has no module globals: its wrapper gets a namespace of its own.
        namespace: dict[str, Any] = getattr(fn, "__globals__", None) or {}
        key = next(_keys)
        self._names = (f"{_PREFIX}{key}_skips__", f"{_PREFIX}{key}_fn__")
        cells = [f"{_PREFIX}v{i}" for i in range(len(closure or ()))]
        source = _TEMPLATE.format(
            p=_PREFIX,
            skips=self._names[0],
            fn=self._names[1],
            name=ident,
            params=params,
            call=call,
            bound=bound,
            key=key,
            registry=_REGISTRY,
            a="async " if is_async else "",
            aw="await " if is_async else "",
            freevars_init=" = ".join([*cells, "None"]) if cells else "pass",
            freevars=", ".join([*cells, ""]),
        )
        body = _compile(source, qualname)
        if len(body.__code__.co_freevars) != len(cells):
            raise AssertionError("the generated body does not match the function's closure")
        if own is not None:
            code = own
            defaults = fn.__defaults__
            kwdefaults = fn.__kwdefaults__
        else:
            off = _PASSTHROUGH.format(
                p=_PREFIX, name=ident, params=params, call=call, fn=self._names[1]
            )
            code = _compile(off, qualname).__code__.replace(co_qualname=qualname)
            defaults, kwdefaults = _defaults(sig)
        clone = FunctionType(code, namespace, name, defaults, closure)
        clone.__kwdefaults__ = dict(kwdefaults) if kwdefaults else None
        functools.update_wrapper(clone, fn)
        self.state = _State(fn, ctl, on_call)
        self._globals = namespace
        registry: dict[int, _State] = namespace.setdefault(_REGISTRY, {})
        registry[key] = self.state
        # The skip countdown and the function are module globals of their own: the fastest
        # lookups a swapped-in body can make (a skipped call at 2.3x a bare call, against 3.0x
        # through the registry dict and 3.4x through a keyword-only default; 3.11 to 3.13).
        namespace[self._names[0]] = ()
        namespace[self._names[1]] = fn
        # Nothing reachable from the module may keep a dropped wrapper alive: the state holds
        # no reference to the clone, and its entries go with it.
        weakref.finalize(clone, _forget, namespace, registry, key, self._names)
        self.function: FunctionType = clone
        self._off = clone.__code__
        self._on = body.__code__.replace(co_name=self._off.co_name, co_qualname=qualname)

    @property
    def active(self) -> bool:
        return self.function.__code__ is self._on

    def set_active(self, active: bool, skip: int = 0) -> None:
        """Swap in the capturing body (letting `skip` calls through first) or the original."""
        if active:
            self._globals[self._names[0]] = _skips(skip)
            self.function.__code__ = self._on
        else:
            self.function.__code__ = self._off
