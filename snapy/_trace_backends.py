"""How the tracer hears about calls: `sys.monitoring` on 3.12+, `sys.settrace` on 3.11.

Callbacks append one raw record to a plain list and do nothing else on the hot path: measured
here, each extra operation in a callback (a dict lookup, a tuple, a thread check) costs 20-50 ns,
against viztracer's ~95-160 ns per call. `_trace_build` turns the records into events later:

    a code object            a call of matching code started (arguments not captured)
    (code, args)             the same, with its frozen arguments: a tuple in the order of the
                             function's parameters (redacted, `UNBOUND` where there is none)
    {CALL: code, ...}        the same, with its arguments by reference: a copy of the frame's
                             locals that holds only immutable values (`KEEP`, short strings),
                             redacted when the trace is built. One untracked object: a tuple
                             holding a dict is never untracked by the garbage collector, and
                             collections would rescan every record (~100 ns a call here)
    (RAISE, exc)             the innermost open call ended with an exception
    (YIELD, frame, value)    the innermost open call (a generator or coroutine) suspended
    (RESUME, frame)          a suspended generator or coroutine went on
    anything else            the innermost open call returned this (frozen) value

Records are tuples or dicts, not objects (~60 ns against ~240 ns to make one here). They cannot
be mistaken for a returned value: a frozen value never holds a code object or a marker.

A segment whose `tagged` is set holds `(thread ident, record)` pairs instead: records from
several threads, taken when more than one thread runs (a thread check per event costs ~85 ns).

Calls made from snapy's replay internals (`_replay._sync_call`/`_async_call`, the "guards") are
left out with everything below them: recording a side effect runs the real function there,
replaying does not, and a trace must read the same either way (issue 5).
"""

from __future__ import annotations

import _thread
import datetime as dt
import decimal
import fnmatch
import fractions
import os
import re
import sys
import threading
import types
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ._redact import ArgumentFilter
from ._trace_values import NOT_A_RESULT, UNBOUND, Freezer

FUNCTION, GENERATOR, COROUTINE, ASYNC_GENERATOR, GUARD = (
    "function",
    "generator",
    "coroutine",
    "async generator",
    "guard",
)
# Not calls a reader wrote: comprehensions are inlined on 3.12 (PEP 709) but frames on 3.11, so
# recording them would make one trace differ between versions.
_NOT_CALLS = frozenset({"<module>", "<listcomp>", "<dictcomp>", "<setcomp>", "<genexpr>"})
MISSING: Any = object()
# Immutable values of a fixed, small size: recorded by reference, never copied. Anything else is
# frozen when the event happens (mutable values must not change the trace later; long strings
# are cut so that a trace does not keep large texts alive).
KEEP = frozenset(
    {type(None), bool, int, float, complex, decimal.Decimal, fractions.Fraction}
    | {dt.datetime, dt.date, dt.time, dt.timedelta, dt.timezone, uuid.UUID}
)
GUARD_MODULE = "snapy._replay"


def guard_codes() -> dict[int, types.CodeType]:
    """The code of snapy's replay internals, by id: what runs below them is not recorded."""
    from . import _replay  # imported late: _replay is a heavy import and needs no tracer

    return {id(fn.__code__): fn.__code__ for fn in (_replay._sync_call, _replay._async_call)}


class CodeInfo:
    """What the tracer knows of one matching code object."""

    __slots__ = (
        "argnames",
        "code",
        "first_resume",
        "hidden",
        "kind",
        "module",
        "plan",
        "qualname",
    )

    def __init__(self, code: types.CodeType, module: str) -> None:
        self.code = code
        self.module = module
        self.qualname = code.co_qualname
        flags = code.co_flags
        if flags & 0x200:  # CO_ASYNC_GENERATOR
            self.kind = ASYNC_GENERATOR
        elif flags & (0x80 | 0x100):  # CO_COROUTINE, CO_ITERABLE_COROUTINE
            self.kind = COROUTINE
        elif flags & 0x20:  # CO_GENERATOR
            self.kind = GENERATOR
        else:
            self.kind = FUNCTION
        count = code.co_argcount + code.co_kwonlyargcount
        count += bool(flags & 0x04) + bool(flags & 0x08)  # *args, **kwargs
        self.argnames = code.co_varnames[:count]
        self.first_resume = _first_resume(code)
        self.plan: tuple[tuple[str, bool], ...] | None = None  # see Freezer.plan
        self.hidden: frozenset[str] | None = None  # redacted names, when the trace is built


def _first_resume(code: types.CodeType) -> int:
    """Offset of the first RESUME: a 3.11 'call' event past it is a generator going on."""
    resume = OPCODES.get("RESUME", -1)
    raw = code.co_code
    for offset in range(0, len(raw), 2):
        if raw[offset] == resume:
            return offset
    return 0


def _opcodes() -> dict[str, int]:
    import dis

    return dict(dis.opmap)


OPCODES = _opcodes()


class _Marker:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


RAISE, YIELD, RESUME = _Marker("RAISE"), _Marker("YIELD"), _Marker("RESUME")
# The key of the code in a by-reference record: a string (a key of another type makes the
# dict rebuild its table, ~170 ns here) that no parameter can be named.
CALL = "<call>"


class Segment:
    """Raw records of one thread (or, `tagged`, of several), for one start/stop session."""

    __slots__ = ("end", "limit", "log", "session", "tagged", "thread")

    def __init__(self, session: int, thread: int, tagged: bool, limit: int) -> None:
        self.log: list[Any] = []
        self.session = session
        self.thread = thread
        self.tagged = tagged
        self.limit = limit  # what is left of max_events when the segment starts
        self.end: int | None = None  # records past `end` came after stop() or the limit

    def close(self) -> None:
        if self.end is None:
            self.end = len(self.log)


