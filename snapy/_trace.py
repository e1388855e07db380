"""`FunctionTracer`: the call tree of a piece of code, recorded for a snapshot.

    tracer = snapy.FunctionTracer(["myapp.*"])
    with tracer:
        myapp.shop.checkout(cart)
    assert tracer == snapshot(extension_class=snapy.TracedSnapshot)

Only code in modules matching the globs is recorded; calls into other code are not, but calls
from there back into matching code are (nested under the nearest recorded call). Python 3.12+
uses `sys.monitoring` (code outside the filter costs nothing), 3.11 `sys.settrace` (about 200 ns
per Python call even outside the filter, chained with any trace function installed before).
"""

from __future__ import annotations

import _thread
import functools
import inspect
import threading
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from ._errors import ConfigError, TracerError
from ._redact import ArgumentFilter
from ._trace_backends import TraceState, make_backend
from ._trace_build import Builder, CallEvent, CallNode
from ._trace_values import Freezer

F = TypeVar("F", bound=Callable[..., Any])
_LOCK = threading.Lock()
_running: FunctionTracer | None = None


class FunctionTracer:
    """Records the calls of matching code: a context manager, a decorator, or start()/stop().

    - `filter_modules`: module globs (`"myapp.*"` also matches `myapp` itself).
    - `capture_args`/`capture_returns`: record arguments and returned or yielded values, taken
      when the event happens (mutable values copied, immutable ones kept), redacted and cut at
      `max_repr` characters. Calls made below a `snapy.replaying` mock (the real function,
      while recording) are not recorded: a trace reads the same recorded and replayed.
    - `max_events`: recording stops there, and the trace ends with a `truncated` marker.
    - `max_depth`: calls deeper than this (0 = only the outermost) are counted, not recorded.
    - `threads`: also record other threads (3.11: threads started while tracing).
    - `redact`: extra secret name patterns, or an `ArgumentFilter` (default: snapy's patterns).

    Starting and stopping again adds to the same trace; `clear()` empties it. One tracer runs
    at a time: starting a second one raises `TracerError`.
    """

    def __init__(
        self,
        filter_modules: Iterable[str] | str,
        *,
        capture_args: bool = True,
        capture_returns: bool = True,
        max_events: int = 100_000,
        max_depth: int | None = None,
        max_repr: int = 200,
        threads: bool = False,
        redact: Iterable[str] | ArgumentFilter | None = None,
    ) -> None:
        self.filter_modules = _patterns(filter_modules)
        self.capture_args = bool(capture_args)
        self.capture_returns = bool(capture_returns)
        self.max_events = _count("max_events", max_events, 1)
        self.max_depth = None if max_depth is None else _count("max_depth", max_depth, 0)
        self.max_repr = _count("max_repr", max_repr, 10)
        self.threads = bool(threads)
        self.redact = _argument_filter(redact)
        self._state = TraceState(
            self.filter_modules,
            Freezer(self.redact, self.max_repr),
            capture_args=self.capture_args,
            capture_returns=self.capture_returns,
            limit=self.max_events,
            threads=self.threads,
        )
        self._backend: Any = None
        self._built: Builder | None = None

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<FunctionTracer {list(self.filter_modules)!r} {state}, {self._calls()} calls>"

    # -- running ------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._state.recording

    def start(self) -> FunctionTracer:
        """Start recording (again); returns the tracer."""
        global _running
        with _LOCK:
            if _running is self:
                raise TracerError("this FunctionTracer is already running")
            if _running is not None:
                raise TracerError(
                    f"another FunctionTracer is already running "
                    f"(filter_modules={list(_running.filter_modules)!r}); tracers do not nest: "
                    "stop it first, or trace all the modules with one tracer"
                )
            state = self._state
            state.session += 1
            state.owner = _thread.get_ident()
            state.recording = True
            self._built = None
            backend = make_backend(state)
            try:
                backend.start()
            except BaseException:
                state.recording = False
                raise
            self._backend = backend
            _running = self
        return self

    def stop(self) -> None:
        """Stop recording and restore whatever trace or monitoring state was there before."""
        global _running
        with _LOCK:
            backend = self._backend
            if backend is None:
                return
            check = getattr(backend, "check_stop", None)
            if check is not None:
                check()
            self._state.recording = False
            try:
                backend.stop()
            finally:
                for segment in self._state.segments:
                    segment.close()
                self._backend = None
                self._built = None
                _running = None

    def __enter__(self) -> FunctionTracer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __call__(self, fn: F) -> F:
        """Decorate `fn` (sync or async) so that each of its calls runs traced."""
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def traced_async(*args: Any, **kwargs: Any) -> Any:
                if self.running:  # a recursive or nested call: already traced
                    return await fn(*args, **kwargs)
                with self:
                    return await fn(*args, **kwargs)

            return traced_async  # type: ignore[return-value]

        @functools.wraps(fn)
        def traced(*args: Any, **kwargs: Any) -> Any:
            if self.running:
                return fn(*args, **kwargs)
            with self:
                return fn(*args, **kwargs)

        return traced  # type: ignore[return-value]

    def clear(self) -> None:
        """Forget everything recorded so far (also while running)."""
        state = self._state
        kept = []
        for segment in state.segments:
            if self.running and segment.end is None:  # callbacks still append to this list
                del segment.log[:]
                kept.append(segment)
        state.segments = kept
        if not self.running:  # a full tracer stays full until it is started again
            state.truncated = False
        self._built = None

    # -- what was recorded --------------------------------------------------------------------

    def _build(self) -> Builder:
        built = self._built
        if built is None:
            built = Builder(self._state, self.max_depth).build(list(self._state.segments))
            if not self.running:  # while recording, every look sees the newest records
                self._built = built
        return built

    def _calls(self) -> int:
        return sum(1 for event in self._build().events if event.kind == "call")

    @property
    def events(self) -> list[CallEvent]:
        """Every event in order (per thread), ending with a `truncated` marker if cut."""
        return list(self._build().events)

    def tree(self) -> list[CallNode]:
        """The outermost recorded calls, each with its nested calls as `children`."""
        return list(self._build().roots)

    @property
    def truncated(self) -> bool:
        """Whether recording stopped at `max_events`."""
        return self._build().truncated

    def format(self, **filters: Any) -> str:
        """The call tree as the indented text a `TracedSnapshot` stores.

        `exclude`, `include` and `matcher` are syrupy's (`syrupy.filters`, `syrupy.matchers`).
        """
        from ._trace_text import format_trace

        return format_trace(self, **filters)


def _patterns(value: Iterable[str] | str) -> tuple[str, ...]:
    patterns = (value,) if isinstance(value, str) else tuple(value)
    if not patterns or not all(isinstance(p, str) and p for p in patterns):
        raise ConfigError(
            "filter_modules", value, "name at least one module glob, e.g. ['myapp.*']"
        )
    return patterns


def _count(name: str, value: int, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(name, value, f"use a whole number, {minimum} or more")
    return value


def _argument_filter(redact: Iterable[str] | ArgumentFilter | None) -> ArgumentFilter:
    if redact is None:
        return ArgumentFilter()
    if isinstance(redact, ArgumentFilter):
        return redact
    if isinstance(redact, str):
        raise ConfigError("redact", redact, "use a list of name patterns or an ArgumentFilter")
    try:
        return ArgumentFilter().extended(redact)
    except ValueError as exc:
        raise ConfigError("redact", redact, str(exc)) from None
