"""A syrupy extension for values the amber format cannot show faithfully.

Amber snapshots are the `repr`-like text of a value: objects without a readable repr, or whose
repr changes from run to run, make poor snapshots. `SnapyValueExtension` stores a value in
snapy's readable form (tagged JSON; objects with no readable form are pickled) in its own
file, compares by value, and reports a difference one path per line, as deepdiff sees it:

    def test_invoice(snapshot):
        assert make_invoice() == snapshot.use_extension(snapy.SnapyValueExtension)

Use `use_extension` rather than `snapshot(extension_class=...)`: syrupy resets the latter
before it explains a failure, and the report then falls back to amber's text diff.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

from ._miss import argument_differences
from ._plain import Decoder, Encoder
from ._serializers import PickleSerializer

_SERIALIZER = PickleSerializer()


class SnapyValueExtension(SingleFileSnapshotExtension):
    """One `<test>.snapy.json` file per snapshot, compared by value, diffed by path."""

    file_extension = "snapy.json"
    _write_mode = WriteMode.TEXT

    def serialize(self, data: Any, **kwargs: Any) -> str:
        tree = Encoder(_SERIALIZER).encode(data)
        return json.dumps(tree, indent=1, ensure_ascii=False) + "\n"

    @staticmethod
    def _value(text: Any) -> Any:
        return Decoder(_SERIALIZER).decode(json.loads(str(text)))

    def matches(self, *, serialized_data: Any, snapshot_data: Any) -> bool:
        if serialized_data == snapshot_data:
            return True
        try:
            return bool(self._value(serialized_data) == self._value(snapshot_data))
        except Exception:  # an unreadable snapshot does not match; diff_lines says why
            return False

    def diff_lines(self, serialized_data: Any, snapshot_data: Any) -> Iterator[str]:
        try:
            old, new = self._value(snapshot_data), self._value(serialized_data)
        except Exception as exc:
            yield f"the snapshot cannot be read back ({type(exc).__name__}: {exc})"
            return
        yield from argument_differences({"value": old}, {"value": new}) or [
            "the values are equal but stored differently; update the snapshot"
        ]
