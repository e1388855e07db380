"""The tracer's optional C hot path (`snapy._speedups`) records exactly what the Python one does.

Each test runs the same traced workload with the C module (`_trace_backends.SPEEDUPS`, read when
a tracer starts) and without it (None: the Python callbacks alone), and compares the events, the
tree and the snapshot text; exact expected values make sure both are not merely empty. Tests
that need the C module skip where it was not built (no C compiler at install).
"""

# ruff: noqa: E501 (expected trace lines are as long as the traces)

from __future__ import annotations

import gc
import importlib.util
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import snapy
from snapy import _trace_backends
from snapy._trace import FunctionTracer
from snapy._trace_build import CallEvent
from snapy._trace_values import ReprText, TracedException
from snapy._traced_snapshot import serialize_trace

NATIVE = _trace_backends.SPEEDUPS
needs_c = pytest.mark.skipif(
    NATIVE is None, reason="the tracer's C speedups are not built here (no C compiler at install)"
)
only_311 = pytest.mark.skipif(
    sys.version_info >= (3, 12), reason="sys.settrace is the 3.11 backend"
)
only_312 = pytest.mark.skipif(sys.version_info < (3, 12), reason="sys.monitoring is 3.12+")

WORK = (
    """
import asyncio
import dataclasses
import enum
from decimal import Decimal
from sother import lib


class Boom(Exception):
    pass


def add(a, b=2, *, scale=1):
    return (a + b) * scale


def describe(name, text, items, table, nothing, ratio, flag):
    return {"name": name, "size": len(text), "items": items, "order": sorted(table), "none": nothing, "ratio": ratio, "flag": not flag}


def spread(first, *args, **kwargs):
    return [first, len(args), sorted(kwargs)]


def counter(start):
    def bump(step):
        return start + step

    return bump(1)


def fact(n):
    return 1 if n <= 1 else n * fact(n - 1)


def raiser(depth):
    if depth == 0:
        raise Boom("deep", depth)
    return raiser(depth - 1)


def catcher():
    try:
        raiser(1)
    except Boom as exc:
        return exc.args[0]


def escape():
    return raiser(2)


def gen(n):
    for i in range(n):
        yield add(i)
    return "end"


async def job(x):
    await asyncio.sleep(0)
    return add(x)


async def jobs():
    return [await job(1), await job(2)]


def key(item):
    return -item


def callbacks(items):
    return [sorted(items, key=key), list(map(key, items)), lib.each(items, key)]


def login(user, password, api_key="sk_live"):
    return user


def keep(items):
    return len(items)


def run():
    out = [
        add(1),
        add(1, 3, scale=2),
        describe("n", "x" * 300, [1, [2.5, None]], {"b": 1, "a": 2}, None, 0.5, True),
        spread("one", 2, "three", four=4),
        counter(10),
        fact(4),
        catcher(),
        list(gen(2)),
        asyncio.run(jobs()),
        callbacks([3, 1]),
        login("bob", "hunter2"),
    ]
    try:
        escape()
    except Boom:
        out.append("escaped")
    return out


@dataclasses.dataclass
class Broken:
    name: str

    def __repr__(self):
        return "Broken(?)"

    def __getattribute__(self, attr):
        if attr == "name":
            raise RuntimeError("no name")
        return object.__getattribute__(self, attr)


def take(value):
    return value


class Color(enum.IntEnum):
    RED = 1


class Text(str):
    pass


class Point:
    def __init__(self, x, y):
        self.x = x
        self.y = y

    def norm(self, scale=1):
        return (self.x + self.y) * scale


def many(<PARAMETERS>, *rest, **options):
    return a0 + a299


def unbind(a, b):
    del a
    return b


def enclose(items, n):
    return (lambda: items + [n])()


def odd_values():
    exec("def made(q):\\n    return q\\n\\nmade(5)", {"__name__": "sapp.made"})
    exec("def nameless(q):\\n    return q\\n\\nnameless(6)", {})
    return [
        take(Color.RED),
        take(Text("abc")),
        take(2**70),
        take(b"bytes"),
        take((1, "a", None)),
        take(frozenset({1})),
        take(1.5j),
        take(Decimal("2.5")),
        Point(1, 2).norm(3),
        many(*range(305), x=1),
        unbind(1, 2),
        enclose([1], 2),
        take(take),
        fact(200),
    ]


class Meta(type):
    def __eq__(cls, other):  # makes the class unhashable
        return cls is other


class Unhashable(metaclass=Meta):
    pass


def with_unhashable_type():
    try:
        take(Unhashable())
    except TypeError as exc:
        return str(exc)
    return "no error"
"""
).replace("<PARAMETERS>", ", ".join(f"a{i}" for i in range(300)))

