"""`load_capture`, `list_captures` and `Capture`: bringing stored calls back, and replaying them."""

from __future__ import annotations

import datetime as dt
import difflib
import os
import socket
import threading
from pathlib import Path
from typing import Any

import pytest

import snapy

MODULE = __name__
HINT = (
    "run the code with SNAPY_CAPTURE_ENABLED=1 to capture it, "
    "or pass path= to load from another folder"
)
SECRET = "s3cr3t-value-never-stored"
calls: list[tuple[str, Any]] = []


@snapy.capture(retention=10)
def fetch_price(sku: str, quantity: int = 1, *, currency: str = "EUR") -> str:
    calls.append(("fetch_price", sku))
    return f"{sku}:{quantity * 250}{currency}"


@snapy.capture
def login(user: str, password: str) -> bool:
    calls.append(("login", user))
    return password == SECRET


@snapy.capture(ignore_args=["request_id"])
def lookup(user: str, request_id: str | None = None, limit: int = 10) -> tuple[Any, ...]:
    return user, request_id, limit


class Shop:
    def __init__(self, name: str) -> None:
        self.name = name

    @snapy.capture
    def total(self, *prices: int, discount: int = 0) -> str:
        return f"{self.name}:{sum(prices) - discount}"


def cheaper_price(sku: str, quantity: int = 1, *, currency: str = "EUR") -> str:
    return f"{sku}:{quantity * 100}{currency}"


@pytest.fixture
def root(captures: Path) -> Path:
    calls.clear()
    return captures


def count_bundles(root: Path) -> int:
    snapy.flush_captures()
    return len(list(root.rglob("*.bundle")))


def test_load_by_dotted_name_colon_name_and_function(root: Path) -> None:
    fetch_price("apple", 2)
    by_name = snapy.load_capture(f"{MODULE}.fetch_price")
    by_colon = snapy.load_capture(f"{MODULE}:fetch_price")
    by_function = snapy.load_capture(fetch_price)
    assert by_name == by_colon == by_function
    assert by_name.target == f"{MODULE}.fetch_price"
    assert by_name.path.parent == root / MODULE / "fetch_price"


def test_load_a_method_by_colon_name_dotted_name_and_function(root: Path) -> None:
    shop = Shop("corner")
    assert shop.total(3, 4, discount=1) == "corner:6"
    expected = snapy.load_capture(f"{MODULE}:Shop.total")
    assert snapy.load_capture(f"{MODULE}.Shop.total") == expected
    assert snapy.load_capture(Shop.total) == expected
    assert snapy.load_capture(shop.total) == expected
    assert expected.arguments == {"prices": (3, 4), "discount": 1}
    assert expected.args == (3, 4)
    assert expected.kwargs == {"discount": 1}
    assert expected.meta["instance"] == f"{MODULE}.Shop"
    assert expected.replay(Shop("other").total) == "other:6"


def test_load_from_an_explicit_path(snapy_settings: Any, tmp_path: Path) -> None:
    @snapy.capture(production_mode=False, path=tmp_path / "elsewhere")
    def f(x: int) -> int:
        return x

    f(5)
    with pytest.raises(snapy.CaptureNotFoundError):
        snapy.load_capture(f)
    assert snapy.load_capture(f, path=tmp_path / "elsewhere").result == 5
    assert snapy.load_capture(f, path=str(tmp_path / "elsewhere")).result == 5


def test_newest_by_default_and_key_selects(root: Path) -> None:
    fetch_price("apple")
    fetch_price("pear", 3)
    fetch_price("apple")
    newest = snapy.load_capture(fetch_price)
    assert newest.arguments == {"sku": "apple", "quantity": 1, "currency": "EUR"}
    pear_key = snapy.argument_key(
        f"{MODULE}.fetch_price", {"sku": "pear", "quantity": 3, "currency": "EUR"}
    )
    pear = snapy.load_capture(fetch_price, key=pear_key)
    assert pear.key == pear_key
    assert pear.result == "pear:750EUR"
    assert newest.key != pear_key
    assert count_bundles(root) == 3


