"""The tracer's backend on Python 3.12+: `sys.monitoring`, with code outside the filter free.

Two tool ids. The discovery tool listens to PY_START everywhere: it sees each code location
once, answers DISABLE (so code outside the filter costs nothing from then on, 1.00x measured
here) and, for matching code, arms local events of the recording tool on that code object alone.
The recording tool's callbacks then run only for matching code and need no filter check: an
append per event, ~170 ns per call here (two callbacks that do nothing: ~105 ns; viztracer
~95-170 ns). Arguments cost one `sys._getframe` and a copy of the frame's locals per call (~550
ns, plus any Python audit hook, which runs on each `sys._getframe`). A local event armed inside
a callback does not fire for the call being started, so discovery records that first call.
Where the C speedups are built (`_speedups.c`), `Start` and `Return` take the place of the two
hot callbacks, single-threaded and tagged, and append the same records: ~45 ns a call, and
arguments read from the running frame without `sys._getframe` (~100 ns more instead of ~550).

PY_UNWIND and PY_THROW cannot be local or disabled: they stay global and check the code.
A second thread makes events need a thread check; until one starts, `threading.setprofile`
watches for it and the callbacks are swapped for checking ones when it does.

Replay guards (`_trace_backends.guard_codes`) get local PY_START/PY_RESUME/PY_RETURN/PY_YIELD
events of the discovery tool. Entering one swaps the recording callbacks for quiet ones (none
at all for the local events), leaving it swaps them back: code below a guard is left out and
the hot path pays nothing for it. With several threads, a per-thread count does the same.
"""

from __future__ import annotations

import _thread
import sys
import threading
import types
from collections.abc import Callable
from itertools import repeat
from typing import Any

from . import _trace_backends
from ._errors import TracerError
from ._trace_backends import (
    CALL,
    FUNCTION,
    KEEP,
    MISSING,
    RAISE,
    RESUME,
    YIELD,
    CodeInfo,
    Segment,
    TraceState,
    single_threaded,
)

_mon: Any = sys.monitoring  # type: ignore[attr-defined]  # mypy checks as 3.11
_E = _mon.events
_EVENTS = (_E.PY_START, _E.PY_RETURN, _E.PY_YIELD, _E.PY_RESUME, _E.PY_UNWIND, _E.PY_THROW)
_GUARD_EVENTS = _E.PY_START | _E.PY_RESUME | _E.PY_RETURN | _E.PY_YIELD
# Preferred tool ids: not the debugger's (0), coverage.py's (1) or cProfile's (2) if avoidable.
_TOOLS = (4, 3, 5, 2)
Callbacks = dict[Any, Any]


