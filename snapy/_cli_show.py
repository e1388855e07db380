"""`snapy show` and `snapy diff`: one bundle readable, or how two bundles differ.

Both read the stored JSON and never unpickle, except `show --unpickle`, which requires a signed
file when `SNAPY_SIGNING_KEY` is set (unpickling runs code the file names).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import sys
from collections.abc import Callable
from typing import Any

from deepdiff import DeepDiff

from ._cli_errors import NothingMatched, UsageError
from ._cli_format import Context, Shower, duration, iso, shown, size, tag_of, when
from ._cli_verify import Stored, read_bundle
from ._inspect import RECORDING, Folder, find_target, root_of, select
from ._plain import short_repr
from ._serializers import serializer_named

_LABEL = 11
_HEADINGS = {"result": "result", "exception": "raised", "generator": "yielded"}
_VERBS = {"result": "returned", "exception": "raised", "generator": "yielded"}
_KINDS = {"$decimal": "Decimal", "$uuid": "UUID", "$b64": "bytes", "$path": "Path"}


def load(folder: Folder, position: int, ctx: Context) -> Stored:
    """A bundle read without unpickling; a signed one is checked when a key is set."""
    key = ctx.settings.signing_key
    stored = read_bundle(folder.entries[position].path, key, require_signature=False)
    return stored


def _unpickler(stored: Stored) -> Callable[[dict[str, Any]], str]:
    serializer = serializer_named(stored.header.serializer, stored.path)
    # Pickles name their classes by module: import them as `python -m snapy` would, from the
    # current folder too (the `snapy` console script leaves it off sys.path).
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    shown: dict[str, str] = {}  # a value is printed more than once while it is laid out

    def show(node: dict[str, Any]) -> str:
        data = str(node["$pickle"])
        if data not in shown:
            try:
                shown[data] = repr(serializer.loads(base64.b64decode(data, validate=True)))
            except Exception as exc:
                shown[data] = (
                    f"<pickled {node.get('type')}: {node.get('repr')}; cannot unpickle it "
                    f"here: {type(exc).__name__}: {exc}>"
                )
        return shown[data]

    return show


def outcome_of(body: dict[str, Any], shower: Shower) -> tuple[str, str]:
    """(heading, text) of what the call did: `result`, `raised` or `yielded`, and the value."""
    outcome, value = str(body["outcome"]), body["value"]
    if outcome.endswith(" type") or (outcome == "generator" and not isinstance(value, list)):
        kind = value.get("type") if isinstance(value, dict) else None
        heading = "raised" if outcome.startswith("exception") else "result"
        if outcome == "generator":
            return heading, f"<{kind}> (a generator: the items it yields are not captured)"
        return heading, f"<{kind}> (only the type was stored: minimal_capture)"
    return _HEADINGS.get(outcome, outcome), shower.text(value)


def cmd_show(args: argparse.Namespace, ctx: Context) -> int:
    root, hint = root_of(args.path, ctx.settings, "--path")
    folder, position = find_target(args.target, root, hint)
    if position is not None and (args.key is not None or args.index is not None):
        raise UsageError("--key and --index choose a bundle of a target, not of a bundle file")
    if position is None:
        position = select(folder, args.key, args.index)
    stored = read_bundle(
        folder.entries[position].path,
        ctx.settings.signing_key,
        require_signature=args.unpickle,
        unsigned="the file is not signed but SNAPY_SIGNING_KEY is set: --unpickle refuses "
        "it, as unpickling runs code the file names; without --unpickle, snapy show prints "
        "its plain data and leaves pickled objects unopened",
    )
    shower = Shower(_unpickler(stored) if args.unpickle else None)
    body = stored.body
    heading, value = outcome_of(body, shower)
    if args.json:
        data = {
            "kind": folder.kind,
            "name": folder.name,
            "target": body["target"],
            "test": body.get("test"),
            "file": str(stored.path),
            "index": position,
            "count": len(folder.entries),
            "key": body["key"],
            "outcome": body["outcome"],
            "signed": stored.header.signed,
            "serializer": stored.header.serializer,
            "signature": body.get("signature"),
            "arguments": {k: shower.text(v) for k, v in body["arguments"].items()},
            "value": value,
            "mutations": {k: shower.text(v) for k, v in body.get("mutations", {}).items()},
            "meta": body.get("meta", {}),
            "stored": {k: body[k] for k in ("arguments", "value", "mutations") if k in body},
        }
        ctx.print(json.dumps(data, indent=2, ensure_ascii=False))
        return 0
    for line in _show_lines(folder, position, stored, shower, heading, value, ctx):
        ctx.print(line)
    return 0


def _show_lines(
    folder: Folder,
    position: int,
    stored: Stored,
    shower: Shower,
    heading: str,
    value: str,
    ctx: Context,
) -> list[str]:
    body, style = stored.body, ctx.style
    count = len(folder.entries)
    which = " (the newest)" if position == count - 1 else (" (the oldest)" if position == 0 else "")
    signed = "signed" if stored.header.signed else "not signed"
    if not stored.header.signed and ctx.settings.signing_key is not None:
        signed += " (SNAPY_SIGNING_KEY is set: --unpickle refuses it)"
    facts = [("target", body["target"])]
    if folder.kind == RECORDING:
        facts.append(("test", str(body.get("test", folder.test))))
    facts += [
        ("file", shown(stored.path)),
        ("bundle", f"{position + 1} of {count}, --index {position}{which}"),
        ("key", body["key"]),
        (
            "stored",
            f"{size(stored.size)}, serializer={stored.header.serializer} "
            f"encoding={stored.header.encoding}, {signed}",
        ),
    ]
    if body.get("signature"):
        facts.append(("signature", str(body["signature"])))
    lines = [f"{style.bold(label.ljust(_LABEL))}{text}" for label, text in facts]
    lines.append(style.bold("arguments") + ("" if body["arguments"] else "  (none)"))
    lines += _named(body["arguments"], shower)
    lines.append(style.bold(heading))
    lines += ["    " + line for line in _split(value, body["value"], shower)]
    if body.get("mutations"):
        lines.append(style.bold("mutations (what the call changed in its arguments)"))
        lines += _named(body["mutations"], shower)
    meta = {k: v for k, v in body.get("meta", {}).items() if k != "time_ns"}
    if meta:
        lines.append(style.bold("meta"))
        for name, item in meta.items():
            if name == "duration_ns":
                name, item = "duration", duration(item)
            lines.append(f"    {name} = {item}")
    return lines


def _split(text: str, node: Any, shower: Shower) -> list[str]:
    return shower.lines(node) if text == shower.text(node) else [text]


def _named(values: dict[str, Any], shower: Shower) -> list[str]:
    lines = []
    for name, node in values.items():
        sub = shower.lines(node, 92 - len(name))
        lines.append(f"    {name} = {sub[0]}")
        lines += [" " * (7 + len(name)) + line for line in sub[1:]]
    return lines


# -- diff ----------------------------------------------------------------------------------


class Shown(str):
    """A value compared by its text (a pickled object, a redacted secret, a dataclass)."""

    kind: str

    def __new__(cls, text: str, kind: str) -> Shown:
        obj = super().__new__(cls, text)
        obj.kind = kind
        return obj

    def __repr__(self) -> str:
        return str.__str__(self)


def comparable(node: Any, shower: Shower) -> Any:
    """Plain Python values for deepdiff, built without unpickling or importing anything."""
    if node is None or type(node) in (bool, int, float, str):
        return node
    if type(node) is list:
        return [comparable(v, shower) for v in node]
    tag = tag_of(node)
    if not tag:
        return {k: comparable(v, shower) for k, v in node.items()}
    if tag == "$tuple":
        return tuple(comparable(v, shower) for v in node[tag])
    if tag in ("$set", "$frozenset"):
        items = {_hashable(comparable(v, shower)) for v in node[tag]}
        return items if tag == "$set" else frozenset(items)
    if tag == "$dict":
        return {_hashable(comparable(k, shower)): comparable(v, shower) for k, v in node[tag]}
    if tag == "$redacted":
        return Shown(f"<redacted #{str(node[tag])[:8]}>", "redacted")
    if tag == "$pickle":
        return Shown(shower.pickled(node), f"pickled {node.get('type')}")
    if tag in ("$dataclass", "$exception", "$enum"):
        return Shown(shower.text(node), str(node[tag]).rpartition(":")[2])
    # Dates, decimals, bytes, ...: compared and shown as `show` prints them.
    return Shown(shower.text(node), _KINDS.get(tag, tag[1:]))


def _hashable(value: Any) -> Any:
    try:
        hash(value)
    except TypeError:
        return Shown(short_repr(value), type(value).__name__)
    return value


def _describe(value: Any) -> str:
    return _cut(str(value) if isinstance(value, Shown) else short_repr(value))


def _cut(text: str, limit: int = 120) -> str:
    """One value on a diff line: long ones end in `...` (`snapy show` prints them whole)."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _type(value: Any) -> str:
    return value.kind if isinstance(value, Shown) else type(value).__name__


