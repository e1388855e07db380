"""How the `snapy` command prints: aligned tables, sizes, times, colour and stored values.

Colour only when the stream is a terminal, and never when `NO_COLOR` is set to anything
(https://no-color.org) or `TERM=dumb`. Stored values are printed from their readable form
(`snapy._plain`); a pickled object shows as `<pickled TYPE: repr>` unless the caller passes
a function that unpickles it.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from ._bundle import iso as bundle_iso
from ._plain import render
from ._settings import Settings

_CODES = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33"}
# Control characters (but newline and tab), and the marks that reorder text, except the colour
# codes `Style` writes: names and summaries come from files, which may be hostile.
_UNPRINTABLE = re.compile(
    r"\033\[(?:0|1|2|31|32|33)m|[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"
)
_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")
_INDENT = "    "


def printable(text: str) -> str:
    """`text` with every control character but newline and tab shown as an escape (`\\x1b`),
    so that what a file holds cannot move the cursor, retitle or clear the terminal."""

    def escape(match: re.Match[str]) -> str:
        found = match.group()
        if len(found) > 1:  # a colour code of Style's
            return found
        code = ord(found)
        return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"

    return _UNPRINTABLE.sub(escape, text)


def wants_colour(stream: TextIO, environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    if env.get("NO_COLOR") or env.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


class Style:
    """Wraps text in ANSI colours when `on`; otherwise returns it unchanged."""

    def __init__(self, on: bool) -> None:
        self.on = on

    def paint(self, text: str, name: str) -> str:
        return f"\033[{_CODES[name]}m{text}\033[0m" if self.on and text else text

    def bold(self, text: str) -> str:
        return self.paint(text, "bold")

    def dim(self, text: str) -> str:
        return self.paint(text, "dim")

    def red(self, text: str) -> str:
        return self.paint(text, "red")

    def green(self, text: str) -> str:
        return self.paint(text, "green")

    def yellow(self, text: str) -> str:
        return self.paint(text, "yellow")


@dataclass
class Context:
    """What every command prints to and reads from."""

    out: TextIO
    err: TextIO
    stdin: TextIO
    style: Style
    settings: Settings

    def print(self, text: str = "") -> None:
        print(printable(text), file=self.out)

    def note(self, text: str) -> None:
        """A line on stderr, after `snapy: `."""
        print(f"snapy: {printable(text)}", file=self.err)


def shown(path: os.PathLike[str] | str) -> str:
    """A path for a reader: relative to the current folder when it lies inside it."""
    text = os.fspath(path)
    if os.path.isabs(text):
        try:
            relative = os.path.relpath(text)
        except ValueError:  # another drive (Windows)
            return text
        if not relative.startswith(os.pardir):
            return relative
    return text


def size(count: float) -> str:
    """`512 B`, `1.5 KiB`, `12.0 MiB`: powers of 1024, one decimal above bytes."""
    value = float(count)
    for unit in _UNITS:
        if value < 1024 or unit == _UNITS[-1]:
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def when(time_ns: int | None) -> str:
    """A time to the second in UTC, `2026-11-22 10:00:01`; `-` when unknown."""
    if time_ns is None:
        return "-"
    stamp = dt.datetime.fromtimestamp(time_ns / 1e9, dt.UTC)
    return stamp.strftime("%Y-%m-%d %H:%M:%S")


def iso(time_ns: int | None) -> str | None:
    """The exact time for `--json`: ISO 8601 in UTC with microseconds, or None."""
    return None if time_ns is None else bundle_iso(time_ns)


def duration(ns: object) -> str:
    if not isinstance(ns, int | float):
        return str(ns)
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.1f} {unit}"
    return f"{ns} ns"


def table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], style: Style, right: Sequence[int] = ()
) -> list[str]:
    """Rows under headers, columns two spaces apart; columns in `right` are right-aligned."""
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        parts = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(cells)
        ]
        return "  ".join(parts).rstrip()

    return [style.bold(line(headers)), *(line(r) for r in rows)]


def width(stream: TextIO) -> int:
    try:
        return max(os.get_terminal_size(stream.fileno()).columns, 60)
    except (OSError, ValueError, AttributeError):
        return 100


def is_tty(stream: TextIO = sys.stdin) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:
        return False


def tag_of(node: Any) -> str:
    """The `$tag` of a tagged node, else ``""``."""
    if type(node) is dict and node:
        first = next(iter(node))
        return first if first.startswith("$") else ""
    return ""


class Shower:
    """Turns the readable form of stored values into text, one line or several.

    `unpickle(node)` returns the text of a pickled leaf; by default it is shown as stored:
    `<pickled TYPE: repr>`, and nothing is unpickled or imported.
    """

    def __init__(self, unpickle: Callable[[dict[str, Any]], str] | None = None) -> None:
        self.unpickle = unpickle

    def pickled(self, node: dict[str, Any]) -> str:
        if self.unpickle is not None:
            return self.unpickle(node)
        return f"<pickled {node.get('type')}: {node.get('repr')}>"

    def text(self, node: Any) -> str:
        """The whole value on one line."""
        parts = self._parts(node)
        if parts is None:
            if tag_of(node) == "$pickle":
                return self.pickled(node)
            if node in ({"$set": []}, {"$frozenset": []}):
                return f"{tag_of(node)[1:]}()"
            return render(node, sys.maxsize)
        opening, items, closing = parts
        inner = ", ".join(prefix + self.text(child) for prefix, child in items)
        if opening == "(" and len(items) == 1:
            inner += ","
        return f"{opening}{inner}{closing}"

    def lines(self, node: Any, room: int = 96) -> list[str]:
        """The value on as many lines as it needs to fit in `room` columns, black-style."""
        one = self.text(node)
        parts = self._parts(node)
        if len(one) <= room or parts is None or not parts[1]:
            return [one]
        opening, items, closing = parts
        out = [opening]
        if all(not prefix and self._parts(child) is None for prefix, child in items):
            # A long run of numbers or strings: fill the lines rather than one item per line.
            line = ""
            for _, child in items:
                piece = self.text(child) + ","
                if line and len(line) + 1 + len(piece) > room - len(_INDENT):
                    out.append(_INDENT + line)
                    line = piece
                else:
                    line = f"{line} {piece}" if line else piece
            return [*out, _INDENT + line, closing]
        for prefix, child in items:
            sub = self.lines(child, room - len(_INDENT) - len(prefix))
            sub[0] = prefix + sub[0]
            sub[-1] += ","
            out.extend(_INDENT + line for line in sub)
        out.append(closing)
        return out

    def _parts(self, node: Any) -> tuple[str, list[tuple[str, Any]], str] | None:
        """`(opening, [(prefix, child), ...], closing)` of a container node, else None."""
        if type(node) is list:
            return "[", [("", v) for v in node], "]"
        if type(node) is not dict:
            return None
        if not node:
            return "{", [], "}"
        tag = next(iter(node))
        if not tag.startswith("$"):
            return "{", [(f"{k!r}: ", v) for k, v in node.items()], "}"
        value = node[tag]
        name = str(value).rpartition(":")[2]
        if tag == "$tuple":
            return "(", [("", v) for v in value], ")"
        if tag in ("$set", "$frozenset"):
            if not value:
                return None
            opening = "{" if tag == "$set" else "frozenset({"
            return opening, [("", v) for v in value], "}" if tag == "$set" else "})"
        if tag == "$dict":
            return "{", [(self.text(k) + ": ", v) for k, v in value], "}"
        if tag == "$dataclass" and not any(str(k).startswith("$") for k in node["fields"]):
            return f"{name}(", [(f"{k}=", v) for k, v in node["fields"].items()], ")"
        if tag == "$exception":
            return f"{name}(", [("", a) for a in node["args"]], ")"
        return None
