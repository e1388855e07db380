"""`@snapy.capture`: store real calls of a function, safely and at almost no cost.

Capture never changes a call's outcome. Arguments are encoded before the call (a function that
mutates its inputs does not change what was captured) and the outcome after it; anything that
goes wrong on the way (an unpicklable value, a bundle over `max_bytes`, a full disk, a lock
timeout) gives one `CaptureSkippedWarning` per function and cause, a log record, and the call's
own result or exception, untouched.
"""

from __future__ import annotations

import contextlib
import inspect
import itertools
import json
import logging
import math
import os
import random
import socket
import sys
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar, overload

from ._bundle import PendingBundle, Target
from ._config import CaptureConfig
from ._errors import CaptureSkippedWarning, ConfigError, SerializationError, SnapyWarning
from ._plain import Encoder, type_name
from ._redact import ArgumentFilter, Redactor
from ._serializers import Serializer
from ._settings import Settings, get_settings, on_settings_change
from ._signature import CallShape, argument_key
from ._store import CaptureStorage
from ._version import __version__
from ._wrapgen import GeneratedWrapper
from ._writer import writer

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger("snapy")

_NEVER = 2**62
# json.dumps(..., ensure_ascii=False) builds a new encoder on every call (~1 µs here).
_to_json = json.JSONEncoder(ensure_ascii=False).encode
_OWN_FILES = (os.path.dirname(os.path.abspath(__file__)) + os.sep, "<snapy wrapper of ")
_HOST = socket.gethostname()
_seq = itertools.count(1)
_pid = os.getpid()
_last_ns = 0
_default_filter = ArgumentFilter()
_wrappers: weakref.WeakSet[Any] = weakref.WeakSet()

_stores: dict[tuple[Any, ...], CaptureStorage] = {}
_stores_lock = threading.Lock()

_HINTS = {
    "unpicklable argument": "pass ignore_args=[...] to leave that argument out",
    "unpicklable result": "pass minimal_capture=True to store the arguments only",
    "unpicklable exception": "pass minimal_capture=True to store the exception's type only",
    "bundle over max_bytes": "raise max_bytes= or SNAPY_MAX_BYTES, or use ignore_args=[...]",
    "writer backlog full": "the disk is slower than the call rate; lower sample_rate=",
}
# Causes of a warning about a call that was captured all the same, with what to do.
_NOTES = {
    "clock went back": "check the system clock (NTP): captures are kept in the order of the "
    "times in their names",
}


def _after_fork() -> None:
    global _pid, _seq
    _pid = os.getpid()
    _seq = itertools.count(1)


os.register_at_fork(after_in_child=_after_fork)


def _now_ns() -> int:
    """Wall-clock time that never repeats or goes back within this process."""
    global _last_ns
    now = time.time_ns()
    if now <= _last_ns:
        now = _last_ns + 1
    _last_ns = now
    return now


def storage_for(
    settings: Settings,
    root: Path | None = None,
    retention: float | None = None,
    serializer: Serializer | None = None,
) -> CaptureStorage:
    """The shared `CaptureStorage` for these options (one per distinct combination)."""
    root = settings.capture_dir if root is None else root
    retention = settings.retention if retention is None else retention
    spec = (str(root), retention, settings.signing_key, serializer)
    store = _stores.get(spec)
    if store is None:
        with _stores_lock:
            store = _stores.setdefault(
                spec,
                CaptureStorage(
                    root,
                    retention=retention,
                    signing_key=settings.signing_key,
                    serializer=serializer,
                ),
            )
    return store


