"""capture -> load -> replay, end to end: what `python3 run.py demo` shows.

1. Enables capture at run time, as a staging process would with SNAPY_CAPTURE_ENABLED=1.
2. Calls two decorated functions of `demo_shop`; one raises.
3. Lists what was stored, loads the captures back, and replays them.
4. Checks that the secret passed as `api_key` and the card's `auth_token` are nowhere on disk.

Usage: python3 run.py demo [--keep DIR]   (DIR keeps the captures for `snapy list DIR`)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

import demo_shop

import snapy
from snapy._cli import main as snapy_cli

SECRET = "sk_live_do_not_store_me"
CARD_TOKEN = "tok_visa_also_secret"


def run(folder: Path) -> int:
    snapy.configure(capture_enabled=True, capture_dir=folder)
    print(f"1. capturing into {folder}\n")
    basket = demo_shop.quote(["coffee", "bagel"], currency="EUR", api_key=SECRET)
    print(f"   quote(...) -> total {basket['total']} at {basket['quoted_at']:%H:%M:%S}")
    card = {"number": "4242424242424242", "auth_token": CARD_TOKEN}
    print(f"   charge(...) -> {demo_shop.charge(Decimal('5.50'), card, request_id='req-1')}")
    try:
        demo_shop.charge(Decimal("9.99"), {"number": "4000000000000000"}, request_id="req-2")
    except demo_shop.PaymentDeclined as exc:
        print(f"   charge(...) raised PaymentDeclined{exc.args}")
    snapy.configure(capture_enabled=False)

    print("\n2. what is stored (`snapy list`):\n")
    snapy_cli(["list", str(folder)])

    print("\n3. loading the captures back:\n")
    quoted = snapy.load_capture("demo_shop.quote")
    print(f"   quote args={quoted.args} kwargs={quoted.kwargs}")
    print(f"   quote result total={quoted.result['total']!r}")
    declined = snapy.load_capture(demo_shop.charge)
    print(f"   newest charge raised {declined.exception!r}")

    print("\n4. replaying them against the code as it is now:\n")
    again = quoted.replay(api_key=SECRET)
    same = {k: v for k, v in again.items() if k != "quoted_at"}
    was = {k: v for k, v in quoted.result.items() if k != "quoted_at"}
    print(f"   quote replayed: same total and items: {same == was}")
    try:
        declined.replay(request_id="req-3")
    except demo_shop.PaymentDeclined as exc:
        again_same = exc.args == declined.exception.args
        print(f"   charge replayed: raised PaymentDeclined again: {again_same}")

    leaked = [
        path
        for path in folder.rglob("*")
        if path.is_file()
        and (SECRET.encode() in path.read_bytes() or CARD_TOKEN.encode() in path.read_bytes())
    ]
    print(f"\n5. secrets written to disk: {len(leaked)} file(s)")
    ok = same == was and not leaked
    print("\ndemo " + ("OK" if ok else "FAILED"))
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="keep the captures in this folder")
    args = parser.parse_args(argv)
    if args.keep:
        return run(args.keep)
    with tempfile.TemporaryDirectory() as tmp:
        return run(Path(tmp) / "captures")


if __name__ == "__main__":
    sys.exit(main())