LIB = """
def each(items, fn):
    return [fn(item) for item in items]
"""


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """`sapp.work`, importable for the test, removed from `sys.modules` afterwards."""
    for package, module, source in (("sapp", "work", WORK), ("sother", "lib", LIB)):
        folder = tmp_path / package
        folder.mkdir()
        (folder / "__init__.py").write_text("")
        (folder / f"{module}.py").write_text(textwrap.dedent(source))
    monkeypatch.syspath_prepend(str(tmp_path))
    import sapp.work

    yield sapp.work
    for name in [n for n in sys.modules if n.split(".")[0] in ("sapp", "sother")]:
        del sys.modules[name]


def hot_types(tracer: FunctionTracer) -> list[str]:
    """The qualified names of the hot path's callables now installed for `tracer`."""
    if sys.version_info >= (3, 12):
        mon = sys.monitoring
        record = tracer._backend.tools[1]
        names = []
        for event in (mon.events.PY_START, mon.events.PY_RETURN):
            callback = mon.register_callback(record, event, None)
            mon.register_callback(record, event, callback)
            names.append(_name(callback))
        return names
    return [_name(sys.gettrace())]


def _name(obj: Any) -> str:
    kind = type(obj)
    return f"{kind.__module__}.{kind.__qualname__}"


def run_on(
    path: str, monkeypatch: pytest.MonkeyPatch, fn: Callable[..., Any], *args: Any, **options: Any
) -> tuple[FunctionTracer, Any, list[str]]:
    """Trace `fn(*args)` on the C ("c") or the Python ("python") hot path."""
    monkeypatch.setattr(_trace_backends, "SPEEDUPS", NATIVE if path == "c" else None)
    tracer = FunctionTracer(options.pop("filter_modules", ["sapp.*"]), **options)
    with tracer:
        installed = hot_types(tracer)
        try:
            result = fn(*args)
        except BaseException as exc:  # compared between the paths
            result = exc
    return tracer, result, installed


def _shape(nodes: list[Any]) -> list[Any]:
    """A call tree as plain comparable data (its nodes do not compare by value)."""
    return [(n.call, n.end, n.yielded, n.hidden, _shape(n.children)) for n in nodes]


def both(
    monkeypatch: pytest.MonkeyPatch, fn: Callable[..., Any], *args: Any, **options: Any
) -> FunctionTracer:
    """Trace on both paths, assert the same trace and result, return the C path's tracer."""
    c, c_result, c_hot = run_on("c", monkeypatch, fn, *args, **dict(options))
    py, py_result, py_hot = run_on("python", monkeypatch, fn, *args, **dict(options))
    if sys.version_info >= (3, 12):
        assert c_hot == ["snapy._speedups.Start", "snapy._speedups.Return"]
        assert "snapy._speedups" not in " ".join(py_hot)
    else:
        assert c_hot == ["snapy._speedups.Tracer"]
        assert py_hot != c_hot
    assert repr(c_result) == repr(py_result)
    assert c.events == py.events
    assert _shape(c.tree()) == _shape(py.tree())
    assert c.format() == py.format()
    assert serialize_trace(c) == serialize_trace(py)
    assert c.truncated == py.truncated
    return c


