"""Modes: `SIDE_EFFECT_CAPTURE` and `mode=`, and what replay, new and all do with a call."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import snapy

TEST_ID = "test_modes::test_case"
VALID = "use replay (or unset, 0, false), new (or 1, true, yes) or all"


@pytest.fixture
def environ(tmp_path: Path) -> Iterator[Callable[..., snapy.Settings]]:
    """Re-read the process-wide settings from exactly the given variables; reset at teardown."""
    empty = tmp_path / "no.env"

    def read(**variables: str) -> snapy.Settings:
        return snapy.refresh_settings(environ=variables, dotenv_path=empty)

    read()
    yield read
    snapy.refresh_settings(environ={}, dotenv_path=empty)


def mock(fn: Callable[..., Any], root: Path, mode: str | None, **options: Any) -> Any:
    return snapy.mock(
        fn, recordings=snapy.RecordingStore(root), test_id=TEST_ID, mode=mode, **options
    )


def bundles(fake: Any) -> list[str]:
    return sorted(p.name for p in fake.recordings_folder.glob("*.bundle"))


# -- the enum ------------------------------------------------------------------------------------


def test_modes_are_strings() -> None:
    assert [m.value for m in snapy.Mode] == ["replay", "new", "all"]
    assert snapy.Mode.NEW == "new"
    assert isinstance(snapy.Mode.ALL, str)
    assert snapy.Mode("replay") is snapy.Mode.REPLAY
    assert str(snapy.Mode.NEW) == "new"
    assert f"{snapy.Mode.ALL}" == "all"


@pytest.mark.parametrize(
    ("raw", "mode"),
    [
        ("", snapy.Mode.REPLAY),
        ("0", snapy.Mode.REPLAY),
        ("false", snapy.Mode.REPLAY),
        ("replay", snapy.Mode.REPLAY),
        ("1", snapy.Mode.NEW),
        ("true", snapy.Mode.NEW),
        ("yes", snapy.Mode.NEW),
        ("new", snapy.Mode.NEW),
        (" TRUE ", snapy.Mode.NEW),
        ("all", snapy.Mode.ALL),
        ("ALL", snapy.Mode.ALL),
        (snapy.Mode.ALL, snapy.Mode.ALL),
    ],
)
def test_parse(raw: Any, mode: snapy.Mode) -> None:
    assert snapy.Mode.parse(raw) is mode


@pytest.mark.parametrize("raw", ["2", "always", "record", None, 1, True])
def test_parse_rejects_anything_else(raw: Any) -> None:
    with pytest.raises(snapy.ConfigError) as info:
        snapy.Mode.parse(raw)
    assert str(info.value) == f"mode={raw!r} is not valid: {VALID}"
    assert info.value.name == "mode"
    assert info.value.value == raw
    assert isinstance(info.value, ValueError)


# -- SIDE_EFFECT_CAPTURE ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variables", "mode"),
    [
        ({}, snapy.Mode.REPLAY),
        ({"SIDE_EFFECT_CAPTURE": "0"}, snapy.Mode.REPLAY),
        ({"SIDE_EFFECT_CAPTURE": "false"}, snapy.Mode.REPLAY),
        ({"SIDE_EFFECT_CAPTURE": ""}, snapy.Mode.REPLAY),
        ({"SIDE_EFFECT_CAPTURE": "1"}, snapy.Mode.NEW),
        ({"SIDE_EFFECT_CAPTURE": "true"}, snapy.Mode.NEW),
        ({"SIDE_EFFECT_CAPTURE": "yes"}, snapy.Mode.NEW),
        ({"SIDE_EFFECT_CAPTURE": "new"}, snapy.Mode.NEW),
        ({"SIDE_EFFECT_CAPTURE": "all"}, snapy.Mode.ALL),
    ],
)
def test_side_effect_capture_variable(
    environ: Callable[..., snapy.Settings], variables: dict[str, str], mode: snapy.Mode
) -> None:
    settings = environ(**variables)
    assert settings.side_effect_capture is mode
    assert snapy.get_settings().side_effect_capture is mode
    expected_source = "environment" if variables else "default"
    assert settings.source_of("side_effect_capture") == expected_source


def test_side_effect_capture_variable_rejects_anything_else(
    environ: Callable[..., snapy.Settings],
) -> None:
    with pytest.raises(snapy.ConfigError) as info:
        environ(SIDE_EFFECT_CAPTURE="sometimes")
    assert str(info.value) == f"SIDE_EFFECT_CAPTURE='sometimes' is not valid: {VALID}"
    assert info.value.name == "SIDE_EFFECT_CAPTURE"


def test_side_effect_capture_from_a_dotenv_file(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("SIDE_EFFECT_CAPTURE=all\n")
    try:
        settings = snapy.refresh_settings(environ={}, dotenv_path=dotenv)
        assert settings.side_effect_capture is snapy.Mode.ALL
        assert settings.source_of("side_effect_capture") == f".env file {str(dotenv)!r}"
        # The process environment wins over the file.
        settings = snapy.refresh_settings(environ={"SIDE_EFFECT_CAPTURE": "0"}, dotenv_path=dotenv)
        assert settings.side_effect_capture is snapy.Mode.REPLAY
    finally:
        snapy.refresh_settings(environ={}, dotenv_path=tmp_path / "no.env")


def test_configure_side_effect_capture(environ: Callable[..., snapy.Settings]) -> None:
    settings = snapy.configure(side_effect_capture="1")
    assert settings.side_effect_capture is snapy.Mode.NEW
    assert settings.source_of("side_effect_capture") == "configure()"
    with pytest.raises(snapy.ConfigError) as info:
        snapy.configure(side_effect_capture="maybe")
    assert str(info.value) == f"side_effect_capture='maybe' is not valid: {VALID}"


def test_mock_follows_the_setting(
    app: Any, root: Path, environ: Callable[..., snapy.Settings]
) -> None:
    environ(SIDE_EFFECT_CAPTURE="1")
    recorder = mock(app.fetch_rate, root, None)
    assert recorder.mode is snapy.Mode.NEW
    assert recorder("EUR") == 1.1
    assert app.REAL_CALLS["fetch_rate"] == 1
    environ()
    replay = mock(app.fetch_rate, root, None)
    assert replay.mode is snapy.Mode.REPLAY
    assert replay("EUR") == 1.1
    with pytest.raises(snapy.RecordingNotFoundError):
        replay("GBP")
    assert app.REAL_CALLS["fetch_rate"] == 1


def test_the_mode_is_fixed_when_the_mock_is_made(
    app: Any, root: Path, environ: Callable[..., snapy.Settings]
) -> None:
    environ(SIDE_EFFECT_CAPTURE="1")
    recorder = mock(app.fetch_rate, root, None)
    environ()
    assert recorder("EUR") == 1.1
    assert recorder.calls[0].source == "recorded"


def test_mode_option_wins_over_the_setting(
    app: Any, root: Path, environ: Callable[..., snapy.Settings]
) -> None:
    environ(SIDE_EFFECT_CAPTURE="all")
    replay = mock(app.fetch_rate, root, "replay")
    assert replay.mode is snapy.Mode.REPLAY
    with pytest.raises(snapy.RecordingNotFoundError):
        replay("EUR")
    assert mock(app.fetch_rate, root, snapy.Mode.NEW).mode is snapy.Mode.NEW
    assert mock(app.fetch_rate, root, "1").mode is snapy.Mode.NEW
    assert app.REAL_CALLS["fetch_rate"] == 0


def test_mode_option_rejects_anything_else(app: Any, root: Path) -> None:
    with pytest.raises(snapy.ConfigError) as info:
        mock(app.fetch_rate, root, "bogus")
    assert str(info.value) == f"mode='bogus' is not valid: {VALID}"


# -- what each mode does -------------------------------------------------------------------------


def test_replay_never_runs_the_real_function(app: Any, root: Path) -> None:
    mock(app.fetch_rate, root, "new")("EUR")
    replay = mock(app.fetch_rate, root, "replay")
    assert replay("EUR") == 1.1
    with pytest.raises(snapy.RecordingNotFoundError):
        replay("GBP")
    assert app.REAL_CALLS["fetch_rate"] == 1
    assert bundles(replay) == bundles(mock(app.fetch_rate, root, "replay"))
    assert len(bundles(replay)) == 1


def test_new_records_only_calls_without_an_unused_recording(app: Any, root: Path) -> None:
    first = mock(app.fetch_rate, root, "new")
    first("EUR")
    first("GBP")
    before = bundles(first)
    app.RATES["EUR"] = 2.0  # a real call would now give another answer
    try:
        second = mock(app.fetch_rate, root, "new")
        assert second("EUR") == 1.1
        assert second("JPY") == 0.0067
        assert second("EUR") == 2.0  # its one recording is used: recorded anew
    finally:
        app.RATES["EUR"] = 1.1
    assert [c.source for c in second.calls] == ["replayed", "recorded", "recorded"]
    assert app.REAL_CALLS["fetch_rate"] == 4
    after = bundles(second)
    assert after[:2] == before
    assert [name[:4] for name in after] == ["0000", "0001", "0002", "0003"]
    replay = mock(app.fetch_rate, root, "replay")
    assert [replay("EUR"), replay("EUR"), replay("GBP"), replay("JPY")] == [1.1, 2.0, 1.25, 0.0067]


def test_new_records_a_counter_once_per_call(app: Any, root: Path) -> None:
    recorder = mock(app.tick, root, "new")
    assert [recorder(), recorder(), recorder()] == [1, 2, 3]
    assert len(bundles(recorder)) == 3
    again = mock(app.tick, root, "new")
    assert [again(), again(), again()] == [1, 2, 3]
    assert len(bundles(again)) == 3
    assert app.REAL_CALLS["tick"] == 3


def test_all_runs_every_call_and_keeps_only_this_run(app: Any, root: Path) -> None:
    recorder = mock(app.fetch_rate, root, "new")
    recorder("EUR")
    recorder("GBP")
    app.RATES["EUR"] = 1.5
    try:
        again = mock(app.fetch_rate, root, "all")
        assert again("EUR") == 1.5
        assert again("EUR") == 1.5
    finally:
        app.RATES["EUR"] = 1.1
    assert [c.source for c in again.calls] == ["recorded", "recorded"]
    assert app.REAL_CALLS["fetch_rate"] == 4
    assert [name[:4] for name in bundles(again)] == ["0000", "0001"]
    replay = mock(app.fetch_rate, root, "replay")
    assert replay("EUR") == 1.5
    with pytest.raises(snapy.RecordingNotFoundError):
        replay("GBP")


def test_a_recording_run_says_so_once_and_where_the_setting_came_from(
    environ: Callable[..., snapy.Settings],
    app: Any,
    root: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("snapy._replay._announced", set())
    environ(SIDE_EFFECT_CAPTURE="1")
    mock(app.fetch_rate, root, None)
    mock(app.tick, root, None)
    assert capsys.readouterr().err == (
        "snapy: recording calls that have no recording (SIDE_EFFECT_CAPTURE=new, "
        "from environment)\n"
    )
    mock(app.fetch_rate, root, "all")  # an explicit mode= is the test's own choice: silent
    environ(SIDE_EFFECT_CAPTURE="0")
    mock(app.fetch_rate, root, None)
    assert capsys.readouterr().err == ""
