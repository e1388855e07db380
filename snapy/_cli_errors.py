"""The errors of the `snapy` command, each with the exit status it ends the command with.

0  success
1  problems found (`verify`), nothing matched (a target, key or index), a stored file
   that is corrupt, tampered or unreadable by this snapy, or a deletion not confirmed
2  usage error: a wrong option or argument, or a malformed SNAPY_* setting
3  PATH does not exist, is empty, or holds no snapy captures or recordings
4  permission or I/O error (a file or folder cannot be read, written or locked)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ._cli_format import shown
from ._errors import SnapyError

OK = 0
PROBLEMS = 1
USAGE = 2
NO_FOLDER = 3
IO_ERROR = 4


class CliError(SnapyError):
    """A command cannot go on; the message is printed as one line after `snapy: `."""

    status = PROBLEMS


class NothingMatched(CliError):
    """A target, key or index names nothing stored; `.nearest` lists names that exist."""

    def __init__(self, message: str, nearest: Sequence[str] = ()) -> None:
        self.nearest = list(nearest)
        super().__init__(message)


class UsageError(CliError):
    """Arguments that argparse accepts one by one but that do not go together."""

    status = USAGE


class NotSnapyFolder(CliError):
    """PATH is missing, empty, or holds no captures or recordings."""

    status = NO_FOLDER

    def __init__(self, path: Path, message: str) -> None:
        self.path = path
        super().__init__(message)


class AccessError(CliError):
    """A file or folder cannot be read, written or locked (permission, I/O, lock timeout)."""

    status = IO_ERROR

    def __init__(self, path: Path, cause: str) -> None:
        self.path = path
        self.cause = cause
        super().__init__(f"{shown(path)}: {cause}")


class NotConfirmed(CliError):
    """A deletion needed a confirmation that was refused or could not be asked for."""
