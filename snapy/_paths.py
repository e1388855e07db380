"""Folder names derived from module and qualified names, kept inside their root.

Qualnames hold `<locals>`, `<lambda>` and dots; test ids can hold anything. A name is reduced to
a safe folder segment; when that changed it, a short hash of the original keeps two different
names from landing in one folder.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from ._errors import StoreError


def is_digits(text: str) -> bool:
    """Digits that `int()` reads, as file names hold them: `"²".isdigit()` is true, and
    `int("²")` fails."""
    return text.isascii() and text.isdigit()


_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]")
_MAX_SEGMENT = 100
_DIR_MODE = 0o700


def safe_segment(name: str) -> str:
    """One folder name for `name`: `[A-Za-z0-9_.-]`, no leading dot, at most 100 characters."""
    clean = name.replace("<", "_").replace(">", "_")
    clean = _UNSAFE.sub("_", clean)
    if clean.startswith("."):
        clean = "_" + clean[1:]
    if clean == name and 0 < len(clean) <= _MAX_SEGMENT:
        return clean
    digest = hashlib.blake2b(name.encode("utf-8", "surrogatepass"), digest_size=4).hexdigest()
    return f"{clean[: _MAX_SEGMENT - 9]}-{digest}"


def inside(root: Path, *names: str) -> Path:
    """`root/<safe name>/...`, checked to stay under `root` once resolved."""
    path = root.joinpath(*(safe_segment(n) for n in names))
    if "\0" in str(root):  # names cannot hold one (safe_segment); a root given by the caller can
        raise StoreError(root, "the folder's path holds a NUL character; give a real folder")
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    if os.path.commonpath([real_root, real]) != real_root:
        raise StoreError(path, f"resolves outside its root {str(root)!r}; refusing to use it")
    return path


def make_dirs(root: Path, path: Path) -> None:
    """Create `path` and missing parents up to `root` with mode 0700 (whatever the umask).

    Folders above `root` that are missing (a `SNAPY_CAPTURE_DIR` on a fresh machine) are
    created with the default mode: they are the user's, not the store's.
    """
    if not root.is_dir():
        root.parent.mkdir(parents=True, exist_ok=True)
    missing: list[Path] = []
    current = path
    while not current.is_dir():
        missing.append(current)
        if current == root or current.parent == current:
            break
        current = current.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=_DIR_MODE)
        except FileExistsError:
            continue
        os.chmod(folder, _DIR_MODE)


def split_target(name: str) -> list[tuple[str, str]]:
    """Every (module, qualname) reading of `name`, longest module first.

    `pkg.mod:Class.method` is unambiguous; `pkg.mod.Class.method` is tried as each split.
    """
    if ":" in name:
        module, _, qualname = name.partition(":")
        return [(module, qualname)]
    parts = name.split(".")
    return [(".".join(parts[:i]), ".".join(parts[i:])) for i in range(len(parts) - 1, 0, -1)]
