"""A trace of code that calls `snapy.replaying` mocks reads the same while recording and replaying.

Recording runs the real side effect inside snapy's replay internals; replaying does not. The
tracer leaves out whatever runs below those internals (issue 5), so a trace snapshot written
while recording passes on replay. Python 3.11 checks the `sys.settrace` backend, 3.12+ the
`sys.monitoring` one (the tracer has no option to choose its backend).
"""

from __future__ import annotations

import asyncio
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import snapy
from snapy._trace_backends import guard_codes
from snapy._traced_snapshot import serialize_trace

pytestmark = pytest.mark.usefixtures("hot_path")

CORE = """
from tapp import gateway
from tother import lib


def checkout(cart):
    total = sum(cart)
    receipt = gateway.charge(total, "4242")
    return receipt["id"], list(gateway.batches(total))


def refund(amount):
    try:
        return gateway.charge(-amount, "4242")
    except gateway.Declined as exc:
        return str(exc)


async def pay(cart):
    first = await gateway.acharge(sum(cart))
    second = await gateway.acharge(sum(cart) + 1)
    return [first, second]


def via_library(items):
    return lib.shout(items, double)


def double(x):
    return x * 2
"""
GATEWAY = """
import asyncio


class Declined(Exception):
    pass


def fmt(value):
    return f"<{value}>"


def charge(amount, card):
    if amount < 0:
        raise Declined(fmt(amount))
    return {"id": "ch_" + fmt(amount), "amount": amount}


def batches(total):
    for i in range(total // 3):
        yield fmt(i)


async def acharge(amount):
    await asyncio.sleep(0)
    return fmt(amount)


def drain(values):
    return len(list(values))
"""
LIB = """
from tapp import core


def shout(items, fn):
    return [core.double(fn(item)) for item in items]
"""


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """`tapp.core` and `tapp.gateway` (matching `tapp.*`) and `tother.lib` (not matching)."""
    for package, module, source in (
        ("tapp", "core", CORE),
        ("tapp", "gateway", GATEWAY),
        ("tother", "lib", LIB),
    ):
        folder = tmp_path / package
        folder.mkdir(exist_ok=True)
        (folder / "__init__.py").write_text("")
        (folder / f"{module}.py").write_text(textwrap.dedent(source))
    monkeypatch.syspath_prepend(str(tmp_path))
    import tapp.core

    yield tapp.core
    for name in [n for n in sys.modules if n.split(".")[0] in ("tapp", "tother")]:
        del sys.modules[name]


def traced(
    tmp_path: Path,
    mode: str,
    targets: list[str],
    run: Callable[[], Any],
    filter_modules: tuple[str, ...] = ("tapp.*",),
    **mock_options: Any,
) -> tuple[snapy.FunctionTracer, Any]:
    """`run` traced with `targets` replaced by mocks in `mode`; (tracer, result)."""
    folder = tmp_path / "__recordings__"
    patches = [
        snapy.replaying(
            target, recordings=folder, test_id="test_m::test", mode=mode, **mock_options
        )
        for target in targets
    ]
    for patch in patches:
        patch.start()
    try:
        with snapy.FunctionTracer(list(filter_modules)) as tracer:
            result = run()
    finally:
        for patch in reversed(patches):
            patch.stop()
    return tracer, result


def record_then_replay(
    tmp_path: Path,
    targets: list[str],
    run: Callable[[], Any],
    same_order: bool = True,
    **options: Any,
) -> str:
    """The trace text, after checking that recording and replaying give the same trace.

    `same_order=False` for concurrent tasks: a replayed call does not suspend, so the tasks
    interleave differently (the tree, which is what a snapshot stores, is the same).
    """
    recorded, recorded_result = traced(tmp_path, "new", targets, run, **options)
    replayed, replayed_result = traced(tmp_path, "replay", targets, run, **options)
    assert replayed_result == recorded_result
    assert replayed.format() == recorded.format()
    assert serialize_trace(replayed) == serialize_trace(recorded)
    events = [[(e.kind, e.name, e.depth) for e in t.events] for t in (recorded, replayed)]
    if not same_order:
        events = [sorted(e) for e in events]
    assert events[0] == events[1]
    return recorded.format()


