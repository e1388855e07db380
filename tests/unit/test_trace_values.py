"""What the tracer keeps of a value: copied, redacted, bounded, rendered without addresses."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections import namedtuple

from hypothesis import given
from hypothesis import strategies as st

from snapy import ArgumentFilter, Redacted
from snapy._trace_values import (
    MORE,
    Freezer,
    GeneratorResult,
    ObjectState,
    ReprText,
    TracedException,
    render,
)

freezer = Freezer(ArgumentFilter(), 200)


class Color(enum.Enum):
    RED = 1


@dataclasses.dataclass
class Login:
    user: str
    password: str


class Plain:
    def __init__(self):
        self.name = "x"
        self._private = 1


class Custom:
    def __repr__(self):
        return f"<Custom at {hex(id(self))}>"


class Broken:
    def __repr__(self):
        raise RuntimeError("no repr")


Point = namedtuple("Point", "x y")


def test_containers_are_copied_and_scalars_kept():
    nested = {"a": [1, {2, 3}], "b": (4,)}
    frozen = freezer.value(nested)
    nested["a"][0] = 99
    assert frozen == {"a": [1, {2, 3}], "b": (4,)}
    when = dt.datetime(2026, 1, 1)
    assert freezer.value(when) is when and freezer.value(Color.RED) is Color.RED


def test_objects_become_their_public_state_or_their_repr():
    assert freezer.value(Login("bob", "pw")) == ObjectState(
        "Login", {"user": "bob", "password": freezer.value(Login("bob", "pw")).fields["password"]}
    )
    assert isinstance(freezer.value(Login("bob", "pw")).fields["password"], Redacted)
    assert render(freezer.value(Plain()), 200) == "Plain(name='x')"
    assert render(freezer.value(Point(1, 2)), 200) == "Point(x=1, y=2)"
    assert render(freezer.value(Custom()), 200) == "<Custom>"
    assert render(freezer.value(Broken()), 200) == "<Broken instance>"
    assert render(freezer.value(ValueError("bad", 1)), 200) == "ValueError('bad', 1)"


def test_secret_names_are_redacted_at_any_depth():
    frozen = freezer.arguments(["api_key", "data"], {"api_key": "k", "data": [{"Token": "t"}]})
    assert isinstance(frozen["api_key"], Redacted)
    assert render(frozen["data"], 200) == "[{'Token': <redacted>}]"
    assert frozen["api_key"] == freezer.arguments(["api_key"], {"api_key": "k"})["api_key"]


def test_large_values_are_bounded():
    small = Freezer(ArgumentFilter(), 20)
    frozen = small.value(list(range(10_000)))
    assert len(frozen) <= 21 and frozen[-1] is MORE
    assert render(frozen, 20) == "[0, 1, 2, 3, 4, 5..."
    assert len(small.value("x" * 10_000)) == 21
    deep: list = []
    for _ in range(50):
        deep = [deep]
    assert "..." in render(freezer.value(deep), 200)
    loop: list = [1]
    loop.append(loop)
    assert render(freezer.value(loop), 200) == "[1, ...]"


def test_rendering_is_deterministic():
    assert render({"b", "a", "c"}, 100) == "{'a', 'b', 'c'}"
    assert render(frozenset(), 100) == "frozenset()" and render(set(), 100) == "set()"
    assert render((1,), 100) == "(1,)"
    assert render(ReprText("<x>"), 100) == "<x>"
    assert render(Redacted("abc"), 100) == "<redacted>"
    assert render(TracedException(KeyError, ("k",)), 100) == "KeyError('k')"
    result = GeneratorResult((1, 2), "done", exhausted=False)
    assert render(result, 100) == "yields [1, 2], returns 'done' (not exhausted)"


values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text() | st.binary(),
    lambda inner: (
        st.lists(inner)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(), inner)
        | st.frozensets(st.integers())
    ),
    max_leaves=40,
)


@given(values, st.integers(min_value=10, max_value=300))
def test_any_value_freezes_and_renders_within_max_repr(value, limit):
    text = render(Freezer(ArgumentFilter(), limit).value(value), limit)
    assert len(text) <= limit
    assert " at 0x" not in text


def test_a_failing_filter_hides_the_value_instead_of_failing_the_call():
    class Failing(ArgumentFilter):
        def should_capture(self, arg_name, arg_value):
            raise RuntimeError("broken filter")

    frozen = Freezer(Failing(), 200).arguments(["card"], {"card": "4242"})
    assert isinstance(frozen["card"], Redacted)
