"""Code under test: looks `fetch_rate` up in its own namespace (patch `fakeapp.billing...`)."""

from __future__ import annotations

from fakeapp.rates import fetch_rate


def invoice_total(currency: str, amounts: list[float]) -> float:
    return round(sum(fetch_rate(currency, amount) for amount in amounts), 2)
