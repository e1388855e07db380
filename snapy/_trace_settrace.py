"""The tracer's backend on Python 3.11: `sys.settrace`, chained to the trace function before it.

Any Python-level trace function costs ~230 ns per call on 3.11 even when it filters the frame
out; this one returns None for code outside the filter (no line events there) and turns line
events off in matching frames, unless the previous trace function wants them.

A trace function installed before (coverage.py, a debugger) keeps working: every 'call' goes to
it first and its local trace function is chained with ours, so it sees every event it would have
seen. coverage.py's C tracer reinstalls itself when called from Python; the tracer notices and
puts itself back in front. stop() restores the previous function exactly, unless something
else replaced the tracer meanwhile (a debugger started inside the traced code is left alone).

The hot path (`call` for a plain function of a matching module, and the local trace function
of its frame) is written out by hand: each helper call or attribute read there costs 20-60 ns
on a ~300 ns event. The trace functions are not closures: each thread runs copies of the
functions below whose globals are a namespace of its own (`_ThreadTracer`), because a closure
copies every free variable into each of its frames (~20 ns a call for `call`'s thirteen,
measured here) while a global read costs the same as a free one. A recorded call takes the
hot path when its code is in `_fast`, the plain functions' ids, emptied while the thread does not
record (stopped, full, below a replay guard): one test for all of those. `max_events` is counted
down by a `repeat` iterator rather than a `len()` per call, and `call` comes in two variants,
with and without argument capture, instead of testing a flag per call.

Where the C speedups are built (`_speedups.c`) and no trace function was installed before, the
thread's trace function is a `_speedups.Tracer` instead of `call`: a C trace function that does
what the `sys.settrace` trampoline does with the functions below (it calls them and keeps what
they answer in the frame's `f_trace`), except for a call of a plain function in `_fast` and its
return, which it records itself, as `call` and `local_function` would (~190 ns a recorded call
against ~520). It then keeps `_fast` (`_refresh` hands it over) and the `max_events` budget
(`_take` is its `take`, which asks `_refill`).
"""

# The trace functions' globals are declared, not bound, here (see "the trace functions"); mypy
# checks every name against those declarations.
# ruff: noqa: F821

from __future__ import annotations

import _thread
import sys
import threading
import types
from collections.abc import Callable, Iterator, Mapping
from itertools import repeat
from typing import Any

from . import _trace_backends
from ._errors import TracerError
from ._trace_backends import (
    CALL,
    FUNCTION,
    GUARD,
    KEEP,
    MISSING,
    OPCODES,
    RAISE,
    RESUME,
    YIELD,
    CodeInfo,
    Segment,
    TraceState,
)

_RETURN = OPCODES["RETURN_VALUE"]
_YIELD = OPCODES["YIELD_VALUE"]
TraceFunction = Any


class _Chain:
    """A matching frame's local trace function when the previous tracer traces it too."""

    __slots__ = ("mine", "theirs")

    def __init__(self, mine: TraceFunction, theirs: TraceFunction) -> None:
        self.mine = mine
        self.theirs = theirs

    def __call__(self, frame: types.FrameType, event: str, arg: Any) -> _Chain:
        theirs = self.theirs
        if theirs is not None:
            # CPython keeps a frame's f_trace when a local trace function returns None.
            result = theirs(frame, event, arg)
            if result is not None:
                self.theirs = result
        mine = self.mine(frame, event, arg)
        if mine is not None:
            self.mine = mine
        return self


# -- the trace functions ---------------------------------------------------------------------
# They run only as copies made by `_ThreadTracer`, whose namespace binds the names declared here
# (their module-level values are never used).

_state: TraceState
_segment: Segment
_log: list[Any]
_append: Callable[[Any], None]
_limit: int
_budget: Iterator[None]  # calls that may start before the next len() check
_infos: dict[int, CodeInfo | None]
_plain: set[int]  # ids of the plain functions of matching modules
_fast: set[int] | frozenset[int]  # the same, or none while not recording (one test, not two)
_modules: dict[str, bool | None]
_module_matches: Callable[[Mapping[str, Any]], bool | None]
_arguments: Callable[[CodeInfo, Mapping[str, Any]], tuple[Any, ...]]
_yielded: Callable[[CodeInfo, Any], Any]
_freeze: Callable[[Any], Any]
_exception: Callable[[BaseException | None], Any]
_capture_args: bool
_keep: frozenset[type]  # values kept by reference; none with a filter that looks at values
_short: int  # strings up to this length are kept by reference
_pending: dict[int, tuple[BaseException | None, int]]  # frame id -> exception being raised
_active: bool
_depth: int  # replay guards open in this thread
_previous: TraceFunction  # the trace function installed before, chained
_skipped: dict[str, Any] | None  # the globals of the last frame left out
_native: Any  # the C tracer (`_speedups.Tracer`), which then keeps `_fast` and the budget
local_function: TraceFunction  # a plain function's local trace function (one of two)
raised_function: TraceFunction  # the same, once an exception went through the frame


