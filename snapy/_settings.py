"""The one settings object: read once from the process environment and `.env`.

The process environment wins over `.env`. Nothing reads `os.environ` per call (a lookup costs
about 1 µs, 25x a bare call); `configure()` and `refresh_settings()` change the settings at run
time and tell the parts that cache them.
"""

from __future__ import annotations

import math
import os
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from ._crypto import KeyFile, Keyring, parse_encryption_key, parse_key_file, parse_old_keys
from ._errors import ConfigError
from ._modes import Mode

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")
_SIZE = re.compile(r"^\s*(\d{1,18})\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}

#: Environment variable of each setting, in the order they are documented.
ENV_NAMES: Mapping[str, str] = {
    "capture_enabled": "SNAPY_CAPTURE_ENABLED",
    "capture_dir": "SNAPY_CAPTURE_DIR",
    "retention": "SNAPY_RETENTION",
    "sample_rate": "SNAPY_SAMPLE_RATE",
    "max_bytes": "SNAPY_MAX_BYTES",
    "signing_key": "SNAPY_SIGNING_KEY",
    "encryption_key": "SNAPY_ENCRYPTION_KEY",
    "encryption_key_file": "SNAPY_ENCRYPTION_KEY_FILE",
    "encryption_old_keys": "SNAPY_ENCRYPTION_OLD_KEYS",
    "side_effect_capture": "SIDE_EFFECT_CAPTURE",
    "snapshot_update": "SNAPSHOT_UPDATE",
}


@dataclass(frozen=True)
class Settings:
    """Process-wide settings; `sources` says where each value came from.

    `encryption` is built from the three `encryption_*` settings: the key that encrypts new
    files and every key that decrypts, or None when encryption is off. No repr shows a key.
    """

    capture_enabled: bool = False
    capture_dir: Path = Path("captures")
    retention: float = 2
    sample_rate: float = 1.0
    max_bytes: float = 10 * 1024**2
    signing_key: bytes | None = field(default=None, repr=False)
    encryption_key: bytes | None = field(default=None, repr=False)
    encryption_key_file: KeyFile | None = None
    encryption_old_keys: tuple[bytes, ...] = field(default=(), repr=False)
    side_effect_capture: Mode = Mode.REPLAY
    snapshot_update: bool = False
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)
    encryption: Keyring | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "encryption", _keyring(self))

    def source_of(self, name: str) -> str:
        """Where the setting `name` came from: environment, a `.env` file, configure(), default."""
        return self.sources.get(name, "default")


def parse_bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(name, raw, "use one of 1, true, yes, on (enabled) or 0, false, no, off")


def parse_retention(name: str, raw: object) -> float:
    """A positive whole number of bundles to keep, or `inf` to keep every one."""
    expected = "use a whole number of bundles to keep (1 or more) or 'inf' to keep all"
    if isinstance(raw, str):
        text = raw.strip().lower()
        if text in ("inf", "infinite", "all", "unlimited"):
            return math.inf
        # "²".isdigit(); and int() refuses more than 4300 digits with a ValueError
        if not (text.isascii() and text.isdigit()) or len(text) > 18 or int(text) < 1:
            raise ConfigError(name, raw, expected)
        return int(text)
    if raw == math.inf:
        return math.inf
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
        raise ConfigError(name, raw, expected)
    return raw


def parse_rate(name: str, raw: object) -> float:
    expected = "use a number from 0 to 1, e.g. 0.05 to capture one call in twenty"
    value = raw
    if isinstance(raw, str):
        try:
            value = float(raw.strip())
        except ValueError:
            raise ConfigError(name, raw, expected) from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ConfigError(name, raw, expected)
    return float(value)


def parse_size(name: str, raw: object) -> float:
    """Bytes, optionally with a K, M or G suffix (powers of 1024); `inf` means no limit."""
    expected = "use a size in bytes such as 1048576, 512K or 10M, or 'inf' for no limit"
    if isinstance(raw, str):
        text = raw.strip().lower()
        if text in ("inf", "none", "unlimited"):
            return math.inf
        match = _SIZE.match(text)
        if match is None:
            raise ConfigError(name, raw, expected)
        size = int(match.group(1)) * _UNITS[(match.group(2) or "")[:1]]
        if size < 1:
            raise ConfigError(name, raw, expected)
        return size
    if raw == math.inf:
        return math.inf
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
        raise ConfigError(name, raw, expected)
    return raw


def parse_key(name: str, raw: object) -> bytes | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    if not isinstance(raw, bytes) or len(raw) < 16:
        raise ConfigError(
            name,
            "<hidden>" if isinstance(raw, bytes) else raw,
            "use at least 16 characters, e.g. the output of "
            "`python -c 'import secrets; print(secrets.token_hex(32))'`",
        )
    return raw