FULL = (
    """\
sapp.work.run() -> [3, 8, {'name': 'n', 'size': 300, 'items': [1, [2.5, None]], 'order': ['a', 'b'], 'none': None, 'ratio': 0.5, 'flag': False}, ['one', 2, ['four']], 11, 24, 'deep', [2, 3], [3, 4], [[3, 1], [-3, -1]...
  sapp.work.add(a=1, b=2, scale=1) -> 3
  sapp.work.add(a=1, b=3, scale=2) -> 8
  sapp.work.describe(name='n', text='<X>..., items=[1, [2.5, None]], table={'b': 1, 'a': 2}, nothing=None, ratio=0.5, flag=True) -> {'name': 'n', 'size': 300, 'items': [1, [2.5, None]], 'order': ['a', 'b'], 'none': None, 'ratio': 0.5, 'flag': False}
  sapp.work.spread(first='one', args=(2, 'three'), kwargs={'four': 4}) -> ['one', 2, ['four']]
  sapp.work.counter(start=10) -> 11
    sapp.work.counter.<locals>.bump(step=1) -> 11
  sapp.work.fact(n=4) -> 24
    sapp.work.fact(n=3) -> 6
      sapp.work.fact(n=2) -> 2
        sapp.work.fact(n=1) -> 1
  sapp.work.catcher() -> 'deep'
    sapp.work.raiser(depth=1) raised Boom('deep', 0)
      sapp.work.raiser(depth=0) raised Boom('deep', 0)
  sapp.work.gen(n=2) -> yields [2, 3], returns 'end'
    sapp.work.add(a=0, b=2, scale=1) -> 2
    sapp.work.add(a=1, b=2, scale=1) -> 3
  async sapp.work.jobs() -> [3, 4]
    async sapp.work.job(x=1) -> 3
      sapp.work.add(a=1, b=2, scale=1) -> 3
    async sapp.work.job(x=2) -> 4
      sapp.work.add(a=2, b=2, scale=1) -> 4
  sapp.work.callbacks(items=[3, 1]) -> [[3, 1], [-3, -1], [-3, -1]]
    sapp.work.key(item=3) -> -3
    sapp.work.key(item=1) -> -1
    sapp.work.key(item=3) -> -3
    sapp.work.key(item=1) -> -1
    sapp.work.key(item=3) -> -3
    sapp.work.key(item=1) -> -1
  sapp.work.login(user='bob', password=<redacted>, api_key=<redacted>) -> 'bob'
  sapp.work.escape() raised Boom('deep', 0)
    sapp.work.raiser(depth=2) raised Boom('deep', 0)
      sapp.work.raiser(depth=1) raised Boom('deep', 0)
        sapp.work.raiser(depth=0) raised Boom('deep', 0)"""
).replace("<X>", "x" * 196)
RUN = FULL.splitlines()[0]


@needs_c
def test_the_c_path_records_the_same_varied_workload(work, monkeypatch):
    tracer = both(monkeypatch, work.run)
    assert tracer.format() == FULL
    events = tracer.events
    assert len(events) == 68
    assert events[0] == CallEvent("call", "sapp.work", "run", 0, arguments={})
    assert events[-1].kind == "return" and events[-1].value == work.run()
    spread = events[7]
    assert spread.arguments == {"first": "one", "args": (2, "three"), "kwargs": {"four": 4}}
    login = next(e for e in events if e.qualname == "login")
    assert login.arguments["user"] == "bob"
    assert type(login.arguments["password"]) is snapy.Redacted
    escaped = [e for e in events if e.kind == "exception" and e.qualname == "escape"]
    assert len(escaped) == 1 and escaped[0].value == TracedException(work.Boom, ("deep", 0))
    assert [n.call.qualname for n in tracer.tree()] == ["run"]
    assert [n.call.qualname for n in tracer.tree()[0].children][:4] == [
        "add",
        "add",
        "describe",
        "spread",
    ]


