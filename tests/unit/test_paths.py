"""Folder names from qualnames and test ids, kept inside their root."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from snapy import StoreError
from snapy._paths import inside, make_dirs, safe_segment, split_target


def tag(name: str) -> str:
    return hashlib.blake2b(name.encode("utf-8", "surrogatepass"), digest_size=4).hexdigest()


@pytest.mark.parametrize(
    "name", ["charge", "Gateway.charge", "test_x-1", "v1.2", "A_b-c.d", "x" * 100]
)
def test_safe_names_are_kept(name: str) -> None:
    assert safe_segment(name) == name


@pytest.mark.parametrize(
    ("name", "clean"),
    [
        ("<locals>", "_locals_"),
        ("<lambda>", "_lambda_"),
        ("outer.<locals>.inner", "outer._locals_.inner"),
        ("..", "_."),
        (".", "_"),
        (".hidden", "_hidden"),
        ("a/b", "a_b"),
        ("a\\b", "a_b"),
        ("nul\x00byte", "nul_byte"),
        ("test[café-1]", "test_caf_-1_"),
        ("雪", "_"),
        ("lone\udcff", "lone_"),
        ("", ""),
    ],
    ids=repr,
)
def test_unsafe_names_are_cleaned_and_tagged_with_a_hash(name: str, clean: str) -> None:
    assert safe_segment(name) == f"{clean}-{tag(name)}"


def test_long_name_is_cut_to_100_characters_with_its_hash() -> None:
    name = "n" * 500
    segment = safe_segment(name)
    assert segment == "n" * 91 + "-" + tag(name)
    assert len(segment) == 100
    assert safe_segment("n" * 101) != segment


def test_names_that_clean_alike_get_different_segments() -> None:
    names = ["a/b", "a\\b", "a b", "a:b", "a_b", "a<b", "a>b"]
    segments = [safe_segment(n) for n in names]
    assert len(set(segments)) == len(names)
    assert {s[:3] for s in segments} == {"a_b"}


def test_segments_never_leave_their_folder() -> None:
    for name in ["..", "../..", "/etc", "~", "a/../../b", "\\..\\"]:
        segment = safe_segment(name)
        assert "/" not in segment
        assert "\\" not in segment
        assert not segment.startswith(".")


def test_inside_joins_safe_segments_under_the_root(tmp_path: Path) -> None:
    path = inside(tmp_path, "pkg.mod", "outer.<locals>.f")
    assert path == tmp_path / "pkg.mod" / f"outer._locals_.f-{tag('outer.<locals>.f')}"


def test_inside_refuses_a_symlink_that_points_outside_the_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    outside = tmp_path / "elsewhere"
    root.mkdir()
    outside.mkdir()
    os.symlink(outside, root / "pkg")
    with pytest.raises(StoreError) as info:
        inside(root, "pkg", "fn")
    path = root / "pkg" / "fn"
    assert info.value.path == path
    assert str(info.value) == f"{path}: resolves outside its root {str(root)!r}; refusing to use it"


def test_inside_accepts_a_symlink_that_stays_inside(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    os.symlink(tmp_path / "real", tmp_path / "alias")
    assert inside(tmp_path, "alias", "fn") == tmp_path / "alias" / "fn"


def test_inside_works_when_the_root_itself_is_a_symlink(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    os.symlink(tmp_path / "real", tmp_path / "link")
    assert inside(tmp_path / "link", "m", "f") == tmp_path / "link" / "m" / "f"


def test_make_dirs_creates_private_folders_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o000)
    try:
        make_dirs(tmp_path, tmp_path / "a" / "b" / "c")
    finally:
        os.umask(old)
    for folder in (tmp_path / "a", tmp_path / "a" / "b", tmp_path / "a" / "b" / "c"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    make_dirs(tmp_path, tmp_path / "a" / "b" / "c")  # already there: no error


def test_split_target_tries_every_module_split_longest_first() -> None:
    assert split_target("pkg.mod.Class.method") == [
        ("pkg.mod.Class", "method"),
        ("pkg.mod", "Class.method"),
        ("pkg", "mod.Class.method"),
    ]
    assert split_target("pkg.mod:Class.method") == [("pkg.mod", "Class.method")]
    assert split_target("single") == []