def test_capture_fields(root: Path) -> None:
    before = dt.datetime.now(dt.UTC)
    fetch_price("plum", 4, currency="USD")
    after = dt.datetime.now(dt.UTC)
    capture = snapy.load_capture(fetch_price)
    assert capture.arguments == {"sku": "plum", "quantity": 4, "currency": "USD"}
    assert capture.args == ("plum", 4)
    assert capture.kwargs == {"currency": "USD"}
    assert capture.kinds == {"currency": "kw"}
    assert capture.outcome == "result"
    assert capture.result == "plum:1000USD"
    assert capture.exception is None
    assert before - dt.timedelta(seconds=1) <= capture.time <= after + dt.timedelta(seconds=1)
    assert capture.time.tzinfo is dt.UTC
    meta = capture.meta
    assert set(meta) == {"time_ns", "time", "duration_ns", "pid", "host", "thread", "snapy"}
    assert meta["time"] == capture.time.isoformat(timespec="microseconds")
    assert meta["pid"] == os.getpid()
    assert meta["host"] == socket.gethostname()
    assert meta["thread"] == threading.current_thread().name
    assert meta["snapy"] == snapy.__version__
    assert isinstance(meta["duration_ns"], int) and meta["duration_ns"] >= 0
    assert capture.path.name.endswith(f"-{capture.key}.bundle")


def test_unknown_name_lists_the_nearest_names_first(root: Path) -> None:
    fetch_price("apple")
    login("ann", "x")
    Shop("s").total(1)
    snapy.flush_captures()
    wanted = f"{MODULE}.fetch_prices"
    with pytest.raises(snapy.CaptureNotFoundError) as info:
        snapy.load_capture(wanted)
    known = [f"{MODULE}.Shop.total", f"{MODULE}.fetch_price", f"{MODULE}.login"]
    nearest = difflib.get_close_matches(wanted, known, n=5, cutoff=0.0)
    assert nearest[0] == f"{MODULE}.fetch_price"
    assert info.value.nearest == nearest
    assert info.value.name == wanted
    assert info.value.root == root
    assert isinstance(info.value, LookupError)
    assert str(info.value) == (
        f"no capture of {wanted!r} in {str(root)!r}; captures exist for: "
        f"{', '.join(nearest)}; {HINT}"
    )


def test_unknown_name_in_an_empty_folder(root: Path) -> None:
    with pytest.raises(snapy.CaptureNotFoundError) as info:
        snapy.load_capture("nowhere.fn")
    assert str(info.value) == (
        f"no capture of 'nowhere.fn' in {str(root)!r}; no function has captures there; {HINT}"
    )
    assert info.value.nearest == []


def test_unknown_key_lists_the_stored_keys(root: Path) -> None:
    fetch_price("a")
    fetch_price("b")
    keys = sorted(c.key for c in map(snapy.CaptureStorage(root).load, _files(root)))
    with pytest.raises(snapy.CaptureNotFoundError) as info:
        snapy.load_capture(fetch_price, key="0" * 32)
    assert str(info.value) == (
        f"no capture of '{MODULE}.fetch_price' in {str(root)!r}; no capture with argument key "
        f"'{'0' * 32}'; stored keys: {', '.join(keys)}; {HINT}"
    )


def _files(root: Path) -> list[Path]:
    snapy.flush_captures()
    return sorted(root.rglob("*.bundle"))


def test_replay_calls_the_current_function_without_capturing_again(root: Path) -> None:
    fetch_price("kiwi", 2)
    capture = snapy.load_capture(fetch_price)
    calls.clear()
    assert capture.replay() == "kiwi:500EUR"
    assert calls == [("fetch_price", "kiwi")]
    assert count_bundles(root) == 1


