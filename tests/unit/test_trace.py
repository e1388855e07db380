"""FunctionTracer: what is recorded, how it nests, and what it leaves behind.

The traced code is a small package written to `tmp_path` (`tapp`, matching the filters) with a
library beside it (`tother`, not matching), so module names and texts are the same everywhere.
"""

# ruff: noqa: E501 (expected trace lines are as long as the traces)

from __future__ import annotations

import asyncio
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

import snapy
from snapy import TracerError
from snapy._trace import FunctionTracer
from snapy._trace_values import GeneratorResult, TracedException

pytestmark = pytest.mark.usefixtures("hot_path")

CORE = """
import asyncio
import dataclasses
import threading
from tother import lib


class Declined(Exception):
    pass


@dataclasses.dataclass
class Card:
    number: str
    password: str


def price(item):
    return {"apple": 3, "pear": 4}[item]


def total(cart):
    return sum(price(item) for item in cart)


def charge(amount, card_number, api_key=None):
    if amount > 6:
        raise Declined("no funds")
    return "ch_1"


def checkout(cart, user):
    amount = total(cart)
    try:
        charge(amount, "4242", api_key="sk_live")
    except Declined:
        return None
    return amount


def down(n):
    return down(n - 1) + 1 if n else 0


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def via_other(items):
    return lib.apply(items, double)


def double(x):
    return x * 2


def numbers(n):
    for i in range(n):
        yield double(i)
    return "done"


def broken(n):
    yield n
    raise ValueError("broken")


def first_of(n):
    for value in numbers(n):
        return value


def cleanup():
    try:
        raise KeyError("k")
    finally:
        double(1)


def keep(items, options):
    items.append("later")
    return items


async def fetch(x):
    await asyncio.sleep(0)
    return double(x)


async def main(x):
    return await fetch(x) + await fetch(x + 1)


async def ticks(n):
    for i in range(n):
        await asyncio.sleep(0)
        yield i


async def count(n):
    return [i async for i in ticks(n)]


def in_thread(x):
    out = []
    worker = threading.Thread(target=lambda: out.append(double(x)))
    worker.start()
    worker.join()
    return out
"""

LIB = """
def apply(items, fn):
    return [helper(fn, item) for item in items]


def helper(fn, item):
    return fn(item)
"""


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """`tapp.core`, importable for the test, removed from `sys.modules` afterwards."""
    for package, module, source in (("tapp", "core", CORE), ("tother", "lib", LIB)):
        folder = tmp_path / package
        folder.mkdir()
        (folder / "__init__.py").write_text("")
        (folder / f"{module}.py").write_text(textwrap.dedent(source))
    monkeypatch.syspath_prepend(str(tmp_path))
    import tapp.core

    yield tapp.core
    for name in [n for n in sys.modules if n.split(".")[0] in ("tapp", "tother")]:
        del sys.modules[name]


def trace(fn, *args, **options):
    tracer = FunctionTracer(options.pop("filter_modules", ["tapp.*"]), **options)
    with tracer:
        result = fn(*args)
    return tracer, result


def test_records_nested_calls_with_arguments_returns_and_exceptions(app):
    tracer, result = trace(app.checkout, ["apple", "pear"], "bob")
    assert result is None
    assert (
        tracer.format()
        == textwrap.dedent("""\
        tapp.core.checkout(cart=['apple', 'pear'], user='bob') -> None
          tapp.core.total(cart=['apple', 'pear']) -> 7
            tapp.core.price(item='apple') -> 3
            tapp.core.price(item='pear') -> 4
          tapp.core.charge(amount=7, card_number='4242', api_key=<redacted>) raised Declined('no funds')""")
    )
    kinds = [(e.kind, e.qualname, e.depth) for e in tracer.events]
    assert kinds == [
        ("call", "checkout", 0),
        ("call", "total", 1),
        ("call", "price", 2),
        ("return", "price", 2),
        ("call", "price", 2),
        ("return", "price", 2),
        ("return", "total", 1),
        ("call", "charge", 1),
        ("exception", "charge", 1),
        ("return", "checkout", 0),
    ]
    charge = tracer.events[7]
    assert charge.module == "tapp.core" and charge.name == "tapp.core.charge"
    assert charge.parent_id == tracer.events[0].call_id and charge.thread == 0
    assert charge.arguments == {
        "amount": 7,
        "card_number": "4242",
        "api_key": snapy.Redacted(charge.arguments["api_key"].digest),
    }
    raised = tracer.events[8].value
    assert isinstance(raised, TracedException) and raised.type is app.Declined
    assert raised.args == ("no funds",)
    [root] = tracer.tree()
    assert [child.call.qualname for child in root.children] == ["total", "charge"]
    assert root.children[1].raised == raised and root.returned is None


