"""Every error and warning snapy raises, with the context kept as attributes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


class SnapyError(Exception):
    """Base of every error snapy raises."""


class ConfigError(SnapyError, ValueError):
    """A setting (environment variable, `.env` entry or argument) has a malformed value."""

    def __init__(self, name: str, value: object, expected: str) -> None:
        self.name = name
        self.value = value
        self.expected = expected
        super().__init__(f"{name}={value!r} is not valid: {expected}")


class StoreError(SnapyError):
    """A stored file or folder cannot be used; `.path` names it and `.cause` says why."""

    def __init__(self, path: Path | str, cause: str) -> None:
        self.path = Path(path)
        self.cause = cause
        super().__init__(f"{self.path}: {cause}")


class CorruptFileError(StoreError):
    """A stored file is truncated, garbage, or fails its checksum."""


class SignatureMismatchError(CorruptFileError):
    """A file's HMAC does not verify (tampered, unsigned, or signed with another key)."""


class EncryptionKeyError(StoreError):
    """A file is encrypted with a key that is not configured, or no encryption key is set.

    `.key_id` is the id of the key the file was written with.
    """

    def __init__(self, path: Path | str, cause: str, key_id: str) -> None:
        self.key_id = key_id
        super().__init__(path, cause)


class DecryptionError(CorruptFileError):
    """An encrypted file fails authentication: its payload or header was modified."""


class UnsupportedFormatError(StoreError):
    """A file was written by a newer snapy format, or names a serializer that is not known."""


class SerializationError(SnapyError, TypeError):
    """A value could not be serialized by the configured serializer."""


class CaptureNotFoundError(SnapyError, LookupError):
    """Nothing is stored under the requested name; `.nearest` lists names that do exist."""

    def __init__(self, name: str, root: Path, nearest: Sequence[str], detail: str = "") -> None:
        self.name = name
        self.root = root
        self.nearest = list(nearest)
        if detail:
            what = detail
        elif self.nearest:
            what = "captures exist for: " + ", ".join(self.nearest)
        else:
            what = "no function has captures there"
        hint = (
            "run the code with SNAPY_CAPTURE_ENABLED=1 to capture it, "
            "or pass path= to load from another folder"
        )
        super().__init__(f"no capture of {name!r} in {str(root)!r}; {what}; {hint}")


class TargetNotFoundError(SnapyError, AttributeError):
    """A dotted target to patch does not exist; `.nearest` lists names that do exist there."""

    def __init__(self, target: str, where: str, missing: str, nearest: Sequence[str]) -> None:
        self.target = target
        self.nearest = list(nearest)
        names = ", ".join(self.nearest) if self.nearest else "none"
        super().__init__(
            f"cannot patch {target!r}: {where} has no {missing!r}; names there, nearest first: "
            f"{names}"
        )


class RecordingNotFoundError(SnapyError, AssertionError):
    """A call has no recording to replay; the message says which kind of miss and the fix.

    `.kind` is one of `no recordings`, `no match`, `exhausted`, `signature changed`,
    `unreadable`; `.nearest` holds up to three `NearestRecording`s.
    """

    def __init__(
        self,
        message: str,
        *,
        target: str,
        test_id: str,
        kind: str,
        nearest: Sequence[object],
        folder: Path,
        command: str,
    ) -> None:
        self.target = target
        self.test_id = test_id
        self.kind = kind
        self.nearest = list(nearest)
        self.folder = folder
        self.command = command
        super().__init__(message)


class TracerError(SnapyError, RuntimeError):
    """A tracer cannot start or stop as asked (another one runs, no free monitoring tool...)."""


class CapturedException(SnapyError):
    """Stands in for a recorded exception whose type cannot be imported any more."""

    def __init__(self, type_name: str, message: str) -> None:
        self.type_name = type_name
        self.message = message
        super().__init__(f"{type_name}: {message} (the original type could not be imported)")


class SnapyWarning(UserWarning):
    """Base of every warning snapy emits."""


class CaptureSkippedWarning(SnapyWarning):
    """A call was not captured; the call itself went on unchanged."""
