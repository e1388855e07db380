"""Capture -> write -> load -> replay gives back equal values of identical types."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import snapy

MODULE = __name__


@dataclasses.dataclass
class Order:
    sku: Any
    quantity: Any = 1


@dataclasses.dataclass(frozen=True)
class Money:
    amount: Any
    currency: Any


class Colour(enum.Enum):
    RED = 1
    GREEN = "green"


def echo(x: Any) -> Any:
    return x


def same(a: Any, b: Any) -> bool:
    """Equal value and identical type at every depth (nan equals nan, -0.0 is not 0.0)."""
    if type(a) is not type(b):
        return False
    if type(a) is float:
        if math.isnan(a):
            return math.isnan(b)
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    if type(a) is complex:
        return same(a.real, b.real) and same(a.imag, b.imag)
    if type(a) is decimal.Decimal:
        return str(a) == str(b)  # keeps sign, exponent, NaN and sNaN apart
    if type(a) in (list, tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if type(a) is dict:
        return same(list(a), list(b)) and all(same(a[k], b[k]) for k in a)
    if type(a) in (set, frozenset):
        if len(a) != len(b) or a != b:
            return False
        members = {m: m for m in b}
        return all(same(x, members[x]) for x in a)
    if dataclasses.is_dataclass(a):
        return all(same(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
    if type(a) in (dt.datetime, dt.time):
        return (a.isoformat(), a.fold, type(a.tzinfo)) == (b.isoformat(), b.fold, type(b.tzinfo))
    return bool(a == b)


def test_same_tells_types_and_values_apart() -> None:
    assert same([1, (2.0, {True})], [1, (2.0, {True})])
    assert same(float("nan"), float("nan"))
    assert same({"a": {1: frozenset({Money(1, "EUR")})}}, {"a": {1: frozenset({Money(1, "EUR")})}})
    for a, b in [
        (1, 1.0),
        (1, True),
        (0.0, -0.0),
        ([1], (1,)),
        ({1}, frozenset({1})),
        ({1}, {1.0}),
        ({"a": 1, "b": 2}, {"b": 2, "a": 1}),
        (decimal.Decimal("1.0"), decimal.Decimal("1.00")),
        (b"a", bytearray(b"a")),
        (Order(1), Order(1.0)),
        (dt.datetime(2024, 1, 1, tzinfo=dt.UTC), dt.datetime(2024, 1, 1, 1, tzinfo=_tz(60))),
    ]:
        assert not same(a, b), (a, b)
        assert not same(b, a), (b, a)


def _tz(minutes: int) -> dt.timezone:
    return dt.timezone(dt.timedelta(minutes=minutes))


offsets = st.integers(-23 * 60, 23 * 60).map(_tz)
zones = st.none() | st.just(dt.UTC) | offsets
dict_keys = st.sampled_from(["$tuple", "$", "$pickle", "type", "password"]) | st.text(max_size=8)

hashable = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from([0, 1, 1.0, True, -0.0, 0.0, 2**64, -(2**70)])
    | st.floats(allow_nan=False)
    | st.text(st.characters() | st.characters(categories=["Cs"]), max_size=12)
    | st.binary(max_size=12)
    | st.decimals(allow_nan=False)
    | st.uuids()
    | st.dates()
    | st.datetimes(timezones=zones)
    | st.times(timezones=zones)
    | st.timedeltas()
    | st.complex_numbers(allow_nan=False)
    | st.sampled_from(Colour),
    lambda inner: (
        st.tuples(inner, inner) | st.frozensets(inner, max_size=3) | st.builds(Money, inner, inner)
    ),
    max_leaves=4,
)

leaves = (
    hashable
    | st.floats()
    | st.decimals(allow_nan=True)
    | st.binary(max_size=12).map(bytearray)
    | st.datetimes(timezones=zones, allow_imaginary=False).map(lambda d: d.replace(fold=1))
)

values = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=4).map(tuple)
        | st.dictionaries(dict_keys, inner, max_size=4)
        | st.dictionaries(hashable, inner, max_size=3)
        | st.sets(hashable, max_size=4)
        | st.frozensets(hashable, max_size=4)
        | st.builds(Order, inner, inner)
    ),
    max_leaves=12,
)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(value=values)
def test_capture_load_replay_round_trip(
    snapy_settings: Any, tmp_path_factory: pytest.TempPathFactory, value: Any
) -> None:
    root = tmp_path_factory.mktemp("example")
    captured = snapy.capture(
        production_mode=False,
        retention=math.inf,
        path=root,
        redact=snapy.ArgumentFilter([]),  # "password" keys are data here
    )(echo)

    assert same(captured(value), value)
    key = snapy.argument_key(f"{MODULE}.echo", {"x": value})
    capture = snapy.load_capture(captured, path=root, key=key)
    assert capture.key == key
    assert capture.target == f"{MODULE}.echo"
    assert same(capture.arguments, {"x": value})
    assert same(capture.args, (value,))
    assert capture.outcome == "result"
    assert same(capture.result, value)
    assert same(capture.replay(), value)
    assert len(list(root.rglob("*.bundle"))) == 1


@pytest.mark.parametrize(
    "value",
    [
        1,
        1.0,
        True,
        [1, 1.0, True, None],
        {"$tuple": [1]},
        {1: "int", "1": "str", (1, 2): "tuple"},
        Order("x", (1, 2)),
        {Money(decimal.Decimal("9.99"), "EUR")},
        float("nan"),
        "\ud800 lone surrogate",
    ],
)
def test_examples_round_trip(snapy_settings: Any, tmp_path: Path, value: Any) -> None:
    captured = snapy.capture(production_mode=False, path=tmp_path)(echo)
    captured(value)
    capture = snapy.load_capture(echo, path=tmp_path)
    assert same(capture.arguments["x"], value)
    assert same(capture.result, value)
    assert same(capture.replay(), value)