def _lines(*numbers: int) -> str:
    lines = FULL.splitlines()
    return "\n".join(lines[n] for n in numbers)


@needs_c
@pytest.mark.parametrize(
    ("options", "text", "count"),
    [
        (
            {"max_events": 1},
            "sapp.work.run() (unfinished)\n... recording stopped at max_events=1",
            2,
        ),
        (
            {"max_events": 5},
            "sapp.work.run() (unfinished)\n"
            + _lines(1, 2)
            + "\n... recording stopped at max_events=5",
            6,
        ),
        (
            {"max_events": 9},
            "sapp.work.run() (unfinished)\n"
            + _lines(1, 2, 3, 4)
            + "\n... recording stopped at max_events=9",
            10,
        ),
        (
            {"max_events": 30},
            "sapp.work.run() (unfinished)\n"
            + _lines(*range(1, 14))
            + "\n  sapp.work.gen(n=2) (unfinished)\n"
            + _lines(15)
            + "\n... recording stopped at max_events=30",
            31,
        ),
        ({"max_depth": 0}, RUN + "\n  ... 33 calls below max_depth=0", 2),
    ],
    ids=["max_events=1", "max_events=5", "max_events=9", "max_events=30", "max_depth=0"],
)
def test_the_c_path_cuts_at_the_same_place(work, monkeypatch, options, text, count):
    tracer = both(monkeypatch, work.run, **options)
    assert tracer.format() == text
    assert len(tracer.events) == count
    if "max_events" in options:
        assert tracer.truncated
        assert tracer.events[-1] == CallEvent(
            "truncated", "", "", 0, call_id=tracer.events[-1].call_id
        )
        assert len(tracer.events) - 1 == options["max_events"]


@needs_c
def test_the_c_path_counts_calls_below_max_depth_the_same(work, monkeypatch):
    tracer = both(monkeypatch, work.run, max_depth=1)
    lines = tracer.format().splitlines()
    assert lines[:5] == FULL.splitlines()[:5]
    assert lines[5:9] == [
        "  sapp.work.counter(start=10) -> 11",
        "    ... 1 call below max_depth=1",
        "  sapp.work.fact(n=4) -> 24",
        "    ... 3 calls below max_depth=1",
    ]
    assert lines[-2:] == [
        "  sapp.work.escape() raised Boom('deep', 0)",
        "    ... 3 calls below max_depth=1",
    ]
    assert len(tracer.events) == 26


@needs_c
def test_the_c_path_leaves_out_what_capture_options_turn_off(work, monkeypatch):
    tracer = both(monkeypatch, work.run, capture_args=False, capture_returns=False)
    lines = tracer.format().splitlines()
    assert lines[:4] == [
        "sapp.work.run(...)",
        "  sapp.work.add(...)",
        "  sapp.work.add(...)",
        "  sapp.work.describe(...)",
    ]
    assert "  sapp.work.gen(...) -> yielded 2 times" in lines
    assert lines[-1] == "        sapp.work.raiser(...) raised Boom('deep', 0)"
    assert all(e.arguments is None or e.arguments == {} for e in tracer.events)
    tracer = both(monkeypatch, work.run, capture_args=False)
    assert tracer.format().splitlines()[1] == "  sapp.work.add(...) -> 3"
    tracer = both(monkeypatch, work.run, capture_returns=False)
    assert tracer.format().splitlines()[1] == "  sapp.work.add(a=1, b=2, scale=1)"
    assert tracer.events[-1].value is None


@needs_c
def test_the_c_path_cuts_values_at_max_repr_the_same(work, monkeypatch):
    tracer = both(monkeypatch, work.run, max_repr=12)
    lines = tracer.format().splitlines()
    assert (
        lines[3]
        == "  sapp.work.describe(name='n', text='xxxxxxxx..., items=[1, [2.5,..., table={'b': 1, ..., nothing=None, ratio=0.5, flag=True) -> {'name': ..."
    )
    assert len(lines) == 34


