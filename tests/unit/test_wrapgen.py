"""`GeneratedWrapper`: exact-signature wrappers with a passthrough and a capturing body."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

import pytest

import snapy
from snapy._wrapgen import GeneratedWrapper


class Ctl:
    """Stands in for the capture control: counts draws of `skip()`."""

    def __init__(self, skips: list[int] | None = None) -> None:
        self.skips = list(skips or [])
        self.draws = 0

    def skip(self) -> int:
        self.draws += 1
        return self.skips.pop(0) if self.skips else 0


class Recorder:
    """An `on_call` that records the bound arguments, then calls the function itself."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        self.calls: list[dict[str, Any]] = []

    def __call__(self, ctl: Ctl, bound: dict[str, Any]) -> Any:
        self.calls.append(bound)
        return ("captured", bound)


def make(fn: Callable[..., Any], skips: list[int] | None = None) -> tuple[GeneratedWrapper, Any]:
    recorder = Recorder(fn)
    return GeneratedWrapper(fn, Ctl(skips), recorder, is_async=False), recorder


def no_params():
    return "none"


def positional_only(a, b=2, /):
    return a, b


def positional_only_then_star(a, /, *rest):
    return a, rest


def plain(a, b, c=3):
    return a, b, c


def star_args(*args):
    return args


def keyword_only(*, k, m=5):
    return k, m


def positional_then_keyword_only(a, *, k=[]):
    return a, k


def star_kwargs(**kwargs):
    return kwargs


def everything(a, b=1, /, c=2, *args, d, e=4, **kwargs):
    return a, b, c, args, d, e, kwargs


SHAPES = [
    (no_params, (), {}),
    (positional_only, (1,), {}),
    (positional_only, (1, 9), {}),
    (positional_only_then_star, (1, 2, 3), {}),
    (plain, (1,), {"b": 2}),
    (plain, (1, 2, 7), {}),
    (plain, (), {"c": 1, "b": 2, "a": 3}),
    (star_args, (), {}),
    (star_args, (1, [2], {3}), {}),
    (keyword_only, (), {"k": 1}),
    (keyword_only, (), {"k": 1, "m": 2}),
    (positional_then_keyword_only, (1,), {}),
    (positional_then_keyword_only, (), {"a": 1, "k": 2}),
    (star_kwargs, (), {}),
    (star_kwargs, (), {"x": 1, "self": 2, "fn": 3}),
    (everything, (0,), {"d": 1}),
    (everything, (0, 1, 2, 3, 4), {"d": 5, "e": 6, "f": 7, "b": "to kwargs"}),
]


