"""Side-effecting functions of every kind snapy replays; `REAL_CALLS` counts the real calls.

A test that replays a call asserts the count did not move: the real function was not run.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

REAL_CALLS: Counter[str] = Counter()
_lock = threading.Lock()
_ticks = 0

RATES = {"EUR": 1.1, "GBP": 1.25, "JPY": 0.0067}


def _count(name: str) -> None:
    with _lock:
        REAL_CALLS[name] += 1


def reset() -> None:
    """Forget the real calls and restart the clock (tests call it first)."""
    global _ticks
    with _lock:
        REAL_CALLS.clear()
        _ticks = 0


class GatewayError(Exception):
    """A payment gateway refused a request."""

    def __init__(self, code: int, detail: str) -> None:
        super().__init__(code, detail)
        self.code = code
        self.detail = detail


def fetch_rate(currency: str, amount: float = 1.0) -> float:
    """A remote exchange rate lookup."""
    _count("fetch_rate")
    if currency not in RATES:
        raise GatewayError(404, f"unknown currency {currency}")
    return RATES[currency] * amount


def tick() -> int:
    """A clock: a different result on every call."""
    global _ticks
    _count("tick")
    with _lock:
        _ticks += 1
        return _ticks


def charge(cart: dict[str, Any], api_key: str, request_id: int = 0) -> dict[str, Any]:
    """A payment: the total of the cart, with the key it was charged with."""
    _count("charge")
    total = sum(item["qty"] * item["price"] for item in cart["items"])
    return {"status": "ok", "total": total, "charged_with": api_key[:2]}


def fill(items: list[str], meta: dict[str, Any]) -> int:
    """Changes its arguments in place, as a database driver filling a result set does."""
    _count("fill")
    items.append("filled")
    meta["count"] = len(items)
    return len(items)


def tag_weights(
    tags: set[str], weights: dict[str, float], groups: dict[str, frozenset[str]]
) -> dict[str, Any]:
    """A lookup keyed by sets and dicts, whose iteration order depends on PYTHONHASHSEED."""
    _count("tag_weights")
    return {
        "total": sum(weights.get(tag, 0.0) for tag in tags),
        "tags": set(tags),
        "groups": {name: len(members & tags) for name, members in groups.items()},
    }


async def fetch_async(currency: str) -> float:
    """An awaited rate lookup."""
    _count("fetch_async")
    await asyncio.sleep(0)
    return RATES[currency]


def stream_rates(currencies: list[str]) -> Iterator[tuple[str, float]]:
    """Yields one rate at a time."""
    _count("stream_rates")
    for currency in currencies:
        yield currency, RATES[currency]


class Account:
    """A bank account client with instance, class and static methods."""

    bank = "fake"

    def __init__(self, owner: str) -> None:
        self.owner = owner

    def balance(self, currency: str = "EUR") -> str:
        _count("balance")
        return f"{self.owner}: 100 {currency}"

    @classmethod
    def open_for(cls, owner: str) -> str:
        _count("open_for")
        return f"{cls.bank}/{owner}"

    @staticmethod
    def round_amount(value: float, places: int = 2) -> float:
        _count("round_amount")
        return round(value, places)


class SavingsAccount(Account):
    """Inherits `balance` from `Account`."""