class ByValue(snapy.ArgumentFilter):
    """Hides any argument whose value is the string 'bob' (a filter that looks at values)."""

    def should_capture(self, arg_name: str, arg_value: Any) -> bool:
        return arg_value != "bob" and super().should_capture(arg_name, arg_value)


@needs_c
def test_a_filter_that_looks_at_values_decides_the_same_on_both_paths(work, monkeypatch):
    tracer = both(monkeypatch, work.run, redact=ByValue())
    lines = tracer.format().splitlines()
    assert (
        "  sapp.work.login(user=<redacted>, password=<redacted>, api_key=<redacted>) -> 'bob'"
        in lines
    )
    assert "  sapp.work.add(a=1, b=2, scale=1) -> 3" in lines


@needs_c
def test_values_are_frozen_when_the_event_happens_on_the_c_path(work, monkeypatch):
    def mutate_after_call() -> int:
        items = [1, "two", {"three": 3}]
        size = work.keep(items)
        items.append("later")
        items[2]["three"] = 33
        return size

    tracer = both(monkeypatch, mutate_after_call)
    assert tracer.events[0].arguments == {"items": [1, "two", {"three": 3}]}
    assert tracer.format() == "sapp.work.keep(items=[1, 'two', {'three': 3}]) -> 3"


class FailingFilter(snapy.ArgumentFilter):
    def should_capture(self, arg_name: str, arg_value: Any) -> bool:
        raise RuntimeError("broken filter")


class Interrupting(snapy.ArgumentFilter):
    def should_capture(self, arg_name: str, arg_value: Any) -> bool:
        raise KeyboardInterrupt("stop now")


def assert_uninstalled() -> None:
    """No trace function (3.11), or no snapy tool and no callback left on a free tool (3.12+)."""
    if sys.version_info < (3, 12):
        assert sys.gettrace() is None
        return
    mon = sys.monitoring
    assert not [t for t in range(6) if (mon.get_tool(t) or "").startswith("snapy")]
    for tool in [t for t in range(6) if mon.get_tool(t) is None]:
        mon.use_tool_id(tool, "probe")
        try:
            for event in (mon.events.PY_START, mon.events.PY_RETURN):
                assert mon.register_callback(tool, event, None) is None
            assert mon.get_events(tool) == 0
        finally:
            mon.free_tool_id(tool)


@needs_c
def test_a_failing_filter_or_value_is_recorded_the_same_on_both_paths(work, monkeypatch):
    tracer = both(monkeypatch, work.add, 5, redact=FailingFilter())
    assert tracer.format() == "sapp.work.add(a=<redacted>, b=<redacted>, scale=<redacted>) -> 7"
    assert_uninstalled()
    broken = work.Broken.__new__(work.Broken)
    tracer = both(monkeypatch, work.take, broken)
    assert tracer.events[0].arguments == {"value": ReprText("<Broken object>")}
    assert tracer.events[1].value == ReprText("<Broken object>")
    assert_uninstalled()


@needs_c
@pytest.mark.parametrize("path", ["c", "python"])
def test_an_exception_escaping_the_hot_path_reaches_the_caller_and_tracing_ends(
    work, monkeypatch, path
):
    tracer, result, _ = run_on(path, monkeypatch, work.add, 5, redact=Interrupting())
    assert type(result) is KeyboardInterrupt and result.args == ("stop now",)
    assert_uninstalled()
    assert not tracer.running
    assert work.add(1) == 3  # the code runs on untraced


@only_311
@needs_c
def test_the_c_tracer_is_the_trace_function_on_3_11(work, monkeypatch):
    assert sys.gettrace() is None
    with FunctionTracer(["sapp.*"]) as tracer:
        current = sys.gettrace()
        assert type(current).__name__ == "Tracer"
        assert type(current).__module__ == "snapy._speedups"
        work.add(1)
    assert sys.gettrace() is None
    assert tracer.format() == "sapp.work.add(a=1, b=2, scale=1) -> 3"