def test_module_globs_select_what_is_recorded(app):
    assert "tapp.core.total" in trace(app.total, ["apple"], filter_modules="tapp.core")[0].format()
    assert not trace(app.total, ["apple"], filter_modules="tapp")[0].events  # a glob, not a prefix
    assert trace(app.total, ["apple"], filter_modules=["tapp.c*"])[0].events
    assert not trace(app.total, ["apple"], filter_modules=["tapp.other", "nothing.*"])[0].events
    assert not trace(app.total, ["apple"], filter_modules=["tap"])[0].events


def test_calls_back_from_code_outside_the_filter_nest_under_the_nearest_recorded_call(app):
    tracer, result = trace(app.via_other, [1, 2])
    assert result == [2, 4]
    assert tracer.format() == textwrap.dedent("""\
        tapp.core.via_other(items=[1, 2]) -> [2, 4]
          tapp.core.double(x=1) -> 2
          tapp.core.double(x=2) -> 4""")
    assert [e.depth for e in tracer.events if e.kind == "call"] == [0, 1, 1]
    both = trace(app.via_other, [1], filter_modules=["tapp.*", "tother.*"])[0]
    assert both.format().splitlines()[1:] == [
        "  tother.lib.apply(items=[1], fn=<function double>) -> [2]",
        "    tother.lib.helper(fn=<function double>, item=1) -> 2",
        "      tapp.core.double(x=1) -> 2",
    ]


def test_recursion_nests_every_call(app):
    tracer, result = trace(app.fib, 4)
    assert result == 3
    calls = [e for e in tracer.events if e.kind == "call"]
    assert len(calls) == 9 and max(e.depth for e in calls) == 3
    assert tracer.format().splitlines()[:4] == [
        "tapp.core.fib(n=4) -> 3",
        "  tapp.core.fib(n=3) -> 2",
        "    tapp.core.fib(n=2) -> 1",
        "      tapp.core.fib(n=1) -> 1",
    ]


def test_an_exception_through_a_finally_block_ends_the_call(app):
    tracer = FunctionTracer(["tapp.*"])
    with tracer, pytest.raises(KeyError):
        app.cleanup()
    assert tracer.format() == textwrap.dedent("""\
        tapp.core.cleanup() raised KeyError('k')
          tapp.core.double(x=1) -> 2""")


def test_a_generator_is_one_call_with_what_it_yielded_and_returned(app):
    tracer, result = trace(lambda: (list(app.numbers(3)), app.first_of(5)))
    assert result == ([0, 2, 4], 0)
    assert tracer.format() == textwrap.dedent("""\
        tapp.core.numbers(n=3) -> yields [0, 2, 4], returns 'done'
          tapp.core.double(x=0) -> 0
          tapp.core.double(x=1) -> 2
          tapp.core.double(x=2) -> 4
        tapp.core.first_of(n=5) -> 0
          tapp.core.numbers(n=5) -> yields [0] (not exhausted)
            tapp.core.double(x=0) -> 0""")
    [numbers, _] = tracer.tree()
    assert numbers.returned == GeneratorResult((0, 2, 4), "done")
    assert [e.kind for e in tracer.events if e.qualname == "numbers"][:2] == ["call", "return"]


def test_a_generator_that_raises_shows_its_yields_and_the_exception(app):
    tracer = FunctionTracer(["tapp.*"])
    with tracer, pytest.raises(ValueError):
        list(app.broken(7))
    assert tracer.format() == "tapp.core.broken(n=7) -> yields [7] raised ValueError('broken')"


def test_a_generator_left_suspended_reads_as_not_exhausted(app):
    tracer = FunctionTracer(["tapp.*"])
    with tracer:
        numbers = app.numbers(3)
        next(numbers)
    assert tracer.format().splitlines()[0] == "tapp.core.numbers(n=3) -> yields [0] (not exhausted)"
    numbers.close()


def test_coroutines_and_async_generators_are_one_call_each(app):
    tracer, result = trace(lambda: (asyncio.run(app.main(1)), asyncio.run(app.count(2))))
    assert result == (6, [0, 1])
    assert tracer.format() == textwrap.dedent("""\
        async tapp.core.main(x=1) -> 6
          async tapp.core.fetch(x=1) -> 2
            tapp.core.double(x=1) -> 2
          async tapp.core.fetch(x=2) -> 4
            tapp.core.double(x=2) -> 4
        async tapp.core.count(n=2) -> [0, 1]
          async tapp.core.ticks(n=2) -> yields [0, 1]""")