def compile_filter(patterns: Iterable[str]) -> re.Pattern[str]:
    """One regex for module globs; `pkg.*` also matches `pkg` itself."""
    parts = []
    for pattern in patterns:
        parts.append(fnmatch.translate(pattern))
        if pattern.endswith(".*"):
            parts.append(fnmatch.translate(pattern[:-2]))
    return re.compile("|".join(parts))


class TraceState:
    """What a tracer and its backend share: the filter, the freezer and the raw records."""

    def __init__(
        self,
        patterns: Iterable[str],
        freezer: Freezer,
        *,
        capture_args: bool,
        capture_returns: bool,
        limit: int,
        threads: bool,
    ) -> None:
        self.pattern = compile_filter(patterns)
        self.freezer = freezer
        self.capture_args = capture_args
        self.capture_returns = capture_returns
        self.limit = limit
        self.threads = threads
        # Only a filter that decides by name lets arguments be taken by reference (a filter
        # that looks at values decides each call when the event happens).
        self.by_reference = type(freezer.filter).should_capture is ArgumentFilter.should_capture
        # Keyed by id(code), never by the code: code objects with the same source compare
        # equal across files. Every code seen stays referenced here, so no id is reused.
        self.infos: dict[int, CodeInfo | None] = {}
        self.plain: set[int] = set()  # ids of the plain functions among them (the fast path)
        self.guards = guard_codes()
        self.modules: dict[str, bool | None] = {}  # module name -> may be recorded
        self._seen: list[types.CodeType] = []
        self.segments: list[Segment] = []
        self.session = 0
        self.owner = 0
        self.recording = False
        self.truncated = False
        self.on_full: Callable[[], None] = lambda: None

    def module_matches(self, namespace: dict[str, Any]) -> bool | None:
        """True if code run with these globals may be recorded (None: it never is)."""
        module = namespace.get("__name__")
        if not isinstance(module, str):
            return None
        verdict = (
            True
            if module == GUARD_MODULE  # for its guards: classify() records nothing else there
            or (
                module != "snapy"
                and not module.startswith("snapy.")
                and self.pattern.fullmatch(module)
            )
            else None
        )
        self.modules[module] = verdict
        return verdict

    def classify(self, code: types.CodeType, namespace: dict[str, Any]) -> CodeInfo | None:
        module = namespace.get("__name__")
        info = None
        if id(code) in self.guards:
            info = CodeInfo(code, GUARD_MODULE)
            info.kind = GUARD
        elif (
            isinstance(module, str)
            and module != GUARD_MODULE
            and code.co_name not in _NOT_CALLS
            and not code.co_qualname.startswith("__create_fn__")  # dataclass-generated
            and self.module_matches(namespace)
        ):
            info = CodeInfo(code, module)
            if info.kind == FUNCTION:
                self.plain.add(id(code))
        self.infos[id(code)] = info
        self._seen.append(code)
        return info

    def new_segment(self, thread: int, tagged: bool) -> Segment:
        left = self.limit - sum(len(s.log) for s in self.segments)
        segment = Segment(self.session, thread, tagged, max(left, 0))
        self.segments.append(segment)
        return segment

    def full(self, segment: Segment) -> None:
        """Stop recording: `limit` records are kept (the tracer adds a marker)."""
        # Returns are not counted when recorded (a check costs ~45 ns per call): cut here.
        if segment.end is None:
            segment.end = min(len(segment.log), segment.limit)
        self.truncated = True
        self.on_full()

    def arguments(self, info: CodeInfo, values: Mapping[str, Any]) -> tuple[Any, ...]:
        """The frozen arguments of a call (from the frame's locals), in parameter order."""
        plan = info.plan
        if plan is None:
            plan = info.plan = self.freezer.plan(info.argnames)
            if plan is None:  # a filter that looks at values
                frozen = self.freezer.arguments(info.argnames, values)
                return tuple(frozen.get(name, UNBOUND) for name in info.argnames)
        return self.freezer.planned(plan, values)

    def returned(self, value: Any) -> Any:
        if not self.capture_returns:
            return None
        try:
            kept = type(value) in KEEP
        except TypeError:  # a class whose metaclass is unhashable: frozen
            kept = False
        return value if kept else self.freezer.value(value)

    def yielded(self, info: CodeInfo, value: Any) -> Any:
        if info.kind == COROUTINE:  # an `await` suspending, not a result
            return NOT_A_RESULT
        if not self.capture_returns:
            return None
        return self.freezer.yielded(value, info.kind == ASYNC_GENERATOR)


SPEEDUPS_VARIABLE = "SNAPY_TRACER_SPEEDUPS"


def _load_speedups() -> Any:
    """The C hot path, or None: not built (no C compiler at install) or turned off with
    `SNAPY_TRACER_SPEEDUPS=0` in the environment."""
    if os.environ.get(SPEEDUPS_VARIABLE, "").strip() == "0":
        return None
    try:
        from . import _speedups
    except ImportError:
        return None
    return _speedups


# The C hot path (`_speedups.c`), or None. Read when a tracer starts: set to None, the Python
# callbacks run alone and record the same trace.
SPEEDUPS: Any = _load_speedups()


def single_threaded() -> bool:
    """Only the main thread runs (a thread started later is noticed through threading)."""
    return (
        threading.active_count() == 1
        and _thread._count() == 0
        and threading.current_thread() is threading.main_thread()
    )


def make_backend(state: TraceState) -> Any:
    if sys.version_info >= (3, 12):
        from ._trace_monitoring import MonitoringBackend

        return MonitoringBackend(state)
    from ._trace_settrace import SettraceBackend

    return SettraceBackend(state)
