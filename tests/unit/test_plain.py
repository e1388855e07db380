"""The readable `$`-tagged form of stored values: encoding, decoding, rendering."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import decimal
import enum
import json
import math
import os
import pickle
import subprocess
import sys
import textwrap
import uuid
import zoneinfo
from pathlib import Path, PurePath, PurePosixPath
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snapy import CapturedException, PickledValue, Redacted
from snapy._plain import Decoder, Encoder, check, render, short_repr, type_name
from snapy._serializers import PickleSerializer


@dataclasses.dataclass
class Point:
    x: Any
    y: Any = None


@dataclasses.dataclass(frozen=True, slots=True)
class Slotted:
    name: str
    size: int


class Color(enum.Enum):
    RED = 1
    GREEN = "green"


class NeedsCode(Exception):
    """An exception that cannot be rebuilt by calling its class with its args."""

    def __init__(self, *, code: int) -> None:
        super().__init__(f"failed with code {code}")
        self.code = code


class Opaque:
    """No readable form: stored as a pickle."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return type(other) is Opaque and other.value == self.value

    def __repr__(self) -> str:
        return f"Opaque({self.value})"


def encode(value: Any) -> Any:
    return Encoder(PickleSerializer()).encode(value)


def roundtrip(value: Any, allow_pickle: bool = True) -> Any:
    """encode -> JSON text -> decode, as a value travels through a stored file."""
    text = json.dumps(encode(value))
    return Decoder(PickleSerializer(), allow_pickle=allow_pickle).decode(json.loads(text))


def _canon(value: Any) -> str:
    """A text that differs whenever type or value differs (for members of sets)."""
    kind = type(value)
    if kind is float:
        return f"float:{value.hex()}"
    if kind is tuple:
        return "tuple(" + ",".join(_canon(v) for v in value) + ")"
    if kind is frozenset:
        return "frozenset(" + ",".join(sorted(_canon(v) for v in value)) + ")"
    return f"{kind.__qualname__}:{value!r}"


def assert_same(actual: Any, expected: Any, where: str = "value") -> None:
    """Equal values of equal types at every depth; nan equals nan."""
    assert type(actual) is type(expected), f"{where}: {type(actual)} != {type(expected)}"
    kind = type(expected)
    if kind is float:
        if math.isnan(expected):
            assert math.isnan(actual), where
        else:
            assert actual.hex() == expected.hex(), f"{where}: {actual!r} != {expected!r}"
    elif kind in (list, tuple):
        assert len(actual) == len(expected), where
        for i, (a, e) in enumerate(zip(actual, expected)):
            assert_same(a, e, f"{where}[{i}]")
    elif kind is dict:
        assert [_canon(k) for k in actual] == [_canon(k) for k in expected], where
        for (ka, va), (_, ve) in zip(actual.items(), expected.items()):
            assert_same(va, ve, f"{where}[{ka!r}]")
    elif kind in (set, frozenset):
        assert sorted(map(_canon, actual)) == sorted(map(_canon, expected)), where
    elif dataclasses.is_dataclass(expected):
        for f in dataclasses.fields(expected):
            assert_same(getattr(actual, f.name), getattr(expected, f.name), f"{where}.{f.name}")
    elif kind in (dt.datetime, dt.time, decimal.Decimal):
        # repr shows fold, tzinfo and the exact digits, where == does not.
        assert repr(actual) == repr(expected), where
    else:
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"


UTC_PLUS_0530 = dt.timezone(dt.timedelta(hours=5, minutes=30))

