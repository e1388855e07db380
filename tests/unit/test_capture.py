"""`@snapy.capture`: decorator forms, switching, call kinds, redaction, retention and limits."""

from __future__ import annotations

import asyncio
import inspect
import json
import math
from pathlib import Path
from typing import Any

import pytest

import snapy
from snapy._capture import _Control

MODULE = __name__


def control(fn: Any) -> _Control:
    ctl: _Control = fn.__snapy_capture__
    return ctl


def bundles(root: Path) -> list[Path]:
    """Every bundle file under `root`, oldest first."""
    return sorted(root.rglob("*.bundle"), key=lambda p: p.name)


def body(path: Path) -> dict[str, Any]:
    """The JSON payload of a bundle file (after its one-line envelope)."""
    head, _, payload = path.read_bytes().partition(b"\n")
    assert head.startswith(b"snapy-bundle format=1 serializer=pickle encoding=json checksum=")
    value: dict[str, Any] = json.loads(payload)
    return value


def loaded(root: Path) -> list[snapy.Capture]:
    storage = snapy.CaptureStorage(root)
    snapy.flush_captures()
    return [storage.load(p) for p in bundles(root)]


# -- decorator forms and metadata ---------------------------------------------------------


def test_bare_decorator_captures_arguments_and_result(captures: Path) -> None:
    @snapy.capture
    def add(a: int, b: int) -> int:
        return a + b

    assert add(2, 3) == 5
    [capture] = loaded(captures)
    assert capture.target == f"{MODULE}.{add.__qualname__}"
    assert capture.arguments == {"a": 2, "b": 3}
    assert capture.outcome == "result"
    assert capture.result == 5
    assert capture.exception is None


def test_decorator_with_options(captures: Path) -> None:
    @snapy.capture(retention=3, ignore_args=["request_id"])
    def lookup(user: str, request_id: int) -> str:
        return user.upper()

    for i in range(5):
        assert lookup("ann", i) == "ANN"
    found = loaded(captures)
    assert len(found) == 3
    assert [c.arguments for c in found] == [{"user": "ann"}] * 3


def test_capture_args_is_the_seed_name_of_capture(captures: Path) -> None:
    assert snapy.capture_args is snapy.capture

    @snapy.capture_args(retention=1)
    def double(x: int) -> int:
        return 2 * x

    double(1)
    double(2)
    [capture] = loaded(captures)
    assert capture.arguments == {"x": 2}
    assert capture.result == 4


def test_config_object_form(snapy_settings: Any, tmp_path: Path) -> None:
    config = snapy.CaptureConfig(production_mode=False, path=tmp_path / "cfg")

    @snapy.capture(config=config)
    def square(x: int) -> int:
        return x * x

    assert square(4) == 16
    [capture] = loaded(tmp_path / "cfg")
    assert capture.result == 16


def test_config_and_options_together_are_refused(snapy_settings: Any) -> None:
    config = snapy.CaptureConfig()
    with pytest.raises(snapy.ConfigError) as info:
        snapy.capture(config=config, retention=3)
    assert str(info.value) == (
        f"config={config!r} is not valid: pass either config= or separate options, not both"
    )


def test_decorating_something_else_than_a_function_is_refused(snapy_settings: Any) -> None:
    with pytest.raises(TypeError) as info:
        snapy.capture(3)
    assert str(info.value) == "@snapy.capture needs a function, got int 3"


def everything(a, b=1, /, c=[], *args, d, e={}, **kwargs):
    """Return every argument as received."""
    return a, b, c, args, d, e, kwargs


def test_wrapper_keeps_the_metadata_of_the_function(snapy_settings: Any) -> None:
    wrapped = snapy.capture(everything)
    assert wrapped is not everything
    assert wrapped.__name__ == "everything"
    assert wrapped.__qualname__ == "everything"
    assert wrapped.__doc__ == "Return every argument as received."
    assert wrapped.__module__ == MODULE
    assert wrapped.__wrapped__ is everything
    assert inspect.signature(wrapped) == inspect.signature(everything)
    assert str(inspect.signature(wrapped)) == "(a, b=1, /, c=[], *args, d, e={}, **kwargs)"
    # Without following __wrapped__: the generated code itself has the same parameters.
    own = inspect.signature(wrapped, follow_wrapped=False).parameters.values()
    original = inspect.signature(everything).parameters.values()
    assert [(p.name, p.kind) for p in own] == [(p.name, p.kind) for p in original]
    assert all(p.default is q.default for p, q in zip(own, original, strict=True))


