"""Names crafted to escape the root (issue 9): nothing is ever written outside it.

Targets, test ids (given to `replaying` and real pytest node ids from parametrize ids) and the
module and qualified names of captured functions hold `..`, `/`, absolute paths, NUL, 300+
characters, right-to-left marks and combining accents. Each is cleaned into a folder name under
the root, or refused with a `SnapyError`; the whole temporary tree is listed before and after,
and every path that appeared lies inside the root.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import snapy

SOURCE_ROOT = str(Path(snapy.__file__).resolve().parents[1])
HOSTILE = [
    "..",
    "../..",
    "../../escape",
    "/etc/passwd",
    "/tmp/absolute",
    "a/../../b",
    "..\\..\\windows",
    "\x00",
    "a\x00b",
    "x" * 300,
    "é" * 200,
    "\u202eevil.txt\u202c",
    "e\u0301\u0301\u0301",
    "日本語",
    "",
    ".",
    "~",
    "-rf",
    " ",
    "\n",
    "lone\udcff",
    "%2e%2e%2f",
    "con",
]
IDS = [ascii(name)[:40] for name in HOSTILE]
QUALNAMES = [pytest.param(name, id=i) for name, i in zip(HOSTILE, IDS, strict=True)]
SEGMENT = re.compile(r"[A-Za-z0-9_.\-]{1,100}")


@pytest.fixture(autouse=True)
def _default_settings(snapy_settings: object) -> None:
    """In-process snapy settings start from the defaults, whatever SNAPY_* the shell has set."""


def tree(top: Path) -> set[str]:
    """Every path under `top`, as text, not following links."""
    found = set()
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            found.add(os.path.join(dirpath, name))
    return found


def assert_only_inside(top: Path, before: set[str], root: Path) -> list[str]:
    """The paths that appeared under `top` since `before`; each must lie inside `root`."""
    new = sorted(tree(top) - before)
    real_root = os.path.realpath(root)
    outside = [p for p in new if os.path.commonpath([real_root, os.path.realpath(p)]) != real_root]
    assert outside == []
    for path in new:
        for segment in Path(path).relative_to(root).parts:
            assert SEGMENT.fullmatch(segment), (path, segment)
    return new


def pay(amount: int) -> int:
    return amount * 2


@pytest.fixture
def work(tmp_path: Path) -> Iterator[tuple[Path, set[str]]]:
    """`tmp_path/work/root` (not created yet) and the listing of `tmp_path` before the test."""
    (tmp_path / "work").mkdir()
    yield tmp_path / "work" / "root", tree(tmp_path)


@pytest.mark.parametrize("name", HOSTILE, ids=IDS)
@pytest.mark.parametrize("where", ["module", "name", "whole"])
def test_test_ids_given_to_replaying(
    name: str, where: str, work: tuple[Path, set[str]], tmp_path: Path
) -> None:
    root, before = work
    test_id = {"module": f"{name}::test_it", "name": f"test_mod::{name}", "whole": name}[where]
    store = snapy.RecordingStore(root)
    with snapy.replaying(f"{__name__}:pay", recordings=store, test_id=test_id, mode="new") as m:
        assert m(2) == 4
    new = assert_only_inside(tmp_path, before, root)
    assert sum(p.endswith(".bundle") for p in new) == 1
    # The same test id finds its recording again.
    with snapy.replaying(
        f"{__name__}:pay", recordings=snapy.RecordingStore(root), test_id=test_id
    ) as m:
        assert m(2) == 4
        assert m.calls[0].source == "replayed"


@pytest.mark.parametrize(
    ("target", "error"),
    [
        ("../../escape.pay", "ConfigError"),
        ("..", "ConfigError"),
        ("", "ConfigError"),
        ("/etc/passwd", "ConfigError"),
        ("/etc/passwd.pay", "TargetNotFoundError"),
        ("a\x00b.pay", "TargetNotFoundError"),
        ("x" * 300 + ".pay", "TargetNotFoundError"),
        ("\u202eevil.pay", "TargetNotFoundError"),
        ("e\u0301.pay", "TargetNotFoundError"),
        (f"{__name__}.../../pay", "ConfigError"),
        (f"{__name__}:../pay", "ConfigError"),
        (f"{__name__}:pay/../../x", "ConfigError"),
        (f"{__name__}:\x00", "TargetNotFoundError"),
    ],
    ids=lambda value: ascii(value)[:40],
)
def test_hostile_targets_are_refused_before_anything_is_written(
    target: str, error: str, work: tuple[Path, set[str]], tmp_path: Path
) -> None:
    root, before = work
    with pytest.raises(snapy.SnapyError) as excinfo:
        with snapy.replaying(target, recordings=snapy.RecordingStore(root), test_id="t::x"):
            pass
    assert type(excinfo.value).__name__ == error
    assert repr(target) in str(excinfo.value)
    assert tree(tmp_path) == before


def _crafted(module: str, qualname: str) -> Callable[..., Any]:
    def fn(amount: int) -> int:
        return amount + 1

    fn.__module__ = module
    fn.__qualname__ = qualname
    return fn


@pytest.mark.parametrize("name", QUALNAMES)
def test_functions_with_crafted_names_are_recorded_inside_the_root(
    name: str, work: tuple[Path, set[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, before = work
    # Found by `replaying` through a module, as a real target is.
    module = types.ModuleType("hostile_targets")
    module.fn = _crafted(name, name)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "hostile_targets", module)
    with snapy.replaying(
        "hostile_targets.fn", recordings=snapy.RecordingStore(root), test_id="t::x", mode="new"
    ) as m:
        assert m(1) == 2
    new = assert_only_inside(tmp_path, before, root)
    assert sum(p.endswith(".bundle") for p in new) == 1


@pytest.mark.parametrize("name", HOSTILE, ids=IDS)
def test_functions_with_crafted_module_names_are_captured_inside_the_root(
    name: str, work: tuple[Path, set[str]], tmp_path: Path
) -> None:
    _capture_crafted(name, "module", *work, tmp_path)


@pytest.mark.parametrize("name", QUALNAMES)
def test_functions_with_crafted_qualnames_are_captured_inside_the_root(
    name: str, work: tuple[Path, set[str]], tmp_path: Path
) -> None:
    _capture_crafted(name, "qualname", *work, tmp_path)


def _capture_crafted(name: str, part: str, root: Path, before: set[str], tmp_path: Path) -> None:
    fn = _crafted(name, "fn") if part == "module" else _crafted("app", name)
    captured = snapy.capture(fn, path=root, production_mode=False)
    assert captured(1) == 2
    assert snapy.flush_captures()
    new = assert_only_inside(tmp_path, before, root)
    assert sum(p.endswith(".bundle") for p in new) == 1
    # And loaded back by the same names.
    module, qualname = (name or "__main__", "fn") if part == "module" else ("app", name)
    assert snapy.load_capture(f"{module}:{qualname}", path=root).result == 2


def test_a_root_holding_a_nul_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "a\x00b"
    before = tree(tmp_path)
    with pytest.raises(snapy.StoreError) as excinfo:
        snapy.mock(pay, recordings=root, test_id="t::x", mode="new")
    assert str(excinfo.value) == (
        f"{root}: the folder's path holds a NUL character; give a real folder"
    )
    assert tree(tmp_path) == before


# -- links planted inside the root (a hostile repository) --------------------------------------


def _recorded(root: Path) -> Path:
    """The folder of one recorded call of `pay` under `root`."""
    m = snapy.mock(pay, recordings=snapy.RecordingStore(root), test_id="t::x", mode="new")
    assert m(1) == 2
    m.__snapy_replayer__.store.flush()
    return Path(m.recordings_folder)


def test_a_folder_linked_outside_the_root_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "root"
    _recorded(root)
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "t" / "y").symlink_to(outside)
    with pytest.raises(snapy.StoreError) as excinfo:
        snapy.mock(pay, recordings=snapy.RecordingStore(root), test_id="t::y", mode="new")
    assert str(excinfo.value) == (
        f"{root / 't' / 'y' / f'{__name__}.pay'}: resolves outside its root {str(root)!r}; "
        "refusing to use it"
    )
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize("name", ["index.json", "0000-link.bundle", ".lock"])
def test_a_file_linked_outside_the_root_is_never_written_through(tmp_path: Path, name: str) -> None:
    root = tmp_path / "root"
    folder = _recorded(root)
    outside = tmp_path / "precious.txt"
    outside.write_text("precious")
    link = folder / name
    if link.exists():
        link.unlink()
    link.symlink_to(outside)
    try:
        m = snapy.mock(pay, recordings=snapy.RecordingStore(root), test_id="t::x", mode="all")
        m(5)
        m.__snapy_replayer__.store.flush()
    except (snapy.SnapyError, OSError):
        pass  # refusing is fine (whether it must be a SnapyError: see the test below)
    assert outside.read_text() == "precious"


def test_a_linked_lock_file_is_refused_with_a_store_error(tmp_path: Path) -> None:
    root = tmp_path / "root"
    folder = _recorded(root)
    (folder / ".lock").unlink()
    (folder / ".lock").symlink_to(tmp_path / "precious.txt")
    with pytest.raises(snapy.StoreError) as excinfo:
        snapy.mock(pay, recordings=snapy.RecordingStore(root), test_id="t::x", mode="new")(5)
    assert str(excinfo.value).startswith(f"{folder / '.lock'}: ")


# -- real pytest node ids ------------------------------------------------------------------------

PROJECT_APP = """
def pay(amount):
    return amount * 2
