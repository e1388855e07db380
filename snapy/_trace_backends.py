"""How the tracer hears about calls: `sys.monitoring` on 3.12+, `sys.settrace` on 3.11.

Callbacks append one raw record to a plain list and do nothing else on the hot path: measured
here, each extra operation in a callback (a dict lookup, a tuple, a thread check) costs 40-50 ns,
against viztracer's ~140 ns per call. `_trace_build` turns the records into events later:

    a code object            a call of matching code started (arguments not captured)
    (code, args)             the same, with its frozen arguments (a dict, or a tuple in
                             the order of the function's parameters)
    (RAISE, exc)             the innermost open call ended with an exception
    (YIELD, frame, value)    the innermost open call (a generator or coroutine) suspended
    (RESUME, frame)          a suspended generator or coroutine went on
    anything else            the innermost open call returned this (frozen) value

Records are tuples, not objects (~60 ns against ~240 ns to make one here). They cannot be
mistaken for a returned tuple: a frozen value never holds a code object or a marker.

A segment whose `tagged` is set holds `(thread ident, record)` pairs instead: records from
several threads, taken when more than one thread runs (a thread check per event costs ~85 ns).
"""

from __future__ import annotations

import _thread
import fnmatch
import re
import sys
import threading
import types
from collections.abc import Callable, Iterable
from typing import Any

from ._trace_values import NOT_A_RESULT, Freezer

FUNCTION, GENERATOR, COROUTINE, ASYNC_GENERATOR = (
    "function",
    "generator",
    "coroutine",
    "async generator",
)
# Not calls a reader wrote: comprehensions are inlined on 3.12 (PEP 709) but frames on 3.11, so
# recording them would make one trace differ between versions.
_NOT_CALLS = frozenset({"<module>", "<listcomp>", "<dictcomp>", "<setcomp>", "<genexpr>"})
MISSING: Any = object()
_SCALARS = frozenset({type(None), bool, int, float})


class CodeInfo:
    """What the tracer knows of one matching code object."""

    __slots__ = ("argnames", "code", "first_resume", "kind", "module", "plan", "qualname")

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
        # Keyed by id(code), never by the code: code objects with the same source compare
        # equal across files. Every code seen stays referenced here, so no id is reused.
        self.infos: dict[int, CodeInfo | None] = {}
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
            if module != "snapy"
            and not module.startswith("snapy.")
            and self.pattern.fullmatch(module)
            else None
        )
        self.modules[module] = verdict
        return verdict

    def classify(self, code: types.CodeType, namespace: dict[str, Any]) -> CodeInfo | None:
        module = namespace.get("__name__")
        info = None
        if (
            isinstance(module, str)
            and code.co_name not in _NOT_CALLS
            and not code.co_qualname.startswith("__create_fn__")  # dataclass-generated
            and self.module_matches(namespace)
        ):
            info = CodeInfo(code, module)
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

    def arguments(self, info: CodeInfo, frame: types.FrameType) -> dict[str, Any] | tuple[Any, ...]:
        plan = info.plan
        if plan is None:
            plan = info.plan = self.freezer.plan(info.argnames)
            if plan is None:
                return self.freezer.arguments(info.argnames, frame.f_locals)
        return self.freezer.planned(plan, frame.f_locals)

    def returned(self, value: Any) -> Any:
        if not self.capture_returns:
            return None
        return value if type(value) in _SCALARS else self.freezer.value(value)

    def yielded(self, info: CodeInfo, value: Any) -> Any:
        if info.kind == COROUTINE:  # an `await` suspending, not a result
            return NOT_A_RESULT
        if not self.capture_returns:
            return None
        return self.freezer.yielded(value, info.kind == ASYNC_GENERATOR)


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