def test_mutable_defaults_are_the_original_objects(snapy_settings: Any) -> None:
    wrapped = snapy.capture(everything)
    assert wrapped.__defaults__[1] is everything.__defaults__[1]
    assert wrapped.__kwdefaults__["e"] is everything.__kwdefaults__["e"]
    _, _, c, _, _, e, _ = wrapped(0, d=0)
    assert c is everything.__defaults__[1]
    assert e is everything.__kwdefaults__["e"]


CALLS = [
    ((0,), {"d": 1}),
    ((0, 2), {"d": 1}),
    ((0, 2, [3], 4, 5), {"d": 6, "e": 7, "f": 8}),
    ((0,), {"b": "keyword b goes to **kwargs", "d": 1, "c": 9}),
    ((0, 1, 2, *range(10)), {"d": None, "token": "t", "nested": {"password": "p"}}),
]


@pytest.mark.parametrize("enabled", ["0", "1"])
@pytest.mark.parametrize(("args", "kwargs"), CALLS)
def test_every_parameter_kind_is_passed_on_unchanged(
    snapy_settings: Any, enabled: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    snapy_settings(SNAPY_CAPTURE_ENABLED=enabled)
    wrapped = snapy.capture(everything)
    assert control(wrapped).wrapper.active is (enabled == "1")
    assert wrapped(*args, **kwargs) == everything(*args, **kwargs)


def test_every_parameter_kind_is_stored_by_name(captures: Path) -> None:
    wrapped = snapy.capture(everything)
    wrapped(0, 2, [3], 4, 5, d=6, f=8)
    [capture] = loaded(captures)
    assert capture.arguments == {
        "a": 0,
        "b": 2,
        "c": [3],
        "args": (4, 5),
        "d": 6,
        "e": {},
        "kwargs": {"f": 8},
    }
    assert capture.kinds == {"a": "/", "b": "/", "args": "*", "d": "kw", "e": "kw", "kwargs": "**"}
    assert capture.args == (0, 2, [3], 4, 5)
    assert capture.kwargs == {"d": 6, "e": {}, "f": 8}
    assert capture.replay(everything) == everything(0, 2, [3], 4, 5, d=6, f=8)


# -- switching on and off -----------------------------------------------------------------


def test_off_by_default_nothing_is_written(snapy_settings: Any, tmp_path: Path) -> None:
    @snapy.capture
    def f(x: int) -> int:
        return x + 1

    assert snapy.get_settings().capture_enabled is False
    assert snapy.get_settings().source_of("capture_enabled") == "default"
    assert control(f).wrapper.active is False
    assert [f(i) for i in range(3)] == [1, 2, 3]
    snapy.flush_captures()
    assert list(tmp_path.iterdir()) == []


def test_configure_switches_functions_decorated_earlier(
    snapy_settings: Any, tmp_path: Path
) -> None:
    @snapy.capture
    def f(x: int) -> int:
        return x + 1

    f(1)
    snapy.configure(capture_enabled=True)
    assert control(f).wrapper.active is True
    assert f.__code__.co_name == "f"
    f(2)
    snapy.configure(capture_enabled=False)
    assert control(f).wrapper.active is False
    f(3)
    found = loaded(tmp_path / "captures")
    assert [c.arguments for c in found] == [{"x": 2}]


def test_environment_and_dotenv_enable_capture(snapy_settings: Any, tmp_path: Path) -> None:
    @snapy.capture
    def f(x: int) -> int:
        return x

    snapy_settings(SNAPY_CAPTURE_ENABLED="yes", SNAPY_CAPTURE_DIR=str(tmp_path / "env"))
    f(1)
    (tmp_path / ".env").write_text(f"SNAPY_CAPTURE_ENABLED=1\nSNAPY_CAPTURE_DIR={tmp_path}/file\n")
    settings = snapy_settings()
    assert settings.source_of("capture_enabled") == f".env file {str(tmp_path / '.env')!r}"
    f(2)
    assert [c.arguments for c in loaded(tmp_path / "env")] == [{"x": 1}]
    assert [c.arguments for c in loaded(tmp_path / "file")] == [{"x": 2}]


def test_production_mode_false_captures_regardless(snapy_settings: Any, tmp_path: Path) -> None:
    @snapy.capture(production_mode=False, path=tmp_path / "dev")
    def f(x: int) -> int:
        return x

    assert snapy.get_settings().capture_enabled is False
    f(7)
    assert [c.arguments for c in loaded(tmp_path / "dev")] == [{"x": 7}]


# -- kinds of functions -------------------------------------------------------------------


def test_async_function(captures: Path) -> None:
    @snapy.capture
    async def fetch(x: int, *, scale: int = 2) -> int:
        await asyncio.sleep(0)
        return x * scale

    assert inspect.iscoroutinefunction(fetch)
    assert asyncio.run(fetch(21)) == 42
    [capture] = loaded(captures)
    assert capture.arguments == {"x": 21, "scale": 2}
    assert capture.result == 42


def test_async_function_exception(captures: Path) -> None:
    raised = []

    @snapy.capture
    async def fetch(x: int) -> int:
        raised.append(LookupError("no such row", x))
        raise raised[-1]

    with pytest.raises(LookupError) as info:
        asyncio.run(fetch(3))
    assert info.value is raised[0]
    [capture] = loaded(captures)
    assert capture.outcome == "exception"
    assert type(capture.exception) is LookupError
    assert capture.exception.args == ("no such row", 3)


def test_generator_is_not_consumed(captures: Path) -> None:
    produced = []

    @snapy.capture
    def count(n: int) -> Any:
        for i in range(n):
            produced.append(i)
            yield i

    items = count(3)
    [capture] = loaded(captures)
    assert produced == []
    assert capture.arguments == {"n": 3}
    assert capture.outcome == "generator"
    assert capture.result is None
    assert body(capture.path)["value"] == {"type": "builtins.generator"}
    [entry] = json.loads((capture.path.parent / "index.json").read_text())["bundles"]
    assert entry["summary"] == f"{count.__qualname__}(n=3) -> <generator: builtins.generator>"
    assert next(items) == 0
    assert produced == [0]
    assert list(items) == [1, 2]


def test_async_generator_is_not_consumed(captures: Path) -> None:
    produced = []

    @snapy.capture
    async def count(n: int) -> Any:
        for i in range(n):
            produced.append(i)
            yield i

    items = count(2)
    [capture] = loaded(captures)
    assert produced == []
    assert capture.outcome == "generator"
    assert body(capture.path)["value"] == {"type": "builtins.async_generator"}

    async def drain() -> list[int]:
        return [i async for i in items]

    assert asyncio.run(drain()) == [0, 1]


class Account:
    def __init__(self, owner: str) -> None:
        self.owner = owner

    @snapy.capture
    def deposit(self, amount: int) -> str:
        return f"{self.owner}+{amount}"

    @snapy.capture
    @classmethod
    def open_outer(cls, owner: str) -> str:
        return f"{cls.__name__}:{owner}"

    @classmethod
    @snapy.capture
    def open_inner(cls, owner: str) -> str:
        return f"{cls.__name__}:{owner}"

    @snapy.capture
    @staticmethod
    def fee_outer(amount: int) -> int:
        return amount // 100

    @staticmethod
    @snapy.capture
    def fee_inner(amount: int) -> int:
        return amount // 10


class Savings(Account):
    pass


def test_instance_method_leaves_self_out(captures: Path) -> None:
    assert Savings("zq7-owner").deposit(5) == "zq7-owner+5"
    [capture] = loaded(captures)
    assert capture.target == f"{MODULE}.Account.deposit"
    assert capture.arguments == {"amount": 5}
    assert capture.meta["instance"] == f"{MODULE}.Savings"
    assert body(capture.path)["arguments"] == {"amount": 5}
    assert capture.replay(Account("bob").deposit) == "bob+5"


@pytest.mark.parametrize("name", ["open_outer", "open_inner"])
def test_classmethod_in_either_order(captures: Path, name: str) -> None:
    assert isinstance(Account.__dict__[name], classmethod)
    assert getattr(Savings, name)("ann") == "Savings:ann"
    [capture] = loaded(captures)
    assert capture.target == f"{MODULE}.Account.{name}"
    assert capture.arguments == {"owner": "ann"}
    assert capture.meta["instance"] == f"{MODULE}.Savings"
    assert capture.replay(getattr(Account, name)) == "Account:ann"


@pytest.mark.parametrize(("name", "expected"), [("fee_outer", 12), ("fee_inner", 123)])
def test_staticmethod_in_either_order(captures: Path, name: str, expected: int) -> None:
    assert isinstance(Account.__dict__[name], staticmethod)
    assert getattr(Account("x"), name)(1234) == expected
    [capture] = loaded(captures)
    assert capture.target == f"{MODULE}.Account.{name}"
    assert capture.arguments == {"amount": 1234}
    assert capture.result == expected
    assert "instance" not in capture.meta


# -- what is stored, and when -------------------------------------------------------------


def test_arguments_are_stored_as_passed_and_the_result_as_returned(captures: Path) -> None:
    @snapy.capture
    def drain(items: list[int]) -> list[int]:
        taken = list(items)
        items.clear()
        return taken

    items = [1, 2]
    result = drain(items)
    result.append(99)
    assert items == []
    [capture] = loaded(captures)
    assert capture.arguments == {"items": [1, 2]}
    assert capture.result == [1, 2]


class PaymentDeclined(Exception):
    pass


def test_exception_is_captured_and_reraised_as_the_same_object(captures: Path) -> None:
    raised = []

    @snapy.capture
    def charge(amount: int) -> None:
        raised.append(PaymentDeclined("card declined", amount))
        raise raised[-1]

    with pytest.raises(PaymentDeclined) as info:
        charge(500)
    assert info.value is raised[0]
    [capture] = loaded(captures)
    assert capture.outcome == "exception"
    assert capture.result is None
    assert type(capture.exception) is PaymentDeclined
    assert capture.exception.args == ("card declined", 500)
    assert body(capture.path)["value"]["$exception"] == f"{MODULE}:PaymentDeclined"


def test_ignore_args_leaves_the_argument_out_of_file_and_key(captures: Path) -> None:
    @snapy.capture(ignore_args=["request_id"])
    def lookup(user: str, request_id: str) -> str:
        return user

    lookup("ann", "req-11111")
    lookup("ann", "req-22222")
    found = loaded(captures)
    key = snapy.argument_key(f"{MODULE}.{lookup.__qualname__}", {"user": "ann"})
    assert [c.key for c in found] == [key, key]
    assert all(c.arguments == {"user": "ann"} for c in found)
    assert all(b"req-" not in c.path.read_bytes() for c in found)


def test_ignore_args_naming_no_parameter_is_refused(snapy_settings: Any) -> None:
    def lookup(user: str, request_id: str) -> str:
        return user

    with pytest.raises(snapy.ConfigError) as info:
        snapy.capture(ignore_args=["request_id", "requestid"])(lookup)
    assert str(info.value) == (
        "ignore_args=['request_id', 'requestid'] is not valid: ['requestid'] are not "
        f"parameters of {MODULE}.{lookup.__qualname__}(user: 'str', request_id: 'str') -> 'str'; "
        "its parameters are ['user', 'request_id']"
    )


SECRET = "hunter2-do-not-store"


def test_default_patterns_redact_arguments_and_nested_keys(captures: Path) -> None:
    @snapy.capture(retention=math.inf)
    def login(user: str, password: str, headers: dict[str, str]) -> bool:
        return password == SECRET

    assert login("ann", SECRET, {"Authorization": "Bearer " + SECRET, "Accept": "json"})
    login("ann", SECRET, {"Authorization": "Bearer " + SECRET, "Accept": "json"})
    login("ann", "other", {"Authorization": "Bearer " + SECRET, "Accept": "json"})
    found = loaded(captures)
    for capture in found:
        data = capture.path.read_bytes()
        assert SECRET.encode() not in data
        assert b'"password": {"$redacted": "' in data
        assert isinstance(capture.arguments["password"], snapy.Redacted)
        assert isinstance(capture.arguments["headers"]["Authorization"], snapy.Redacted)
        assert capture.arguments["headers"]["Accept"] == "json"
    # Matching still works on a keyed hash: same secret, same key; another one differs.
    assert found[0].key == found[1].key != found[2].key
    assert found[0].arguments["password"] == found[1].arguments["password"]
    assert found[0].arguments["password"] != found[2].arguments["password"]
    for path in captures.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def test_redact_list_extends_the_defaults(captures: Path) -> None:
    @snapy.capture(redact=["ssn"])
    def register(name: str, ssn: str, password: str) -> None:
        pass

    register("ann", "123-45-6789", SECRET)
    [capture] = loaded(captures)
    data = capture.path.read_bytes()
    assert b"123-45-6789" not in data
    assert SECRET.encode() not in data
    assert capture.arguments["name"] == "ann"


def test_redact_filter_replaces_the_defaults(captures: Path) -> None:
    @snapy.capture(redact=snapy.ArgumentFilter(["ssn"]))
    def register(name: str, ssn: str, password: str) -> None:
        pass

    register("ann", "123-45-6789", "plain-password")
    [capture] = loaded(captures)
    data = capture.path.read_bytes()
    assert b"123-45-6789" not in data
    assert isinstance(capture.arguments["ssn"], snapy.Redacted)
    assert capture.arguments["password"] == "plain-password"


def test_retention_default_keeps_the_newest_two(captures: Path) -> None:
    @snapy.capture
    def f(x: int) -> int:
        return x

    for i in range(5):
        f(i)
        snapy.flush_captures()  # one batch per call: retention applies to files on disk
    assert [c.arguments for c in loaded(captures)] == [{"x": 3}, {"x": 4}]
    [info] = snapy.list_captures(captures)
    assert (info.bundles, info.calls) == (2, 5)


def test_retention_inf_keeps_all(captures: Path) -> None:
    @snapy.capture(retention=math.inf)
    def f(x: int) -> int:
        return x

    for i in range(5):
        f(i)
    assert [c.arguments["x"] for c in loaded(captures)] == [0, 1, 2, 3, 4]


def test_quota_stops_capturing_and_goes_back_to_passthrough(captures: Path) -> None:
    @snapy.capture(quota=3, retention=math.inf)
    def f(x: int) -> int:
        return x

    assert [f(i) for i in range(6)] == [0, 1, 2, 3, 4, 5]
    assert control(f).wrapper.active is False
    assert [c.arguments["x"] for c in loaded(captures)] == [0, 1, 2]
    snapy.configure(capture_enabled=True)  # a settings change does not restart it
    assert control(f).wrapper.active is False
    f(9)
    assert len(loaded(captures)) == 3


def test_sample_rate_zero_captures_nothing(captures: Path) -> None:
    @snapy.capture(sample_rate=0)
    def f(x: int) -> int:
        return x

    assert [f(i) for i in range(100)] == list(range(100))
    snapy.flush_captures()
    assert not captures.exists()


def test_sample_rate_half_captures_about_half(captures: Path) -> None:
    @snapy.capture(sample_rate=0.5, retention=math.inf)
    def f(x: int) -> int:
        return x

    for i in range(2000):
        f(i)
    snapy.flush_captures()
    [info] = snapy.list_captures(captures)
    # Binomial(2000, 0.5): sd ~22, so 800..1200 fails with probability far below 1e-12.
    assert 800 <= info.calls <= 1200
    assert info.bundles == info.calls == len(bundles(captures))


def _skip_message(name: str, detail: str) -> str:
    return (
        f"snapy did not capture a call of {name}: bundle over max_bytes ({detail}); "
        "the call itself went on unchanged; raise max_bytes= or SNAPY_MAX_BYTES, "
        "or use ignore_args=[...]"
    )


def test_max_bytes_warns_once_and_the_call_goes_on(captures: Path) -> None:
    @snapy.capture(max_bytes=100)
    def echo(s: str) -> str:
        return s

    with pytest.warns(snapy.CaptureSkippedWarning) as record:
        assert echo("x" * 200) == "x" * 200  # json: {"s": "xx..."} is 209 bytes
        assert echo("y" * 300) == "y" * 300
    name = f"{MODULE}.{echo.__qualname__}"
    assert [str(w.message) for w in record] == [
        _skip_message(name, "arguments alone are 209 bytes, limit 100")
    ]
    assert record[0].filename == __file__
    snapy.flush_captures()
    assert bundles(captures) == []


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        # Arguments {"s": "éé..."}: 29 characters, 49 bytes; result: 42 characters, 82 bytes.
        ("é" * 20, "bundle is 131 bytes, limit 100"),
        # Arguments alone: 59 characters, 109 bytes.
        ("é" * 50, "arguments alone are 109 bytes, limit 100"),
    ],
)
def test_max_bytes_counts_utf8_bytes_of_arguments_and_result(
    captures: Path, text: str, detail: str
) -> None:
    @snapy.capture(max_bytes=100)
    def grow(s: str) -> str:
        return s * 2

    with pytest.warns(snapy.CaptureSkippedWarning) as record:
        assert grow(text) == text * 2
    assert [str(w.message) for w in record] == [
        _skip_message(f"{MODULE}.{grow.__qualname__}", detail)
    ]
    assert record[0].filename == __file__
    snapy.flush_captures()
    assert bundles(captures) == []