TAGGED = [
    pytest.param((1, "a"), {"$tuple": [1, "a"]}, id="tuple"),
    pytest.param((), {"$tuple": []}, id="empty-tuple"),
    pytest.param({"b", "a", "c"}, {"$set": ["a", "b", "c"]}, id="set"),
    pytest.param(frozenset({3, 1, 2}), {"$frozenset": [1, 2, 3]}, id="frozenset"),
    pytest.param({1: "one", "two": 2}, {"$dict": [[1, "one"], ["two", 2]]}, id="dict-int-key"),
    pytest.param({"$tuple": [1]}, {"$dict": [["$tuple", [1]]]}, id="dict-dollar-key"),
    pytest.param({"a": 1, "$b": 2}, {"$dict": [["a", 1], ["$b", 2]]}, id="dict-later-dollar"),
    pytest.param({(1, 2): None}, {"$dict": [[{"$tuple": [1, 2]}, None]]}, id="dict-tuple-key"),
    pytest.param({"plain": [1, 2.5]}, {"plain": [1, 2.5]}, id="dict-plain"),
    pytest.param(float("inf"), {"$float": "inf"}, id="inf"),
    pytest.param(float("-inf"), {"$float": "-inf"}, id="-inf"),
    pytest.param(b"GET /index", {"$bytes": "GET /index"}, id="bytes-printable"),
    pytest.param(b"\x00\xff", {"$b64": "AP8="}, id="bytes-binary"),
    pytest.param(b"line\n", {"$b64": "bGluZQo="}, id="bytes-trailing-newline"),
    pytest.param(bytearray(b"ab"), {"$bytearray": {"$bytes": "ab"}}, id="bytearray"),
    pytest.param(bytearray(b"\x01"), {"$bytearray": {"$b64": "AQ=="}}, id="bytearray-b64"),
    pytest.param(
        dt.datetime(2026, 11, 22, 10, 0), {"$datetime": "2026-11-22T10:00:00"}, id="datetime"
    ),
    pytest.param(
        dt.datetime(2026, 11, 22, 10, 0, 0, 123, tzinfo=UTC_PLUS_0530),
        {"$datetime": "2026-11-22T10:00:00.000123+05:30"},
        id="datetime-offset",
    ),
    pytest.param(
        dt.datetime(2026, 11, 22, tzinfo=dt.UTC),
        {"$datetime": "2026-11-22T00:00:00+00:00"},
        id="datetime-utc",
    ),
    pytest.param(dt.date(2026, 2, 3), {"$date": "2026-02-03"}, id="date"),
    pytest.param(dt.time(23, 59, 1), {"$time": "23:59:01"}, id="time"),
    pytest.param(
        dt.time(8, 0, tzinfo=UTC_PLUS_0530), {"$time": "08:00:00+05:30"}, id="time-offset"
    ),
    pytest.param(dt.timedelta(days=-1, seconds=5), {"$timedelta": [-1, 5, 0]}, id="timedelta"),
    pytest.param(decimal.Decimal("9.990"), {"$decimal": "9.990"}, id="decimal"),
    pytest.param(decimal.Decimal("-1E+3"), {"$decimal": "-1E+3"}, id="decimal-exponent"),
    pytest.param(
        uuid.UUID("12345678-1234-5678-1234-567812345678"),
        {"$uuid": "12345678-1234-5678-1234-567812345678"},
        id="uuid",
    ),
    pytest.param(complex(1.5, -2), {"$complex": ["1.5", "-2.0"]}, id="complex"),
    pytest.param(complex(0, math.inf), {"$complex": ["0.0", "inf"]}, id="complex-inf"),
    pytest.param(Path("/srv/data.csv"), {"$path": "/srv/data.csv", "type": "PosixPath"}, id="path"),
    pytest.param(
        PurePosixPath("a/b"), {"$path": "a/b", "type": "PurePosixPath"}, id="pure-posix-path"
    ),
    pytest.param(Redacted("0af1"), {"$redacted": "0af1"}, id="redacted"),
    pytest.param(Color.GREEN, {"$enum": f"{__name__}:Color", "name": "GREEN"}, id="enum"),
    pytest.param(
        Point(1, (2,)),
        {"$dataclass": f"{__name__}:Point", "fields": {"x": 1, "y": {"$tuple": [2]}}},
        id="dataclass",
    ),
    pytest.param(
        Slotted("n", 3),
        {"$dataclass": f"{__name__}:Slotted", "fields": {"name": "n", "size": 3}},
        id="dataclass-slots",
    ),
]


@pytest.mark.parametrize(("value", "node"), TAGGED)
def test_encodes_with_tag(value: Any, node: Any) -> None:
    assert encode(value) == node


@pytest.mark.parametrize(("value", "node"), TAGGED)
def test_tagged_value_round_trips_with_its_type(value: Any, node: Any) -> None:
    assert_same(roundtrip(value), value)


def test_nan_is_tagged_and_comes_back_as_nan() -> None:
    assert encode(float("nan")) == {"$float": "nan"}
    assert math.isnan(roundtrip(float("nan")))


def test_negative_zero_stays_plain_and_negative() -> None:
    assert json.dumps(encode(-0.0)) == "-0.0"
    assert math.copysign(1.0, roundtrip(-0.0)) == -1.0