def test_other_threads_are_left_out_unless_asked_for(app):
    alone = trace(app.in_thread, 3)[0]
    assert alone.format() == "tapp.core.in_thread(x=3) -> [6]"
    both = trace(app.in_thread, 3, threads=True)[0]
    assert both.format() == textwrap.dedent("""\
        thread 0:
          tapp.core.in_thread(x=3) -> [6]
        thread 1:
          tapp.core.in_thread.<locals>.<lambda>() -> None
            tapp.core.double(x=3) -> 6""")
    assert {e.thread for e in both.events} == {0, 1}


def test_threads_already_running_are_told_apart_on_3_12(app):
    if sys.version_info < (3, 12):
        pytest.skip("sys.settrace traces a thread only if it starts while tracing")
    stop = threading.Event()
    busy = threading.Thread(target=lambda: [app.double(1) for _ in iter(stop.is_set, True)])
    busy.start()
    try:
        tracer, _ = trace(app.total, ["pear"])
    finally:
        stop.set()
        busy.join()
    assert tracer.format().splitlines() == [
        "tapp.core.total(cart=['pear']) -> 4",
        "  tapp.core.price(item='pear') -> 4",
    ]


def test_max_events_stops_recording_with_a_marker(app):
    tracer, result = trace(app.fib, 10, max_events=10)
    assert result == 55 and tracer.truncated
    assert len(tracer.events) == 11 and tracer.events[-1].kind == "truncated"
    text = tracer.format()
    assert text.endswith("\n... recording stopped at max_events=10")
    assert "(unfinished)" in text
    with tracer:  # started again: recording does not grow past the limit
        app.fib(10)
    assert len(tracer.events) == 11


@pytest.mark.parametrize("capture", [True, False])
@pytest.mark.parametrize("limit", [1, 2, 3, 7, 24, 49, 50, 51])
def test_max_events_keeps_exactly_the_first_events(app, limit, capture):
    everything, _ = trace(app.fib, 6, capture_args=capture)
    assert len(everything.events) == 50  # 25 calls
    tracer, result = trace(app.fib, 6, max_events=limit, capture_args=capture)
    assert result == 8
    kept = min(limit, 50)
    assert tracer.truncated is (limit < 50)
    events = [(e.kind, e.depth, e.arguments, e.value) for e in tracer.events]
    expected = [(e.kind, e.depth, e.arguments, e.value) for e in everything.events[:kept]]
    assert events == expected + ([("truncated", 0, None, None)] if limit < 50 else [])


def test_max_depth_counts_the_calls_below_it(app):
    tracer, _ = trace(app.fib, 4, max_depth=1)
    assert tracer.format() == textwrap.dedent("""\
        tapp.core.fib(n=4) -> 3
          tapp.core.fib(n=3) -> 2
            ... 4 calls below max_depth=1
          tapp.core.fib(n=2) -> 1
            ... 2 calls below max_depth=1""")


def test_values_are_taken_when_the_event_happens(app):
    items, options = ["first"], {"nested": [1]}
    tracer, result = trace(app.keep, items, options)
    options["nested"].append(2)
    result.append("after")
    assert tracer.format() == (
        "tapp.core.keep(items=['first'], options={'nested': [1]}) -> ['first', 'later']"
    )


def test_immutable_values_are_kept_and_mutable_ones_copied_when_the_event_happens(app):
    import array
    import decimal

    data, numbers = bytearray(b"ab"), array.array("i", [1])
    text, long_text = "short", "x" * 300
    tracer, _ = trace(lambda: [app.double(v) for v in (data, numbers, text, long_text)])
    data.append(0x63)
    numbers.append(2)
    lines = tracer.format().splitlines()
    assert lines[0] == "tapp.core.double(x=bytearray(b'ab')) -> bytearray(b'abab')"
    assert lines[1] == "tapp.core.double(x=array('i', [1])) -> array('i', [1, 1])"
    assert lines[2] == "tapp.core.double(x='short') -> 'shortshort'"
    assert lines[3].startswith("tapp.core.double(x='xxx") and len(lines[3]) < 450
    calls = [e for e in tracer.events if e.kind == "call"]
    assert calls[2].arguments["x"] is text  # immutable: kept, not copied
    assert calls[3].arguments["x"] == long_text[:201]  # cut at max_repr (+1: "..." shows)
    exact, _ = trace(app.keep, [decimal.Decimal("1.5"), (1, "a")], None)
    assert exact.format().startswith(
        "tapp.core.keep(items=[Decimal('1.5'), (1, 'a')], options=None)"
    )


