"""Argument keys over the canonical form, and binding calls with CallShape."""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import os
import subprocess
import sys
import textwrap
from collections import OrderedDict
from typing import Any

import pytest

from snapy._signature import CallShape, argument_key, canonical

TARGET = "shop.payments.charge"


def key(*values: Any) -> str:
    return argument_key(TARGET, {"value": values[0]} if len(values) == 1 else {"value": values})


def charge(amount: int, currency: str = "EUR", *, retries: int = 3) -> None:
    pass


class Account:
    """Has the default repr with a memory address."""

    def __init__(self, owner: str, limits: dict[str, int]) -> None:
        self.owner = owner
        self.limits = limits


class Slots:
    __slots__ = ("a", "b")

    def __init__(self, a: int, b: int) -> None:
        self.a = a
        self.b = b


@dataclasses.dataclass
class Money:
    amount: int
    currency: str
    note: str = dataclasses.field(default="", compare=False)


class Status(enum.Enum):
    OPEN = 1
    CLOSED = 2
    ALIAS = 1


def test_key_is_blake2b_128_of_target_names_and_canonical_values() -> None:
    expected = hashlib.blake2b(b"K3:m.fa1:ai1;a1:bs1:x", digest_size=16).hexdigest()
    assert argument_key("m.f", {"b": "x", "a": 1}) == expected


def test_key_of_a_known_call_is_fixed() -> None:
    # A stored file names its key: changing the canonical form silently orphans recordings.
    assert argument_key("m.f", {"a": 1, "b": "x"}) == argument_key("m.f", {"b": "x", "a": 1})
    assert canonical({"b": "x", "a": 1}) == b"M2[4:s1:a3:i1;4:s1:b4:s1:x]"
    assert canonical([None, True, False, 1.5, b"\x01", bytearray(b"\x01")]) == (
        b"L6[NTFf0x1.8000000000000p+0;b1:01B1:01]"
    )
    assert canonical(({2, 1}, frozenset({"a"}))) == b"U2[S2[3:i1;3:i2;]Z1[4:s1:a]]"


def test_positional_and_keyword_forms_agree_once_bound() -> None:
    shape = CallShape(charge)
    by_keyword = shape.bind((1,), {"currency": "EUR"})
    by_position = shape.bind((1, "EUR"), {})
    by_default = shape.bind((), {"amount": 1})
    assert by_keyword == by_position == by_default == {"amount": 1, "currency": "EUR", "retries": 3}
    keys = {argument_key(TARGET, b) for b in (by_keyword, by_position, by_default)}
    assert len(keys) == 1


def test_a_default_counts_in_the_key() -> None:
    shape = CallShape(charge)
    assert argument_key(TARGET, shape.bind((1,), {})) != argument_key(
        TARGET, shape.bind((1,), {"retries": 4})
    )


def test_dict_order_does_not_matter() -> None:
    assert key({"a": 1, "b": [1, 2]}) == key({"b": [1, 2], "a": 1})


def test_set_order_does_not_matter() -> None:
    forward = set()
    backward = set()
    words = [f"w{i}" for i in range(40)]
    for word in words:
        forward.add(word)
    for word in reversed(words):
        backward.add(word)
    assert key(forward) == key(backward)
    assert key(frozenset(words)) == key(frozenset(reversed(words)))


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (1, 1.0),
        (1, True),
        (1.0, True),
        (0, False),
        (0.0, -0.0),
        (None, "None"),
        ("1", 1),
        ([1, 2], (1, 2)),
        ({1, 2}, frozenset({1, 2})),
        ({1, 2}, [1, 2]),
        (b"ab", bytearray(b"ab")),
        (b"ab", "ab"),
        ({"a": 1}, OrderedDict(a=1)),
        ([[1], 2], [1, [2]]),
        (["ab"], ["a", "b"]),
        ({"a": 1, "b": 2}, {"a": 2, "b": 1}),
        (Status.OPEN, 1),
        (Status.OPEN, Status.CLOSED),
    ],
    ids=repr,
)
def test_different_values_give_different_keys(left: Any, right: Any) -> None:
    assert key(left) != key(right)


def test_one_one_point_zero_and_true_differ_inside_containers_too() -> None:
    assert len({key([1]), key([1.0]), key([True])}) == 3
    assert len({key({"n": 1}), key({"n": 1.0}), key({"n": True})}) == 3


def test_argument_name_is_part_of_the_key() -> None:
    assert argument_key(TARGET, {"a": 1}) != argument_key(TARGET, {"b": 1})


def test_target_name_is_part_of_the_key() -> None:
    assert argument_key("shop.payments.charge", {"a": 1}) != argument_key(
        "shop.payments.refund", {"a": 1}
    )