def test_one_one_point_zero_and_true_stay_distinct() -> None:
    back = roundtrip([1, 1.0, True, {1: "int", 2.0: "float", False: "bool"}])
    assert [type(v) for v in back[:3]] == [int, float, bool]
    assert [type(k) for k in back[3]] == [int, float, bool]
    assert_same(back, [1, 1.0, True, {1: "int", 2.0: "float", False: "bool"}])


def test_tuples_stay_tuples_and_lists_stay_lists() -> None:
    value = [(1, [2, (3,)]), [(), []]]
    assert encode(value) == [
        {"$tuple": [1, [2, {"$tuple": [3]}]]},
        [{"$tuple": []}, []],
    ]
    assert_same(roundtrip(value), value)


def test_zoneinfo_datetime_is_pickled_and_keeps_its_zone() -> None:
    paris = dt.datetime(2026, 7, 1, 12, 0, tzinfo=zoneinfo.ZoneInfo("Europe/Paris"))
    node = encode(paris)
    assert set(node) == {"$pickle", "type", "repr"}
    assert node["type"] == "datetime.datetime"
    back = roundtrip(paris)
    assert back == paris
    assert back.tzinfo is zoneinfo.ZoneInfo("Europe/Paris")


def test_named_fixed_offset_is_pickled_so_its_name_survives() -> None:
    cet = dt.datetime(2026, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1), "CET"))
    assert "$pickle" in encode(cet)
    assert roundtrip(cet).tzname() == "CET"


@pytest.mark.parametrize(
    "value",
    [
        dt.datetime(2026, 1, 1, tzinfo=dt.timezone(dt.timedelta(microseconds=1))),
        dt.time(0, 0, tzinfo=dt.timezone(dt.timedelta(seconds=5, microseconds=7))),
    ],
    ids=["datetime", "time"],
)
def test_offset_with_microseconds_is_pickled_as_iso_text_would_drop_them(value: Any) -> None:
    assert "$pickle" in encode(value)
    assert roundtrip(value).utcoffset() == value.utcoffset()


def test_offset_with_seconds_stays_readable() -> None:
    value = dt.time(0, 0, tzinfo=dt.timezone(dt.timedelta(seconds=5)))
    assert encode(value) == {"$time": "00:00:00+00:00:05"}
    assert_same(roundtrip(value), value)


def test_datetime_with_fold_is_pickled_so_fold_survives() -> None:
    folded = dt.datetime(2026, 10, 25, 2, 30, fold=1)
    assert "$pickle" in encode(folded)
    assert roundtrip(folded).fold == 1


def test_sets_are_sorted_by_their_encoded_text() -> None:
    # JSON text order: '"pear"' < '3' < 'null' < '{"$tuple"...}'
    assert encode({"pear", 3, (1, "x"), None}) == {
        "$set": ["pear", 3, None, {"$tuple": [1, "x"]}],
    }


def test_set_encoding_does_not_depend_on_pythonhashseed() -> None:
    script = textwrap.dedent(
        """
        import json
        from snapy._plain import Encoder
        from snapy._serializers import PickleSerializer
        words = {f"word{i}" for i in range(50)}
        value = {"words": words, "frozen": frozenset(words), "nested": {frozenset({"a", "b"})}}
        print(json.dumps(Encoder(PickleSerializer()).encode(value)))
        """
    )
    outputs = [
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    ]
    assert outputs[0] == outputs[1]
    assert json.loads(outputs[0])["words"]["$set"] == sorted(f"word{i}" for i in range(50))


def test_importable_exception_round_trips_with_type_args_and_state() -> None:
    error = KeyError("missing", 3)
    error.detail = {"id": 7}
    node = encode(error)
    assert node == {
        "$exception": "builtins:KeyError",
        "args": ["missing", 3],
        "state": {"detail": {"id": 7}},
        "message": "KeyError('missing', 3)",
    }
    back = roundtrip(error)
    assert type(back) is KeyError
    assert back.args == ("missing", 3)
    assert back.detail == {"id": 7}


def test_exception_whose_init_rejects_its_args_still_round_trips() -> None:
    back = roundtrip(NeedsCode(code=5))
    assert type(back) is NeedsCode
    assert back.args == ("failed with code 5",)
    assert back.code == 5


def test_locally_defined_exception_is_pickled_and_comes_back() -> None:
    class LocalError(Exception):
        pass

    node = encode(LocalError("boom", 1))
    assert set(node) == {"$pickle", "type", "repr"}
    assert node["type"] == type_name(LocalError)
    assert node["repr"] == "LocalError('boom', 1)"
    back = roundtrip(LocalError("boom", 1))
    assert isinstance(back, Exception)
    assert type(back).__qualname__.endswith("LocalError")
    assert back.args == ("boom", 1)


