"""The `snapy` command (`snapy ...` and `python -m snapy ...`)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from ._errors import SnapyError
from ._load import list_captures


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 problem found, 2 usage error)."""
    parser = argparse.ArgumentParser(prog="snapy", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    lister = sub.add_parser("list", help="captured functions with bundle count and size")
    lister.add_argument("path", nargs="?", help="capture folder (default SNAPY_CAPTURE_DIR)")
    lister.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args(argv)
    try:
        infos = list_captures(args.path)
    except SnapyError as exc:
        print(f"snapy: {exc}", file=sys.stderr)
        return 1
    if args.json:
        rows = [
            {
                "target": i.target,
                "bundles": i.bundles,
                "calls": i.calls,
                "bytes": i.total_bytes,
                "newest": i.newest.isoformat() if i.newest else None,
                "oldest": i.oldest.isoformat() if i.oldest else None,
            }
            for i in infos
        ]
        print(json.dumps(rows, indent=2))
        return 0
    if not infos:
        print("no captures found")
        return 0
    width = max(len(i.target) for i in infos)
    print(f"{'target':<{width}}  bundles  calls  bytes  newest")
    for i in infos:
        newest = i.newest.isoformat(timespec="seconds") if i.newest else "-"
        print(f"{i.target:<{width}}  {i.bundles:>7}  {i.calls:>5}  {i.total_bytes:>5}  {newest}")
    return 0
