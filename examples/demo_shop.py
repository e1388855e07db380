"""A tiny piece of legacy code with side effects: it reads a clock and a price list.

Used by `capture_demo.py`. The functions are decorated with `@snapy.capture`, which does
nothing until capture is enabled (`SNAPY_CAPTURE_ENABLED=1` or `snapy.configure`).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import snapy

PRICES = {"coffee": Decimal("2.40"), "bagel": Decimal("3.10")}


class PaymentDeclined(Exception):
    """The payment gateway refused the card."""


@snapy.capture
def quote(items: list[str], *, currency: str = "EUR", api_key: str | None = None) -> dict:
    """Price a basket; calls the clock, so two calls never return the same thing."""
    total = sum((PRICES[item] for item in items), Decimal("0"))
    return {
        "items": list(items),
        "total": total,
        "currency": currency,
        "quoted_at": dt.datetime.now(dt.UTC).replace(microsecond=0),
    }


@snapy.capture(retention=5, ignore_args=["request_id"])
def charge(amount: Decimal, card: dict, request_id: str) -> str:
    """Charge a card; declines cards that end in 0000."""
    if card["number"].endswith("0000"):
        raise PaymentDeclined(f"card ending {card['number'][-4:]} declined", amount)
    return f"ch_{card['number'][-4:]}_{amount}"
