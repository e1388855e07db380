"""Exchange rates, fetched over HTTP from the rates service on every call."""

import json
import urllib.error
import urllib.parse
import urllib.request
from decimal import Decimal

from . import config


class RateUnavailable(Exception):
    """The rates service has no rate for this pair of currencies on this day."""


def fetch_rate(base, quote, day, api_key):
    """How many `quote` one `base` buys on `day` (an ISO date), as a Decimal."""
    query = urllib.parse.urlencode({"base": base, "quote": quote, "day": day})
    request = urllib.request.Request(
        f"{config.RATES_URL}/v1/rates?{query}",
        headers={"Authorization": f"Bearer {api_key}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            body = json.load(response)
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            raise RateUnavailable(f"no {base}/{quote} rate for {day}") from None
        raise
    return Decimal(body["rate"])