def test_replay_with_another_function(root: Path) -> None:
    fetch_price("kiwi", 2, currency="USD")
    capture = snapy.load_capture(fetch_price)
    assert capture.replay(cheaper_price) == "kiwi:200USD"

    def renamed(item: str, n: int, *, currency: str) -> tuple[str, int, str]:
        return item, n, currency

    assert capture.replay(renamed) == ("kiwi", 2, "USD")


def test_replay_overrides_a_redacted_argument(root: Path) -> None:
    assert login("ann", SECRET) is True
    capture = snapy.load_capture(login)
    assert isinstance(capture.arguments["password"], snapy.Redacted)
    assert capture.replay() is False
    assert capture.replay(password=SECRET) is True
    assert capture.replay(user="bob", password="nope") is False
    assert calls[-1] == ("login", "bob")


def test_replay_overrides_an_ignored_argument_in_its_place(root: Path) -> None:
    lookup("ann", "req-1", 5)
    capture = snapy.load_capture(lookup)
    assert capture.arguments == {"user": "ann", "limit": 5}
    assert capture.replay() == ("ann", None, 5)
    assert capture.replay(request_id="req-2") == ("ann", "req-2", 5)


def test_replay_with_an_unknown_override_is_refused(root: Path) -> None:
    login("ann", SECRET)
    capture = snapy.load_capture(login)
    with pytest.raises(TypeError) as info:
        capture.replay(pasword=SECRET)
    assert str(info.value) == (
        f"replay() of '{MODULE}.login' got overrides for unknown parameters ['pasword']; "
        "the captured call has ['user', 'password']"
    )


def test_replay_of_a_function_that_cannot_be_imported(root: Path) -> None:
    @snapy.capture
    def local(x: int) -> int:
        return x

    local(1)
    capture = snapy.load_capture(local)
    with pytest.raises(LookupError) as info:
        capture.replay()
    message = str(info.value)
    assert message.startswith(f"cannot import {capture.target!r} to replay it (")
    assert message.endswith("); pass the function: capture.replay(fn)")
    assert capture.replay(local) == 1


def test_list_captures_returns_a_row_per_function(root: Path) -> None:
    assert snapy.list_captures() == []
    for sku in ("a", "b", "c"):
        fetch_price(sku)
    login("ann", "x")
    rows = snapy.list_captures()
    assert [row.target for row in rows] == [f"{MODULE}.fetch_price", f"{MODULE}.login"]
    price, log = rows
    assert isinstance(price, snapy.TargetInfo)
    assert (price.module, price.qualname) == (MODULE, "fetch_price")
    assert (price.bundles, price.calls) == (3, 3)
    files = sorted(price.folder.glob("*.bundle"))
    assert price.folder == root / MODULE / "fetch_price"
    assert price.total_bytes == sum(p.stat().st_size for p in files)
    loaded = [snapy.CaptureStorage(root).load(p) for p in files]
    assert price.oldest == loaded[0].time
    assert price.newest == loaded[-1].time
    assert (log.bundles, log.calls) == (1, 1)
    assert snapy.list_captures(root) == rows
    assert snapy.list_captures(str(root / "missing")) == []


@snapy.capture
def walk(tree: Any) -> int:
    return 1


def test_a_capture_of_a_deeply_nested_value_loads(root: Path) -> None:
    # Past 32 levels the redactor hides a branch whole, so a stored file never nests deeper
    # than the loaders accept (they refuse JSON nested more than 100 levels).
    tree: Any = ["leaf"]
    for _ in range(150):
        tree = [tree, (1, {"k": 2})]
    walk(tree)
    snapy.flush_captures()
    capture = snapy.load_capture(walk)
    node, levels = capture.arguments["tree"], 0
    while isinstance(node, list):
        node, levels = node[0], levels + 1
    assert levels == 33 and isinstance(node, snapy.Redacted)
