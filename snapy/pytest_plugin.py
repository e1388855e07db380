"""snapy's pytest plugin: recorded side effects, SnapTestCase snapshots, unused recordings.

- fixture `side_effects` (`.replay(target, **options)` returns the mock) and marker
  `@pytest.mark.side_effects("app.rates.fetch_rate", ...)` for the whole test;
- `--snapy-record={replay,new,all}` (wins over `SIDE_EFFECT_CAPTURE`) and
  `--snapy-unused={report,prune,fail}`; `SNAPSHOT_UPDATE=1` turns on syrupy's update;
- `SnapTestCase` tests get syrupy's `snapshot` fixture for `assertMatchSnapshot`;
- at the end, recordings of the tests that ran and passed but were not used are listed (and
  deleted with `prune` or in mode `all`), merged across pytest-xdist workers; the controller
  alone deletes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ._errors import ConfigError
from ._modes import Mode
from ._patching import replaying
from ._recordings import (
    flush_recordings,
    prune_recordings,
    unused_recordings,
    used_recordings,
)
from ._replay import recording_store
from ._settings import configure, get_settings
from ._snapshot import SyrupyBackend
from ._testcase import SnapMixin


@dataclass
class _State:
    mode_source: str = "default"
    update_source: str | None = None
    ran: set[tuple[str, str]] = field(default_factory=set)
    used: set[str] = field(default_factory=set)
    unused: list[Path] = field(default_factory=list)
    pruned: bool = False


_STATE = pytest.StashKey[_State]()
_PASSED = pytest.StashKey[bool]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("snapy", "snapy: recorded side effects")
    group.addoption(
        "--snapy-record",
        dest="snapy_record",
        choices=[m.value for m in Mode],
        default=None,
        help="replay recorded side effects (default), record calls without a recording "
        "(new), or re-record every call (all); wins over SIDE_EFFECT_CAPTURE",
    )
    group.addoption(
        "--snapy-unused",
        dest="snapy_unused",
        choices=["report", "prune", "fail"],
        default="report",
        help="recordings of tests that ran but were not used: list them (report, default), "
        "delete them (prune; also done in mode all), or fail the run (fail)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "side_effects(*targets, **options): patch each target with recorded responses for the "
        "whole test (options as for snapy.replaying)",
    )
    state = _State()
    config.stash[_STATE] = state
    option = config.getoption("snapy_record", None)
    try:
        if option is not None:
            configure(side_effect_capture=option)
            state.mode_source = "--snapy-record"
        else:
            state.mode_source = get_settings().source_of("side_effect_capture")
        settings = get_settings()
    except ConfigError as exc:  # a wrong SIDE_EFFECT_CAPTURE: a usage error, not a crash
        raise pytest.UsageError(str(exc)) from None
    if getattr(config.option, "default_extension", "") is None:
        # A dotted name: syrupy imports it lazily, and pytest-xdist sends options as text.
        config.option.default_extension = "snapy._snapshot.RedactedAmberExtension"
    if getattr(config.option, "update_snapshots", False):
        state.update_source = "--snapshot-update"
    elif settings.snapshot_update and hasattr(config.option, "update_snapshots"):
        config.option.update_snapshots = True
        state.update_source = f"SNAPSHOT_UPDATE, from {settings.source_of('snapshot_update')}"


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Never walk `__recordings__`: it holds data, not tests, often one file per call."""
    return True if collection_path.name == "__recordings__" else None


def pytest_report_header(config: pytest.Config) -> list[str]:
    state = config.stash[_STATE]
    mode = get_settings().side_effect_capture
    lines = []
    if mode is Mode.NEW:
        lines.append(
            f"snapy: recording calls that have no recording (mode new, from {state.mode_source})"
        )
    elif mode is Mode.ALL:
        lines.append(f"snapy: re-recording every call (mode all, from {state.mode_source})")
    if state.update_source is not None:
        lines.append(f"snapy: updating snapshots ({state.update_source})")
    return lines


def _test_identity(item: pytest.Item) -> tuple[Path, str]:
    """(recordings folder, test id) of a test: `__recordings__` beside its file."""
    instance = getattr(item, "instance", None)
    if isinstance(instance, SnapMixin):
        return instance.snapy_recordings_dir(), instance.snapy_test_id()
    path = Path(item.path)
    name = item.nodeid.split("::", 1)[1].replace("::", ".") if "::" in item.nodeid else item.name
    return path.parent / "__recordings__", f"{path.stem}::{name}"