def test_unimportable_exception_type_decodes_to_captured_exception() -> None:
    node = {"$exception": "gone_module:GoneError", "args": ["card declined"], "message": "x"}
    back = Decoder(PickleSerializer()).decode(node)
    assert type(back) is CapturedException
    assert back.type_name == "gone_module:GoneError"
    assert back.message == "card declined"
    assert str(back) == (
        "gone_module:GoneError: card declined (the original type could not be imported)"
    )


def test_unimportable_exception_with_several_args_keeps_them_in_its_message() -> None:
    node = {"$exception": "gone_module:GoneError", "args": ["a", 2], "message": "x"}
    assert Decoder(PickleSerializer()).decode(node).message == "('a', 2)"


def test_without_pickle_an_exception_is_not_imported() -> None:
    back = roundtrip(ValueError("bad"), allow_pickle=False)
    assert type(back) is CapturedException
    assert str(back) == "builtins:ValueError: bad (the original type could not be imported)"


def test_object_without_readable_form_is_pickled_with_type_and_repr() -> None:
    node = encode(Opaque(4))
    assert node == {
        "$pickle": base64.b64encode(pickle.dumps(Opaque(4), protocol=5)).decode("ascii"),
        "type": type_name(Opaque),
        "repr": "Opaque(4)",
    }
    assert roundtrip(Opaque(4)) == Opaque(4)


def test_without_pickle_a_pickled_leaf_becomes_pickled_value() -> None:
    back = roundtrip([Opaque(4)], allow_pickle=False)
    expected_data = pickle.dumps(Opaque(4), protocol=5)
    assert back == [PickledValue(type_name(Opaque), "Opaque(4)", expected_data)]
    assert repr(back[0]) == f"<pickled {type_name(Opaque)}: Opaque(4)>"


def test_without_pickle_enums_and_dataclasses_are_not_imported() -> None:
    back = roundtrip([Color.RED, Point(1)], allow_pickle=False)
    assert back == [
        PickledValue(f"{__name__}:Color", "RED", b""),
        PickledValue(f"{__name__}:Point", "{'x': 1, 'y': None}", b""),
    ]


def test_self_containing_list_is_pickled_whole() -> None:
    loop: list[Any] = [1]
    loop.append(loop)
    node = encode(loop)
    assert node["type"] == "builtins.list"
    assert node["repr"] == "[1, [1, [1, [...]]]]"
    back = roundtrip(loop)
    assert back[0] == 1
    assert back[1] is back


def test_self_containing_dataclass_is_pickled_whole() -> None:
    node = Point(1)
    node.y = node
    encoded = encode(node)
    assert encoded["type"] == type_name(Point)
    back = roundtrip(node)
    assert back.y is back


def test_shared_but_acyclic_values_are_not_cycles() -> None:
    shared = [1]
    assert encode([shared, shared]) == [[1], [1]]


def test_unknown_tag_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^unknown tag '\$nope'$"):
        Decoder(PickleSerializer()).decode({"$nope": 1})


def test_render_shows_python_like_text_without_unpickling() -> None:
    tree = {
        "amount": decimal.Decimal("9.99"),
        "when": dt.datetime(2026, 11, 22, 10, 0, tzinfo=dt.UTC),
        "ids": (1,),
        "tags": {"b", "a"},
        "frozen": frozenset({1}),
        3: None,
        "raw": b"\x00",
        "text": b"hi",
        "buf": bytearray(b"x"),
        "pw": Redacted("ab"),
        "nan": float("nan"),
        "path": Path("/tmp/x"),
        "delay": dt.timedelta(1, 2, 3),
        "z": 1 + 2j,
        "color": Color.RED,
        "point": Point(1, [2]),
        "error": ValueError("bad", 2),
        "blob": Opaque(5),
    }
    assert render(encode(tree), limit=1000) == (
        "{'amount': Decimal('9.99'), 'when': datetime('2026-11-22T10:00:00+00:00'), "
        "'ids': (1,), 'tags': {'a', 'b'}, 'frozen': frozenset({1}), 3: None, "
        "'raw': b'\\x00', 'text': b'hi', 'buf': bytearray(b'x'), 'pw': <redacted>, "
        "'nan': float('nan'), 'path': Path('/tmp/x'), 'delay': timedelta(1, 2, 3), "
        "'z': (1+2j), 'color': Color.RED, 'point': Point(x=1, y=[2]), "
        f"'error': ValueError('bad', 2), 'blob': <{type_name(Opaque)}: Opaque(5)>}}"
    )