class MonitoringBackend:
    def __init__(self, state: TraceState) -> None:
        self.state = state
        self.armed: dict[int, types.CodeType] = {}
        self.guards = state.guards
        self.lock = threading.Lock()
        self.tools = (-1, -1)
        self.tagged = False
        self.depth = 0  # guards open in the owner thread (single-threaded callbacks)
        self.hidden: dict[int, int] = {}  # thread ident -> guards open (tagged callbacks)
        self.callbacks: Callbacks = {}
        self.quiet: Callbacks = {}
        self.previous_hook: Any = None
        self.thread_hook: Any = None

    def start(self) -> None:
        free = [tool for tool in _TOOLS if _mon.get_tool(tool) is None]
        if len(free) < 2:
            used = {tool: _mon.get_tool(tool) for tool in range(6) if _mon.get_tool(tool)}
            raise TracerError(
                f"the tracer needs two free sys.monitoring tool ids and only {free} are free "
                f"(in use: {used}); stop another tool before starting it"
            )
        discover, record = free[:2]
        _mon.use_tool_id(discover, "snapy tracer (discovery)")
        _mon.use_tool_id(record, "snapy tracer")
        self.tools = (discover, record)
        self.armed = {}
        self.tagged = False
        self.depth = 0
        self.hidden = {}
        self.state.on_full = self._disarm
        try:
            if single_threaded():
                self._install(tagged=False)
                self._watch_threads()
            else:
                self._install(tagged=True)
            _mon.register_callback(discover, _E.PY_RESUME, self._guard_resumed)
            _mon.register_callback(discover, _E.PY_RETURN, self._guard_left)
            _mon.register_callback(discover, _E.PY_YIELD, self._guard_left)
            for code in self.guards.values():
                _mon.set_local_events(discover, code, _GUARD_EVENTS)
            _mon.set_events(discover, _E.PY_START)
            _mon.set_events(record, _E.PY_UNWIND | _E.PY_THROW)
            # Locations a previous tracer DISABLEd stay disabled until this (for every tool).
            _mon.restart_events()
        except BaseException:
            self.stop()  # leave nothing registered
            raise

    def stop(self) -> None:
        self._disarm()
        for tool in self.tools:
            for event in _EVENTS:
                _mon.register_callback(tool, event, None)  # free_tool_id keeps them on 3.12
            _mon.free_tool_id(tool)
        if self.thread_hook is not None and threading.getprofile() is self.thread_hook:
            threading.setprofile(self.previous_hook)
        self.thread_hook = self.previous_hook = None

    def _disarm(self) -> None:
        discover, record = self.tools
        _mon.set_events(discover, 0)
        _mon.set_events(record, 0)
        for code in self.armed.values():
            _mon.set_local_events(record, code, 0)
        for code in self.guards.values():
            _mon.set_local_events(discover, code, 0)

    def _arm(self, code: types.CodeType, info: CodeInfo) -> None:
        events = _E.PY_START | _E.PY_RETURN
        if info.kind != FUNCTION:
            events |= _E.PY_YIELD | _E.PY_RESUME
        _mon.set_local_events(self.tools[1], code, events)
        self.armed[id(code)] = code

    # -- replay guards ------------------------------------------------------------------------

    def enter(self) -> None:
        """A replay guard starts or goes on in this thread: what it calls is left out."""
        with self.lock:
            if self.tagged:
                ident = _thread.get_ident()
                self.hidden[ident] = self.hidden.get(ident, 0) + 1
            else:
                self.depth += 1
                if self.depth == 1:
                    self._register(self.quiet)

    def leave(self) -> None:
        """A replay guard returned, raised or suspended."""
        with self.lock:
            if self.tagged:
                ident = _thread.get_ident()
                count = self.hidden.get(ident, 0)
                if count > 1:
                    self.hidden[ident] = count - 1
                elif count:  # not entered: the guard was running when the tracer started
                    del self.hidden[ident]
            elif self.depth:
                self.depth -= 1
                if self.depth == 0:
                    self._register(self.callbacks)

    def _guard_resumed(self, code: types.CodeType, offset: int) -> None:
        self.enter()

    def _guard_left(self, code: types.CodeType, offset: int, value: Any) -> None:
        self.leave()

    # -- callbacks ----------------------------------------------------------------------------

    def _watch_threads(self) -> None:
        previous = threading.getprofile()

        def thread_started(frame: Any, event: Any, arg: Any) -> Any:
            sys.setprofile(previous)
            self._go_tagged()
            return previous(frame, event, arg) if previous is not None else None

        self.previous_hook, self.thread_hook = previous, thread_started
        threading.setprofile(thread_started)

    def _go_tagged(self) -> None:
        with self.lock:
            if self.tagged or not self.state.recording:
                return
            if self.depth:  # the owner is below a guard: it stays hidden, counted per thread
                self.hidden[self.state.owner] = self.depth
                self.depth = 0
            # The untagged segment stays open: a callback the main thread is in the middle of
            # still appends to it; it is closed at stop().
            self._install(tagged=True)

    def _install(self, tagged: bool) -> None:
        state = self.state
        segment = state.new_segment(state.owner, tagged)
        self.tagged = tagged
        if tagged:
            self.callbacks = _tagged_callbacks(self, segment)
            self.quiet = {}
        else:
            self.callbacks = _fast_callbacks(self, segment)
            self.quiet = _quiet_callbacks(self)
        self._register(self.callbacks)

    def _register(self, callbacks: Callbacks) -> None:
        discover, record = self.tools
        for event, callback in callbacks.items():
            if event == "discover":
                _mon.register_callback(discover, _E.PY_START, callback)
            else:
                _mon.register_callback(record, event, callback)