def test_a_recorded_side_effect_reads_as_its_replay_one_call_deep(app, tmp_path):
    text = record_then_replay(
        tmp_path, ["tapp.gateway.charge", "tapp.gateway.batches"], lambda: app.checkout([3, 4])
    )
    assert text == textwrap.dedent("""\
        tapp.core.checkout(cart=[3, 4]) -> ('ch_<7>', ['<0>', '<1>'])
          tapp.gateway.charge(amount=7, card='4242') -> {'id': 'ch_<7>', 'amount': 7}
          tapp.gateway.batches(total=7) -> <generator object>""")
    # A mocked generator function is a plain function returning a generator snapy made.


def test_an_unmocked_side_effect_still_shows_everything_it_calls(app, tmp_path):
    tracer, _ = traced(tmp_path, "new", [], lambda: app.checkout([3]))
    assert tracer.format() == textwrap.dedent("""\
        tapp.core.checkout(cart=[3]) -> ('ch_<3>', ['<0>'])
          tapp.gateway.charge(amount=3, card='4242') -> {'id': 'ch_<3>', 'amount': 3}
            tapp.gateway.fmt(value=3) -> '<3>'
          tapp.gateway.batches(total=3) -> yields ['<0>']
            tapp.gateway.fmt(value=0) -> '<0>'""")


def test_a_recorded_exception_reads_as_its_replay(app, tmp_path):
    text = record_then_replay(tmp_path, ["tapp.gateway.charge"], lambda: app.refund(5))
    assert text == textwrap.dedent("""\
        tapp.core.refund(amount=5) -> '<-5>'
          tapp.gateway.charge(amount=-5, card='4242') raised Declined('<-5>')""")


def test_a_recorded_coroutine_reads_as_its_replay(app, tmp_path):
    text = record_then_replay(
        tmp_path, ["tapp.gateway.acharge"], lambda: asyncio.run(app.pay([1, 2]))
    )
    assert text == textwrap.dedent("""\
        async tapp.core.pay(cart=[1, 2]) -> ['<3>', '<4>']
          async tapp.gateway.acharge(amount=3) -> '<3>'
          async tapp.gateway.acharge(amount=4) -> '<4>'""")


def test_coroutines_running_beside_a_recording_one_are_still_recorded(app, tmp_path):
    async def both():
        return await asyncio.gather(app.pay([1]), app.pay([5]))

    text = record_then_replay(
        tmp_path, ["tapp.gateway.acharge"], lambda: asyncio.run(both()), same_order=False
    )
    assert text == textwrap.dedent("""\
        async tapp.core.pay(cart=[1]) -> ['<1>', '<2>']
          async tapp.gateway.acharge(amount=1) -> '<1>'
          async tapp.gateway.acharge(amount=2) -> '<2>'
        async tapp.core.pay(cart=[5]) -> ['<5>', '<6>']
          async tapp.gateway.acharge(amount=5) -> '<5>'
          async tapp.gateway.acharge(amount=6) -> '<6>'""")


def test_calls_back_into_matching_code_from_a_recorded_side_effect_are_left_out(app, tmp_path):
    text = record_then_replay(
        tmp_path, ["tother.lib.shout"], lambda: app.via_library([1, 2]), filter_modules=("tapp.*",)
    )
    assert text == "tapp.core.via_library(items=[1, 2]) -> [4, 8]"
    both = record_then_replay(
        tmp_path,
        ["tother.lib.shout"],
        lambda: app.via_library([1, 2]),
        filter_modules=("tapp.*", "tother.*"),
    )
    assert both == textwrap.dedent("""\
        tapp.core.via_library(items=[1, 2]) -> [4, 8]
          tother.lib.shout(items=[1, 2], fn=<function double>) -> [4, 8]""")