def differences(old: Any, new: Any, root: str, shower: Shower) -> list[dict[str, Any]]:
    """One row per changed path under `root`: path, change, old and new (as text)."""
    a, b = comparable(old, shower), comparable(new, shower)
    rows: list[dict[str, Any]] = []
    for report, levels in DeepDiff(a, b, view="tree", verbose_level=2).tree.items():
        for level in levels:
            path = level.path(root=root).rstrip(":")
            if report == "type_changes":
                old = f"{_describe(level.t1)} ({_type(level.t1)})"
                row = ["type", old, f"{_describe(level.t2)} ({_type(level.t2)})"]
            elif report.endswith("_added"):
                row = ["added", None, _describe(level.t2)]
            elif report.endswith("_removed"):
                row = ["removed", _describe(level.t1), None]
            elif report == "values_changed":
                row = ["changed", _describe(level.t1), _describe(level.t2)]
            else:
                row = [report.replace("_", " "), None, None]
            rows.append({"path": path, "change": row[0], "old": row[1], "new": row[2]})
    return sorted(rows, key=lambda r: (_natural(r["path"]), r["change"]))


def _natural(path: str) -> list[Any]:
    """`x[2]` before `x[10]`."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path)]


def compare(a: Stored, b: Stored, shower: Shower) -> list[dict[str, Any]]:
    """How bundle `b` differs from bundle `a`, arguments first."""
    one, two = a.body, b.body
    rows: list[dict[str, Any]] = []
    for field in ("target", "test", "signature"):
        if one.get(field) != two.get(field):
            row = {"path": field, "change": "changed"}
            rows.append({**row, "old": repr(one.get(field)), "new": repr(two.get(field))})
    args_a, args_b = one["arguments"], two["arguments"]
    for name in [*args_a, *(n for n in args_b if n not in args_a)]:
        if name not in args_b:
            old = _describe(comparable(args_a[name], shower))
            rows.append({"path": name, "change": "removed", "old": old, "new": None})
        elif name not in args_a:
            new = _describe(comparable(args_b[name], shower))
            rows.append({"path": name, "change": "added", "old": None, "new": new})
        else:
            rows += differences(args_a[name], args_b[name], name, shower)
    if one["outcome"] == two["outcome"]:
        heading = outcome_of(one, shower)[0]
        rows += differences(one["value"], two["value"], heading, shower)
    else:
        old = f"{_VERBS.get(one['outcome'], one['outcome'])} {_cut(outcome_of(one, shower)[1])}"
        new = f"{_VERBS.get(two['outcome'], two['outcome'])} {_cut(outcome_of(two, shower)[1])}"
        rows.append({"path": "outcome", "change": "changed", "old": old, "new": new})
    if one.get("mutations") or two.get("mutations"):
        rows += differences(one.get("mutations", {}), two.get("mutations", {}), "mutations", shower)
    return rows


def line_of(row: dict[str, Any]) -> str:
    change, old, new = row["change"], row["old"], row["new"]
    if change in ("changed", "type"):
        return f"{row['path']}: {old} -> {new}"
    if change == "added":
        return f"{row['path']}: added {new}"
    if change == "removed":
        return f"{row['path']}: removed {old}"
    return f"{row['path']}: {change}"


def _ref(text: str, ctx: Context, args: argparse.Namespace) -> tuple[Folder, int]:
    """A bundle named by a file, a target folder or name (its newest), with `@N` or `@KEY`."""
    root, hint = root_of(args.path, ctx.settings, "--path")
    name, at, choice = text.rpartition("@")
    if not at or "/" in choice:
        name, choice = text, ""
    try:
        folder, position = find_target(name, root, hint)
    except NothingMatched:
        if not choice:
            raise
        folder, position = find_target(text, root, hint)
        choice = ""
    if position is None:
        if choice.lstrip("-").isdigit():
            position = select(folder, index=int(choice))
        else:
            position = select(folder, key=choice or None)
    return folder, position


def cmd_diff(args: argparse.Namespace, ctx: Context) -> int:
    folder_b, position_b = _ref(args.b if args.b is not None else args.a, ctx, args)
    if args.b is None:  # one target: its bundle before `a` (default: the two newest)
        folder_a, position_a = folder_b, position_b - 1
        if position_a < 0:
            count = len(folder_b.entries)
            raise NothingMatched(
                f"{folder_b.name!r} has {count} bundle(s); nothing older to compare the chosen "
                "one with: give two bundles, `snapy diff A B`"
            )
    else:
        folder_a, position_a = _ref(args.a, ctx, args)
    a, b = load(folder_a, position_a, ctx), load(folder_b, position_b, ctx)
    rows = compare(a, b, Shower())
    sides = [(folder_a, position_a, a), (folder_b, position_b, b)]
    if args.json:
        described = [
            {
                "name": f.name,
                "file": str(s.path),
                "index": p,
                "count": len(f.entries),
                "time": iso(f.entries[p].time_ns),
            }
            for f, p, s in sides
        ]
        data = {"a": described[0], "b": described[1], "differences": rows}
        ctx.print(json.dumps(data, indent=2, ensure_ascii=False))
        return 0
    for mark, (folder, position, stored) in zip(("---", "+++"), sides, strict=True):
        stamp = when(folder.entries[position].time_ns)
        text = (
            f"{mark} {folder.name} bundle {position + 1} of {len(folder.entries)} "
            f"({stamp}): {shown(stored.path)}"
        )
        ctx.print(ctx.style.red(text) if mark == "---" else ctx.style.green(text))
    for row in rows:
        ctx.print(line_of(row))
    if rows:
        ctx.print(f"{len(rows)} difference(s)")
    else:
        ctx.print("no differences: same arguments and the same outcome")
    return 0