def _fast_callbacks(backend: MonitoringBackend, segment: Segment) -> Callbacks:
    """Callbacks for one thread: each event appends one record, nothing else."""
    state = backend.state
    log = segment.log
    append = log.append
    limit = segment.limit
    budget = repeat(None, (limit + 1) // 2)  # calls that may start before a len() check
    infos = state.infos
    armed = backend.armed
    guards = backend.guards
    getframe = sys._getframe
    arguments, yielded = state.arguments, state.yielded
    freeze = state.freezer.value
    exception = state.freezer.exception
    # Values kept by reference; with a filter that looks at values, none (see TraceState).
    keep = KEEP if state.by_reference else frozenset()
    short = state.freezer.max_repr if state.by_reference else -1

    def take() -> bool:
        """Count one recorded call; False (and recording stops) at `max_events` records."""
        nonlocal budget
        for _ in budget:
            return True
        left = limit - len(log)
        if left <= 0:
            state.full(segment)
            return False
        budget = repeat(None, (left - 1) // 2)  # each call adds a return record too
        return True

    if state.capture_args:

        def start(code: types.CodeType, offset: int) -> None:
            for _ in budget:
                values: dict[Any, Any] = getframe(1).f_locals.copy()
                for value in values.values():
                    try:
                        if type(value) in keep:
                            continue
                    except TypeError:  # a class whose metaclass is unhashable: not kept
                        pass
                    if type(value) is not str or len(value) > short:
                        append((code, arguments(infos[id(code)], values)))  # type: ignore[arg-type]
                        break
                else:
                    values[CALL] = code
                    append(values)
                return
            if take():
                append((code, arguments(infos[id(code)], getframe(1).f_locals)))  # type: ignore[arg-type]

    else:

        def start(code: types.CodeType, offset: int) -> None:
            for _ in budget:
                append(code)
                return
            if take():
                append(code)

    if state.capture_returns:

        def ret(code: types.CodeType, offset: int, value: Any) -> None:
            try:
                kept = type(value) in KEEP
            except TypeError:  # a class whose metaclass is unhashable: frozen
                kept = False
            append(value if kept else freeze(value))

    else:

        def ret(code: types.CodeType, offset: int, value: Any) -> None:
            append(None)

    def yield_(code: types.CodeType, offset: int, value: Any) -> None:
        append((YIELD, id(getframe(1)), yielded(infos[id(code)], value)))  # type: ignore[arg-type]

    def resume(code: types.CodeType, offset: int) -> None:
        append((RESUME, id(getframe(1))))

    def unwind(code: types.CodeType, offset: int, exc: BaseException) -> None:
        if id(code) in armed:
            append((RAISE, exception(exc)))

    def throw(code: types.CodeType, offset: int, exc: BaseException) -> None:
        key = id(code)
        if key in armed:
            append((RESUME, id(getframe(1))))
        elif key in guards:  # thrown into a suspended guard: it goes on
            backend.enter()

    native = _trace_backends.SPEEDUPS
    if native is not None:  # the same two callbacks in C
        native_start = native.Start(
            log=log,
            refill=lambda: _refill(state, segment),
            capture_args=state.capture_args,
            keep=keep,
            short=short,
            arguments=arguments,
            infos=infos,
            call_key=CALL,
        )
        start, take = native_start, native_start.take
        ret = native.Return(log=log, keep=KEEP if state.capture_returns else None, freeze=freeze)

    def first(code: types.CodeType, info: CodeInfo, frame: types.FrameType) -> None:
        if take():
            append((code, arguments(info, frame.f_locals)) if state.capture_args else code)

    return _with_discovery(backend, first, start, ret, yield_, resume, unwind, throw)


def _refill(state: TraceState, segment: Segment) -> int:
    """For the C `Start`: how many calls may start before it asks again (0: the segment is full)."""
    left = segment.limit - len(segment.log)
    if left <= 0:
        state.full(segment)
        return 0
    return (left - 1) // 2 + 1  # each call adds a return record too


def _quiet_callbacks(backend: MonitoringBackend) -> Callbacks:
    """Single-threaded callbacks below a replay guard: nothing is recorded, new code is armed."""
    state = backend.state
    infos = state.infos
    armed = backend.armed
    guards = backend.guards
    getframe = sys._getframe
    disable = _mon.DISABLE

    def discover(code: types.CodeType, offset: int) -> Any:
        key = id(code)
        if key in guards:
            backend.enter()
            return None
        info = infos.get(key, MISSING)
        if info is MISSING:
            info = state.classify(code, getframe(1).f_globals)
        if info is not None and key not in armed:
            backend._arm(code, info)
        return disable

    def unwind(code: types.CodeType, offset: int, exc: BaseException) -> None:
        if id(code) in guards:
            backend.leave()

    def throw(code: types.CodeType, offset: int, exc: BaseException) -> None:
        if id(code) in guards:
            backend.enter()

    return {
        "discover": discover,
        _E.PY_START: None,  # no callback: the cheapest way to drop an event
        _E.PY_RETURN: None,
        _E.PY_YIELD: None,
        _E.PY_RESUME: None,
        _E.PY_UNWIND: unwind,
        _E.PY_THROW: throw,
    }


def _tagged_callbacks(backend: MonitoringBackend, segment: Segment) -> Callbacks:
    """Callbacks that tell threads apart: `(ident, record)`, or only the owner's records."""
    state = backend.state
    log = segment.log
    append = log.append
    limit = segment.limit
    infos = state.infos
    armed = backend.armed
    guards = backend.guards
    hidden = backend.hidden
    getframe = sys._getframe
    get_ident = _thread.get_ident
    owner = state.owner
    every_thread = state.threads

    def mine() -> int | None:
        ident = get_ident()
        if hidden and ident in hidden:  # below a replay guard
            return None
        return ident if every_thread or ident == owner else None

    def first(code: types.CodeType, info: CodeInfo, frame: types.FrameType) -> None:
        ident = mine()
        if ident is None:
            return
        if len(log) >= limit:
            state.full(segment)
        else:
            entry = (code, state.arguments(info, frame.f_locals)) if state.capture_args else code
            append((ident, entry))

    def start(code: types.CodeType, offset: int) -> None:
        info = infos[id(code)]
        if info is not None:
            first(code, info, getframe(1))

    def ret(code: types.CodeType, offset: int, value: Any) -> None:
        ident = mine()
        if ident is not None:
            append((ident, state.returned(value)))

    def yield_(code: types.CodeType, offset: int, value: Any) -> None:
        ident = mine()
        info = infos[id(code)]
        if ident is not None and info is not None:
            append((ident, (YIELD, id(getframe(1)), state.yielded(info, value))))

    def resume(code: types.CodeType, offset: int) -> None:
        ident = mine()
        if ident is not None:
            append((ident, (RESUME, id(getframe(1)))))

    def unwind(code: types.CodeType, offset: int, exc: BaseException) -> None:
        key = id(code)
        if key in armed:
            ident = mine()
            if ident is not None:
                append((ident, (RAISE, state.freezer.exception(exc))))
        elif key in guards:
            backend.leave()

    def throw(code: types.CodeType, offset: int, exc: BaseException) -> None:
        key = id(code)
        if key in armed:
            resume(code, offset)
        elif key in guards:
            backend.enter()

    native = _trace_backends.SPEEDUPS
    if native is not None:  # the same two callbacks in C
        tagging: dict[str, Any] = {"owner": owner, "every_thread": every_thread, "hidden": hidden}
        start = native.Start(
            log=log,
            refill=lambda: 0,  # unused: a tagged segment counts its records
            capture_args=state.capture_args,
            keep=frozenset(),
            short=-1,
            arguments=state.arguments,
            infos=infos,
            call_key=CALL,
            limit=limit,
            full=lambda: state.full(segment),
            **tagging,
        )
        ret = native.Return(
            log=log,
            keep=KEEP if state.capture_returns else None,
            freeze=state.freezer.value,
            **tagging,
        )

    return _with_discovery(backend, first, start, ret, yield_, resume, unwind, throw)


def _with_discovery(
    backend: MonitoringBackend,
    first: Callable[[types.CodeType, CodeInfo, types.FrameType], None],
    *callbacks: Callable[..., Any],
) -> Callbacks:
    state = backend.state
    infos = state.infos
    armed = backend.armed
    guards = backend.guards
    getframe = sys._getframe
    disable = _mon.DISABLE

    def discover(code: types.CodeType, offset: int) -> Any:
        key = id(code)
        if key in guards:
            backend.enter()
            return None  # never DISABLEd: each call of a guard is seen
        frame = getframe(1)
        info = infos.get(key, MISSING)
        if info is MISSING:
            info = state.classify(code, frame.f_globals)
        if info is not None and key not in armed:
            backend._arm(code, info)
            first(code, info, frame)
        return disable

    start, ret, yield_, resume, unwind, throw = callbacks
    return {
        "discover": discover,
        _E.PY_START: start,
        _E.PY_RETURN: ret,
        _E.PY_YIELD: yield_,
        _E.PY_RESUME: resume,
        _E.PY_UNWIND: unwind,
        _E.PY_THROW: throw,
    }
