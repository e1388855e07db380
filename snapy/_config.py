"""`CaptureConfig`: the options of one `@snapy.capture`, checked when the decorator runs."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ._errors import ConfigError, SnapyError
from ._redact import ArgumentFilter
from ._serializers import Serializer, registered, resolve_serializer
from ._settings import parse_rate, parse_retention, parse_size
from ._store import CaptureStorage


@dataclass(frozen=True)
class CaptureConfig:
    """How one function is captured (the seed's strategy object).

    `None` means "use the process setting" (`SNAPY_CAPTURE_DIR`, `SNAPY_RETENTION`, ...).
    `production_mode=True` (default) captures only while `SNAPY_CAPTURE_ENABLED` is on;
    `False` captures every call whatever the setting (a staging script, a local session).
    `minimal_capture=True` stores the arguments and only the type of the result or exception,
    for functions whose results are large or sensitive.
    """

    path: Path | None = None
    retention: float | None = None
    quota: int | None = None
    sample_rate: float | None = None
    max_bytes: float | None = None
    ignore_args: tuple[str, ...] = ()
    redact: ArgumentFilter | None = None
    serializer: Serializer | None = None
    storage: CaptureStorage | None = None
    production_mode: bool = True
    minimal_capture: bool = False

    @classmethod
    def build(
        cls,
        *,
        path: str | Path | None = None,
        retention: float | str | None = None,
        quota: int | None = None,
        sample_rate: float | str | None = None,
        max_bytes: float | str | None = None,
        ignore_args: Iterable[str] = (),
        redact: Iterable[str] | ArgumentFilter | None = None,
        serializer: Serializer | str | None = None,
        storage: CaptureStorage | None = None,
        production_mode: bool = True,
        minimal_capture: bool = False,
    ) -> CaptureConfig:
        """A config from decorator arguments; a wrong value raises `ConfigError` naming it."""
        if quota is not None and (
            isinstance(quota, bool) or not isinstance(quota, int) or quota < 1
        ):
            raise ConfigError("quota", quota, "use a whole number of captures (1 or more)")
        if isinstance(ignore_args, str):
            raise ConfigError("ignore_args", ignore_args, "use a list of argument names")
        if redact is None or isinstance(redact, ArgumentFilter):
            argument_filter = redact
        elif isinstance(redact, str):
            raise ConfigError("redact", redact, "use a list of name patterns or an ArgumentFilter")
        else:
            try:
                argument_filter = ArgumentFilter().extended(redact)
            except ValueError as exc:
                raise ConfigError("redact", redact, str(exc)) from None
        if storage is not None and not isinstance(storage, CaptureStorage):
            raise ConfigError("storage", storage, "use a snapy.CaptureStorage")
        return cls(
            path=None if path is None else Path(path).absolute(),  # fixed now, as the setting is
            retention=None if retention is None else parse_retention("retention", retention),
            quota=quota,
            sample_rate=None if sample_rate is None else parse_rate("sample_rate", sample_rate),
            max_bytes=None if max_bytes is None else parse_size("max_bytes", max_bytes),
            ignore_args=tuple(ignore_args),
            redact=argument_filter,
            serializer=None if serializer is None else _serializer(serializer),
            storage=storage,
            production_mode=bool(production_mode),
            minimal_capture=bool(minimal_capture),
        )


def _serializer(value: Serializer | str) -> Serializer:
    """The serializer an option names; an unknown one is a `ConfigError`, not a file error."""
    try:
        return resolve_serializer(value)
    except (SnapyError, TypeError):
        known = ", ".join(repr(name) for name in sorted(registered()))
        raise ConfigError(
            "serializer",
            value,
            f"use a registered serializer name ({known}) or an object with name, dumps and "
            "loads (snapy.register_serializer() registers one)",
        ) from None