def test_secrets_are_redacted_in_arguments_keys_and_attributes(app):
    card = app.Card("4242", "hunter2")
    tracer, _ = trace(app.keep, [{"token": "t0k", "id": 1}], card, redact=["number"])
    assert tracer.format() == (
        "tapp.core.keep(items=[{'token': <redacted>, 'id': 1}], "
        "options=Card(number=<redacted>, password=<redacted>)) -> "
        "[{'token': <redacted>, 'id': 1}, 'later']"
    )
    assert "t0k" not in repr(tracer.events) and "hunter2" not in repr(tracer.events)
    plain = trace(app.keep, [], card, redact=snapy.ArgumentFilter(patterns=[]))[0]
    assert "password='hunter2'" in plain.format()


def test_a_filter_that_looks_at_values_decides_each_call(app):
    class HideLongStrings(snapy.ArgumentFilter):
        def should_capture(self, arg_name, arg_value):
            return not (isinstance(arg_value, str) and len(arg_value) > 3)

    tracer = FunctionTracer(["tapp.*"], redact=HideLongStrings())
    with tracer:
        app.double("ab")
        app.double("abcd")
    assert tracer.format() == (
        "tapp.core.double(x='ab') -> 'abab'\ntapp.core.double(x=<redacted>) -> 'abcdabcd'"
    )


def test_values_are_cut_at_max_repr(app):
    tracer, _ = trace(app.keep, ["x" * 500, list(range(1000))], {}, max_repr=40)
    line = tracer.format()
    assert len(line.split("items=")[1].split(", options")[0]) == 40
    assert "..." in line


def test_capture_can_be_turned_off(app):
    quiet, _ = trace(app.total, ["apple"], capture_args=False, capture_returns=False)
    assert quiet.format() == "tapp.core.total(...)\n  tapp.core.price(...)"
    gen, _ = trace(lambda: list(app.numbers(2)), capture_returns=False)
    assert gen.format().splitlines()[0] == "tapp.core.numbers(n=2) -> yielded 2 times"


def test_a_decorated_function_is_traced_each_call_and_recursion_is_fine(app):
    tracer = FunctionTracer(["tapp.*"])
    traced_total = tracer(app.total)
    assert traced_total(["apple"]) == 3 and traced_total(["pear"]) == 4
    assert [r.call.arguments for r in tracer.tree()] == [{"cart": ["apple"]}, {"cart": ["pear"]}]
    assert not tracer.running

    @tracer
    def nested(n):
        return n if n == 0 else nested(n - 1)

    assert nested(2) == 0

    async_tracer = FunctionTracer(["tapp.*"])
    assert asyncio.run(async_tracer(app.main)(1)) == 6
    assert async_tracer.tree()[0].name == "tapp.core.main"


def test_start_stop_adds_to_the_trace_and_clear_empties_it(app):
    tracer = FunctionTracer(["tapp.*"])
    assert tracer.start() is tracer and tracer.running
    app.double(1)
    tracer.stop()
    tracer.stop()  # a second stop does nothing
    tracer.start()
    app.double(2)
    tracer.stop()
    assert tracer.format() == "tapp.core.double(x=1) -> 2\ntapp.core.double(x=2) -> 4"
    assert repr(tracer) == "<FunctionTracer ['tapp.*'] stopped, 2 calls>"
    tracer.clear()
    assert tracer.events == [] and tracer.format() == "(no calls recorded)"


def test_tracers_do_not_nest(app):
    outer = FunctionTracer(["tapp.*"])
    with outer:
        with pytest.raises(TracerError, match="already running") as info:
            outer.start()
        inner = FunctionTracer(["tother.*"])
        with pytest.raises(TracerError) as info:
            inner.start()
        app.double(1)
    assert str(info.value) == (
        "another FunctionTracer is already running (filter_modules=['tapp.*']); tracers do "
        "not nest: stop it first, or trace all the modules with one tracer"
    )
    assert isinstance(info.value, snapy.SnapyError) and not inner.running
    assert outer.format() == "tapp.core.double(x=1) -> 2"
    with inner:
        app.via_other([1])
    assert "tother.lib.apply" in inner.format()