def test_unpicklable_argument_is_skipped_with_a_warning(captures: Path) -> None:
    @snapy.capture
    def total(items: Any) -> int:
        return sum(items)

    with pytest.warns(snapy.CaptureSkippedWarning) as record:
        assert total(i for i in range(4)) == 6
    assert str(record[0].message) == (
        f"snapy did not capture a call of {MODULE}.{total.__qualname__}: unpicklable argument "
        "(argument 'items': cannot serialize generator object with pickle or dill: cannot "
        "pickle 'generator' object); the call itself went on unchanged; pass "
        "ignore_args=[...] to leave that argument out"
    )


@pytest.mark.parametrize(
    ("raises", "cause", "hint"),
    [
        (False, "unpicklable result", "pass minimal_capture=True to store the arguments only"),
        (
            True,
            "unpicklable exception",
            "pass minimal_capture=True to store the exception's type only",
        ),
    ],
)
def test_unpicklable_outcome_is_skipped_with_a_warning(
    captures: Path, raises: bool, cause: str, hint: str
) -> None:
    made = []

    @snapy.capture
    def make() -> Any:
        made.append(i for i in range(3))
        if raises:
            raise ValueError("cannot", made[-1])
        return made[-1]

    with pytest.warns(snapy.CaptureSkippedWarning) as record:
        try:
            assert make() is made[0]
        except ValueError as exc:
            assert exc.args == ("cannot", made[0])
    assert [str(w.message) for w in record] == [
        f"snapy did not capture a call of {MODULE}.{make.__qualname__}: {cause} (cannot "
        "serialize generator object with pickle or dill: cannot pickle 'generator' object); "
        f"the call itself went on unchanged; {hint}"
    ]
    assert record[0].filename == __file__
    snapy.flush_captures()
    assert bundles(captures) == []


