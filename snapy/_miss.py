"""The miss report: which kind of miss, how the call differs from the nearest recordings, the fix.

vcrpy's no-match error lists similar requests and which matchers failed, and its users still
file issues about unclear misses (empty body diffs, already-consumed recordings). This report
names the kind of miss, shows each differing argument path with both values, and prints the
command that records the call.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deepdiff import DeepDiff

from ._errors import RecordingNotFoundError
from ._plain import short_repr
from ._recordings import Recording
from ._redact import Redacted

_MAX_LINES = 8
_ANOTHER_SECRET = (
    "<redacted> -> <redacted> (another secret, or the redaction key differs: see "
    ".redaction-key in the docs)"
)


@dataclass(frozen=True)
class NearestRecording:
    """A recording close to the missed call, and how the call differs from it."""

    path: Path
    arguments: dict[str, Any]
    differences: list[str]

    def __str__(self) -> str:
        return f"{self.path.name}: " + "; ".join(self.differences)


def _describe(value: Any) -> str:
    return short_repr(value)


def argument_differences(recorded: Mapping[str, Any], call: Mapping[str, Any]) -> list[str]:
    """One line per differing argument path: `cart['items'][0]['qty']: 2 -> 3`."""
    lines: list[str] = []
    for name in [*call, *(n for n in recorded if n not in call)]:
        if name not in recorded:
            lines.append(f"{name}: not in the recording -> {_describe(call[name])}")
            continue
        if name not in call:
            lines.append(f"{name}: {_describe(recorded[name])} -> not passed")
            continue
        old, new = recorded[name], call[name]
        if isinstance(old, Redacted) and isinstance(new, Redacted):
            if old != new:
                lines.append(f"{name}: {_ANOTHER_SECRET}")
            continue
        lines.extend(_deep_lines(name, old, new))
    return lines


def _deep_lines(name: str, old: Any, new: Any) -> list[str]:
    try:
        diff = DeepDiff(old, new, view="tree", verbose_level=2)
    except Exception:
        return [] if old == new else [f"{name}: {_describe(old)} -> {_describe(new)}"]
    lines = []
    for report, levels in diff.tree.items():
        for level in levels:
            up = level.up
            if up is not None and isinstance(up.t1, Redacted) and isinstance(up.t2, Redacted):
                # deepdiff goes into the two digests; they are not for reading
                lines.append(f"{up.path(root=name)}: {_ANOTHER_SECRET}")
                continue
            path = level.path(root=name)
            if report == "type_changes":
                lines.append(
                    f"{path}: {_describe(level.t1)} ({type(level.t1).__name__}) -> "
                    f"{_describe(level.t2)} ({type(level.t2).__name__})"
                )
            elif report.endswith("_added"):
                lines.append(f"{path}: added {_describe(level.t2)}")
            elif report.endswith("_removed"):
                lines.append(f"{path}: removed {_describe(level.t1)}")
            elif report == "values_changed":
                lines.append(f"{path}: {_describe(level.t1)} -> {_describe(level.t2)}")
            else:
                lines.append(f"{path}: {report.replace('_', ' ')}")
    return sorted(lines)


def nearest(
    recordings: Sequence[Recording],
    call: Mapping[str, Any],
    n: int = 3,
) -> list[NearestRecording]:
    """Up to `n` readable recordings, fewest differing paths first."""
    scored = []
    keys = set()
    for rec in recordings:
        if rec.error is not None or rec.key in keys:
            continue  # ordered repeats of one key differ from the call in the same way
        keys.add(rec.key)
        try:
            arguments = rec.arguments()
        except Exception:
            continue
        lines = argument_differences(arguments, call)
        scored.append((len(lines), rec.order, NearestRecording(rec.path, arguments, lines)))
    scored.sort(key=lambda item: (item[0], item[1]))
    return [item[2] for item in scored[:n]]


def record_command(test_id: str, value: str = "1", rerun: str | None = None) -> str:
    """The command that re-runs this test with recording on."""
    current = os.environ.get("PYTEST_CURRENT_TEST")
    if current:
        node = current.rsplit(" (", 1)[0]
        return f"SIDE_EFFECT_CAPTURE={value} python -m pytest {shlex.quote(node)}"
    if rerun:
        return f"SIDE_EFFECT_CAPTURE={value} {rerun}"
    if "::" not in test_id and "/" not in test_id and "." in test_id:
        return f"SIDE_EFFECT_CAPTURE={value} python -m unittest {test_id}"
    return f"SIDE_EFFECT_CAPTURE={value} <the command that runs {test_id}>"


def call_text(qualname: str, call: Mapping[str, Any]) -> str:
    args = ", ".join(f"{k}={_describe(v)}" for k, v in call.items())
    return f"{qualname.rpartition('.')[2]}({args})"


def miss_error(
    *,
    target: str,
    qualname: str,
    test_id: str,
    kind: str,
    reason: str,
    call: Mapping[str, Any],
    candidates: Sequence[Recording],
    folder: Path,
    command_value: str = "1",
    rerun: str | None = None,
) -> RecordingNotFoundError:
    """A `RecordingNotFoundError` whose message a reader can act on without the docs."""
    found = nearest(candidates, call)
    command = record_command(test_id, command_value, rerun)
    lines = [
        f"no recording to replay for this call of {target} in test {test_id!r}",
        f"  call:  {call_text(qualname, call)}",
        f"  why:   {reason}",
    ]
    if found:
        lines.append("  nearest recordings, closest first (recorded -> this call):")
        for i, near in enumerate(found, 1):
            lines.append(f"    {i}. {near.path.name}")
            if kind == "exhausted":
                same = "same arguments; replayed already by earlier calls of this test"
            else:
                same = (
                    "same arguments as shown, but their canonical forms differ (e.g. 0.0 vs "
                    "-0.0, set vs frozenset, or a changed ignore_args/match_on)"
                )
            shown = near.differences[:_MAX_LINES] or [same]
            lines.extend(f"       {line}" for line in shown)
            if len(near.differences) > _MAX_LINES:
                lines.append(f"       ... and {len(near.differences) - _MAX_LINES} more")
    lines.append(f"  recordings folder: {folder}")
    lines.append(f"  to record it: {command}")
    return RecordingNotFoundError(
        "\n".join(lines),
        target=target,
        test_id=test_id,
        kind=kind,
        nearest=found,
        folder=folder,
        command=command,
    )