class _Control:
    """Per decorated function: options, counters, and the once-per-cause warnings."""

    def __init__(self, fn: Callable[..., Any], config: CaptureConfig) -> None:
        self.fn = fn
        self.config = config
        self.target = Target.of(fn)
        self.shape = CallShape(fn)
        self.kinds = self.shape.kinds()
        self.generator = inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn)
        self.instance_arg = _instance_arg(fn, self.shape)
        unknown = [n for n in config.ignore_args if n not in self.shape.names]
        if unknown:
            raise ConfigError(
                "ignore_args",
                list(config.ignore_args),
                f"{unknown!r} are not parameters of {self.target.name}"
                f"{self.shape.signature}; its parameters are {self.shape.names!r}",
            )
        self.leave_out = frozenset(config.ignore_args) | (
            {self.instance_arg} if self.instance_arg else set()
        )
        self.filter = config.redact or _default_filter
        self.captured = itertools.count()
        self.exhausted = False
        self.warned: set[str] = set()
        # Weak: the control is reachable from the module's wrapper registry, and a strong
        # reference would keep a dropped wrapper (and its registry entry) alive for good.
        self._wrapper: weakref.ref[GeneratedWrapper] | None = None

    @property
    def wrapper(self) -> GeneratedWrapper | None:
        return None if self._wrapper is None else self._wrapper()

    @wrapper.setter
    def wrapper(self, generated: GeneratedWrapper) -> None:
        self._wrapper = weakref.ref(generated)

    # -- switching ---------------------------------------------------------------------------

    def should_run(self, settings: Settings) -> bool:
        on = settings.capture_enabled or not self.config.production_mode
        return on and not self.exhausted

    def skip(self) -> int:
        """How many calls to let through before the next capture (geometric for a rate)."""
        rate = self.config.sample_rate
        if rate is None:
            rate = get_settings().sample_rate
        if rate >= 1.0:
            return 0
        if rate <= 0.0:
            return _NEVER
        return int(math.log(1.0 - random.random()) / math.log(1.0 - rate))

    def apply(self, settings: Settings) -> None:
        generated = self.wrapper
        if generated is not None:
            active = self.should_run(settings)
            generated.set_active(active, self.skip() if active else 0)

    # -- capturing ---------------------------------------------------------------------------

    def storage(self, settings: Settings) -> CaptureStorage:
        if self.config.storage is not None:
            return self.config.storage
        return storage_for(
            settings, self.config.path, self.config.retention, self.config.serializer
        )

    def prepare(self, bound: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """Encode the arguments before the call; None when this call is not captured."""
        if self.config.quota is not None and next(self.captured) >= self.config.quota:
            self.exhausted = True
            generated = self.wrapper
            if generated is not None:
                generated.set_active(False)
            log.debug(
                "capture of %s stopped: quota of %d reached", self.target.name, self.config.quota
            )
            return None
        settings = get_settings()
        storage = self.storage(settings)
        try:
            redactor = Redactor(self.filter, storage.redaction_key())
        except Exception as exc:
            self.warn("redaction key unavailable", f"{type(exc).__name__}: {exc}")
            return None
        values = {k: v for k, v in bound.items() if k not in self.leave_out}
        redacted = redactor.arguments(values)
        encoder = Encoder(storage.serializer)
        tree = {}
        for name, value in redacted.items():
            try:
                tree[name] = encoder.encode(value)
            except SerializationError as exc:
                self.warn("unpicklable argument", f"argument {name!r}: {exc}")
                return None
        text = _to_json(tree)
        limit = self.config.max_bytes or settings.max_bytes
        size = _utf8_size(text)
        if size > limit:
            self.warn(
                "bundle over max_bytes", f"arguments alone are {size} bytes, limit {limit:.0f}"
            )
            return None
        key = argument_key(self.target.name, redacted)
        return settings, storage, redactor, encoder, tree, text, key, limit

    def finish(
        self,
        prepared: tuple[Any, ...],
        outcome: str,
        value: Any,
        duration_ns: int,
        spent: int,
        bound: Mapping[str, Any],
    ) -> None:
        """Encode the outcome and hand the bundle to the writer."""
        t0 = time.perf_counter_ns()
        _settings, storage, redactor, encoder, tree, text, key, limit = prepared
        if self.generator:
            outcome, node = "generator", {"type": type_name(type(value))}
        elif self.config.minimal_capture:
            node = {"type": type_name(type(value))}
            outcome = "exception type" if outcome == "exception" else "result type"
        else:
            try:
                node = encoder.encode(redactor.value(value))
            except SerializationError as exc:
                self.warn(f"unpicklable {outcome}", str(exc))
                return
        value_text = _to_json(node)
        size = _utf8_size(text) + _utf8_size(value_text)
        if size > limit:
            self.warn("bundle over max_bytes", f"bundle is {size} bytes, limit {limit:.0f}")
            return
        now = _now_ns()
        meta: dict[str, Any] = {
            "duration_ns": duration_ns,
            "pid": _pid,
            "host": _HOST,
            "thread": threading.current_thread().name,
            "snapy": __version__,
        }
        if self.instance_arg and self.instance_arg in bound:
            owner = bound[self.instance_arg]
            # `cls` of a classmethod is the class itself (a subclass when called on one).
            cls = owner if self.instance_arg == "cls" and isinstance(owner, type) else type(owner)
            meta["instance"] = type_name(cls)
        bundle = PendingBundle(
            self.target,
            key,
            now,
            f"{_pid}.{next(_seq)}",
            tree,
            text,
            self.kinds,
            outcome,
            node,
            value_text,
            meta,
        )
        if not writer.submit(storage, bundle, self):
            self.warn("writer backlog full", "more than 10000 captures are waiting")
            return
        if log.isEnabledFor(logging.DEBUG):
            spent += time.perf_counter_ns() - t0
            log.debug(
                "captured %s key=%s size=%d outcome=%s in %.1f us",
                self.target.name,
                key,
                size,
                outcome,
                spent / 1000,
            )

    def warn(self, cause: str, detail: str) -> None:
        """Log every skipped capture; warn once per function and cause.

        A cause of `_NOTES` is about a capture that was made all the same: its warning is a
        `SnapyWarning`, not a `CaptureSkippedWarning`.
        """
        note = _NOTES.get(cause)
        if note is None:
            log.debug("skipped capture of %s: %s (%s)", self.target.name, cause, detail)
        if cause in self.warned:
            return
        self.warned.add(cause)
        category: type[SnapyWarning]
        if note is None:
            hint = _HINTS.get(cause, "check the capture folder (SNAPY_CAPTURE_DIR)")
            what, category = "did not capture a call", CaptureSkippedWarning
        else:
            hint, what, category = note, "captured a call", SnapyWarning
        message = (
            f"snapy {what} of {self.target.name}: {cause} ({detail}); "
            f"the call itself went on unchanged; {hint}"
        )
        log.warning(message)
        # Where warnings are errors, the log record above still tells; the call goes on.
        with contextlib.suppress(Warning):
            warnings.warn(message, category, stacklevel=_caller_level())


def _caller_level() -> int:
    """The `stacklevel` (for a `warnings.warn` in the caller) of the first frame outside snapy.

    Skipped captures are found at different depths (before the call, after it, on flush), and
    the generated wrapper is a frame of its own; the warning should point at the user's line.
    """
    level, frame = 2, sys._getframe(2)  # level 1 is the caller's own frame, inside snapy
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_OWN_FILES):
        frame = frame.f_back
        level += 1
    return level