@only_311
@needs_c
def test_a_previous_trace_function_runs_the_chained_python_variant_and_sees_its_events(
    work, monkeypatch
):
    seen: list[tuple[str, str]] = []

    def previous(frame: Any, event: str, arg: Any) -> Any:
        if frame.f_code.co_name in ("add", "fact") and event != "line":
            seen.append((frame.f_code.co_name, event))
        return previous

    def traced() -> tuple[str, int, FunctionTracer]:
        with FunctionTracer(["sapp.*"]) as tracer:
            installed = _name(sys.gettrace())
            result = work.fact(2) + work.add(1)
        return installed, result, tracer

    monkeypatch.setattr(_trace_backends, "SPEEDUPS", NATIVE)
    sys.settrace(previous)
    try:
        installed, result, tracer = traced()
        after = sys.gettrace()
    finally:
        sys.settrace(None)
    assert installed == "builtins.function"  # the chained Python trace function
    assert after is previous
    assert result == 5
    assert seen == [
        ("fact", "call"),
        ("fact", "call"),
        ("fact", "return"),
        ("fact", "return"),
        ("add", "call"),
        ("add", "return"),
    ]
    assert (
        tracer.format()
        == "sapp.work.fact(n=2) -> 2\n  sapp.work.fact(n=1) -> 1\nsapp.work.add(a=1, b=2, scale=1) -> 3"
    )


@only_311
@needs_c
def test_settrace_of_gettrace_inside_the_block_keeps_the_trace(work, monkeypatch):
    def reinstall() -> int:
        first = work.add(1)
        current = sys.gettrace()
        sys.settrace(current)  # what debuggers and some libraries do
        assert sys.gettrace() is current  # the C Tracer, now called as a Python function
        return first + work.fact(3)

    tracer = both(monkeypatch, reinstall)
    assert tracer.format() == textwrap.dedent("""\
        sapp.work.add(a=1, b=2, scale=1) -> 3
        sapp.work.fact(n=3) -> 6
          sapp.work.fact(n=2) -> 2
            sapp.work.fact(n=1) -> 1""")
    assert sys.gettrace() is None


@only_311
@needs_c
def test_a_thread_started_while_tracing_is_recorded_on_the_c_path(work, monkeypatch):
    def in_thread() -> list[int]:
        out: list[int] = []
        worker = threading.Thread(target=lambda: out.append(work.add(4)))
        worker.start()
        worker.join()
        return out

    tracer = both(monkeypatch, in_thread, threads=True)
    assert [(e.kind, e.qualname, e.thread) for e in tracer.events] == [
        ("call", "add", 1),
        ("return", "add", 1),
    ]
    assert tracer.events[1].value == 6


@only_312
@needs_c
def test_the_c_callbacks_are_registered_while_tracing_and_nothing_after_on_3_12(work, monkeypatch):
    mon = sys.monitoring
    tracer = FunctionTracer(["sapp.*"])
    with tracer:
        record = tracer._backend.tools[1]
        assert mon.get_tool(record) == "snapy tracer"
        assert hot_types(tracer) == ["snapy._speedups.Start", "snapy._speedups.Return"]
        work.add(1)
    assert mon.get_tool(record) is None
    assert_uninstalled()
    assert tracer.format() == "sapp.work.add(a=1, b=2, scale=1) -> 3"


