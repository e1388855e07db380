"""`snapy verify`, `snapy prune` and `snapy clear`: checking and deleting what is stored.

Deleting goes through the folder's lock, as every write does, and leaves an index that lists
exactly the bundles left on disk, so `snapy verify` accepts the tree afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
from pathlib import Path

from ._cli_errors import AccessError, NotConfirmed, NothingMatched
from ._cli_format import Context, is_tty, printable, shown, size, when
from ._cli_verify import Report, check_bundle, problem_rows, verify
from ._inspect import CAPTURE, INDEX, SUFFIX, Folder, checked_root, find_target, is_tmp, root_of
from ._locks import file_lock, is_lock_timeout
from ._store import CaptureStorage

#: Deleting more bundles than this asks first (unless --yes).
HANDFUL = 5
#: Seconds to wait for a folder's lock (a writer holds it for milliseconds).
LOCK_TIMEOUT = 10.0


# -- verify --------------------------------------------------------------------------------


def cmd_verify(args: argparse.Namespace, ctx: Context) -> int:
    root, hint = root_of(args.path, ctx.settings)
    key = ctx.settings.signing_key
    if root.is_file() and root.name.endswith(SUFFIX):
        report = Report()
        check_bundle(root, key, report)
    else:
        report = verify(checked_root(root, hint), key)
    if args.json:
        data = {
            "ok": not report.problems,
            "checked": {
                "folders": report.folders,
                "bundles": report.bundles,
                "indexes": report.indexes,
            },
            "unchecked_signatures": report.unchecked_signatures,
            "problems": problem_rows(report.problems),
        }
        ctx.print(json.dumps(data, indent=2, ensure_ascii=False))
        return 1 if report.problems else 0
    style = ctx.style
    for problem in report.problems:
        ctx.print(f"{style.red(shown(problem.path))}: {problem.cause}")
    checked = (
        f"checked {report.bundles} bundle(s) and {report.indexes} index(es) in "
        f"{report.folders} folder(s)"
    )
    if report.problems:
        ctx.print(style.red(f"{checked}: {len(report.problems)} problem(s)"))
    else:
        ctx.print(style.green(f"{checked}: no problems"))
    if report.unchecked_signatures:
        ctx.print(
            f"{report.unchecked_signatures} signed bundle(s) were checked by checksum only: "
            "set SNAPY_SIGNING_KEY to verify their signatures"
        )
    return 1 if report.problems else 0


# -- deleting ------------------------------------------------------------------------------


def confirm(ctx: Context, question: str, count: int, yes: bool) -> None:
    """Ask before deleting more than a handful; never wait on a stdin that is not a terminal."""
    if yes or count <= HANDFUL:
        return
    if not is_tty(ctx.stdin):
        raise NotConfirmed(
            f"{question}: not asked, because stdin is not a terminal; nothing deleted. "
            "Pass --yes to delete without asking, or --dry-run to see what would go"
        )
    print(f"{printable(question)} [y/N] ", end="", file=ctx.err, flush=True)
    answer = ctx.stdin.readline().strip().lower()
    if answer not in ("y", "yes"):
        raise NotConfirmed("nothing deleted")


def _storage(folder: Folder) -> CaptureStorage:
    """A store for the capture root above `folder`, checked to map the index's name there."""
    storage = CaptureStorage(folder.path.parent.parent, lock_timeout=LOCK_TIMEOUT)
    if os.path.realpath(storage.folder(folder.storage_target())) != os.path.realpath(folder.path):
        raise NothingMatched(
            f"{shown(folder.path)!r} does not hold the captures its index names "
            f"({folder.target!r}); run `snapy verify` on it, and delete files by hand"
        )
    return storage


def _delete(folder: Folder, keep: int | None, dry_run: bool) -> list[Path]:
    """Delete the oldest bundles of `folder` beyond `keep` (all when None), under its lock.

    Returns the deleted paths as `folder.path / name`, the way the user named the folder.
    """
    if folder.newer:
        raise NothingMatched(f"{shown(folder.path)}: {folder.index_error}; nothing deleted")
    try:
        if folder.kind == CAPTURE:
            storage, target = _storage(folder), folder.storage_target()
            if keep is None:
                paths = storage.clear(target, dry_run=dry_run)
            else:
                paths = storage.prune(target, keep, dry_run=dry_run)
        else:
            paths = _clear_recordings(folder, dry_run)
        return [folder.path / path.name for path in paths]
    except OSError as exc:
        if is_lock_timeout(exc):
            raise AccessError(
                folder.path / ".lock",
                f"another process has held the lock for {LOCK_TIMEOUT:g} s; try again",
            ) from None
        where = Path(exc.filename) if exc.filename else folder.path
        raise AccessError(where, f"cannot delete ({exc.strerror or exc})") from None


