"""The `snapy` command (`snapy ...` and `python -m snapy ...`): inspect, diff, verify and prune
production captures and test recordings."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Callable, Sequence

from ._capture import flush_captures
from ._cli_errors import IO_ERROR, PROBLEMS, USAGE, CliError
from ._cli_format import (
    Context,
    Style,
    iso,
    printable,
    shown,
    size,
    table,
    wants_colour,
    when,
)
from ._cli_manage import HANDFUL, cmd_clear, cmd_prune, cmd_verify
from ._cli_show import cmd_diff, cmd_show
from ._errors import ConfigError, StoreError
from ._inspect import CAPTURE, checked_root, root_of
from ._locks import is_lock_timeout
from ._settings import get_settings
from ._version import __version__

EPILOG = """\
PATH is a capture folder (default: SNAPY_CAPTURE_DIR, else ./captures), a folder of test
recordings (__recordings__) or any folder above them, such as tests/. A TARGET is a captured
function (pkg.mod.fn or pkg.mod:Class.method), a recording (test_module::test_name::pkg.mod.fn),
or the path of its folder; --path says where to look for names.

exit status:
  0  success
  1  problems found (verify), nothing matched (a target, key or index), a stored file that
     is corrupt, tampered or unreadable by this snapy, or a deletion not confirmed
  2  usage error: a wrong option or argument, or a malformed SNAPY_* setting
  3  PATH does not exist, is empty, or holds no snapy captures or recordings
  4  permission or I/O error: a file or folder cannot be read, written or locked

