"""Redaction of secrets: argument names and mapping keys at any depth.

A pattern matches a name when its words appear in the name's words, in order, the last one as a
prefix: `api_key` matches `stripe_api_key` and `apiKey`, `auth` matches `Authorization`, `key`
does not match `monkey`. The check errs on the side of hiding (`key` also hides `primary_key`);
pass `ArgumentFilter(patterns=[...])` to replace the defaults. A redacted value is replaced by a
`Redacted` holding a keyed hash of it, so matching still works and the value never reaches disk.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from typing import Any

DEFAULT_PATTERNS: tuple[str, ...] = (
    "password",
    "token",
    "secret",
    "key",
    "auth",
    "api_key",
    "access_token",
    "refresh_token",
)
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_MAX_DEPTH = 32
_SCALARS = frozenset({str, int, float, bool, bytes, type(None), complex})


def _words(name: str) -> tuple[str, ...]:
    return tuple(w.lower() for w in _WORD.findall(name))


class Redacted:
    """Stands in for a secret: equal to another `Redacted` of the same value and key."""

    __slots__ = ("digest",)

    def __init__(self, digest: str) -> None:
        self.digest = digest

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Redacted) and other.digest == self.digest

    def __hash__(self) -> int:
        return hash(("snapy.Redacted", self.digest))

    def __repr__(self) -> str:
        return "<redacted>"

    def __reduce__(self) -> tuple[type[Redacted], tuple[str]]:
        return (Redacted, (self.digest,))


class ArgumentFilter:
    """Decides which arguments and mapping entries are secrets (the seed's extension point).

    Subclass and override `should_capture(arg_name, arg_value)` (False hides the value) or
    `is_sensitive(name)` (used for argument names and mapping keys alike).
    """

    def __init__(self, patterns: Iterable[str] = DEFAULT_PATTERNS) -> None:
        self.patterns = tuple(patterns)
        for pattern in self.patterns:
            if not isinstance(pattern, str) or not _words(pattern):
                raise ValueError(f"redaction pattern {pattern!r} has no letters or digits")
        self._pattern_words = [_words(p) for p in self.patterns]
        self._cache: dict[str, bool] = {}

    def extended(self, extra: Iterable[str]) -> ArgumentFilter:
        """A filter with this one's patterns plus `extra`."""
        return type(self)((*self.patterns, *extra))

    def is_sensitive(self, name: str) -> bool:
        known = self._cache.get(name)
        if known is None:
            words = _words(name)
            known = any(_contains(words, p) for p in self._pattern_words)
            if len(self._cache) < 10_000:
                self._cache[name] = known
        return known

    def should_capture(self, arg_name: str, arg_value: Any) -> bool:
        """False when the argument's value must not be stored in clear."""
        return not self.is_sensitive(arg_name)

    def __repr__(self) -> str:
        return f"ArgumentFilter(patterns={list(self.patterns)!r})"


def _contains(words: tuple[str, ...], pattern: tuple[str, ...]) -> bool:
    n = len(pattern)
    for start in range(len(words) - n + 1):
        window = words[start : start + n]
        if window[:-1] == pattern[:-1] and window[-1].startswith(pattern[-1]):
            return True
    return False


class Redactor:
    """Applies an `ArgumentFilter` to bound arguments and values, hashing with `key`."""

    def __init__(self, argument_filter: ArgumentFilter, key: bytes) -> None:
        self.filter = argument_filter
        self.key = key

    def digest(self, value: Any) -> str:
        from ._signature import canonical

        try:
            data = canonical(value)
        except Exception:  # nested too deeply, or state that fails to read: still hidden
            kind = type(value)
            data = f"unreadable {kind.__module__}.{kind.__qualname__}".encode()
        return hmac.new(self.key, data, hashlib.blake2b).hexdigest()[:32]

    def arguments(self, bound: Mapping[str, Any]) -> dict[str, Any]:
        """`bound` with secret arguments and secret entries at any depth replaced."""
        out: dict[str, Any] = {}
        for name, value in bound.items():
            if not self.filter.should_capture(name, value):
                out[name] = Redacted(self.digest(value))
            else:
                out[name] = self.value(value)
        return out

    def value(self, value: Any) -> Any:
        """`value` with secret mapping entries (and object attributes) replaced.

        Containers are copied only along the paths that hold a secret; the rest is shared.
        Erring on the side of hiding, a whole value is replaced when it cannot be searched to
        the end: parts nested deeper than 32 levels, a cycle back to a container that holds a
        secret (the copy would reach the original through it), or state that fails to read.
        """
        try:
            return self._walk(value, 0, {})
        except Exception:
            return Redacted(self.digest(value))

    def _walk(self, value: Any, depth: int, seen: dict[int, bool]) -> Any:
        kind = type(value)
        if kind in _SCALARS:
            return value
        ident = id(value)
        if ident in seen:
            seen[ident] = True  # a cycle: settled once the container it returns to is done
            return value
        if depth > _MAX_DEPTH:
            return Redacted(self.digest(value))
        seen[ident] = False
        try:
            new = self._copy(value, kind, depth, seen)
        finally:
            cyclic = seen.pop(ident)
        if cyclic and new is not value:
            return Redacted(self.digest(value))
        return new

    def _copy(self, value: Any, kind: type, depth: int, seen: dict[int, bool]) -> Any:
        if kind is dict or isinstance(value, Mapping):
            return self._mapping(value, depth, seen)
        if kind in (list, tuple, set, frozenset):
            # Scalars are checked inline: this runs on every captured call (a function
            # call per item cost ~0.1 µs each).
            changed = False
            items = []
            for item in value:
                new = item if type(item) in _SCALARS else self._walk(item, depth + 1, seen)
                changed = changed or new is not item
                items.append(new)
            return kind(items) if changed else value
        if issubclass(kind, tuple) and hasattr(kind, "_fields"):  # a namedtuple
            fields = value._asdict()
            changed = self._mapping(fields, depth, seen)
            return value if changed is fields else value._replace(**changed)
        state = getattr(value, "__dict__", None)
        if isinstance(state, dict) and state and not isinstance(value, type):
            return self._object(value, state, depth, seen)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):  # slots=True
            state = {
                f.name: getattr(value, f.name)
                for f in dataclasses.fields(value)
                if hasattr(value, f.name)
            }
            return self._object(value, state, depth, seen)
        return value

    def _mapping(self, value: Mapping[Any, Any], depth: int, seen: dict[int, bool]) -> Any:
        changed = {}
        for k, v in value.items():
            if isinstance(k, str) and self.filter.is_sensitive(k):
                changed[k] = Redacted(self.digest(v))
            elif type(v) not in _SCALARS:
                new = self._walk(v, depth + 1, seen)
                if new is not v:
                    changed[k] = new
        if not changed:
            return value
        if type(value) is dict:
            return {k: changed.get(k, v) for k, v in value.items()}
        try:
            result = copy.copy(value)
            for k, v in changed.items():
                result[k] = v  # type: ignore[index]
            return result
        except Exception:
            return {k: changed.get(k, v) for k, v in value.items()}

    def _object(self, value: Any, state: dict[str, Any], depth: int, seen: dict[int, bool]) -> Any:
        changed = self._mapping(state, depth, seen)
        if changed is state:
            return value
        try:
            clone = copy.copy(value)
            if hasattr(clone, "__dict__"):
                vars(clone).update(changed)
            else:
                for name, item in changed.items():
                    object.__setattr__(clone, name, item)
            return clone
        except Exception:
            return Redacted(self.digest(value))
