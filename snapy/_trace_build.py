"""`CallEvent` and `CallNode`, built from a tracer's raw records when they are asked for.

Each thread keeps a stack of open calls. A generator or coroutine is one call: when it yields it
leaves the stack (remembered by its frame), when it goes on it comes back, and the calls it makes
meanwhile are its children; it ends once, with what it yielded and returned. Calls of code that
started before the tracer (a return, yield or resume with no call recorded) are left out.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Iterable
from typing import Any, Literal

from ._trace_backends import (
    ASYNC_GENERATOR,
    CALL,
    COROUTINE,
    GENERATOR,
    RAISE,
    RESUME,
    YIELD,
    CodeInfo,
    Segment,
    TraceState,
)
from ._trace_values import NOT_A_RESULT, UNBOUND, GeneratorResult, TracedException

EventKind = Literal["call", "return", "exception", "truncated"]


@dataclasses.dataclass(frozen=True)
class CallEvent:
    """One call starting (`call`), returning (`return`) or raising (`exception`).

    `arguments` (call events) maps parameter names to their values at call time; `value` is
    the returned value (for generators a `GeneratorResult`) or the raised exception, frozen when
    the event happened. `depth` counts recorded calls only. `thread` is 0 for the thread that
    started the tracer, then 1, 2, ... in the order threads were first seen. The last event of a
    trace cut by `max_events` has kind `truncated`.
    """

    kind: EventKind
    module: str
    qualname: str
    depth: int
    arguments: dict[str, Any] | None = None
    value: Any = None
    thread: int = 0
    call_id: int = 0
    parent_id: int | None = None
    function_kind: str = "function"

    @property
    def name(self) -> str:
        return f"{self.module}.{self.qualname}"


@dataclasses.dataclass(eq=False)
class CallNode:
    """A call in the tree: its call event, how it ended (None if it did not), its children."""

    call: CallEvent
    end: CallEvent | None = None
    children: list[CallNode] = dataclasses.field(default_factory=list)
    #: What a generator yielded, in order (None for other functions).
    yielded: list[Any] | None = None
    #: Calls below `max_depth` made from here, not recorded as nodes.
    hidden: int = 0

    @property
    def name(self) -> str:
        return self.call.name

    @property
    def arguments(self) -> dict[str, Any] | None:
        return self.call.arguments

    @property
    def returned(self) -> Any:
        return self.end.value if self.end is not None and self.end.kind == "return" else None

    @property
    def raised(self) -> TracedException | None:
        if self.end is not None and self.end.kind == "exception":
            return self.end.value  # type: ignore[no-any-return]
        return None

    def __repr__(self) -> str:
        return f"<CallNode {self.name} ({len(self.children)} children)>"


class _Open:
    """An open call while building; `node` is None for hidden or unknown calls."""

    __slots__ = ("info", "node", "owner")

    def __init__(self, node: CallNode | None, info: CodeInfo | None, owner: CallNode | None):
        self.node = node
        self.info = info
        self.owner = owner  # the nearest recorded call: this one, or the one it hides under


class _Thread:
    __slots__ = ("index", "stack", "suspended")

    def __init__(self, index: int) -> None:
        self.index = index
        self.stack: list[_Open] = []
        self.suspended: dict[int, _Open] = {}


class Builder:
    def __init__(self, state: TraceState, max_depth: int | None) -> None:
        self.state = state
        self.max_depth = max_depth
        self.events: list[CallEvent] = []
        self.roots: list[CallNode] = []
        self.thread_index: dict[int, int] = {state.owner: 0}
        self.calls = 0
        self.truncated = state.truncated

    def build(self, segments: Iterable[Segment]) -> Builder:
        """The events and tree of the records, at most `max_events` events of them.

        The backends stop recording calls at `max_events` records, but the returns of calls
        still open come after: the cut is made exact here.
        """
        session: int | None = None
        threads: dict[int, _Thread] = {}
        limit = self.state.limit
        events = self.events
        for segment in segments:
            if segment.session != session:
                self._finish(threads)
                session, threads = segment.session, {}
            log = segment.log if segment.end is None else segment.log[: segment.end]
            if segment.tagged:
                for ident, record in log:
                    if len(events) >= limit:
                        self.truncated = True
                        break
                    self._handle(self._thread(threads, ident), record)
            else:
                thread = self._thread(threads, segment.thread)
                for record in log:
                    if len(events) >= limit:
                        self.truncated = True
                        break
                    self._handle(thread, record)
        self._finish(threads)
        if self.truncated:
            events.append(CallEvent("truncated", "", "", 0, call_id=self.calls))
        return self

    def _thread(self, threads: dict[int, _Thread], ident: int) -> _Thread:
        thread = threads.get(ident)
        if thread is None:
            index = self.thread_index.setdefault(ident, len(self.thread_index))
            thread = threads[ident] = _Thread(index)
        return thread

    def _handle(self, thread: _Thread, record: Any) -> None:
        kind = type(record)
        if kind is types.CodeType:
            self._start(thread, record, None)
            return
        if kind is dict and type(record.get(CALL)) is types.CodeType:  # see _trace_backends
            self._start(thread, record[CALL], record)
            return
        if kind is tuple and record:  # a record, or a returned tuple (see _trace_backends)
            head = record[0]
            if type(head) is types.CodeType:
                self._start(thread, head, record[1])
                return
            if head is YIELD:
                self._suspend(thread, record[1], record[2])
                return
            if head is RESUME:
                entry = thread.suspended.pop(record[1], None)
                if entry is None:  # started before the tracer: its calls go to the caller's
                    owner = thread.stack[-1].owner if thread.stack else None
                    entry = _Open(None, None, owner)
                thread.stack.append(entry)
                return
            if head is RAISE:
                self._end(thread, record[1], True)
                return
        self._end(thread, record, False)

    def _start(self, thread: _Thread, code: types.CodeType, args: Any) -> None:
        info = self.state.infos[id(code)]
        assert info is not None
        if type(args) is tuple:
            args = {n: v for n, v in zip(info.argnames, args, strict=True) if v is not UNBOUND}
        elif args is not None:  # the frame's locals, immutable values taken by reference
            args = self._by_reference(info, args)
        parent = thread.stack[-1].owner if thread.stack else None
        depth = parent.call.depth + 1 if parent is not None else 0
        if parent is not None and self.max_depth is not None and depth > self.max_depth:
            parent.hidden += 1
            thread.stack.append(_Open(None, info, parent))
            return
        event = CallEvent(
            "call",
            info.module,
            info.qualname,
            depth,
            args,
            None,
            thread.index,
            self.calls,
            parent.call.call_id if parent is not None else None,
            info.kind,
        )
        self.calls += 1
        self.events.append(event)
        node = CallNode(event, yielded=[] if info.kind in (GENERATOR, ASYNC_GENERATOR) else None)
        (parent.children if parent is not None else self.roots).append(node)
        thread.stack.append(_Open(node, info, node))

    def _by_reference(self, info: CodeInfo, values: dict[str, Any]) -> dict[str, Any]:
        """The arguments among a frame's locals, secrets redacted now: an immutable value
        hashes the same now as when it was recorded."""
        freezer = self.state.freezer
        hidden = info.hidden
        if hidden is None:
            plan = freezer.plan(info.argnames) or ()
            hidden = info.hidden = frozenset(name for name, secret in plan if secret)
        return {
            name: freezer.redacted(values[name]) if name in hidden else values[name]
            for name in info.argnames
            if name in values
        }

    def _suspend(self, thread: _Thread, frame: int, value: Any) -> None:
        if not thread.stack:
            return
        entry = thread.stack.pop()
        node = entry.node
        if node is not None and node.yielded is not None and value is not NOT_A_RESULT:
            node.yielded.append(value)
        thread.suspended[frame] = entry

    def _end(self, thread: _Thread, value: Any, raised: bool) -> None:
        if not thread.stack:
            return
        entry = thread.stack.pop()
        node = entry.node
        if node is None:
            return
        kind = node.call.function_kind
        closed = raised and isinstance(value, TracedException) and value.type is GeneratorExit
        if node.yielded is not None and not raised:
            self._close(node, "return", GeneratorResult(tuple(node.yielded), value))
        elif node.yielded is not None and closed:
            self._close(node, "return", GeneratorResult(tuple(node.yielded), None, False))
        elif kind == COROUTINE and closed:
            return  # closed before its end: left unfinished, as a still-suspended one is
        else:
            self._close(node, "exception" if raised else "return", value)

    def _close(self, node: CallNode, kind: EventKind, value: Any) -> None:
        end = dataclasses.replace(node.call, kind=kind, arguments=None, value=value)
        node.end = end
        self.events.append(end)

    def _finish(self, threads: dict[int, _Thread]) -> None:
        """Generators still suspended when recording stopped end 'not exhausted'.

        Python 3.13 closes a generator suspended outside any `try` without running it (no
        event), 3.11-3.12 throw GeneratorExit in: both read the same in the tree.
        """
        for thread in threads.values():
            for entry in thread.suspended.values():
                node = entry.node
                if len(self.events) >= self.state.limit:  # cut by max_events: left unfinished
                    return
                if node is not None and node.end is None and node.yielded is not None:
                    self._close(node, "return", GeneratorResult(tuple(node.yielded), None, False))