def test_minimal_capture_stores_only_the_result_type(captures: Path) -> None:
    @snapy.capture(minimal_capture=True)
    def profile(user: str) -> dict[str, str]:
        return {"email": "ann@example.com"}

    assert profile("ann") == {"email": "ann@example.com"}
    [capture] = loaded(captures)
    assert capture.arguments == {"user": "ann"}
    assert capture.outcome == "result type"
    assert capture.result is None
    assert body(capture.path)["value"] == {"type": "builtins.dict"}
    assert b"ann@example.com" not in capture.path.read_bytes()
    [entry] = json.loads((capture.path.parent / "index.json").read_text())["bundles"]
    assert entry["summary"] == f"{profile.__qualname__}(user='ann') -> <result type: builtins.dict>"
    assert b"ann@example.com" not in (capture.path.parent / "index.json").read_bytes()


def test_minimal_capture_of_an_exception_stores_only_its_type(captures: Path) -> None:
    @snapy.capture(minimal_capture=True)
    def profile(user: str) -> None:
        raise PaymentDeclined("secret detail")

    with pytest.raises(PaymentDeclined):
        profile("ann")
    [capture] = loaded(captures)
    assert capture.outcome == "exception type"
    assert capture.exception is None
    assert body(capture.path)["value"] == {"type": f"{MODULE}.PaymentDeclined"}
    assert b"secret detail" not in capture.path.read_bytes()
    [entry] = json.loads((capture.path.parent / "index.json").read_text())["bundles"]
    assert entry["summary"] == (
        f"{profile.__qualname__}(user='ann') -> <exception type: {MODULE}.PaymentDeclined>"
    )