Colour is used only on a terminal, and never when NO_COLOR is set.
"""

UNPICKLE_HELP = (
    "also unpickle the pickled objects to show their real repr. Unpickling runs code named in "
    "the file: use it only on files you trust. With SNAPY_SIGNING_KEY set, unsigned or "
    "tampered files are refused"
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="snapy",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"snapy {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, text: str) -> argparse.ArgumentParser:
        return sub.add_parser(
            name,
            help=text,
            description=text,
            epilog=EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    def json_flag(p: argparse.ArgumentParser) -> None:
        p.add_argument("--json", action="store_true", help="print JSON (shape in the README)")

    def path_option(p: argparse.ArgumentParser) -> None:
        p.add_argument("--path", "-p", help="where to look names up (default SNAPY_CAPTURE_DIR)")

    p = command("list", "every captured function and recorded target, with sizes and times")
    p.add_argument("path", nargs="?", metavar="PATH", help="folder to list")
    json_flag(p)

    p = command("show", "one bundle: its arguments, result or exception, and metadata")
    p.add_argument("target", metavar="TARGET", help="a target name or folder, or a bundle file")
    path_option(p)
    which = p.add_mutually_exclusive_group()
    which.add_argument("--key", "-k", help="the bundle with this argument key (a prefix will do)")
    which.add_argument(
        "--index", "-i", type=int, help="the bundle at this position: 0 the oldest, -1 the newest"
    )
    p.add_argument("--unpickle", action="store_true", help=UNPICKLE_HELP)
    json_flag(p)

    p = command("diff", "how two bundles differ: one line per changed argument or result path")
    p.add_argument(
        "a",
        metavar="A",
        help="a bundle file, or a target name or folder (its newest bundle); TARGET@N picks "
        "the bundle at position N, TARGET@KEY the one with that argument key",
    )
    p.add_argument("b", metavar="B", nargs="?", help="the other bundle (default: the one before A)")
    path_option(p)
    json_flag(p)

    p = command("verify", "check every file's checksum and signature, and each index")
    p.add_argument("path", nargs="?", metavar="PATH", help="folder (or one bundle) to check")
    json_flag(p)

    p = command("prune", "delete all but the newest N bundles of every captured function")
    p.add_argument("path", nargs="?", metavar="PATH", help="capture folder to prune")
    p.add_argument("--keep", type=_count, required=True, metavar="N", help="bundles to keep")
    _deleting(p)
    json_flag(p)

    p = command("clear", "delete every bundle of one target")
    p.add_argument("target", metavar="TARGET", help="a target name, or its folder")
    path_option(p)
    _deleting(p)
    json_flag(p)

    p = command("stats", "bundles and bytes per module, and the largest bundles")
    p.add_argument("path", nargs="?", metavar="PATH", help="folder to measure")
    p.add_argument("--top", type=_count, default=10, metavar="N", help="largest bundles shown")
    json_flag(p)
    return parser


def _deleting(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dry-run", "-n", action="store_true", help="say what would go; delete nothing")
    p.add_argument(
        "--yes", "-y", action="store_true", help=f"do not ask before deleting over {HANDFUL}"
    )


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of bundles (0 or more)")
    return value


# -- list and stats ------------------------------------------------------------------------


def cmd_list(args: argparse.Namespace, ctx: Context) -> int:
    root, hint = root_of(args.path, ctx.settings)
    found = checked_root(root, hint)
    folders = sorted(found.folders, key=lambda f: (f.name, str(f.path)))
    for folder in folders:
        if folder.index_error is not None:
            ctx.note(
                f"{shown(folder.path / 'index.json')}: {folder.index_error} (run `snapy verify`)"
            )
    if args.json:
        rows = [
            {
                "kind": f.kind,
                "name": f.name,
                "target": f.target,
                "test": f.test,
                "folder": str(f.path),
                "bundles": len(f.entries),
                "calls": f.calls,
                "bytes": f.total_bytes,
                "newest": iso(max(f.times(), default=None)),
                "oldest": iso(min(f.times(), default=None)),
            }
            for f in folders
        ]
        ctx.print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    if not folders:
        ctx.print(f"nothing captured or recorded in {shown(root)!r} yet")
        return 0
    cells = [
        [
            f.name,
            str(len(f.entries)),
            str(f.calls),
            size(f.total_bytes),
            when(min(f.times(), default=None)),
            when(max(f.times(), default=None)),
        ]
        for f in folders
    ]
    headers = ["target", "bundles", "calls", "size", "oldest (UTC)", "newest (UTC)"]
    for line in table(headers, cells, ctx.style, right=(1, 2, 3)):
        ctx.print(line)
    bundles = sum(len(f.entries) for f in folders)
    total = size(sum(f.total_bytes for f in folders))
    ctx.print(f"{len(folders)} target(s), {bundles} bundle(s), {total}")
    return 0


def cmd_stats(args: argparse.Namespace, ctx: Context) -> int:
    root, hint = root_of(args.path, ctx.settings)
    found = checked_root(root, hint)
    groups: dict[tuple[str, str], list[int]] = {}
    for f in found.folders:
        counts = groups.setdefault((f.module, f.kind), [0, 0, 0])
        counts[0] += 1
        counts[1] += len(f.entries)
        counts[2] += f.total_bytes
    entries = [(e, f) for f in found.folders for e in f.entries]
    largest = sorted(entries, key=lambda item: (-item[0].size, str(item[0].path)))[: args.top]
    totals = [sum(c[i] for c in groups.values()) for i in range(3)]
    if args.json:
        data = {
            "modules": [
                {"module": m, "kind": k, "targets": c[0], "bundles": c[1], "bytes": c[2]}
                for (m, k), c in sorted(groups.items())
            ],
            "total": {"targets": totals[0], "bundles": totals[1], "bytes": totals[2]},
            "largest": [{"name": f.name, "path": str(e.path), "bytes": e.size} for e, f in largest],
        }
        ctx.print(json.dumps(data, indent=2, ensure_ascii=False))
        return 0
    rows = [
        [m, "captures" if k == CAPTURE else "recordings", str(c[0]), str(c[1]), size(c[2])]
        for (m, k), c in sorted(groups.items())
    ]
    rows.append(["total", "", str(totals[0]), str(totals[1]), size(totals[2])])
    for line in table(["module", "kind", "targets", "bundles", "size"], rows, ctx.style, (2, 3, 4)):
        ctx.print(line)
    if largest:
        ctx.print()
        ctx.print(ctx.style.bold(f"largest bundles ({len(largest)} of {totals[1]}):"))
        for line in table(
            ["size", "target", "file"],
            [[size(e.size), f.name, shown(e.path)] for e, f in largest],
            ctx.style,
            right=(0,),
        )[1:]:
            ctx.print("  " + line)
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace, Context], int]] = {
    "list": cmd_list,
    "show": cmd_show,
    "diff": cmd_diff,
    "verify": cmd_verify,
    "prune": cmd_prune,
    "clear": cmd_clear,
    "stats": cmd_stats,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `snapy` command with `argv` (default `sys.argv[1:]`); returns the exit status.

    0 ok, 1 problems found or nothing matched, 2 usage error, 3 no such snapy folder,
    4 permission or I/O error (the epilog of `snapy --help` says more).
    """
    out, err = sys.stdout, sys.stderr
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error argparse printed
        return exc.code if isinstance(exc.code, int) else USAGE
    error_style = Style(wants_colour(err))
    try:
        flush_captures()  # a caller in this process (a demo, a test) may have captures queued
        ctx = Context(out, err, sys.stdin, Style(wants_colour(out)), get_settings())
        return COMMANDS[args.command](args, ctx)
    except CliError as exc:
        status, message = exc.status, str(exc)
    except StoreError as exc:  # a corrupt, tampered or unsupported file
        status, message = PROBLEMS, f"{shown(exc.path)}: {exc.cause}"
    except ConfigError as exc:
        status, message = USAGE, str(exc)
    except BrokenPipeError:  # `snapy list | head`: the reader left; say nothing more to it
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())
        return 0
    except OSError as exc:
        if is_lock_timeout(exc):
            lock_file = getattr(exc, "lock_file", "")
            status, message = IO_ERROR, f"{shown(lock_file)}: locked by another process; try again"
        else:
            where = f"{shown(exc.filename)}: " if isinstance(exc.filename, str) else ""
            status, message = IO_ERROR, f"{where}{exc.strerror or exc}"
    print(f"{error_style.red('snapy:')} {printable(message)}", file=err)
    return status