@only_312
@needs_c
@pytest.mark.parametrize("threads", [False, True], ids=["owner-only", "threads"])
def test_the_c_callbacks_tag_records_while_another_thread_runs(work, monkeypatch, threads):
    # A thread running when the tracer starts makes 3.12+ tag each record with its thread:
    # the C callbacks do that too, and record what the Python ones do.
    def traced(path: str) -> tuple[FunctionTracer, list[str]]:
        monkeypatch.setattr(_trace_backends, "SPEEDUPS", NATIVE if path == "c" else None)
        go = threading.Event()
        worker = threading.Thread(target=lambda: go.wait(10) and work.add(4, scale=3))
        worker.start()
        try:
            tracer = FunctionTracer(["sapp.*"], threads=threads)
            with tracer:
                assert tracer._backend.tagged
                installed = hot_types(tracer)
                work.add(1)
                go.set()
                worker.join(10)
        finally:
            go.set()
            worker.join(10)
        return tracer, installed

    c, c_hot = traced("c")
    py, py_hot = traced("python")
    assert c_hot == ["snapy._speedups.Start", "snapy._speedups.Return"]
    assert "snapy._speedups" not in " ".join(py_hot)
    assert c.events == py.events
    assert c.format() == py.format()
    expected = [("call", "add", 0), ("return", "add", 0)]
    if threads:
        expected += [("call", "add", 1), ("return", "add", 1)]
    assert [(e.kind, e.qualname, e.thread) for e in c.events] == expected
    assert [e.value for e in c.events if e.kind == "return"] == [3, 18][: len(expected) // 2]
    assert c.events[-2].arguments == (
        {"a": 4, "b": 2, "scale": 3} if threads else {"a": 1, "b": 2, "scale": 1}
    )


SHOW = "import snapy._trace_backends as b; print(getattr(b.SPEEDUPS, '__name__', b.SPEEDUPS))"


@pytest.mark.parametrize(
    ("value", "loaded"), [("0", False), (" 0 ", False), ("1", True), (None, True)]
)
def test_the_environment_variable_turns_the_c_path_off_at_import(value, loaded):
    env = {k: v for k, v in os.environ.items() if k != "SNAPY_TRACER_SPEEDUPS"}
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(Path(snapy.__file__).parents[1]), env.get("PYTHONPATH")) if p
    )
    if value is not None:
        env["SNAPY_TRACER_SPEEDUPS"] = value
    done = subprocess.run(
        [sys.executable, "-c", SHOW], env=env, capture_output=True, text=True, check=True
    )
    built = importlib.util.find_spec("snapy._speedups") is not None
    assert done.stdout == ("snapy._speedups\n" if loaded and built else "None\n")


def test_load_speedups_is_none_when_the_module_does_not_import(monkeypatch):
    monkeypatch.delenv("SNAPY_TRACER_SPEEDUPS", raising=False)
    monkeypatch.setitem(sys.modules, "snapy._speedups", None)
    monkeypatch.delattr(snapy, "_speedups", raising=False)
    assert _trace_backends._load_speedups() is None
    monkeypatch.setenv("SNAPY_TRACER_SPEEDUPS", "0")
    assert _trace_backends._load_speedups() is None


@needs_c
def test_load_speedups_returns_the_module_when_it_imports(monkeypatch):
    monkeypatch.delenv("SNAPY_TRACER_SPEEDUPS", raising=False)
    assert _trace_backends._load_speedups() is NATIVE


def _live(kinds: tuple[type, ...]) -> int:
    return sum(1 for obj in gc.get_objects() if type(obj) in kinds)


@needs_c
def test_the_c_path_leaks_no_references_or_objects(work, monkeypatch):
    kinds = (NATIVE.Tracer,) if sys.version_info < (3, 12) else (NATIVE.Start, NATIVE.Return)
    monkeypatch.setattr(_trace_backends, "SPEEDUPS", NATIVE)
    amount = Decimal("12.5")  # kept by reference in the records
    items = [amount, "x" * 300]
    code = work.describe.__code__

    def once() -> FunctionTracer:
        with FunctionTracer(["sapp.*"]) as tracer:
            work.describe("n", "text", items, {"a": amount}, None, 0.5, True)
            work.add(amount)
            work.take(items)
            while_tracing.append(_live(kinds))
        return tracer

    while_tracing: list[int] = []
    first = once()
    assert first.events[0].arguments["items"] == [Decimal("12.5"), "x" * 201]
    del first
    gc.collect()
    before = (sys.getrefcount(amount), sys.getrefcount(items), sys.getrefcount(code), _live(kinds))
    for _ in range(200):
        once()
    gc.collect()
    after = (sys.getrefcount(amount), sys.getrefcount(items), sys.getrefcount(code), _live(kinds))
    assert after == before
    # The C objects are tracked by the collector (else the count would prove nothing); objects
    # kept alive by earlier tests may be counted in `before`, only growth matters.
    assert min(while_tracing) >= before[3] + len(kinds)


