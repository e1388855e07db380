"""The tracer's hot path in C (`_speedups.c`): optional, absent when it could not be built."""

from collections.abc import Callable
from typing import Any

class Start:
    """sys.monitoring PY_START callback of the recording tool (3.12+); with an `owner`, the
    tagged variant (records `(thread ident, record)` pairs)."""

    def __init__(
        self,
        *,
        log: list[Any],
        refill: Callable[[], int],
        capture_args: bool,
        keep: frozenset[type],
        short: int,
        arguments: Callable[..., tuple[Any, ...]],
        infos: dict[int, Any],
        call_key: str,
        owner: int | None = None,
        every_thread: bool = False,
        hidden: dict[int, int] | None = None,
        limit: int = 0,
        full: Callable[[], None] | None = None,
    ) -> None: ...
    def __call__(self, code: Any, offset: int) -> None: ...
    def take(self) -> bool: ...

class Return:
    """sys.monitoring PY_RETURN callback of the recording tool (3.12+)."""

    def __init__(
        self,
        *,
        log: list[Any],
        keep: frozenset[type] | None,
        freeze: Callable[[Any], Any],
        owner: int | None = None,
        every_thread: bool = False,
        hidden: dict[int, int] | None = None,
    ) -> None: ...
    def __call__(self, code: Any, offset: int, value: Any) -> None: ...

class Tracer:
    """One thread's C trace function (3.11)."""

    fast: set[int] | frozenset[int]
    def __init__(
        self,
        *,
        fast: set[int] | frozenset[int],
        refill: Callable[[], int],
        modules: dict[str, bool | None],
        module_matches: Callable[..., bool | None],
        record: Callable[..., Any],
        local_function: Callable[..., Any],
        freeze: Callable[[Any], Any],
        keep_returns: frozenset[type] | None,
        capture_args: bool,
        keep: frozenset[type],
        short: int,
        arguments: Callable[..., tuple[Any, ...]],
        infos: dict[int, Any],
        call_key: str,
        log: list[Any],
    ) -> None: ...
    def __call__(self, frame: Any, event: str, arg: Any) -> Any: ...
    def install(self) -> None: ...
    def take(self) -> bool: ...