def _utf8_size(text: str) -> int:
    """Bytes of `text` once written; `len()` counts characters (an "é" is two bytes)."""
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def _instance_arg(fn: Callable[..., Any], shape: CallShape) -> str | None:
    """`self`/`cls` of a function defined in a class body (left out of keys and files)."""
    parts = fn.__qualname__.split(".")
    if len(parts) > 1 and parts[-2] != "<locals>" and shape.positional:
        first = shape.positional[0]
        if first in ("self", "cls"):
            return first
    return None


def _on_call(ctl: _Control, bound: dict[str, Any]) -> Any:
    t0 = time.perf_counter_ns()
    prepared = ctl.prepare(bound)
    args, kwargs = CallShape.split(bound, ctl.kinds)
    if prepared is None:
        return ctl.fn(*args, **kwargs)
    spent = time.perf_counter_ns() - t0
    try:
        t1 = time.perf_counter_ns()
        result = ctl.fn(*args, **kwargs)
    except Exception as exc:
        _finish(ctl, prepared, "exception", exc, time.perf_counter_ns() - t1, spent, bound)
        raise
    _finish(ctl, prepared, "result", result, time.perf_counter_ns() - t1, spent, bound)
    return result


async def _on_call_async(ctl: _Control, bound: dict[str, Any]) -> Any:
    t0 = time.perf_counter_ns()
    prepared = ctl.prepare(bound)
    args, kwargs = CallShape.split(bound, ctl.kinds)
    if prepared is None:
        return await ctl.fn(*args, **kwargs)
    spent = time.perf_counter_ns() - t0
    try:
        t1 = time.perf_counter_ns()
        result = await ctl.fn(*args, **kwargs)
    except Exception as exc:
        _finish(ctl, prepared, "exception", exc, time.perf_counter_ns() - t1, spent, bound)
        raise
    _finish(ctl, prepared, "result", result, time.perf_counter_ns() - t1, spent, bound)
    return result


