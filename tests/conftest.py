"""Shared fixtures: every test gets fresh process-wide snapy settings and its own folder."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import snapy

pytest_plugins = ["pytester"]

SettingsFactory = Callable[..., snapy.Settings]
TESTS = Path(__file__).resolve().parent


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The `fakeapp.rates` module (tests/fakeapp) with its counters and clock reset."""
    monkeypatch.syspath_prepend(str(TESTS))
    from fakeapp import rates

    rates.reset()
    return rates


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A fresh recordings folder."""
    return tmp_path / "__recordings__"


@pytest.fixture
def snapy_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SettingsFactory]:
    """Default settings (capture off, `./captures` under `tmp_path`); call it to change them.

    `snapy_settings(SNAPY_CAPTURE_ENABLED="1")` re-reads the settings from exactly those
    variables (plus `tmp_path/.env`). At teardown the background writer is flushed and the
    settings are read again from the real environment, which every live wrapper follows.
    """
    # What `refresh_settings()` would read once monkeypatch has undone its changes.
    outer_environ, outer_dotenv = dict(os.environ), Path.cwd() / ".env"
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("SNAPY_"):
            monkeypatch.delenv(name)
    dotenv = tmp_path / ".env"

    def refresh(**environ: str) -> snapy.Settings:
        return snapy.refresh_settings(environ=environ, dotenv_path=dotenv)

    refresh()
    yield refresh
    snapy.flush_captures()
    snapy.refresh_settings(environ=outer_environ, dotenv_path=outer_dotenv)


@pytest.fixture
def captures(snapy_settings: SettingsFactory, tmp_path: Path) -> Path:
    """A capture folder under `tmp_path`, with capture enabled for the whole process."""
    root = tmp_path / "store"
    snapy_settings(SNAPY_CAPTURE_ENABLED="1", SNAPY_CAPTURE_DIR=str(root))
    return root


@pytest.fixture(params=["c", "python"], ids=["hot-c", "hot-python"])
def hot_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The tracer's hot path a test runs on: "c" (`snapy._speedups`) or "python" (none).

    "python" sets `snapy._trace_backends.SPEEDUPS` to None (read when a tracer starts), so the
    Python callbacks run alone; "c" is skipped where the C module was not built.
    """
    from snapy import _trace_backends

    if request.param == "python":
        monkeypatch.setattr(_trace_backends, "SPEEDUPS", None)
    elif _trace_backends.SPEEDUPS is None:
        pytest.skip("the tracer's C speedups are not built here (no C compiler at install)")
    return str(request.param)
