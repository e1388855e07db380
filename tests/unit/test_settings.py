"""Settings read from the environment and `.env`, checked, and changed at run time."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from snapy import ConfigError, Settings, _settings, configure, get_settings, refresh_settings
from snapy._modes import Mode
from snapy._settings import load_settings, on_settings_change

KEY = "0123456789abcdef0123"
RATE_HELP = "use a number from 0 to 1, e.g. 0.05 to capture one call in twenty"
RETENTION_HELP = "use a whole number of bundles to keep (1 or more) or 'inf' to keep all"
SIZE_HELP = "use a size in bytes such as 1048576, 512K or 10M, or 'inf' for no limit"
BOOL_HELP = "use one of 1, true, yes, on (enabled) or 0, false, no, off"
KEY_HELP = (
    "use at least 16 characters, e.g. the output of "
    "`python -c 'import secrets; print(secrets.token_hex(32))'`"
)


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Default process-wide settings for the test; the previous ones are put back after it."""
    saved, outer_environ, outer_dotenv = _settings._current, dict(os.environ), Path.cwd() / ".env"
    monkeypatch.chdir(tmp_path)
    refresh_settings(environ={}, dotenv_path=tmp_path / "missing.env")
    yield
    if saved is not None:
        _settings._install(saved)
    else:
        refresh_settings(environ=outer_environ, dotenv_path=outer_dotenv)


def load(tmp_path: Path, **environ: str) -> Settings:
    return load_settings(environ=environ, dotenv_path=tmp_path / "missing.env")


def test_nothing_set_gives_the_defaults(tmp_path: Path) -> None:
    settings = load(tmp_path)
    assert settings == Settings(capture_dir=Path("captures").absolute())
    assert settings.capture_enabled is False
    assert settings.capture_dir == Path.cwd() / "captures"
    assert settings.retention == 2
    assert settings.sample_rate == 1.0
    assert settings.max_bytes == 10 * 1024**2
    assert settings.signing_key is None
    assert settings.side_effect_capture is Mode.REPLAY
    assert settings.sources == {}
    assert settings.source_of("retention") == "default"


def test_every_variable_is_read_from_the_environment(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        SNAPY_CAPTURE_ENABLED="yes",
        SNAPY_CAPTURE_DIR="/data/captures",
        SNAPY_RETENTION="5",
        SNAPY_SAMPLE_RATE="0.25",
        SNAPY_MAX_BYTES="10M",
        SNAPY_SIGNING_KEY=KEY,
        SIDE_EFFECT_CAPTURE="all",
        UNRELATED="x",
    )
    assert settings == Settings(
        capture_enabled=True,
        capture_dir=Path("/data/captures"),
        retention=5,
        sample_rate=0.25,
        max_bytes=10485760,
        signing_key=KEY.encode(),
        side_effect_capture=Mode.ALL,
    )
    assert set(settings.sources.values()) == {"environment"}
    assert len(settings.sources) == 7


def test_process_environment_wins_over_the_dotenv_file(tmp_path: Path) -> None:
    dotenv = tmp_path / "project.env"
    dotenv.write_text("SNAPY_RETENTION=7\nSNAPY_SAMPLE_RATE=0.5\n# a comment\n")
    settings = load_settings(environ={"SNAPY_SAMPLE_RATE": "0.1"}, dotenv_path=dotenv)
    assert settings.retention == 7
    assert settings.sample_rate == 0.1
    assert settings.sources == {
        "retention": f".env file {str(dotenv)!r}",
        "sample_rate": "environment",
    }
    assert settings.source_of("retention") == f".env file '{dotenv}'"