def test_files_and_folders_are_private(captures: Path) -> None:
    @snapy.capture
    def f(x: int) -> int:
        return x

    f(1)
    [capture] = loaded(captures)
    assert capture.path.stat().st_mode & 0o777 == 0o600
    assert (capture.path.parent / "index.json").stat().st_mode & 0o777 == 0o600
    assert capture.path.parent.stat().st_mode & 0o777 == 0o700
    assert captures.stat().st_mode & 0o777 == 0o700


def test_failed_write_warns_on_flush_and_the_call_goes_on(captures: Path) -> None:
    @snapy.capture
    def f(x: int) -> int:
        return x * 2

    captures.mkdir()
    (captures / MODULE).write_text("a file where the module folder would go")
    assert f(4) == 8
    with pytest.warns(snapy.CaptureSkippedWarning) as record:
        assert snapy.flush_captures() is True
    folder = snapy.CaptureStorage(captures).folder(snapy.Target(MODULE, f.__qualname__))
    assert [str(w.message) for w in record] == [
        f"snapy did not capture a call of {MODULE}.{f.__qualname__}: write failed "
        f"(NotADirectoryError: [Errno 20] Not a directory: {str(folder)!r}); the call itself "
        "went on unchanged; check the capture folder (SNAPY_CAPTURE_DIR)"
    ]
    assert record[0].filename == __file__
    assert f(5) == 10  # warned once per cause: the next failure only logs
    snapy.flush_captures()


def test_capture_folder_that_is_a_file_warns_and_the_call_goes_on(captures: Path) -> None:
    @snapy.capture
    def f(x: int) -> int:
        return x * 2

    captures.write_text("not a folder")
    with pytest.warns(snapy.CaptureSkippedWarning) as record:
        assert f(4) == 8
    [message] = [str(w.message) for w in record]
    start = (
        f"snapy did not capture a call of {MODULE}.{f.__qualname__}: redaction key unavailable "
        f"(NotADirectoryError: [Errno 20] Not a directory: {str(captures)!r}"
    )
    end = "); the call itself went on unchanged; check the capture folder (SNAPY_CAPTURE_DIR)"
    assert message.startswith(start[:-1]), message
    assert message.endswith(end), message
    assert captures.read_text() == "not a folder"


def test_a_relative_path_is_fixed_when_the_decorator_runs(
    snapy_settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    monkeypatch.chdir(first)

    @snapy.capture(production_mode=False, path="caps")
    def double(x: int) -> int:
        return 2 * x

    monkeypatch.chdir(second)  # the process moves on; its captures stay where they were meant
    double(4)
    snapy.flush_captures()
    assert (first / "caps").is_dir()
    assert not (second / "caps").exists()
