"""Replay modes, selected by `SIDE_EFFECT_CAPTURE` or the `mode=` option."""

from __future__ import annotations

from enum import StrEnum

from ._errors import ConfigError

_ALIASES = {
    "": "replay",
    "0": "replay",
    "false": "replay",
    "no": "replay",
    "off": "replay",
    "replay": "replay",
    "1": "new",
    "true": "new",
    "yes": "new",
    "on": "new",
    "new": "new",
    "all": "all",
}


class Mode(StrEnum):
    """What a generated mock does with a call.

    `replay` (default): recorded calls are replayed, any other call is an error.
    `new`: recorded calls are replayed, the others run for real and are recorded.
    `all`: every call runs for real and is recorded; afterwards the test's recordings hold
    exactly this run's calls.
    """

    REPLAY = "replay"
    NEW = "new"
    ALL = "all"

    @classmethod
    def parse(cls, value: object, name: str = "mode") -> Mode:
        """A mode from an option or `SIDE_EFFECT_CAPTURE`; anything else lists the valid values."""
        if isinstance(value, Mode):
            return value
        if isinstance(value, str) and value.strip().lower() in _ALIASES:
            return cls(_ALIASES[value.strip().lower()])
        raise ConfigError(
            name, value, "use replay (or unset, 0, false), new (or 1, true, yes) or all"
        )
