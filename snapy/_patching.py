"""`snapy.replaying("pkg.mod.fn")`: patch a target with its generated mock.

The target is patched where it is looked up, as `unittest.mock.patch` does: code that did
`from pkg.mod import fn` before the patch keeps its own reference, so patch the name the code
under test uses (`app.billing.fetch_rate`, not `app.rates.fetch_rate`).
"""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

from ._errors import TargetNotFoundError
from ._load import nearest
from ._replay import mock

F = TypeVar("F", bound=Callable[..., Any])


def resolve(target: str) -> tuple[Any, str, Any]:
    """(owner, attribute name, raw attribute) for a dotted `target`; a missing part raises
    `TargetNotFoundError` listing the names that do exist there."""
    text = target.replace(":", ".")
    parts = text.split(".")
    if len(parts) < 2:
        raise TargetNotFoundError(target, "a target", target, ["use 'package.module.function'"])
    for i in range(len(parts) - 1, 0, -1):
        module_name = ".".join(parts[:i])
        try:
            owner: Any = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and not module_name.startswith(exc.name):
                raise  # the module exists but one of its own imports is missing
            continue
        where = f"module {module_name!r}"
        for name in parts[i:-1]:
            if not hasattr(owner, name):
                raise TargetNotFoundError(target, where, name, nearest(name, _names(owner)))
            owner = getattr(owner, name)
            where = f"{where[:-1]}.{name}'"
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
    raise TargetNotFoundError(
        target, "the import path", parts[0], ["no module of this path can be imported"]
    )


def _names(owner: Any) -> list[str]:
    return [n for n in dir(owner) if not n.startswith("__")]


class replaying:  # noqa: N801 - used like a function, as unittest.mock.patch is
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
        self._saved: list[tuple[Any, str, Any, bool]] = []

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
        had_own = not isinstance(owner, type) or attr in vars(owner)
        self._saved.append((owner, attr, raw, had_own))
        setattr(owner, attr, replacement)
        return wrapper

    def stop(self) -> None:
        owner, attr, raw, had_own = self._saved.pop()
        if had_own:
            setattr(owner, attr, raw)
        else:
            delattr(owner, attr)

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