def test_render_cuts_long_text_at_the_limit() -> None:
    text = render(encode(list(range(100))), limit=20)
    assert text == "[0, 1, 2, 3, 4, 5..."
    assert len(text) == 20


def test_short_repr_drops_memory_addresses_and_bounds_length() -> None:
    assert short_repr(object()) == "<object object>"
    assert short_repr("x" * 100) == "'" + "x" * 37 + "..." + "x" * 38 + "'"
    assert short_repr([[[[1]]]]) == "[[[[...]]]]"


def test_short_repr_survives_a_failing_repr() -> None:
    class Broken:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    assert short_repr(Broken()) == "<Broken instance>"


# Hypothesis: encode -> JSON text -> decode gives equal values of equal types.

ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=8)
OFFSETS = st.builds(
    dt.timezone,
    st.timedeltas(
        min_value=dt.timedelta(hours=-23, minutes=-59), max_value=dt.timedelta(hours=23, minutes=59)
    ),
)
DATETIMES = st.datetimes(timezones=st.none() | OFFSETS | st.just(dt.UTC))
HASHABLE_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | ANY_TEXT
    | st.binary(max_size=8)
    | DATETIMES
    | st.dates()
    | st.times(timezones=st.none() | OFFSETS)
    | st.timedeltas()
    | st.decimals(allow_nan=False)
    | st.uuids()
)
HASHABLES = st.recursive(
    HASHABLE_LEAVES,
    lambda inner: st.tuples(inner, inner) | st.frozensets(inner, max_size=3),
    max_leaves=5,
)
KEYS = HASHABLES | st.sampled_from(["$tuple", "$dict", "$pickle", "plain"])
LEAVES = HASHABLE_LEAVES | st.floats() | st.decimals() | st.builds(bytearray, st.binary(max_size=8))


def _children(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=4).map(tuple)
        | st.dictionaries(ANY_TEXT, inner, max_size=4)
        | st.dictionaries(KEYS, inner, max_size=4)
        | st.sets(HASHABLES, max_size=4)
        | st.frozensets(HASHABLES, max_size=4)
        | st.builds(Point, inner, inner)
    )


PLAIN_DATA = st.recursive(LEAVES, _children, max_leaves=12)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(PLAIN_DATA)
def test_plain_data_round_trips_through_json(value: Any) -> None:
    assert_same(roundtrip(value), value)


@given(st.sets(ANY_TEXT | st.integers(), max_size=6))
def test_set_encoding_is_sorted_whatever_the_insertion_order(members: set[Any]) -> None:
    forward = set()
    for member in sorted(members, key=repr):
        forward.add(member)
    backward = set()
    for member in sorted(members, key=repr, reverse=True):
        backward.add(member)
    assert json.dumps(encode(forward)) == json.dumps(encode(backward))


def test_assert_same_tells_types_apart() -> None:
    with pytest.raises(AssertionError):
        assert_same([1], [1.0])
    with pytest.raises(AssertionError):
        assert_same({"a": (1,)}, {"a": [1]})
    with pytest.raises(AssertionError):
        assert_same({0.0}, {-0.0})
    with pytest.raises(AssertionError):
        assert_same(decimal.Decimal("1.0"), decimal.Decimal("1"))
    assert_same([float("nan")], [float("nan")])


def test_pure_path_round_trips_as_pure_path() -> None:
    back = roundtrip(PurePath("x/y"))
    assert type(back) is PurePosixPath
    assert back == PurePosixPath("x/y")


@pytest.mark.parametrize(
    ("node", "message"),
    [
        (
            {"$exception": "", "args": []},
            "$exception node names no class ('', not module:qualname)",
        ),
        (
            {"$enum": "Color", "name": "RED"},
            "$enum node names no class ('Color', not module:qualname)",
        ),
        (
            {"$dataclass": "app:", "fields": {}},
            "$dataclass node names no class ('app:', not module:qualname)",
        ),
    ],
)
def test_a_stored_class_name_that_is_no_class_reference_is_malformed(
    node: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError) as caught:
        check(node)
    assert str(caught.value) == message


def test_class_references_as_type_ref_writes_them_pass_the_check() -> None:
    class Failure(Exception):
        pass

    check(Encoder(PickleSerializer()).encode(Failure("x")))
    check({"$exception": "builtins:ValueError", "args": ["x"]})