class SideEffects:
    """What the `side_effects` fixture gives a test: `.replay(target, **options)`."""

    def __init__(self, item: pytest.Item) -> None:
        self.recordings, self.test_id = _test_identity(item)
        self._patches: list[replaying] = []

    def replay(self, target: str, **options: Any) -> Any:
        """Patch `target` with recorded responses until the test ends; returns the mock."""
        options.setdefault("recordings", recording_store(self.recordings))
        options.setdefault("test_id", self.test_id)
        patch = replaying(target, **options)
        wrapper = patch.start()
        self._patches.append(patch)
        return wrapper

    def close(self) -> None:
        while self._patches:
            self._patches.pop().stop()


@pytest.fixture
def side_effects(request: pytest.FixtureRequest) -> Iterator[SideEffects]:
    """Patch side-effecting dependencies with recorded responses: `side_effects.replay(...)`."""
    effects = SideEffects(request.node)
    try:
        for marker in reversed(list(request.node.iter_markers("side_effects"))):
            for target in marker.args:
                effects.replay(target, **marker.kwargs)
        yield effects
    finally:
        effects.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[_PASSED] = report.passed
    return report


@pytest.fixture(autouse=True)
def _snapy_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """Marker patches, syrupy for SnapTestCase, and which tests ran (for unused recordings)."""
    item = request.node
    folder, test_id = _test_identity(item)
    recording_store(folder).start_test(test_id)
    if item.get_closest_marker("side_effects") is not None:
        request.getfixturevalue("side_effects")
    instance = request.instance
    if isinstance(instance, SnapMixin):
        try:
            snapshot = request.getfixturevalue("snapshot")
        except pytest.FixtureLookupError:
            snapshot = None  # syrupy disabled: the amber files are used directly
        if snapshot is not None:
            instance._snapy_backend = SyrupyBackend(snapshot)
    yield
    # A test that failed or skipped may not have made all its calls: its recordings are
    # neither reported nor pruned as unused.
    if item.stash.get(_PASSED, False):
        request.config.stash[_STATE].ran.add((str(folder.absolute()), test_id))


def pytest_sessionfinish(session: pytest.Session) -> None:
    flush_recordings()
    config = session.config
    state = config.stash[_STATE]
    state.used |= {str(p) for p in used_recordings()}
    workeroutput = getattr(config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: the controller merges and decides
        workeroutput["snapy_ran"] = sorted(state.ran)
        workeroutput["snapy_used"] = sorted(state.used)
        return
    used = {Path(p) for p in state.used}
    state.unused = sorted(
        path
        for folder, test_id in state.ran
        for path in unused_recordings(Path(folder), test_id, used)
    )
    prune = config.getoption("snapy_unused") == "prune"
    if state.unused and (prune or get_settings().side_effect_capture is Mode.ALL):
        prune_recordings(state.unused, get_settings().signing_key)
        state.pruned = True
    if state.unused and config.getoption("snapy_unused") == "fail":
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """xdist controller: merge what a worker ran and used."""
    output = getattr(node, "workeroutput", {})
    state = node.config.stash[_STATE]
    state.ran |= {(folder, test_id) for folder, test_id in output.get("snapy_ran", [])}
    state.used |= set(output.get("snapy_used", []))


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    state = config.stash[_STATE]
    if not state.unused:
        return
    verb = "deleted" if state.pruned else "not used by the tests that ran"
    terminalreporter.section("snapy")
    terminalreporter.write_line(f"{len(state.unused)} recording(s) {verb}:")
    root = Path(config.rootpath)
    for path in state.unused:
        try:
            shown = path.relative_to(root)
        except ValueError:
            shown = path
        terminalreporter.write_line(f"  {shown}")
    if not state.pruned:
        terminalreporter.write_line(
            "delete them with --snapy-unused=prune (or re-record with SIDE_EFFECT_CAPTURE=all)"
        )
    if config.getoption("snapy_unused") == "fail":
        terminalreporter.write_line("the run fails because of them (--snapy-unused=fail)")