def _keyring(settings: Settings) -> Keyring | None:
    """The keyring the `encryption_*` settings describe; a conflict is a `ConfigError`."""

    def label(attr: str) -> str:  # what the user set: a variable, or a configure() argument
        return attr if settings.source_of(attr) == "configure()" else ENV_NAMES[attr]

    key, key_file = settings.encryption_key, settings.encryption_key_file
    if key is not None and key_file is not None:
        raise ConfigError(
            label("encryption_key_file"),
            str(key_file.path),
            f"{label('encryption_key')} is set too: set only one of them (old keys go on the "
            "lines after the first one of the file, or in SNAPY_ENCRYPTION_OLD_KEYS)",
        )
    keys = [(label("encryption_key"), key)] if key is not None else []
    if key_file is not None:
        keys = [(label("encryption_key_file"), k) for k in key_file.keys]
    if not keys:
        if settings.encryption_old_keys:
            raise ConfigError(
                label("encryption_old_keys"),
                "<hidden>",
                "old keys only decrypt: set SNAPY_ENCRYPTION_KEY or SNAPY_ENCRYPTION_KEY_FILE "
                "to the key that encrypts",
            )
        return None
    keys += [(label("encryption_old_keys"), k) for k in settings.encryption_old_keys]
    return Keyring(keys)


def parse_dir(name: str, raw: object) -> Path:
    """An absolute folder: a relative one is taken from the current folder when it is read,
    so a process that changes folder later keeps writing to the same place."""
    if isinstance(raw, str | os.PathLike) and os.fspath(raw).strip():
        return Path(raw).absolute()
    raise ConfigError(name, raw, "use a folder path")


_PARSERS: Mapping[str, Callable[[str, Any], Any]] = {
    "capture_enabled": lambda n, v: v if isinstance(v, bool) else parse_bool(n, str(v)),
    "capture_dir": parse_dir,
    "retention": parse_retention,
    "sample_rate": parse_rate,
    "max_bytes": parse_size,
    "signing_key": parse_key,
    "encryption_key": parse_encryption_key,
    "encryption_key_file": parse_key_file,
    "encryption_old_keys": parse_old_keys,
    "side_effect_capture": lambda n, v: Mode.parse(v, n),
    "snapshot_update": lambda n, v: v if isinstance(v, bool) else parse_bool(n, str(v)),
}


def load_settings(
    environ: Mapping[str, str] | None = None, dotenv_path: Path | str | None = None
) -> Settings:
    """Read the settings from `environ` (default: the process environment) and `.env`.

    `dotenv_path` defaults to `.env` in the current folder; a missing file is not an error.
    """
    env = os.environ if environ is None else environ
    path = Path(".env") if dotenv_path is None else Path(dotenv_path)
    try:
        from_file = {k: v for k, v in dotenv_values(path).items() if v is not None}
    except UnicodeDecodeError as exc:
        raise ConfigError(
            ".env file",
            str(path),
            f"it is not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start}); "
            "save it as UTF-8",
        ) from None
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for attr, var in ENV_NAMES.items():
        if var in env:
            raw, source = env[var], "environment"
        elif var in from_file:
            raw, source = from_file[var], f".env file {str(path)!r}"
        else:
            continue
        values[attr] = _PARSERS[attr](var, raw)
        sources[attr] = source
    values.setdefault("capture_dir", Path(Settings.capture_dir).absolute())
    return Settings(**values, sources=sources)


_lock = threading.Lock()
_current: Settings | None = None
_listeners: list[Callable[[Settings], None]] = []


def get_settings() -> Settings:
    """The current settings, read from the environment on first use."""
    global _current
    settings = _current
    if settings is None:
        with _lock:
            if _current is None:
                _current = load_settings()
            settings = _current
    return settings


def _install(settings: Settings) -> Settings:
    global _current
    with _lock:
        _current = settings
        listeners = list(_listeners)
    for listener in listeners:
        listener(settings)
    return settings


def configure(**changes: Any) -> Settings:
    """Change settings at run time, e.g. `snapy.configure(capture_enabled=True)`.

    Accepts the field names of `Settings` (the environment variables in lower case without
    `SNAPY_`). Values are checked like the environment's; a wrong one raises `ConfigError`
    naming the argument. Returns the new settings.
    """
    valid = [f.name for f in fields(Settings) if f.init and f.name != "sources"]
    parsed: dict[str, Any] = {}
    for name, value in changes.items():
        if name not in valid:
            raise ConfigError(name, value, "not a setting; valid settings: " + ", ".join(valid))
        parsed[name] = _PARSERS[name](name, value)
    current = get_settings()
    sources = {**current.sources, **dict.fromkeys(parsed, "configure()")}
    return _install(replace(current, **parsed, sources=sources))


def refresh_settings(
    environ: Mapping[str, str] | None = None, dotenv_path: Path | str | None = None
) -> Settings:
    """Read the environment and `.env` again, dropping what `configure()` set."""
    return _install(load_settings(environ, dotenv_path))


def on_settings_change(listener: Callable[[Settings], None]) -> None:
    """Call `listener(new_settings)` after every `configure()` or `refresh_settings()`."""
    with _lock:
        _listeners.append(listener)