def test_dotenv_in_the_current_folder_is_read_by_default(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("SNAPY_CAPTURE_ENABLED=1\n")
    settings = load_settings(environ={})
    assert settings.capture_enabled is True
    assert settings.source_of("capture_enabled") == ".env file '.env'"


def test_process_environment_is_read_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SNAPY_RETENTION", "3")
    assert load_settings(dotenv_path=tmp_path / "missing.env").retention == 3


ACCEPTED = [
    ("SNAPY_RETENTION", "inf", "retention", math.inf),
    ("SNAPY_RETENTION", " All ", "retention", math.inf),
    ("SNAPY_RETENTION", " 12 ", "retention", 12),
    ("SNAPY_MAX_BYTES", "10M", "max_bytes", 10485760),
    ("SNAPY_MAX_BYTES", "512k", "max_bytes", 524288),
    ("SNAPY_MAX_BYTES", "2 GiB", "max_bytes", 2 * 1024**3),
    ("SNAPY_MAX_BYTES", "100", "max_bytes", 100),
    ("SNAPY_MAX_BYTES", "unlimited", "max_bytes", math.inf),
    ("SNAPY_SAMPLE_RATE", "0", "sample_rate", 0.0),
    ("SNAPY_SAMPLE_RATE", " 0.05 ", "sample_rate", 0.05),
    ("SNAPY_CAPTURE_ENABLED", "TRUE", "capture_enabled", True),
    ("SNAPY_CAPTURE_ENABLED", "on", "capture_enabled", True),
    ("SNAPY_CAPTURE_ENABLED", "0", "capture_enabled", False),
    ("SNAPY_CAPTURE_ENABLED", "", "capture_enabled", False),
    ("SIDE_EFFECT_CAPTURE", "1", "side_effect_capture", Mode.NEW),
    ("SIDE_EFFECT_CAPTURE", "0", "side_effect_capture", Mode.REPLAY),
    ("SNAPSHOT_UPDATE", "1", "snapshot_update", True),
    ("SNAPSHOT_UPDATE", "no", "snapshot_update", False),
]


@pytest.mark.parametrize(
    ("variable", "raw", "attr", "expected"), ACCEPTED, ids=[f"{v}={r!r}" for v, r, *_ in ACCEPTED]
)
def test_accepted_values(tmp_path: Path, variable: str, raw: str, attr: str, expected: Any) -> None:
    value = getattr(load(tmp_path, **{variable: raw}), attr)
    assert value == expected
    assert type(value) is type(expected)


MALFORMED = [
    ("SNAPY_SAMPLE_RATE", "abc", f"SNAPY_SAMPLE_RATE='abc' is not valid: {RATE_HELP}"),
    ("SNAPY_SAMPLE_RATE", "1.5", f"SNAPY_SAMPLE_RATE='1.5' is not valid: {RATE_HELP}"),
    ("SNAPY_SAMPLE_RATE", "nan", f"SNAPY_SAMPLE_RATE='nan' is not valid: {RATE_HELP}"),
    ("SNAPY_RETENTION", "0", f"SNAPY_RETENTION='0' is not valid: {RETENTION_HELP}"),
    ("SNAPY_RETENTION", "-1", f"SNAPY_RETENTION='-1' is not valid: {RETENTION_HELP}"),
    ("SNAPY_RETENTION", "2.5", f"SNAPY_RETENTION='2.5' is not valid: {RETENTION_HELP}"),
    ("SNAPY_RETENTION", "²", f"SNAPY_RETENTION='²' is not valid: {RETENTION_HELP}"),
    ("SNAPY_MAX_BYTES", "10X", f"SNAPY_MAX_BYTES='10X' is not valid: {SIZE_HELP}"),
    ("SNAPY_MAX_BYTES", "1.5M", f"SNAPY_MAX_BYTES='1.5M' is not valid: {SIZE_HELP}"),
    ("SNAPY_MAX_BYTES", "0", f"SNAPY_MAX_BYTES='0' is not valid: {SIZE_HELP}"),
    ("SNAPY_CAPTURE_ENABLED", "maybe", f"SNAPY_CAPTURE_ENABLED='maybe' is not valid: {BOOL_HELP}"),
    ("SNAPY_CAPTURE_DIR", "  ", "SNAPY_CAPTURE_DIR='  ' is not valid: use a folder path"),
    (
        "SIDE_EFFECT_CAPTURE",
        "sometimes",
        "SIDE_EFFECT_CAPTURE='sometimes' is not valid: "
        "use replay (or unset, 0, false), new (or 1, true, yes) or all",
    ),
]


@pytest.mark.parametrize(
    ("variable", "raw", "message"), MALFORMED, ids=[f"{v}={r!r}" for v, r, _ in MALFORMED]
)
def test_malformed_value_names_the_variable(
    tmp_path: Path, variable: str, raw: str, message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, **{variable: raw})
    assert str(info.value) == message
    assert info.value.name == variable
    assert isinstance(info.value, ValueError)


def test_malformed_value_in_dotenv_names_the_variable(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("SNAPY_RETENTION=zero\n")
    with pytest.raises(ConfigError, match=r"^SNAPY_RETENTION='zero' is not valid: "):
        load_settings(environ={}, dotenv_path=dotenv)


def test_short_signing_key_is_refused_without_showing_it(tmp_path: Path) -> None:
    short = "hunter2-secret!"  # 15 characters
    with pytest.raises(ConfigError) as info:
        load(tmp_path, SNAPY_SIGNING_KEY=short)
    assert str(info.value) == f"SNAPY_SIGNING_KEY='<hidden>' is not valid: {KEY_HELP}"
    assert info.value.value == "<hidden>"
    assert short not in repr(info.value.args)


def test_settings_repr_hides_the_signing_key() -> None:
    assert KEY not in repr(Settings(signing_key=KEY.encode()))


def test_configure_changes_settings_and_records_the_source(tmp_path: Path) -> None:
    refresh_settings(environ={"SNAPY_SAMPLE_RATE": "0.5"}, dotenv_path=tmp_path / "missing.env")
    new = configure(capture_enabled="yes", retention="inf", capture_dir=tmp_path)
    assert new is get_settings()
    assert new.capture_enabled is True
    assert new.retention == math.inf
    assert new.capture_dir == tmp_path
    assert new.sample_rate == 0.5
    assert new.sources == {
        "sample_rate": "environment",
        "capture_enabled": "configure()",
        "retention": "configure()",
        "capture_dir": "configure()",
    }


def test_configure_accepts_native_values() -> None:
    new = configure(capture_enabled=True, max_bytes=math.inf, signing_key=KEY.encode())
    assert (new.capture_enabled, new.max_bytes, new.signing_key) == (True, math.inf, KEY.encode())
    assert configure(side_effect_capture="new").side_effect_capture is Mode.NEW


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"retention": 0}, f"retention=0 is not valid: {RETENTION_HELP}"),
        ({"retention": True}, f"retention=True is not valid: {RETENTION_HELP}"),
        ({"sample_rate": 2}, f"sample_rate=2 is not valid: {RATE_HELP}"),
        ({"max_bytes": -5}, f"max_bytes=-5 is not valid: {SIZE_HELP}"),
        ({"capture_enabled": "maybe"}, f"capture_enabled='maybe' is not valid: {BOOL_HELP}"),
        ({"capture_dir": 3}, "capture_dir=3 is not valid: use a folder path"),
        ({"signing_key": "short"}, f"signing_key='<hidden>' is not valid: {KEY_HELP}"),
    ],
    ids=["retention", "retention-bool", "sample_rate", "max_bytes", "bool", "dir", "key"],
)
def test_configure_validates_like_the_environment(changes: dict[str, Any], message: str) -> None:
    before = get_settings()
    with pytest.raises(ConfigError) as info:
        # The valid change comes first: nothing is applied unless everything is valid.
        configure(**{"side_effect_capture": "all", **changes})
    assert str(info.value) == message
    assert get_settings() is before


