"""TracedSnapshot's text, with syrupy's exclude/include filters and matchers on traced values."""

# ruff: noqa: E501 (expected trace lines are as long as the traces)

from __future__ import annotations

import datetime as dt
import sys
import textwrap
import types

import pytest
from syrupy.extensions.amber import AmberDataSerializer
from syrupy.filters import paths, props
from syrupy.matchers import path_type

import snapy
from snapy._traced_snapshot import serialize_trace

pytestmark = pytest.mark.usefixtures("hot_path")

SOURCE = """
import datetime


def order(user, now, lines):
    stamp(now, {"at": now, "user": user})
    return {"id": 7, "created": now}


def stamp(when, meta):
    return when
"""


@pytest.fixture
def shop():
    module = types.ModuleType("tshop.orders")
    exec(compile(SOURCE, "tshop/orders.py", "exec"), module.__dict__)
    sys.modules[module.__name__] = module
    yield module
    del sys.modules[module.__name__]


@pytest.fixture
def tracer(shop):
    now = dt.datetime(2026, 11, 22, 10, 0, tzinfo=dt.UTC)
    tracer = snapy.FunctionTracer(["tshop.*"])
    with tracer:
        shop.order("bob", now, [1, 2])
    return tracer


def test_the_entry_is_the_tree_as_an_amber_string(tracer):
    text = textwrap.dedent("""\
        tshop.orders.order(user='bob', now=datetime.datetime(2026, 11, 22, 10, 0, tzinfo=datetime.timezone.utc), lines=[1, 2]) -> {'id': 7, 'created': datetime.datetime(2026, 11, 22, 10, 0, tzinfo=datetime.timezone.utc)}
          tshop.orders.stamp(when=datetime.datetime(2026, 11, 22, 10, 0, tzinfo=datetime.timezone.utc), meta={'at': datetime.datetime(2026, 11, 22, 10, 0, tzinfo=datetime.timezone.utc), 'user': 'bob'}) -> datetime.datetime(2026, 11, 22, 10, 0, tzinfo=datetime.timezone.utc)""")
    assert tracer.format() == text
    serialized = snapy.TracedSnapshot().serialize(tracer)
    assert serialized == AmberDataSerializer.serialize(text) == serialize_trace(tracer)
    assert serialized.startswith("'''\ntshop.orders.order(user='bob'")


def test_exclude_drops_arguments_and_keys_by_name_or_path(tracer):
    by_name = tracer.format(exclude=props("now", "at", "when"))
    assert (
        by_name
        == textwrap.dedent("""\
        tshop.orders.order(user='bob', lines=[1, 2]) -> {'id': 7, 'created': datetime.datetime(2026, 11, 22, 10, 0, tzinfo=datetime.timezone.utc)}
          tshop.orders.stamp(meta={'user': 'bob'}) -> datetime.datetime(2026, 11, 22, 10, 0, tzinfo=datetime.timezone.utc)""")
    )
    by_path = tracer.format(
        exclude=paths(
            "order.args.now", "order.stamp.args.meta.at", "order.return", "order.stamp.return"
        )
    )
    assert (
        by_path
        == textwrap.dedent("""\
        tshop.orders.order(user='bob', lines=[1, 2])
          tshop.orders.stamp(when=datetime.datetime(2026, 11, 22, 10, 0, tzinfo=datetime.timezone.utc), meta={'user': 'bob'})""")
    )
    items = tracer.format(exclude=paths("order.args.lines.0"))
    assert "lines=[2]" in items


def test_include_keeps_only_the_named_arguments(tracer):
    assert tracer.format(include=props("user", "meta")).splitlines() == [
        "tshop.orders.order(user='bob') -> {}",
        "  tshop.orders.stamp(meta={'user': 'bob'}) -> "
        "datetime.datetime(2026, 11, 22, 10, 0, tzinfo=datetime.timezone.utc)",
    ]


def test_a_matcher_masks_a_timestamp_by_path_or_type(tracer):
    masked = tracer.format(
        matcher=path_type({r".*\.(now|when|at|created)": (dt.datetime,)}, regex=True)
    )
    assert (
        masked
        == textwrap.dedent("""\
        tshop.orders.order(user='bob', now=datetime, lines=[1, 2]) -> {'id': 7, 'created': datetime}
          tshop.orders.stamp(when=datetime, meta={'at': datetime, 'user': 'bob'}) -> datetime.datetime(2026, 11, 22, 10, 0, tzinfo=datetime.timezone.utc)""")
    )
    everywhere = tracer.format(matcher=path_type(types=(dt.datetime,)))
    assert "2026" not in everywhere
    serialized = snapy.TracedSnapshot().serialize(tracer, matcher=path_type(types=(dt.datetime,)))
    assert serialized == AmberDataSerializer.serialize(everywhere)


def test_anything_else_is_stored_as_amber_stores_it():
    value = {"b": 1, "a": [1, 2]}
    assert snapy.TracedSnapshot().serialize(value) == AmberDataSerializer.serialize(value)
    assert snapy.TracedSnapshot().serialize(value, exclude=props("a")) == (
        AmberDataSerializer.serialize({"b": 1})
    )


def test_an_empty_trace_says_so():
    tracer = snapy.FunctionTracer(["nothing.*"])
    with tracer:
        pass
    assert serialize_trace(tracer) == "'(no calls recorded)'"