"""

PROJECT_TESTS = """
import pytest

import app

IDS = {ids!r}


@pytest.mark.parametrize("n", range(len(IDS)), ids=IDS)
def test_pay(side_effects, n):
    side_effects.replay("app.pay")
    assert app.pay(n) == 2 * n
"""

NODE_IDS = [name for name in HOSTILE if "\x00" not in name and "\udcff" not in name and name]
NODE_IDS += ["a\x00b", "/" + "y" * 300]


def _pytest(project: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONDONTWRITEBYTECODE": "1",
        # The snapy under test, whichever environment runs this (a tox env holds a copy).
        "PYTHONPATH": os.pathsep.join([str(project), SOURCE_ROOT]),
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly", *args],
        cwd=project,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("escaping", ["escaped", "raw"])
def test_parametrize_ids_of_real_pytest_tests(tmp_path: Path, escaping: str) -> None:
    project = tmp_path / "project"
    project.mkdir()
    ids = NODE_IDS if escaping == "escaped" else [i for i in NODE_IDS if "\x00" not in i]
    (project / "app.py").write_text(PROJECT_APP)
    (project / "test_hostile.py").write_text(PROJECT_TESTS.format(ids=ids))
    ini = "[pytest]\nfilterwarnings = error\n"
    if escaping == "raw":  # node ids keep their unicode, RTL marks and combining accents
        ini += "disable_test_id_escaping_and_forfeit_all_rights_to_community_support = true\n"
    (project / "pytest.ini").write_text(ini)
    before = tree(tmp_path)

    recording = _pytest(project, "-q", SIDE_EFFECT_CAPTURE="1")
    assert recording.stdout.strip().splitlines()[-1].startswith(f"{len(ids)} passed"), (
        recording.stdout + recording.stderr
    )
    root = project / "__recordings__"
    new = assert_only_inside(tmp_path, before, root)
    assert sum(p.endswith(".bundle") for p in new) == len(ids)
    tests = {Path(p).relative_to(root).parts[1] for p in new if p.endswith(".bundle")}
    assert len(tests) == len(ids)  # one folder per test, none shared

    replaying = _pytest(project, "-q")
    assert replaying.stdout.strip().splitlines()[-1].startswith(f"{len(ids)} passed"), (
        replaying.stdout + replaying.stderr
    )
    assert tree(tmp_path) == before | set(new)


# -- file names that look like numbers ----------------------------------------------------------


def test_a_recording_named_with_a_superscript_digit_still_replays(tmp_path: Path) -> None:
    root = tmp_path / "root"
    folder = _recorded(root)
    (bundle,) = folder.glob("*.bundle")
    bundle.rename(bundle.with_name("²" + bundle.name[4:]))
    m = snapy.mock(pay, recordings=snapy.RecordingStore(root), test_id="t::x", mode="replay")
    assert m(1) == 2


def test_a_capture_named_with_a_superscript_digit_does_not_stop_capture(tmp_path: Path) -> None:
    root = tmp_path / "root"
    captured = snapy.capture(pay, path=root, production_mode=False)
    assert captured(1) == 2
    assert snapy.flush_captures()
    (bundle,) = root.rglob("*.bundle")
    bundle.rename(bundle.with_name("²" + bundle.name))
    assert captured(2) == 4
    assert snapy.flush_captures()
    assert len(list(root.rglob("*.bundle"))) == 2