def test_target_and_argument_names_cannot_run_together() -> None:
    assert argument_key("m.f", {"ab": 1}) != argument_key("m.fa", {"b": 1})


def test_self_containing_list_has_a_stable_key() -> None:
    first: list[Any] = [1]
    first.append(first)
    second: list[Any] = [1]
    second.append(second)
    assert key(first) == key(second)
    assert key(first) != key([1, [1]])
    assert canonical(first) == b"L2[i1;@0;]"


def test_self_containing_dict_and_object_terminate() -> None:
    mapping: dict[str, Any] = {}
    mapping["me"] = mapping
    account = Account("ann", {})
    account.limits["owner"] = account  # type: ignore[assignment]
    assert key(mapping) == key(mapping)
    assert key(account) == key(account)


def test_objects_with_address_repr_key_by_state() -> None:
    first = Account("ann", {"daily": 100})
    second = Account("ann", {"daily": 100})
    assert "0x" in repr(first)
    assert key(first) == key(second)
    assert key(first) != key(Account("ann", {"daily": 200}))
    assert b"0x" not in canonical(first)


def test_objects_with_slots_key_by_state() -> None:
    assert key(Slots(1, 2)) == key(Slots(1, 2))
    assert key(Slots(1, 2)) != key(Slots(2, 1))


def test_unpicklable_object_keys_by_its_repr_without_address() -> None:
    import threading

    assert key(threading.Lock()) == key(threading.Lock())
    assert b"0x" not in canonical(threading.Lock())


def test_dataclasses_key_by_every_field() -> None:
    assert key(Money(5, "EUR")) == key(Money(5, "EUR"))
    assert key(Money(5, "EUR")) != key(Money(5, "USD"))
    # Fields left out of __eq__ still say what the call was given.
    assert key(Money(5, "EUR", note="a")) != key(Money(5, "EUR", note="b"))


def test_enums_key_by_name() -> None:
    assert canonical(Status.OPEN) == f"E{__name__}.Status.OPEN;".encode()
    assert key(Status.ALIAS) == key(Status.OPEN)


def test_types_and_functions_key_by_name() -> None:
    assert canonical(Money) == f"t{__name__}.Money;".encode()
    assert canonical(charge) == f"r{__name__}.charge;".encode()


def test_keys_agree_across_processes_with_different_hash_seeds() -> None:
    script = textwrap.dedent(
        """
        import json
        from snapy._signature import argument_key
        words = {f"word{i}" for i in range(64)}
        calls = [
            {"tags": words},
            {"tags": frozenset(words), "meta": {w: len(w) for w in sorted(words, reverse=True)}},
            {"nested": [{"b": {"x", "y"}, "a": {frozenset({"p", "q"})}}]},
        ]
        print(json.dumps([argument_key("m.f", call) for call in calls]))
        """
    )
    runs = [
        json.loads(
            subprocess.run(
                [sys.executable, "-c", script],
                env={**os.environ, "PYTHONHASHSEED": seed},
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        for seed in ("1", "2")
    ]
    assert runs[0] == runs[1]
    assert len(set(runs[0])) == 3


def positional_only(a: int, b: int = 2, /, c: int = 3) -> None:
    pass


def star_args(a: int, *rest: int, flag: bool = False, **options: Any) -> None:
    pass


@pytest.mark.parametrize(
    ("fn", "args", "kwargs", "expected"),
    [
        (positional_only, (1,), {}, ((1, 2, 3), {})),
        (positional_only, (1, 5), {"c": 7}, ((1, 5, 7), {})),
        (star_args, (1, 2, 3), {}, ((1, 2, 3), {"flag": False})),
        (star_args, (1,), {"flag": True, "x": 9}, ((1,), {"flag": True, "x": 9})),
        (charge, (), {"amount": 2, "retries": 0}, ((2, "EUR"), {"retries": 0})),
    ],
    ids=["positional-only", "positional-only-keyword", "star-args", "kwargs", "keyword-only"],
)
def test_split_rebuilds_args_and_kwargs(
    fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any], expected: Any
) -> None:
    shape = CallShape(fn)
    bound = shape.bind(args, kwargs)
    rebuilt = CallShape.split(bound, shape.kinds())
    assert rebuilt == expected
    assert shape.bind(*rebuilt) == bound


def test_kinds_name_every_parameter_that_is_not_positional_or_keyword() -> None:
    assert CallShape(star_args).kinds() == {"rest": "*", "flag": "kw", "options": "**"}
    assert CallShape(positional_only).kinds() == {"a": "/", "b": "/"}
    assert CallShape(charge).kinds() == {"retries": "kw"}


def test_bind_rejects_a_call_the_function_would_reject() -> None:
    with pytest.raises(TypeError, match="missing a required argument: 'amount'"):
        CallShape(charge).bind((), {})