@pytest.mark.parametrize(("fn", "args", "kwargs"), SHAPES)
def test_every_signature_shape(fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    generated, recorder = make(fn)
    wrapper = generated.function
    assert inspect.signature(wrapper) == inspect.signature(fn)
    own = list(inspect.signature(wrapper, follow_wrapped=False).parameters.values())
    original = list(inspect.signature(fn).parameters.values())
    assert [(p.name, p.kind) for p in own] == [(p.name, p.kind) for p in original]
    assert all(p.default is q.default for p, q in zip(own, original, strict=True))

    assert generated.active is False
    assert wrapper(*args, **kwargs) == fn(*args, **kwargs)
    assert recorder.calls == []

    generated.set_active(True)
    expected = inspect.signature(fn).bind(*args, **kwargs)
    expected.apply_defaults()
    assert wrapper(*args, **kwargs) == ("captured", dict(expected.arguments))
    [bound] = recorder.calls
    assert list(bound) == list(expected.arguments)


@pytest.mark.parametrize("fn", [plain, keyword_only, positional_only, everything])
def test_wrong_calls_fail_like_the_original(fn: Any) -> None:
    generated, _ = make(fn)
    for active in (False, True):
        generated.set_active(active)
        with pytest.raises(TypeError) as original:
            fn(1, 2, 3, 4, zz=1)
        with pytest.raises(TypeError) as wrapped:
            generated.function(1, 2, 3, 4, zz=1)
        assert str(wrapped.value) == str(original.value)


def test_metadata_is_copied_and_code_name_kept_in_both_bodies() -> None:
    generated, _ = make(plain)
    wrapper = generated.function
    assert (wrapper.__name__, wrapper.__qualname__) == ("plain", "plain")
    assert wrapper.__module__ == __name__
    assert wrapper.__wrapped__ is plain
    assert wrapper.__code__.co_name == "plain"
    generated.set_active(True)
    assert wrapper.__code__.co_name == "plain"
    assert wrapper.__code__.co_filename == "<snapy wrapper of plain>"


def test_set_active_swaps_the_code_object() -> None:
    generated, recorder = make(plain)
    wrapper = generated.function
    off = wrapper.__code__
    generated.set_active(True)
    on = wrapper.__code__
    assert on is not off
    assert generated.active is True
    generated.set_active(False)
    assert wrapper.__code__ is off
    assert generated.active is False
    assert wrapper(1, 2) == (1, 2, 3)
    generated.set_active(True)
    assert wrapper.__code__ is on
    assert wrapper(1, 2)[0] == "captured"
    assert len(recorder.calls) == 1


def test_skip_countdown_lets_calls_through_then_draws_again() -> None:
    ctl = Ctl(skips=[1, 5])
    recorder = Recorder(plain)
    generated = GeneratedWrapper(plain, ctl, recorder, is_async=False)
    generated.set_active(True, skip=2)
    results = [generated.function(i, 0) for i in range(6)]
    # 2 skipped, 1 captured (draws 1), 1 skipped, 1 captured (draws 5), then skipped.
    assert [r[0] == "captured" for r in results] == [False, False, True, False, True, False]
    assert [b["a"] for b in recorder.calls] == [2, 4]
    assert ctl.draws == 2
    generated.set_active(True)  # a new skip replaces what was left
    assert generated.function(9, 0)[0] == "captured"


def test_mutable_defaults_are_shared_with_the_original() -> None:
    generated, recorder = make(positional_then_keyword_only)
    wrapper = generated.function
    default = positional_then_keyword_only.__kwdefaults__["k"]
    assert wrapper(1)[1] is default
    generated.set_active(True)
    wrapper(1)
    assert recorder.calls[0]["k"] is default


def test_async_wrapper_awaits_both_bodies() -> None:
    async def fetch(x, *, scale=2):
        await asyncio.sleep(0)
        return x * scale

    seen = []

    async def on_call(ctl: Any, bound: dict[str, Any]) -> Any:
        seen.append(bound)
        return await fetch(**bound) + 1

    generated = GeneratedWrapper(fetch, Ctl(), on_call, is_async=True)
    wrapper = generated.function
    assert inspect.iscoroutinefunction(wrapper)
    assert asyncio.run(wrapper(3)) == 6
    generated.set_active(True)
    assert asyncio.run(wrapper(3, scale=3)) == 10
    assert seen == [{"x": 3, "scale": 3}]


def test_lambda_and_unusual_names_compile() -> None:
    square = lambda x: x * x  # noqa: E731
    generated, _ = make(square)
    assert generated.function.__name__ == "<lambda>"
    assert generated.function.__code__ is square.__code__  # off: the function's own code
    assert generated.function(3) == 9
    generated.set_active(True)
    assert generated.function.__code__.co_name == "<lambda>"
    assert generated.function(3) == ("captured", {"x": 3})

    def named(x):
        return x + 1

    for name in ("class", "__snapy_fn", "__snapy_capturing"):
        named.__name__ = name
        generated, recorder = make(named)
        assert generated.function.__name__ == name
        assert generated.function(1) == 2
        generated.set_active(True)
        assert generated.function(1) == ("captured", {"x": 1})
        assert recorder.calls == [{"x": 1}]


def test_a_parameter_named_like_the_function() -> None:
    def f(f, fn=None):
        return f, fn

    generated, _ = make(f)
    assert generated.function(1, fn=2) == (1, 2)
    generated.set_active(True)
    assert generated.function(1) == ("captured", {"f": 1, "fn": None})


def test_reserved_parameter_prefix_is_refused(snapy_settings: Any) -> None:
    def f(a, __snapy_fn=None):
        return a

    with pytest.raises(ValueError) as info:
        make(f)
    assert str(info.value) == "parameter '__snapy_fn' uses the prefix snapy reserves"
    with pytest.raises(ValueError) as info:
        snapy.capture(f)
    assert str(info.value) == "parameter '__snapy_fn' uses the prefix snapy reserves"


def test_off_is_the_function_itself_and_on_keeps_its_closure() -> None:
    offset = 10

    def shifted(x):
        return x + offset  # a free variable: the clone shares the function's closure

    generated, _recorder = make(shifted)
    assert generated.function.__code__ is shifted.__code__
    assert generated.function.__closure__ is shifted.__closure__
    assert generated.function(1) == 11
    generated.set_active(True)
    assert generated.function(2) == ("captured", {"x": 2})
    generated.set_active(False)
    assert generated.function(3) == 13


class Base:
    def greet(self, name):
        return f"hello {name}"


class Child(Base):
    def greet(self, name):  # super() gives the function a __class__ cell
        return super().greet(name).upper()


def test_a_method_using_super_works_on_and_off() -> None:
    generated = GeneratedWrapper(
        Child.greet, Ctl(), lambda ctl, bound: ctl.fn(**bound), is_async=False
    )
    generated.state.ctl.fn = Child.__dict__["greet"]
    wrapper = generated.function
    assert wrapper(Child(), "ana") == "HELLO ANA"
    generated.set_active(True)
    assert wrapper(Child(), "bo") == "HELLO BO"


def test_a_dropped_wrapper_leaves_no_registry_entry() -> None:
    import gc

    registry = plain.__globals__.setdefault("__snapy_wrappers__", {})
    before, names_before = set(registry), set(plain.__globals__)
    generated, _ = make(plain)
    new = set(registry) - before
    [key] = new
    assert set(plain.__globals__) - names_before == {
        f"__snapy_{key}_skips__",
        f"__snapy_{key}_fn__",
    }
    del generated
    gc.collect()
    assert not new & set(registry)
    assert f"__snapy_{key}_fn__" not in plain.__globals__


def test_a_builtin_gets_a_passthrough_with_its_signature() -> None:
    generated, _recorder = make(divmod)
    wrapper = generated.function
    assert inspect.signature(wrapper) == inspect.signature(divmod)
    assert wrapper(7, 2) == (3, 1)
    generated.set_active(True)
    assert wrapper(7, 2) == ("captured", {"x": 7, "y": 2})


def test_a_builtin_without_a_signature_takes_any_arguments() -> None:
    import time

    try:  # declares no signature on 3.11 and 3.12, `()` on 3.13
        inspect.signature(time.time)
        bound: dict[str, Any] = {}
    except ValueError:
        bound = {"args": (), "kwargs": {}}
    generated, _recorder = make(time.time)
    assert isinstance(generated.function(), float)
    generated.set_active(True)
    assert generated.function() == ("captured", bound)


def test_a_generator_function_is_swapped_without_a_deprecation_warning() -> None:
    def numbers(n):
        yield from range(n)

    generated, _recorder = make(numbers)
    assert list(generated.function(3)) == [0, 1, 2]
    generated.set_active(True)  # 3.13 warns when a generator's code is swapped for a plain one
    generated.set_active(False)
    assert list(generated.function(2)) == [0, 1]