def test_a_second_tracer_sees_code_the_first_one_disabled(app):
    first, _ = trace(app.total, ["apple"], filter_modules=["tother.*"])
    second, _ = trace(app.total, ["apple"])
    assert first.events == [] and len(second.events) == 4


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"filter_modules": []}, "filter_modules=[] is not valid: name at least one module glob"),
        ({"filter_modules": [""]}, "filter_modules=[''] is not valid"),
        ({"max_events": 0}, "max_events=0 is not valid: use a whole number, 1 or more"),
        ({"max_depth": -1}, "max_depth=-1 is not valid: use a whole number, 0 or more"),
        ({"max_repr": True}, "max_repr=True is not valid"),
        ({"redact": "token"}, "redact='token' is not valid: use a list of name patterns"),
    ],
)
def test_wrong_options_fail_naming_the_option(options, message):
    options = {"filter_modules": ["tapp.*"], **options}  # a copy: the parameter runs per hot path
    with pytest.raises(snapy.ConfigError, match="^" + message.replace("[", r"\[")):
        FunctionTracer(options.pop("filter_modules"), **options)


def test_the_previous_trace_function_keeps_working_and_is_restored(app):
    seen = []

    def previous(frame, event, arg):
        if frame.f_code.co_name == "price":
            seen.append(event)
        return previous

    before = sys.gettrace()
    sys.settrace(previous)
    try:
        tracer, _ = trace(app.total, ["apple"])
        during = list(seen)
        assert sys.gettrace() is previous
    finally:
        sys.settrace(before)
    assert during == ["call", "line", "return"]
    assert (
        tracer.format()
        == "tapp.core.total(cart=['apple']) -> 3\n  tapp.core.price(item='apple') -> 3"
    )


def test_a_secret_taken_by_reference_is_redacted_and_compares_by_its_digest(app):
    tracer, _ = trace(
        lambda: (app.charge(1, "4242", api_key="sk_1"), app.charge(2, "4242", api_key="sk_1"))
    )
    first, second = [e.arguments for e in tracer.events if e.kind == "call"]
    assert isinstance(first["api_key"], snapy.Redacted)
    assert first["api_key"] == second["api_key"]  # the same secret, the same digest
    assert "sk_1" not in repr(tracer.events) and "sk_1" not in tracer.format()


def test_threading_hooks_are_restored(app):
    before = (threading.gettrace(), threading.getprofile())
    trace(app.in_thread, 1, threads=True)
    trace(app.in_thread, 1)
    assert (threading.gettrace(), threading.getprofile()) == before


@pytest.mark.skipif(sys.version_info < (3, 12), reason="sys.monitoring is 3.12+")
def test_nothing_stays_registered_with_sys_monitoring_after_stop(app):
    monitoring = sys.monitoring
    tools = [monitoring.get_tool(i) for i in range(6)]
    tracer = FunctionTracer(["tapp.*"])
    with tracer:
        assert [monitoring.get_tool(i) for i in range(6)].count("snapy tracer") == 1
        app.total(["apple"])
    assert [monitoring.get_tool(i) for i in range(6)] == tools
    for tool in (3, 4):
        monitoring.use_tool_id(tool, "probe")
        try:
            for event in (monitoring.events.PY_START, monitoring.events.PY_RETURN):
                assert monitoring.register_callback(tool, event, None) is None
            assert monitoring.get_events(tool) == 0
            assert monitoring.get_local_events(tool, app.total.__code__) == 0
        finally:
            monitoring.free_tool_id(tool)


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="sys.settrace is per thread on 3.11")
def test_stop_from_another_thread_fails_clearly_on_3_11(app):
    tracer = FunctionTracer(["tapp.*"]).start()
    errors = []
    worker = threading.Thread(target=lambda: errors.append(_stop_error(tracer)))
    worker.start()
    worker.join()
    tracer.stop()
    assert "stop() was called from another thread than start()" in errors[0]


def _stop_error(tracer):
    try:
        tracer.stop()
    except TracerError as exc:
        return str(exc)
    return "no error"


def test_a_trace_deeper_than_the_recursion_limit_formats(app):
    # Traced with a higher limit, formatted under the default one: the text is made by a loop.
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(10_000)
    try:
        with FunctionTracer(["tapp.*"]) as tracer:
            assert app.down(3000) == 3000
    finally:
        sys.setrecursionlimit(limit)
    lines = tracer.format().splitlines()
    assert len(lines) == 3001
    assert lines[0] == "tapp.core.down(n=3000) -> 3000"
    assert lines[-1] == "  " * 3000 + "tapp.core.down(n=0) -> 0"
