"""Generated `<fn>_mock` wrappers: replay a recorded call, record a new one, or explain the miss.

For each call the wrapper binds the arguments (exact-signature code, no `Signature.bind`),
redacts them, and computes the argument key. A recording with that key for this test is
replayed in recorded order; without one, the mode decides: record the real call, or raise
`RecordingNotFoundError`.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ._bundle import Target
from ._capture import _instance_arg
from ._errors import ConfigError, CorruptFileError, RecordingNotFoundError, SnapyError, StoreError
from ._miss import miss_error
from ._modes import Mode
from ._plain import Encoder
from ._recordings import Recording, RecordingSet, RecordingStore
from ._redact import ArgumentFilter, Redacted, Redactor
from ._settings import get_settings
from ._signature import CallShape, argument_key
from ._wrapgen import GeneratedWrapper

log = logging.getLogger("snapy")
MatchOn = Iterable[str] | Callable[[dict[str, Any]], Any] | None
_stores: dict[tuple[str, bytes | None], RecordingStore] = {}
_stores_lock = threading.Lock()
_MUTABLE = (list, dict, set, bytearray)
_OUTCOMES = ("result", "exception", "generator")


@dataclass(frozen=True)
class Call:
    """One call of a mock: its arguments (redacted), outcome, and where the outcome came from."""

    arguments: dict[str, Any]
    outcome: Literal["result", "exception"]
    value: Any
    source: Literal["replayed", "recorded"]


def recording_store(root: Path | str) -> RecordingStore:
    """The shared `RecordingStore` for `root` in this process (so unused-recording reports
    cover every mock that used it)."""
    key = get_settings().signing_key
    spec = (os.path.abspath(root), key)
    with _stores_lock:
        store = _stores.get(spec)
        if store is None:
            store = _stores[spec] = RecordingStore(root, signing_key=key)
    return store


def pytest_test_id() -> tuple[Path, str] | None:
    """(recordings folder, test id) of the pytest test running now, if any."""
    current = os.environ.get("PYTEST_CURRENT_TEST")
    if not current:
        return None
    node = current.rsplit(" (", 1)[0]
    file, _, name = node.partition("::")
    path = _test_file(file)
    return path.parent / "__recordings__", f"{path.stem}::{name.replace('::', '.')}"


def _test_file(file: str) -> Path:
    """The test file of a node id, which is relative to pytest's rootdir, not to the current
    folder: they differ when pytest runs from a subfolder or a test changes folder."""
    path = Path(file)
    if path.is_file():
        return path
    suffix = os.sep + os.path.normpath(file)
    for module in list(sys.modules.values()):
        found = getattr(module, "__file__", None)
        if isinstance(found, str) and found.endswith(suffix):
            return Path(found)
    return path


class _Replayer:
    """State of one generated mock: options, its recordings, and the calls it has seen."""

    def __init__(
        self,
        fn: Callable[..., Any],
        store: RecordingStore,
        test_id: str,
        mode: Mode,
        ignore_args: Iterable[str],
        match_on: MatchOn,
        repeat_last: bool,
        redact: ArgumentFilter,
        rerun: str | None = None,
    ) -> None:
        self.fn = fn
        self.rerun = rerun
        self.store = store
        self.test_id = test_id
        self.mode = mode
        self.target = Target.of(fn)
        self.shape = CallShape(fn)
        self.kinds = self.shape.kinds()
        # Stored in every recording and shown by misses: a secret default stays hidden.
        self.signature = signature_text(self.shape.signature, redact)
        self.generator = inspect.isgeneratorfunction(fn)
        ignored = list(ignore_args)
        instance = _instance_arg(fn, self.shape)
        unknown = [n for n in ignored if n not in self.shape.names]
        if unknown:
            raise ConfigError(
                "ignore_args",
                ignored,
                f"{unknown!r} are not parameters of {self.target.name}{self.signature}; "
                f"its parameters are {self.shape.names!r}",
            )
        self.leave_out = frozenset(ignored) | ({instance} if instance else set())
        self.match_on: Callable[[dict[str, Any]], Any] | None = None
        if callable(match_on):
            self.match_on = match_on
        elif match_on is not None:
            names = [match_on] if isinstance(match_on, str) else list(match_on)
            unknown = [n for n in names if n not in self.shape.names]
            if unknown:
                raise ConfigError(
                    "match_on",
                    names,
                    f"{unknown!r} are not parameters of {self.target.name}{self.signature}; "
                    f"its parameters are {self.shape.names!r}",
                )
            self.match_on = lambda arguments: {n: arguments.get(n) for n in names}
        self.repeat_last = repeat_last
        self.filter = redact
        self.calls: list[Call] = []
        self._rset: RecordingSet | None = None

    def skip(self) -> int:
        return 0

    # -- the per-call path --------------------------------------------------------------------

    def recordings(self) -> RecordingSet:
        if self._rset is None:
            rset = self.store.recordings(self.test_id, self.target)
            if self.mode is Mode.ALL:
                self.store.reset_once(rset, self.signature)
            self._rset = rset
        return self._rset

    def key_of(self, bound: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
        values = {k: v for k, v in bound.items() if k not in self.leave_out}
        redacted = Redactor(self.filter, self.store.redaction_key()).arguments(values)
        basis = redacted if self.match_on is None else self.match_on(redacted)
        if not isinstance(basis, dict):
            basis = {"match_on": basis}
        return redacted, argument_key(self.target.name, basis)

    def lookup(self, bound: Mapping[str, Any]) -> tuple[dict[str, Any], str, Recording | None]:
        """The recording to replay for this call, or None when the call must run for real."""
        __tracebackhide__ = True
        redacted, key = self.key_of(bound)
        rset = self.recordings()
        if self.mode is Mode.ALL:
            return redacted, key, None
        # In `new` mode a call whose recordings are used up is recorded too, so a clock or a
        # counter read three times gets three recordings, replayed in order.
        with rset.lock:
            found, count = rset.take(key, self.repeat_last and self.mode is Mode.REPLAY)
        # The store checked each loaded file's fields and values (`check_body`).
        if found is not None and found.error is None and found.body["outcome"] not in _OUTCOMES:
            found.error = CorruptFileError(
                found.path, f"unknown outcome {found.body['outcome']!r} in the recording"
            )
        if found is not None and found.error is not None:
            if self.mode is Mode.REPLAY:
                raise self._miss(rset, key, redacted, count, broken=found)
            found = None  # `new` records the call again
        if found is None and self.mode is Mode.REPLAY:
            raise self._miss(rset, key, redacted, count)
        return redacted, key, found

    def replay(self, rec: Recording, bound: Mapping[str, Any], redacted: dict[str, Any]) -> Any:
        __tracebackhide__ = True
        outcome = rec.body["outcome"]
        try:
            decoder = rec.decoder()
            changes = {
                name: decoder.decode(node)
                for name, node in rec.body.get("mutations", {}).items()
                if name in bound
            }
            value = decoder.decode(rec.body["value"])
            if outcome == "exception" and not isinstance(value, BaseException):
                raise TypeError(f"the recorded exception is a {type(value).__name__} value")
            if outcome == "generator" and type(value) is not list:
                raise TypeError(f"the recorded items are a {type(value).__name__} value")
            for name, new in changes.items():
                if not _fits(bound[name], new):
                    raise TypeError(
                        f"argument {name!r} is a {type(bound[name]).__name__} value; the "
                        f"recording makes it a {type(new).__name__} value"
                    )
        except Exception as exc:  # an unpickler can raise anything
            raise self._unreadable(rec, redacted, exc) from None
        for name, new in changes.items():
            _apply_mutation(bound[name], new)
        self.calls.append(
            Call(redacted, "exception" if outcome == "exception" else "result", value, "replayed")
        )
        if outcome == "exception":
            raise value
        if outcome == "generator":
            return (item for item in value)
        return value

    def record(
        self,
        key: str,
        redacted: dict[str, Any],
        before: dict[str, Any],
        bound: Mapping[str, Any],
        outcome: str,
        value: Any,
    ) -> None:
        encoder = Encoder(self.store.serializer)
        redactor = Redactor(self.filter, self.store.redaction_key())
        mutations = {}
        for name, node in before.items():
            if isinstance(redacted.get(name), Redacted):
                continue  # a secret argument: what the call put in it is a secret too
            if isinstance(bound.get(name), _MUTABLE) or hasattr(bound.get(name), "__dict__"):
                after = encoder.encode(redactor.value(bound[name]))
                if _json(after) != _json(node):
                    mutations[name] = after
        body: dict[str, Any] = {
            "target": self.target.name,
            "test": self.test_id,
            "key": key,
            "kinds": self.kinds,
            "signature": self.signature,
            "arguments": before,
            "outcome": outcome,
            "value": encoder.encode(redactor.value(value)),
        }
        if mutations:
            body["mutations"] = mutations
        rset = self.recordings()
        if rset.signature is None:
            rset.signature = self.signature
        self.store.append(rset, body)
        self.calls.append(
            Call(redacted, "exception" if outcome == "exception" else "result", value, "recorded")
        )

    def encode_arguments(self, redacted: dict[str, Any]) -> dict[str, Any]:
        encoder = Encoder(self.store.serializer)
        return {name: encoder.encode(value) for name, value in redacted.items()}

    def _unreadable(
        self, rec: Recording, redacted: dict[str, Any], exc: Exception
    ) -> RecordingNotFoundError:
        """The miss for a recording whose values cannot be rebuilt (a class gone, a damaged
        or hostile file): it names the file, as an unreadable envelope does."""
        if isinstance(exc, StoreError):
            rec.error = exc
        else:
            cause = f"cannot rebuild the recorded values ({type(exc).__name__}: {exc})"
            rec.error = CorruptFileError(rec.path, cause)
        rset = self.recordings()
        return self._miss(rset, rec.key, redacted, len(rset.by_key.get(rec.key, [])), broken=rec)

    def _miss(
        self,
        rset: RecordingSet,
        key: str,
        call: dict[str, Any],
        count: int,
        broken: Recording | None = None,
    ) -> RecordingNotFoundError:
        common: dict[str, Any] = {
            "target": self.target.name,
            "qualname": self.target.qualname,
            "test_id": self.test_id,
            "call": call,
            "folder": rset.folder,
            "rerun": self.rerun,
        }
        if broken is not None:
            return miss_error(
                kind="unreadable",
                reason=f"the recording of these arguments cannot be read: {broken.error}",
                candidates=[],
                **common,
            )
        if count:
            return miss_error(
                kind="exhausted",
                reason=f"all {count} recording(s) of these arguments were used by earlier calls "
                "and on_exhausted='error'; record the extra call, or pass "
                "on_exhausted='repeat_last'",
                candidates=rset.by_key[key],
                **common,
            )
        readable = [r for r in rset.recordings if r.error is None]
        if not rset.recordings:
            return miss_error(
                kind="no recordings",
                reason=f"this test has no recordings of {self.target.name} yet",
                candidates=[],
                **common,
            )
        if rset.signature is not None and rset.signature != self.signature:
            return miss_error(
                kind="signature changed",
                reason=f"the recordings were made for {self.target.qualname}{rset.signature}, "
                f"but the function is now {self.target.qualname}{self.signature}; "
                "re-record them with SIDE_EFFECT_CAPTURE=all",
                candidates=readable,
                command_value="all",
                **common,
            )
        return miss_error(
            kind="no match",
            reason=f"none of the {len(readable)} recording(s) "
            "of this target in this test has these arguments",
            candidates=readable,
            **common,
        )


class _Hidden:
    """Stands for a secret default value in the text of a signature."""

    def __repr__(self) -> str:
        return "<redacted>"


def signature_text(signature: inspect.Signature, argument_filter: ArgumentFilter) -> str:
    """`signature` as recordings store it, with secrets in default values hidden.

    `(user, api_key='sk-live-1')` reads `(user, api_key=<redacted>)`, and a default mapping
    keeps its secret keys hidden the way arguments do: `(headers={'auth': <redacted>})`.
    """
    redactor = Redactor(argument_filter, b"snapy signature text")
    params = []
    for p in signature.parameters.values():
        if p.default is not p.empty:
            if argument_filter.is_sensitive(p.name):
                p = p.replace(default=_Hidden())
            else:
                p = p.replace(default=redactor.value(p.default))
        params.append(p)
    return str(signature.replace(parameters=params))


def _json(node: Any) -> str:
    return json.dumps(node, sort_keys=True, ensure_ascii=False)


def _fits(target: Any, new: Any) -> bool:
    """Whether `_apply_mutation` can make `target` equal `new` (a file may hold anything)."""
    if isinstance(target, list):
        return type(new) is list
    if isinstance(target, bytearray):
        return isinstance(new, bytes | bytearray)
    if isinstance(target, dict):
        return isinstance(new, dict)
    if isinstance(target, set):
        return isinstance(new, set | frozenset)
    return True


def _apply_mutation(target: Any, new: Any) -> None:
    """Change `target` in place so it equals `new`, as the real call did when recorded."""
    if isinstance(target, list | bytearray):
        target[:] = new
    elif isinstance(target, dict | set):
        target.clear()
        target.update(new)
    elif hasattr(target, "__dict__") and hasattr(new, "__dict__"):
        vars(target).clear()
        vars(target).update(vars(new))


def _sync_call(rp: _Replayer, bound: dict[str, Any]) -> Any:
    __tracebackhide__ = True
    redacted, key, found = rp.lookup(bound)
    if found is not None:
        return rp.replay(found, bound, redacted)
    before = rp.encode_arguments(redacted)
    args, kwargs = CallShape.split(bound, rp.kinds)
    try:
        result = rp.fn(*args, **kwargs)
        if rp.generator:
            result = list(result)
    except Exception as exc:
        rp.record(key, redacted, before, bound, "exception", exc)
        raise
    rp.record(key, redacted, before, bound, "generator" if rp.generator else "result", result)
    return (item for item in result) if rp.generator else result


async def _async_call(rp: _Replayer, bound: dict[str, Any]) -> Any:
    __tracebackhide__ = True
    redacted, key, found = rp.lookup(bound)
    if found is not None:
        return rp.replay(found, bound, redacted)
    before = rp.encode_arguments(redacted)
    args, kwargs = CallShape.split(bound, rp.kinds)
    try:
        result = await rp.fn(*args, **kwargs)
    except Exception as exc:
        rp.record(key, redacted, before, bound, "exception", exc)
        raise
    rp.record(key, redacted, before, bound, "result", result)
    return result


_announced: set[tuple[Mode, str]] = set()


def _announce(mode: Mode, source: str) -> None:
    """Say once per process that this run records side effects, and why."""
    if (mode, source) in _announced:
        return
    _announced.add((mode, source))
    what = "every call" if mode is Mode.ALL else "calls that have no recording"
    message = f"snapy: recording {what} (SIDE_EFFECT_CAPTURE={mode.value}, from {source})"
    log.info(message)
    print(message, file=sys.stderr)


def mock(
    fn: Callable[..., Any],
    *,
    recordings: Path | str | RecordingStore | None = None,
    test_id: str | None = None,
    mode: Mode | str | None = None,
    ignore_args: Iterable[str] = (),
    match_on: MatchOn = None,
    on_exhausted: Literal["repeat_last", "error"] = "repeat_last",
    redact: Iterable[str] | ArgumentFilter | None = None,
    rerun: str | None = None,
) -> Any:
    """A `<fn name>_mock` wrapper that replays `fn`'s recorded calls for one test.

    `recordings` is the `__recordings__` folder (default: next to the running pytest test),
    `test_id` names the test (`"test_module::TestClass.test_name"`). `mode` defaults to
    `SIDE_EFFECT_CAPTURE`. `ignore_args` leaves arguments out of the key and the files;
    `match_on` picks the arguments that decide a match (names, or a function of the redacted
    arguments). After a key's recordings are used up, `on_exhausted="repeat_last"` replays the
    last one again and `"error"` raises. `rerun` is the command that runs this test, shown in
    a miss report with `SIDE_EFFECT_CAPTURE=1` in front (under pytest the running test's node id
    is used). The wrapper has `fn`'s signature, `__wrapped__ = fn` and `.calls`.
    """
    if on_exhausted not in ("repeat_last", "error"):
        raise ConfigError("on_exhausted", on_exhausted, "use 'repeat_last' or 'error'")
    if isinstance(recordings, RecordingStore):
        store = recordings
    else:
        detected = pytest_test_id()
        if recordings is None and detected is not None:
            recordings = detected[0]
        if test_id is None and detected is not None:
            test_id = detected[1]
        if recordings is None or test_id is None:
            raise SnapyError(
                f"snapy.mock({getattr(fn, '__qualname__', fn)!r}) needs recordings= (the "
                "__recordings__ folder) and test_id= outside a pytest test"
            )
        store = recording_store(recordings)
    if test_id is None:
        detected = pytest_test_id()
        if detected is None:
            raise SnapyError("snapy.mock() needs test_id= outside a pytest test")
        test_id = detected[1]
    if mode is None:
        settings = get_settings()
        chosen = settings.side_effect_capture
        if chosen is not Mode.REPLAY:
            _announce(chosen, settings.source_of("side_effect_capture"))
    else:
        chosen = Mode.parse(mode)
    if redact is None or isinstance(redact, ArgumentFilter):
        argument_filter = redact or ArgumentFilter()
    else:
        argument_filter = ArgumentFilter().extended(redact)
    rp = _Replayer(
        fn,
        store,
        test_id,
        chosen,
        ignore_args,
        match_on,
        on_exhausted == "repeat_last",
        argument_filter,
        rerun,
    )
    if chosen is Mode.ALL:
        # Forget the old recordings now, not at the first call: a test that no longer calls
        # the target must not keep them.
        rp.recordings()
    is_async = inspect.iscoroutinefunction(fn)
    generated = GeneratedWrapper(fn, rp, _async_call if is_async else _sync_call, is_async)
    generated.set_active(True)
    wrapper = generated.function
    wrapper.__name__ = f"{fn.__name__}_mock"
    wrapper.__qualname__ = f"{fn.__qualname__}_mock"
    wrapper.calls = rp.calls  # type: ignore[attr-defined]
    wrapper.mode = chosen  # type: ignore[attr-defined]
    wrapper.recordings_folder = store.folder(test_id, rp.target)  # type: ignore[attr-defined]
    wrapper.__snapy_replayer__ = rp  # type: ignore[attr-defined]
    return wrapper
