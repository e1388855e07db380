"""`CaptureConfig`: the options of one `@snapy.capture`, checked when the decorator runs."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import pytest

import snapy

RETENTION = "use a whole number of bundles to keep (1 or more) or 'inf' to keep all"
RATE = "use a number from 0 to 1, e.g. 0.05 to capture one call in twenty"
SIZE = "use a size in bytes such as 1048576, 512K or 10M, or 'inf' for no limit"
QUOTA = "use a whole number of captures (1 or more)"
SERIALIZER = (
    "use a registered serializer name ('dill', 'pickle') or an object with name, dumps and "
    "loads (snapy.register_serializer() registers one)"
)


def test_defaults_defer_to_the_process_settings() -> None:
    config = snapy.CaptureConfig.build()
    assert config == snapy.CaptureConfig()
    assert (config.path, config.retention, config.sample_rate, config.max_bytes) == (None,) * 4
    assert (config.quota, config.redact, config.serializer, config.storage) == (None,) * 4
    assert config.ignore_args == ()
    assert config.production_mode is True
    assert config.minimal_capture is False


def test_values_are_parsed() -> None:
    config = snapy.CaptureConfig.build(
        path="captures/here",
        retention="inf",
        quota=3,
        sample_rate="0.25",
        max_bytes="512K",
        ignore_args=["a", "b"],
        serializer="dill",
        production_mode=False,
        minimal_capture=True,
    )
    assert config.path == Path.cwd() / "captures" / "here"  # fixed when the decorator runs
    assert config.retention == math.inf
    assert config.quota == 3
    assert config.sample_rate == 0.25
    assert config.max_bytes == 512 * 1024
    assert config.ignore_args == ("a", "b")
    assert config.serializer is not None and config.serializer.name == "dill"
    assert config.production_mode is False
    assert config.minimal_capture is True


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [(1, 1), ("7", 7), (" 12 ", 12), (math.inf, math.inf), ("all", math.inf), ("INF", math.inf)],
)
def test_retention_values(raw: Any, parsed: float) -> None:
    assert snapy.CaptureConfig.build(retention=raw).retention == parsed


@pytest.mark.parametrize(
    ("raw", "parsed"), [("10M", 10 * 1024**2), ("1g", 1024**3), (100, 100), ("inf", math.inf)]
)
def test_max_bytes_values(raw: Any, parsed: float) -> None:
    assert snapy.CaptureConfig.build(max_bytes=raw).max_bytes == parsed


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("retention", 0, RETENTION),
        ("retention", -1, RETENTION),
        ("retention", 2.5, RETENTION),
        ("retention", True, RETENTION),
        ("retention", "two", RETENTION),
        ("sample_rate", 1.5, RATE),
        ("sample_rate", -0.1, RATE),
        ("sample_rate", "half", RATE),
        ("sample_rate", True, RATE),
        ("max_bytes", 0, SIZE),
        ("max_bytes", "10 parsecs", SIZE),
        ("max_bytes", 1.5, SIZE),
        ("quota", 0, QUOTA),
        ("quota", -3, QUOTA),
        ("quota", 2.0, QUOTA),
        ("quota", True, QUOTA),
        ("quota", "3", QUOTA),
        ("ignore_args", "request_id", "use a list of argument names"),
        ("redact", "ssn", "use a list of name patterns or an ArgumentFilter"),
        ("redact", ["ssn", "--"], "redaction pattern '--' has no letters or digits"),
        ("storage", "captures", "use a snapy.CaptureStorage"),
        ("serializer", "yaml", SERIALIZER),
        ("serializer", 42, SERIALIZER),
    ],
)
def test_wrong_values_raise_config_error_naming_the_option(
    option: str, value: Any, expected: str
) -> None:
    with pytest.raises(snapy.ConfigError) as info:
        snapy.CaptureConfig.build(**{option: value})
    assert str(info.value) == f"{option}={value!r} is not valid: {expected}"
    assert (info.value.name, info.value.value, info.value.expected) == (option, value, expected)
    with pytest.raises(snapy.ConfigError) as info:
        snapy.capture(**{option: value})
    assert str(info.value) == f"{option}={value!r} is not valid: {expected}"


def test_unknown_option_is_a_type_error() -> None:
    with pytest.raises(TypeError) as info:
        snapy.capture(retension=3)
    # Python 3.13 adds ". Did you mean 'retention'?"
    assert str(info.value).startswith(
        "CaptureConfig.build() got an unexpected keyword argument 'retension'"
    )


def test_redact_list_extends_and_filter_replaces() -> None:
    extended = snapy.CaptureConfig.build(redact=["ssn", "iban"]).redact
    assert extended is not None
    assert extended.patterns == (*snapy.DEFAULT_PATTERNS, "ssn", "iban")
    own = snapy.ArgumentFilter(["ssn"])
    assert snapy.CaptureConfig.build(redact=own).redact is own
    assert own.is_sensitive("customer_ssn") and not own.is_sensitive("password")


def test_config_is_frozen() -> None:
    config = snapy.CaptureConfig.build(quota=1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.quota = 2  # type: ignore[misc]


def test_storage_option_writes_to_that_storage(snapy_settings: Any, tmp_path: Path) -> None:
    storage = snapy.CaptureStorage(tmp_path / "own", retention=1)

    @snapy.capture(storage=storage, production_mode=False)
    def f(x: int) -> int:
        return x

    for i in range(3):
        f(i)
        snapy.flush_captures()
    [info] = storage.targets()
    assert (info.bundles, info.calls) == (1, 3)
    assert snapy.load_capture(f, path=tmp_path / "own").arguments == {"x": 2}
    assert not (tmp_path / "captures").exists()


def test_serializer_option_names_the_files_serializer(snapy_settings: Any, tmp_path: Path) -> None:
    @snapy.capture(serializer="dill", production_mode=False, path=tmp_path / "dill")
    def f(x: Any) -> Any:
        return x

    f(lambda: 1)
    snapy.flush_captures()
    [path] = (tmp_path / "dill").rglob("*.bundle")
    assert path.read_bytes().startswith(b"snapy-bundle format=1 serializer=dill ")
    assert snapy.load_capture(f, path=tmp_path / "dill").arguments["x"]() == 1


def test_process_settings_fill_what_the_config_leaves_open(
    snapy_settings: Any, tmp_path: Path
) -> None:
    snapy_settings(
        SNAPY_CAPTURE_ENABLED="1",
        SNAPY_CAPTURE_DIR=str(tmp_path / "env"),
        SNAPY_RETENTION="1",
        SNAPY_MAX_BYTES="30",
    )

    @snapy.capture
    def f(x: str) -> str:
        return x

    @snapy.capture(retention=3, max_bytes="1K", path=tmp_path / "own")
    def g(x: str) -> str:
        return x

    with pytest.warns(snapy.CaptureSkippedWarning, match="limit 30"):
        for text in ("a", "b", "c" * 40):
            f(text)
    for text in ("a", "b", "c" * 40, "d"):
        g(text)
    snapy.flush_captures()
    assert [c.target for c in [snapy.load_capture(f)]] == [f"{__name__}.{f.__qualname__}"]
    assert snapy.load_capture(f).arguments == {"x": "b"}
    assert len(list((tmp_path / "env").rglob("*.bundle"))) == 1
    assert len(list((tmp_path / "own").rglob("*.bundle"))) == 3
