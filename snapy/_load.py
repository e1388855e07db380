"""Bringing captures back: `load_capture` and `list_captures`."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._bundle import Capture, Target
from ._capture import flush_captures, storage_for
from ._errors import CaptureNotFoundError
from ._paths import split_target
from ._settings import get_settings
from ._store import CaptureStorage, TargetInfo


def _name_of(name: str | Callable[..., Any]) -> str:
    if isinstance(name, str):
        return name
    fn = getattr(name, "__snapy_unwrapped__", name)
    return Target.of(fn).name


def nearest(name: str, names: list[str], n: int = 5) -> list[str]:
    """Up to `n` of `names`, most similar to `name` first."""
    return difflib.get_close_matches(name, names, n=n, cutoff=0.0)


def list_captures(path: str | Path | None = None) -> list[TargetInfo]:
    """Every function with captures under `path` (default `SNAPY_CAPTURE_DIR`), by name."""
    flush_captures()
    storage = storage_for(get_settings(), None if path is None else Path(path))
    return storage.targets()


def capture_files(
    name: str | Callable[..., Any], path: str | Path | None = None
) -> tuple[CaptureStorage, list[Path], str]:
    """(store, bundle files oldest first, name as text) of `name`'s captures under `path`.

    Raises `CaptureNotFoundError` listing the names that do have captures, nearest first.
    """
    flush_captures()
    text = _name_of(name)
    storage = storage_for(get_settings(), None if path is None else Path(path))
    for module, qualname in split_target(text):
        files = storage.files(Target(module, qualname))
        if files:
            return storage, files, text
    known = [info.target for info in storage.targets()]
    raise CaptureNotFoundError(text, storage.root, nearest(text, known))


def load_capture(
    name: str | Callable[..., Any], *, path: str | Path | None = None, key: str | None = None
) -> Capture:
    """The newest stored call of `name` (`"pkg.mod.fn"` or the function), or the one with `key`.

    Reads from `path` (default `SNAPY_CAPTURE_DIR`); verifies the file's checksum, and its
    signature when `SNAPY_SIGNING_KEY` is set, before decoding anything.
    """
    storage, files, text = capture_files(name, path)
    if key is not None:
        chosen = [f for f in files if f.name.endswith(f"-{key}.bundle")]
        if not chosen:
            keys = sorted({f.name.rsplit("-", 1)[-1].split(".")[0] for f in files})
            raise CaptureNotFoundError(
                text,
                storage.root,
                [],
                detail=f"no capture with argument key {key!r}; stored keys: {', '.join(keys)}",
            )
        files = chosen
    return storage.load(files[-1])