def _finish(
    ctl: _Control,
    prepared: tuple[Any, ...],
    outcome: str,
    value: Any,
    took: int,
    spent: int,
    bound: Mapping[str, Any],
) -> None:
    try:
        ctl.finish(prepared, outcome, value, took, spent, bound)
        if writer.problems:
            writer.deliver()
    except Exception as exc:  # capture must never change the call's outcome
        ctl.warn("internal error", f"{type(exc).__name__}: {exc}")


_announced: list[bool] = [False]


def _announce(settings: Settings) -> None:
    """Say once, on the `snapy` logger, that this process captures and why."""
    if settings.capture_enabled and not _announced[0]:
        _announced[0] = True
        log.info(
            "capture is on (SNAPY_CAPTURE_ENABLED from %s); writing to %s",
            settings.source_of("capture_enabled"),
            os.path.abspath(settings.capture_dir),
        )
    elif not settings.capture_enabled:
        _announced[0] = False


def _apply_settings(settings: Settings) -> None:
    _announce(settings)
    for fn in list(_wrappers):
        fn.__snapy_capture__.apply(settings)


on_settings_change(_apply_settings)


@overload
def capture(fn: F, /) -> F: ...


@overload
def capture(
    *,
    path: str | Path | None = None,
    retention: float | str | None = None,
    quota: int | None = None,
    ignore_args: Iterable[str] = (),
    redact: Iterable[str] | ArgumentFilter | None = None,
    sample_rate: float | str | None = None,
    max_bytes: float | str | None = None,
    serializer: Serializer | str | None = None,
    storage: CaptureStorage | None = None,
    production_mode: bool = True,
    minimal_capture: bool = False,
    config: CaptureConfig | None = None,
) -> Callable[[F], F]: ...


def capture(fn: Any = None, /, *, config: CaptureConfig | None = None, **options: Any) -> Any:
    """Capture real calls of the decorated function while capture is enabled.

    Use bare (`@snapy.capture`) or with options (`@snapy.capture(retention=5,
    ignore_args=["request_id"])`); see `CaptureConfig` for what each does. Works on functions,
    async functions, generator functions (arguments only; the generator is not consumed) and on
    instance, class and static methods (`self`/`cls` are not stored). Keep it the outermost
    decorator, so it sees the arguments the caller passed.
    """
    if config is not None and options:
        raise ConfigError("config", config, "pass either config= or separate options, not both")
    cfg = config if config is not None else CaptureConfig.build(**options)
    if fn is None:
        return lambda f: _decorate(f, cfg)
    return _decorate(fn, cfg)


#: The seed's name for `capture`.
capture_args = capture


def _decorate(fn: Any, config: CaptureConfig) -> Any:
    if isinstance(fn, classmethod | staticmethod):
        return type(fn)(_decorate(fn.__func__, config))
    if not callable(fn) or not hasattr(fn, "__code__"):
        raise TypeError(f"@snapy.capture needs a function, got {type(fn).__name__} {fn!r}")
    ctl = _Control(fn, config)
    is_async = inspect.iscoroutinefunction(fn)
    generated = GeneratedWrapper(fn, ctl, _on_call_async if is_async else _on_call, is_async)
    ctl.wrapper = generated
    wrapper = generated.function
    wrapper.__snapy_generated__ = generated  # type: ignore[attr-defined]
    wrapper.__snapy_capture__ = ctl  # type: ignore[attr-defined]
    wrapper.__snapy_unwrapped__ = fn  # type: ignore[attr-defined]
    _wrappers.add(wrapper)
    settings = get_settings()
    _announce(settings)
    ctl.apply(settings)
    return wrapper


def flush_captures(timeout: float | None = None) -> bool:
    """Wait until this process's captured calls are on disk; False on timeout.

    Writes happen on a background thread; `load_capture` and process exit flush on their own.
    Problems found while writing are delivered as warnings in the calling thread.
    """
    done = writer.flush(timeout)
    writer.deliver()
    return done