@needs_c
def test_the_c_path_cuts_every_max_events_the_same(work, monkeypatch):
    everything = both(monkeypatch, work.run)
    for limit in range(1, 72):
        for options in ({}, {"capture_args": False}, {"redact": ByValue()}):
            tracer = both(monkeypatch, work.run, max_events=limit, **options)
            events = tracer.events
            if not tracer.truncated:
                assert limit >= 68 and len(events) == 68
                continue
            assert events[-1].kind == "truncated" and len(events) <= limit + 1
            if not options:
                kept = [e for e in everything.events if e.kind == "call"][: len(events) - 1]
                calls = [e for e in events if e.kind == "call"]
                assert calls == kept[: len(calls)]


@needs_c
def test_the_c_path_records_odd_values_and_code_the_same(work, monkeypatch):
    for options in ({}, {"capture_args": False}, {"max_repr": 10}, {"redact": ByValue()}):
        tracer = both(monkeypatch, work.odd_values, **options)
        # odd_values, made, take x9, Point x2, many, unbind, enclose and its lambda, fact x200
        assert len(tracer.events) == 2 * (1 + 1 + 9 + 2 + 1 + 1 + 2 + 200)
    tracer = both(monkeypatch, work.odd_values)
    lines = tracer.format().splitlines()
    assert lines[1:11] == [
        "  sapp.made.made(q=5) -> 5",
        "  sapp.work.take(value=<Color.RED: 1>) -> <Color.RED: 1>",
        "  sapp.work.take(value='abc') -> 'abc'",
        "  sapp.work.take(value=1180591620717411303424) -> 1180591620717411303424",
        "  sapp.work.take(value=b'bytes') -> b'bytes'",
        "  sapp.work.take(value=(1, 'a', None)) -> (1, 'a', None)",
        "  sapp.work.take(value=frozenset({1})) -> frozenset({1})",
        "  sapp.work.take(value=1.5j) -> 1.5j",
        "  sapp.work.take(value=Decimal('2.5')) -> Decimal('2.5')",
        "  sapp.work.Point.__init__(self=Point(), x=1, y=2) -> None",
    ]
    many = next(e for e in tracer.events if e.qualname == "many")
    assert list(many.arguments)[-3:] == ["a299", "rest", "options"]
    assert many.arguments["a299"] == 299 and many.arguments["rest"] == (300, 301, 302, 303, 304)
    assert "  sapp.work.unbind(a=1, b=2) -> 2" in lines
    assert "  sapp.work.enclose(items=[1], n=2) -> [1, 2]" in lines
    assert len([line for line in lines if "sapp.work.fact(" in line]) == 200


@needs_c
def test_an_argument_whose_type_is_unhashable_is_handled_the_same_on_both_paths(work, monkeypatch):
    # Both paths look the argument's type up in a set of types kept by reference; a class
    # whose metaclass defines __eq__ only is unhashable: it is frozen, never kept.
    both(monkeypatch, work.with_unhashable_type)


@pytest.mark.usefixtures("hot_path")
def test_an_argument_whose_type_is_unhashable_does_not_change_the_traced_program(work):
    assert work.with_unhashable_type() == "no error"
    with FunctionTracer(["sapp.*"]) as tracer:
        result = work.with_unhashable_type()
    assert result == "no error"
    assert tracer.format() == (
        "sapp.work.with_unhashable_type() -> 'no error'\n"
        "  sapp.work.take(value=Unhashable()) -> Unhashable()"
    )