def _refresh() -> None:
    global _active, _fast
    _active = _depth == 0 and _segment.end is None and _state.recording
    _fast = _plain if _active else _NOTHING
    if _native is not None:
        _native.fast = _fast


def _refill() -> int:
    """For the C tracer's budget: how many calls may start before it asks again (0: full)."""
    left = _limit - len(_log)
    if left <= 0 or _segment.end is not None:
        _state.full(_segment)
        _refresh()
        return 0
    return (left - 1) // 2 + 1  # each call adds a return record too


def _take() -> bool:
    """Count one recorded call; False (and recording stops) at `max_events` records."""
    global _budget
    for _ in _budget:
        return True
    left = _limit - len(_log)
    if left <= 0 or _segment.end is not None:
        _state.full(_segment)
        _refresh()
        return False
    _budget = repeat(None, (left - 1) // 2)  # each call adds a return record too
    return True


def _enter() -> None:
    global _depth
    _depth += 1
    _refresh()


def _leave() -> None:
    global _depth
    if _depth:  # a guard open before start() ends without having been entered
        _depth -= 1
        _refresh()


def _local_returns(frame: types.FrameType, event: str, arg: Any) -> TraceFunction:
    """A plain function's frame: without an 'exception' event, 'return' is a return."""
    if event == "return":
        try:
            kept = type(arg) in KEEP
        except TypeError:  # a class whose metaclass is unhashable: frozen
            kept = False
        _append(arg if kept else _freeze(arg))
        return None  # the frame ends: its f_trace stays as it is
    if event == "exception":
        _pending[id(frame)] = (arg[1], frame.f_lasti)
        return raised_function
    return local_function


def _local_no_returns(frame: types.FrameType, event: str, arg: Any) -> TraceFunction:
    if event == "return":
        _append(None)
        return None
    if event == "exception":
        _pending[id(frame)] = (arg[1], frame.f_lasti)
        return raised_function
    return local_function


def _raised_returns(frame: types.FrameType, event: str, arg: Any) -> TraceFunction:
    """A plain function's frame after an 'exception' event: 'return' may be that raise."""
    if event == "return":
        raised = _pending.pop(id(frame), None)
        if raised is not None and frame.f_code.co_code[frame.f_lasti] != _RETURN:
            _append((RAISE, _exception(raised[0])))
        else:  # handled in the frame, which then returned
            _append(_state.returned(arg))
    elif event == "exception":
        _pending[id(frame)] = (arg[1], frame.f_lasti)
    return raised_function


def _raised_no_returns(frame: types.FrameType, event: str, arg: Any) -> TraceFunction:
    if event == "return":
        raised = _pending.pop(id(frame), None)
        if raised is not None and frame.f_code.co_code[frame.f_lasti] != _RETURN:
            _append((RAISE, _exception(raised[0])))
        else:
            _append(None)
    elif event == "exception":
        _pending[id(frame)] = (arg[1], frame.f_lasti)
    return raised_function


def local(frame: types.FrameType, event: str, arg: Any) -> TraceFunction:
    """A generator's or coroutine's frame: 'return' may also be a yield."""
    if not _active:  # resumed below a replay guard: left out, as its resume was
        if event == "return":
            _pending.pop(id(frame), None)
        return local
    if event == "return":
        lasti = frame.f_lasti
        opcode = frame.f_code.co_code[lasti]
        raised = _pending.pop(id(frame), None) if _pending else None
        if opcode == _RETURN:
            _append(_state.returned(arg))
        elif opcode == _YIELD and (raised is None or raised[1] != lasti):
            _append((YIELD, id(frame), _yielded(_infos[id(frame.f_code)], arg)))  # type: ignore[arg-type]
        else:  # left by an exception ('return' with None, at the raising opcode)
            _append((RAISE, _exception(raised[0] if raised else None)))
    elif event == "exception":
        _pending[id(frame)] = (arg[1], frame.f_lasti)
    return local


def guard_local(frame: types.FrameType, event: str, arg: Any) -> TraceFunction:
    """A replay guard's frame: 'return' (also a suspension) ends what it hides."""
    if event == "return":
        _leave()
    return guard_local


def record(frame: types.FrameType, theirs: TraceFunction) -> TraceFunction:
    """Any frame of a matching module, off the hot path."""
    code = frame.f_code
    info = _infos.get(id(code), MISSING)
    if info is MISSING:
        info = _state.classify(code, frame.f_globals)
    if info is None:
        return theirs
    kind = info.kind
    if kind is GUARD:
        _enter()
        mine = guard_local
    elif not _active:
        return theirs
    elif kind != FUNCTION and frame.f_lasti > info.first_resume:
        _append((RESUME, id(frame)))
        mine = local
    elif not _take():
        return theirs
    else:
        _append((code, _arguments(info, frame.f_locals)) if _capture_args else code)
        mine = local_function if kind == FUNCTION else local
    if theirs is None:
        frame.f_trace_lines = False
        return mine
    return _Chain(mine, theirs)


# The two variants of `call`, the global trace function (with and without arguments): one test
# less per call than a flag. On 3.11 each bytecode of a trace function runs unspecialized (~8 ns
# apiece). A frame of the module left out last time costs ~25 ns on top of the ~230 ns any Python
# trace function costs; another one ~50 ns (the module's verdict by name), ~20 ns more when the
# frame is recorded.


def _call_arguments(frame: types.FrameType, event: str, arg: Any) -> TraceFunction:
    global _skipped
    if frame.f_globals is _skipped:
        return None
    try:
        if _modules[frame.f_globals["__name__"]] is None:
            _skipped = frame.f_globals
            return None
    except KeyError:
        if _module_matches(frame.f_globals) is None:
            _skipped = frame.f_globals
            return None
    code = frame.f_code
    if id(code) in _fast:
        for _ in _budget:
            values: dict[Any, Any] = frame.f_locals.copy()
            for value in values.values():
                try:
                    if type(value) in _keep:
                        continue
                except TypeError:  # a class whose metaclass is unhashable: not kept
                    pass
                if type(value) is not str or len(value) > _short:
                    _append((code, _arguments(_infos[id(code)], values)))  # type: ignore[arg-type]
                    break
            else:
                values[CALL] = code
                _append(values)
            frame.f_trace_lines = False
            return local_function
    return record(frame, None)


def _call_bare(frame: types.FrameType, event: str, arg: Any) -> TraceFunction:
    global _skipped
    if frame.f_globals is _skipped:
        return None
    try:
        if _modules[frame.f_globals["__name__"]] is None:
            _skipped = frame.f_globals
            return None
    except KeyError:
        if _module_matches(frame.f_globals) is None:
            _skipped = frame.f_globals
            return None
    code = frame.f_code
    if id(code) in _fast:
        for _ in _budget:
            _append(code)
            frame.f_trace_lines = False
            return local_function
    return record(frame, None)


def call_chained(frame: types.FrameType, event: str, arg: Any) -> TraceFunction:
    global _previous
    theirs = None
    if _previous is not None:
        theirs = _previous(frame, event, arg)
        current = sys.gettrace()
        if current is not call_chained:  # coverage's C tracer put itself back
            _previous = current
            sys.settrace(call_chained)
    try:
        verdict = _modules[frame.f_globals["__name__"]]
    except KeyError:
        verdict = _module_matches(frame.f_globals)
    if verdict is None:
        return theirs
    return record(frame, theirs)


_COPIED = (_refresh, _refill, _take, _enter, _leave, local, guard_local, record, call_chained)
_NOTHING: frozenset[int] = frozenset()


class _ThreadTracer:
    """The trace functions of one thread, recording into one segment."""

    def __init__(self, state: TraceState, segment: Segment, previous: TraceFunction) -> None:
        by_reference = state.by_reference
        namespace = dict(globals())
        namespace.update(
            _state=state,
            _segment=segment,
            _log=segment.log,
            _append=segment.log.append,
            _limit=segment.limit,
            _budget=repeat(None, (segment.limit + 1) // 2),
            _infos=state.infos,
            _plain=state.plain,
            _fast=state.plain,
            _modules=state.modules,
            _module_matches=state.module_matches,
            _arguments=state.arguments,
            _yielded=state.yielded,
            _freeze=state.freezer.value,
            _exception=state.freezer.exception,
            _capture_args=state.capture_args,
            _keep=KEEP if by_reference else frozenset(),
            _short=state.freezer.max_repr if by_reference else -1,
            _pending={},
            _active=True,
            _depth=0,
            _previous=previous,
            _skipped=None,
            _native=None,
        )
        plain, raised = (
            (_local_returns, _raised_returns)
            if state.capture_returns
            else (_local_no_returns, _raised_no_returns)
        )
        call = _call_arguments if state.capture_args else _call_bare
        names: dict[Callable[..., Any], str] = {
            plain: "local_function",
            raised: "raised_function",
            call: "call",
        }
        for function in (*_COPIED, plain, raised, call):
            name = names.get(function, function.__name__)
            namespace[name] = types.FunctionType(function.__code__, namespace, name)
        self.namespace = namespace
        self.refresh: Callable[[], None] = namespace["_refresh"]
        self.call: TraceFunction = namespace["call_chained" if previous is not None else "call"]
        # The C trace function does what `call`, the trampoline and `local_function` do; the
        # chained variant stays in Python (the previous function needs every event anyway).
        self.native: Any = None
        native = _trace_backends.SPEEDUPS
        if native is not None and previous is None:
            self.native = self.call = native.Tracer(
                fast=state.plain,
                refill=namespace["_refill"],
                modules=state.modules,
                module_matches=state.module_matches,
                record=namespace["record"],
                local_function=namespace["local_function"],
                freeze=state.freezer.value,
                keep_returns=KEEP if state.capture_returns else None,
                capture_args=state.capture_args,
                keep=namespace["_keep"],
                short=namespace["_short"],
                arguments=state.arguments,
                infos=state.infos,
                call_key=CALL,
                log=segment.log,
            )
            namespace.update(_native=self.native, _take=self.native.take)

    def install(self) -> None:
        """Make this the calling thread's trace function."""
        if self.native is not None:
            self.native.install()
        else:
            sys.settrace(self.call)

    @property
    def previous(self) -> TraceFunction:
        """The trace function this one chains to (coverage's may replace itself)."""
        return self.namespace["_previous"]


class SettraceBackend:
    def __init__(self, state: TraceState) -> None:
        self.state = state
        self.main: _ThreadTracer | None = None
        self.tracers: list[_ThreadTracer] = []
        self.previous_hook: TraceFunction = None
        self.thread_hook: TraceFunction = None

    def start(self) -> None:
        state = self.state
        self.main = _ThreadTracer(state, state.new_segment(state.owner, False), sys.gettrace())
        self.tracers = [self.main]
        if state.threads:
            self.previous_hook = threading.gettrace()
            self.thread_hook = self._thread_started
            threading.settrace(self.thread_hook)
        self.main.install()

    def _thread_started(self, frame: types.FrameType, event: str, arg: Any) -> TraceFunction:
        previous = self.previous_hook
        if not self.state.recording:
            sys.settrace(previous)
            return previous(frame, event, arg) if previous is not None else None
        segment = self.state.new_segment(_thread.get_ident(), False)
        tracer = _ThreadTracer(self.state, segment, previous)
        self.tracers.append(tracer)
        tracer.install()
        return tracer.call(frame, event, arg)

    def check_stop(self) -> None:
        if _thread.get_ident() != self.state.owner:
            raise TracerError(
                "stop() was called from another thread than start(); on Python 3.11 the "
                "tracer is a sys.settrace function of the thread that started it, so stop it "
                "there (or use it as a context manager)"
            )

    def stop(self) -> None:
        main = self.main
        if main is not None and sys.gettrace() is main.call:
            sys.settrace(main.previous)
        if self.thread_hook is not None and threading.gettrace() is self.thread_hook:
            threading.settrace(self.previous_hook)
        self.thread_hook = self.previous_hook = None
        self.main = None
        for tracer in self.tracers:  # other threads keep their trace function: now idle
            tracer.refresh()
        self.tracers = []