def test_configure_with_an_unknown_name_lists_the_valid_ones() -> None:
    with pytest.raises(ConfigError) as info:
        configure(unknown=1)
    assert str(info.value) == (
        "unknown=1 is not valid: not a setting; valid settings: capture_enabled, capture_dir, "
        "retention, sample_rate, max_bytes, signing_key, encryption_key, encryption_key_file, "
        "encryption_old_keys, side_effect_capture, snapshot_update"
    )


def test_configure_refuses_to_set_sources() -> None:
    with pytest.raises(ConfigError, match=r"^sources=\{\} is not valid: not a setting; "):
        configure(sources={})


def test_refresh_rereads_and_drops_what_configure_set(tmp_path: Path) -> None:
    configure(retention=9, capture_enabled=True)
    dotenv = tmp_path / ".env"
    dotenv.write_text("SNAPY_RETENTION=4\n")
    new = refresh_settings(environ={}, dotenv_path=dotenv)
    assert new is get_settings()
    assert new.retention == 4
    assert new.capture_enabled is False
    assert new.sources == {"retention": f".env file {str(dotenv)!r}"}


def test_listeners_hear_every_change(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(_settings, "_listeners", list(_settings._listeners))
    heard: list[Settings] = []
    on_settings_change(heard.append)
    configured = configure(retention=3)
    refreshed = refresh_settings(environ={}, dotenv_path=tmp_path / "missing.env")
    assert heard == [configured, refreshed]
    assert heard[0] is configured
    assert heard[1] is refreshed


def test_settings_are_read_once_on_first_use(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(_settings, "_current", None)
    monkeypatch.setenv("SNAPY_RETENTION", "6")
    first = get_settings()
    monkeypatch.setenv("SNAPY_RETENTION", "8")
    assert first.retention == 6
    assert get_settings() is first


def test_relative_capture_dir_is_fixed_when_read(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings({"SNAPY_CAPTURE_DIR": "caps"}, tmp_path / "missing.env")
    monkeypatch.chdir(tmp_path.parent)
    assert settings.capture_dir == tmp_path / "caps"