def _clear_recordings(folder: Folder, dry_run: bool) -> list[Path]:
    """Every recording of one target in one test, and its index; the lock file stays."""
    if dry_run:
        return [e.path for e in folder.entries]
    lock = file_lock(folder.path / ".lock", LOCK_TIMEOUT)
    with lock:
        here = sorted(os.listdir(folder.path))
        doomed = [folder.path / n for n in here if n.endswith(SUFFIX)]
        for path in [*doomed, *(folder.path / n for n in here if is_tmp(n))]:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(folder.path / INDEX)
    return doomed


def _report(
    ctx: Context,
    plan: list[tuple[Folder, list[Path]]],
    args: argparse.Namespace,
    dry_run: bool,
) -> None:
    sizes = {e.path: e.size for folder, _ in plan for e in folder.entries}
    total = sum(len(paths) for _, paths in plan)
    freed = sum(sizes.get(p, 0) for _, paths in plan for p in paths)
    if args.json:
        rows = [
            {"name": f.name, "kind": f.kind, "path": str(p), "bytes": sizes.get(p, 0)}
            for f, paths in plan
            for p in paths
        ]
        data = {"dry_run": dry_run, "deleted": rows, "bundles": total, "bytes": freed}
        ctx.print(json.dumps(data, indent=2, ensure_ascii=False))
        return
    verb = "would delete" if dry_run else "deleted"
    for folder, paths in plan:
        if not paths:
            continue
        left = len(folder.entries) - len(paths)
        amount = size(sum(sizes.get(p, 0) for p in paths))
        ctx.print(f"{verb} {len(paths)} bundle(s) of {folder.name} ({amount}), {left} left")
        if dry_run:
            times = {e.path: e.time_ns for e in folder.entries}
            for path in paths:
                ctx.print(
                    f"    {when(times.get(path))}  {size(sizes.get(path, 0)):>9}  {shown(path)}"
                )
    targets = sum(1 for _, paths in plan if paths)
    summary = f"{verb} {total} bundle(s) of {targets} target(s), {size(freed)} in all"
    ctx.print(summary + ("; run again without --dry-run to delete them" if dry_run else ""))


def _run(ctx: Context, args: argparse.Namespace, folders: list[Folder], keep: int | None) -> int:
    plan = [(f, _delete(f, keep, dry_run=True)) for f in folders]
    total = sum(len(paths) for _, paths in plan)
    if not args.dry_run:
        targets = sum(1 for _, paths in plan if paths)
        confirm(ctx, f"delete {total} bundle(s) of {targets} target(s)?", total, args.yes)
        # Run even when nothing goes: it rewrites an index that lists files no longer there.
        plan = [(f, _delete(f, keep, dry_run=False)) for f in folders]
    if not args.json and not any(paths for _, paths in plan):
        most = f": no function has more than {keep} bundle(s)" if keep is not None else ""
        ctx.print("nothing to delete" + most)
        return 0
    _report(ctx, plan, args, dry_run=args.dry_run)
    return 0


def cmd_prune(args: argparse.Namespace, ctx: Context) -> int:
    root, hint = root_of(args.path, ctx.settings)
    found = checked_root(root, hint)
    folders = [f for f in found.folders if f.kind == CAPTURE and not f.newer]
    for folder in found.folders:
        if folder.newer:
            ctx.note(f"skipped {shown(folder.path)}: {folder.index_error}")
    if not folders:
        recorded = sum(1 for f in found.folders if f.kind != CAPTURE)
        raise NothingMatched(
            f"no captures to prune in {shown(root)!r} (it holds {recorded} recording folder(s)); "
            "tests replay every recording they keep, so prune does not thin them: delete one "
            "target's with `snapy clear`, or re-record a test with SIDE_EFFECT_CAPTURE=all"
        )
    return _run(ctx, args, folders, args.keep)


def cmd_clear(args: argparse.Namespace, ctx: Context) -> int:
    root, hint = root_of(args.path, ctx.settings, "--path")
    folder, position = find_target(args.target, root, hint)
    if position is not None:
        raise NothingMatched(
            f"clear deletes every bundle of a target; {args.target!r} is one bundle file: give "
            f"its target, {folder.name!r}, or delete the file and run `snapy verify`"
        )
    return _run(ctx, args, [folder], None)