def test_a_generator_started_outside_and_drained_by_a_recorded_call_reads_the_same(app, tmp_path):
    def run():
        numbers = app.gateway.batches(9)
        first = next(numbers)
        return first, app.gateway.drain(numbers)  # replayed: `numbers` is not drained

    text = record_then_replay(tmp_path, ["tapp.gateway.drain"], run, ignore_args=["values"])
    assert text == textwrap.dedent("""\
        tapp.gateway.batches(total=9) -> yields ['<0>'] (not exhausted)
          tapp.gateway.fmt(value=0) -> '<0>'
        tapp.gateway.drain(values=<generator object batches>) -> 2""")


def test_recording_again_with_mode_all_reads_as_the_replay(app, tmp_path):
    run = lambda: app.checkout([3])  # noqa: E731
    first, _ = traced(tmp_path, "new", ["tapp.gateway.charge"], run)
    again, _ = traced(tmp_path, "all", ["tapp.gateway.charge"], run)
    replayed, _ = traced(tmp_path, "replay", ["tapp.gateway.charge"], run)
    assert first.format() == again.format() == replayed.format()
    assert "tapp.gateway.fmt(value=3)" not in first.format()


@pytest.mark.skipif(sys.version_info < (3, 12), reason="sys.settrace traces threads it started")
def test_recording_reads_as_replay_while_another_thread_runs(app, tmp_path):
    stop = threading.Event()
    busy = threading.Thread(target=lambda: [app.double(1) for _ in iter(stop.is_set, True)])
    busy.start()
    try:
        text = record_then_replay(tmp_path, ["tapp.gateway.charge"], lambda: app.refund(2))
    finally:
        stop.set()
        busy.join()
    assert text == textwrap.dedent("""\
        tapp.core.refund(amount=2) -> '<-2>'
          tapp.gateway.charge(amount=-2, card='4242') raised Declined('<-2>')""")


def test_recording_in_a_traced_thread_reads_as_replay(app, tmp_path):
    def run():
        out = []
        worker = threading.Thread(target=lambda: out.append(app.refund(3)))
        worker.start()
        worker.join()
        return out

    recorded, _ = traced(tmp_path, "new", ["tapp.gateway.charge"], run)
    replayed, _ = traced(tmp_path, "replay", ["tapp.gateway.charge"], run)
    assert recorded.format() == replayed.format() == "(no calls recorded)"  # not the owner
    options = {"recordings": tmp_path / "__recordings__", "test_id": "test_m::test"}
    texts = []
    for mode in ("new", "replay"):
        with snapy.replaying("tapp.gateway.charge", mode=mode, **options):
            with snapy.FunctionTracer(["tapp.*"], threads=True) as tracer:
                run()
        texts.append(tracer.format())
    assert (
        texts[0]
        == texts[1]
        == textwrap.dedent("""\
        thread 0:
          tapp.core.refund(amount=3) -> '<-3>'
            tapp.gateway.charge(amount=-3, card='4242') raised Declined('<-3>')""")
    )


def test_recording_reads_as_replay_under_a_previous_trace_function(app, tmp_path):
    seen: list[str] = []

    def previous(frame, event, arg):
        if frame.f_code.co_name == "fmt" and event == "call":
            seen.append(frame.f_code.co_name)
        return previous

    before = sys.gettrace()
    sys.settrace(previous)
    try:
        text = record_then_replay(tmp_path, ["tapp.gateway.charge"], lambda: app.refund(2))
        assert sys.gettrace() is previous
    finally:
        sys.settrace(before)
    assert text.splitlines()[1] == (
        "  tapp.gateway.charge(amount=-2, card='4242') raised Declined('<-2>')"
    )
    assert seen == ["fmt"]  # the real call, while recording: still seen by the previous tracer


def test_the_guards_are_the_replay_internals_plain_functions():
    from snapy import _replay

    codes = guard_codes()
    assert sorted(code.co_qualname for code in codes.values()) == ["_async_call", "_sync_call"]
    assert {id(_replay._sync_call.__code__), id(_replay._async_call.__code__)} == set(codes)
