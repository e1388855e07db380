"""`snapy.replaying("pkg.mod.fn")`: patch a target with its generated mock.

The target is patched where it is looked up, as `unittest.mock.patch` does: code that did
`from pkg.mod import fn` before the patch keeps its own reference, so patch the name the code
under test uses (`app.billing.fetch_rate`, not `app.rates.fetch_rate`).
"""

from __future__ import annotations

import functools
import importlib
import inspect
import pkgutil
from collections.abc import Callable
from types import ModuleType, TracebackType
from typing import Any, TypeVar

from ._errors import ConfigError, TargetNotFoundError
from ._load import nearest
from ._replay import mock

F = TypeVar("F", bound=Callable[..., Any])


def resolve(target: str) -> tuple[Any, str, Any]:
    """(owner, attribute name, raw attribute) for a dotted `target`; a missing part raises
    `TargetNotFoundError` listing the names that do exist there."""
    text = target.replace(":", ".")
    parts = text.split(".")
    if len(parts) < 2 or not all(parts):
        raise ConfigError(
            "target", target, "use 'package.module.function' or 'package.module:Class.method'"
        )
    for i in range(len(parts) - 1, 0, -1):
        module_name = ".".join(parts[:i])
        try:
            owner: Any = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and not module_name.startswith(exc.name):
                raise  # the module exists but one of its own imports is missing
            continue
        where = f"module {module_name!r}"
        for j in range(i, len(parts) - 1):
            name = parts[j]
            if not hasattr(owner, name):
                raise TargetNotFoundError(target, where, name, nearest(name, _names(owner)))
            owner = getattr(owner, name)
            where = f"{_kind(owner)} {'.'.join(parts[: j + 1])!r}"
        attr = parts[-1]
        if isinstance(owner, type):
            try:
                raw = inspect.getattr_static(owner, attr)
            except AttributeError:
                raw = None
        else:
            raw = getattr(owner, attr, None)
        if raw is None:
            raise TargetNotFoundError(target, where, attr, nearest(attr, _names(owner)))
        return owner, attr, raw
    modules = [m.name for m in pkgutil.iter_modules()]
    raise TargetNotFoundError(target, "sys.path", parts[0], nearest(parts[0], modules))


def _names(owner: Any) -> list[str]:
    names = {n for n in dir(owner) if not n.startswith("__")}
    if isinstance(owner, ModuleType) and hasattr(owner, "__path__"):
        names.update(m.name for m in pkgutil.iter_modules(owner.__path__))  # not imported yet
    return sorted(names)


def _kind(owner: Any) -> str:
    if isinstance(owner, type):
        return "class"
    return "module" if isinstance(owner, ModuleType) else "object"


class replaying:  # lower case: used like a function, as unittest.mock.patch is
    """Patch `target` with a generated mock for the duration of a block, test or start/stop.

        with snapy.replaying("app.rates.fetch_rate", recordings=..., test_id=...) as fetch:
            ...

    Works as a context manager (yields the mock), a decorator of sync and async functions,
    and with `start()`/`stop()`. Options are those of `snapy.mock`. Instance methods keep the
    instance out of the argument key; class and static methods stay class and static methods.
    """

    def __init__(self, target: str, **options: Any) -> None:
        self.target = target
        self.options = options
        self._saved: list[tuple[Any, str, Any, bool, Any, Any]] = []

    def start(self) -> Any:
        owner, attr, raw = resolve(self.target)
        if isinstance(raw, classmethod | staticmethod):
            wrapper = mock(raw.__func__, **self.options)
            replacement: Any = type(raw)(wrapper)
        else:
            if not callable(raw):
                raise TypeError(
                    f"cannot replay {self.target!r}: it is a {type(raw).__name__}, not a function"
                )
            wrapper = mock(raw, **self.options)
            replacement = wrapper
        # A class or instance that inherits `attr` must lose the patch again, not keep a copy.
        own = getattr(owner, "__dict__", None)
        had_own = own is None or attr in own
        self._saved.append((owner, attr, raw, had_own, wrapper, replacement))
        setattr(owner, attr, replacement)
        return wrapper

    def pause(self) -> None:
        """Put the original back for a moment (a snapshot write must see the real `open`)."""
        owner, attr, raw, had_own, _, _ = self._saved[-1]
        if had_own:
            setattr(owner, attr, raw)
        else:
            delattr(owner, attr)

    def resume(self) -> None:
        """Install the mock again after `pause()`."""
        owner, attr, _, _, _, replacement = self._saved[-1]
        setattr(owner, attr, replacement)

    def stop(self) -> None:
        """Restore the original and write the index of what was recorded."""
        self.pause()
        wrapper = self._saved.pop()[4]
        wrapper.__snapy_replayer__.store.flush()

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __call__(self, fn: F) -> F:
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with replaying(self.target, **self.options):
                    return await fn(*args, **kwargs)

            return run_async  # type: ignore[return-value]

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            with replaying(self.target, **self.options):
                return fn(*args, **kwargs)

        return run  # type: ignore[return-value]
