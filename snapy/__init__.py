"""snapy: capture real calls, replay side effects in tests, snapshot the results."""

from __future__ import annotations

from ._bundle import Capture, Target
from ._capture import capture, capture_args, flush_captures
from ._config import CaptureConfig
from ._errors import (
    CapturedException,
    CaptureNotFoundError,
    CaptureSkippedWarning,
    ConfigError,
    CorruptFileError,
    DecryptionError,
    EncryptionKeyError,
    RecordingNotFoundError,
    SerializationError,
    SignatureMismatchError,
    SnapyError,
    SnapyWarning,
    StoreError,
    TargetNotFoundError,
    TracerError,
    UnsupportedFormatError,
)
from ._extension import SnapyValueExtension
from ._load import list_captures, load_capture
from ._miss import NearestRecording
from ._modes import Mode
from ._patching import replaying
from ._plain import PickledValue
from ._recordings import RecordingStore, flush_recordings
from ._redact import DEFAULT_PATTERNS, ArgumentFilter, Redacted
from ._replay import Call, mock, recording_store
from ._serializers import (
    BaseSerializer,
    DillSerializer,
    PickleSerializer,
    Serializer,
    register_serializer,
)
from ._settings import Settings, configure, get_settings, refresh_settings
from ._signature import argument_key
from ._store import CaptureStorage, TargetInfo
from ._testcase import AsyncSnapTestCase, SnapMixin, SnapTestCase, parametrize_captures
from ._trace import FunctionTracer
from ._trace_build import CallEvent
from ._traced_snapshot import TracedSnapshot
from ._version import __version__

__all__ = [
    "DEFAULT_PATTERNS",
    "ArgumentFilter",
    "AsyncSnapTestCase",
    "BaseSerializer",
    "Call",
    "CallEvent",
    "Capture",
    "CaptureConfig",
    "CaptureNotFoundError",
    "CaptureSkippedWarning",
    "CaptureStorage",
    "CapturedException",
    "ConfigError",
    "CorruptFileError",
    "DecryptionError",
    "DillSerializer",
    "EncryptionKeyError",
    "FunctionTracer",
    "Mode",
    "NearestRecording",
    "PickleSerializer",
    "PickledValue",
    "RecordingNotFoundError",
    "RecordingStore",
    "Redacted",
    "SerializationError",
    "Serializer",
    "Settings",
    "SignatureMismatchError",
    "SnapMixin",
    "SnapTestCase",
    "SnapyError",
    "SnapyValueExtension",
    "SnapyWarning",
    "StoreError",
    "Target",
    "TargetInfo",
    "TargetNotFoundError",
    "TracedSnapshot",
    "TracerError",
    "UnsupportedFormatError",
    "__version__",
    "argument_key",
    "capture",
    "capture_args",
    "configure",
    "flush_captures",
    "flush_recordings",
    "get_settings",
    "list_captures",
    "load_capture",
    "mock",
    "parametrize_captures",
    "recording_store",
    "refresh_settings",
    "register_serializer",
    "replaying",
]
