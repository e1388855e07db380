"""`SnapTestCase`: recorded side effects and snapshots for unittest, in either runner.

    class TestInvoices(snapy.SnapTestCase):
        side_effects = ["app.rates.fetch_rate", ("app.mail.send", {"ignore_args": ["msg_id"]})]

        def test_total(self):
            self.assertMatchSnapshot(app.invoices.total("INV-1"))

Patches start in `setUp` and are undone with `addCleanup`, also when the test fails. Under
pytest the snapy plugin hands syrupy's `snapshot` fixture to the test; under
`python -m unittest` the same `.ambr` files are read and written directly.
"""

from __future__ import annotations

import inspect
import unittest
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._errors import ConfigError
from ._load import capture_files
from ._patching import replaying
from ._replay import recording_store
from ._snapshot import AmberFileBackend, SnapshotBackend, update_requested

if TYPE_CHECKING:
    from ._trace import FunctionTracer

SideEffect = str | tuple[str, dict[str, Any]]


class SnapMixin:
    """Side-effect replay and snapshot assertions for any `unittest.TestCase` base.

    Put it before the `TestCase` base: `class T(snapy.SnapMixin, django.test.TestCase)`.
    Override `snapy_recordings_dir()` or `snapy_test_id()` to store recordings elsewhere.
    """

    #: Targets patched with recorded responses for every test of the class: a dotted name,
    #: or `(name, options)` with the options of `snapy.replaying`.
    side_effects: Sequence[SideEffect] = ()

    _snapy_backend: SnapshotBackend | None = None
    _snapy_patches: list[replaying]

    # -- names a subclass may change -------------------------------------------------------

    def snapy_test_file(self) -> Path:
        """The file that defines this test class (for a class defined in `python -c` or an
        interactive session, `<module>.py` in the current folder)."""
        try:
            return Path(inspect.getfile(type(self))).resolve()
        except (OSError, TypeError):
            return Path.cwd() / f"{type(self).__module__}.py"

    def snapy_recordings_dir(self) -> Path:
        """Where this test's recordings live: `__recordings__` next to the test file."""
        return self.snapy_test_file().parent / "__recordings__"

    def snapy_test_id(self) -> str:
        """How recordings name this test: `<test module>::<Class>.<method>`."""
        method = getattr(self, "_testMethodName", "test")
        return f"{self.snapy_test_file().stem}::{type(self).__qualname__}.{method}"

    # -- set-up ----------------------------------------------------------------------------

    def setUp(self) -> None:
        super().setUp()  # type: ignore[misc]
        recording_store(self.snapy_recordings_dir()).start_test(self.snapy_test_id())
        self._snapy_patches = []
        for item in type(self).side_effects:
            target, options = _split(item)
            self.replay(target, **options)

    def replay(self, target: str, **options: Any) -> Any:
        """Patch `target` with recorded responses for the rest of this test; returns the mock."""
        options.setdefault("recordings", recording_store(self.snapy_recordings_dir()))
        options.setdefault("test_id", self.snapy_test_id())
        method = getattr(self, "_testMethodName", "test")
        options.setdefault(
            "rerun",
            f"python -m unittest {type(self).__module__}.{type(self).__qualname__}.{method}",
        )
        patch = replaying(target, **options)
        wrapper = patch.start()
        self._snapy_patches.append(patch)
        self.addCleanup(self._snapy_stop, patch)  # type: ignore[attr-defined]
        return wrapper

    def _snapy_stop(self, patch: replaying) -> None:
        self._snapy_patches.remove(patch)
        patch.stop()

    @contextmanager
    def snapy_paused(self) -> Iterator[None]:
        """The test's side-effect patches put aside (snapshot files need the real `open`)."""
        patches = list(getattr(self, "_snapy_patches", ()))
        for patch in reversed(patches):
            patch.pause()
        try:
            yield
        finally:
            for patch in patches:
                patch.resume()

    # -- snapshots ---------------------------------------------------------------------------

    def _snapy_snapshots(self) -> SnapshotBackend:
        if self._snapy_backend is None:
            method = getattr(self, "_testMethodName", "test")
            self._snapy_backend = AmberFileBackend(
                self.snapy_test_file(), f"{type(self).__qualname__}.{method}", update_requested()
            )
        return self._snapy_backend

    def assertMatchSnapshot(
        self, value: Any, name: str | None = None, *, exclude: Any = None
    ) -> None:
        """Compare `value` with its snapshot (syrupy's amber format).

        `name` gives the entry its own name (`Class.test[name]`); `exclude` is syrupy's
        property filter. A missing snapshot fails unless updating (`SNAPSHOT_UPDATE=1`, or
        `--snapshot-update` under pytest). Runs with the side-effect patches paused.
        """
        __tracebackhide__ = True
        with self.snapy_paused():
            self._snapy_snapshots().assert_match(value, name, exclude)

    def assertMatchTrace(
        self, tracer: FunctionTracer, name: str | None = None, *, exclude: Any = None
    ) -> None:
        """Compare a `FunctionTracer`'s call tree with its snapshot, as `TracedSnapshot` stores it.

        The entry is the same under pytest and `python -m unittest`; `exclude` is syrupy's
        property filter, applied to the traced values by path (`args.<name>`, `return`, ...).
        """
        __tracebackhide__ = True
        from ._trace_text import format_trace

        text = format_trace(tracer, exclude=exclude)
        with self.snapy_paused():
            self._snapy_snapshots().assert_match(text, name, None)

    def assertReplaysCaptures(
        self, target: str, *, path: str | Path | None = None, snapshot: bool = False
    ) -> int:
        """Replay every stored production capture of `target`, one `subTest` each.

        Each capture's arguments are passed to the function as it is now; the result (or the
        raised exception's type and arguments) must equal the captured one, or with
        `snapshot=True` match a snapshot named after the argument key. Returns how many.
        """
        __tracebackhide__ = True
        captures = captures_of(target, path)
        for capture in captures:
            with self.subTest(capture=capture.key):  # type: ignore[attr-defined]
                if snapshot:
                    outcome = capture.outcome_of_replay()
                    self.assertMatchSnapshot(outcome, name=capture.key)
                else:
                    capture.assert_replays()
        return len(captures)


def captures_of(target: str, path: str | Path | None) -> list[Any]:
    """Every stored capture of `target` under `path`, oldest first."""
    storage, files, _ = capture_files(target, path)
    return [storage.load(file) for file in files]


def _split(item: SideEffect) -> tuple[str, dict[str, Any]]:
    if isinstance(item, str):
        return item, {}
    if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], dict):
        return item[0], dict(item[1])
    raise ConfigError(
        "side_effects",
        item,
        "use a dotted name or (name, options), e.g. ('app.mail.send', {'ignore_args': ['msg_id']})",
    )


class SnapTestCase(SnapMixin, unittest.TestCase):
    """`unittest.TestCase` with recorded side effects and snapshot assertions."""


class AsyncSnapTestCase(SnapMixin, unittest.IsolatedAsyncioTestCase):
    """`unittest.IsolatedAsyncioTestCase` with recorded side effects and snapshots."""


def parametrize_captures(
    target: str, *, path: str | Path | None = None, argname: str = "capture"
) -> Any:
    """A `pytest.mark.parametrize` with one case per stored capture of `target`.

        @snapy.parametrize_captures("app.billing.charge", path="captures")
        def test_charge_replays(capture):
            capture.assert_replays()

    Case ids are argument keys. Captures are read when the test module is collected.
    """
    import pytest

    captures = captures_of(target, path)
    return pytest.mark.parametrize(argname, [pytest.param(c, id=c.key[:12]) for c in captures])
