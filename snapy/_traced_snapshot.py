"""`TracedSnapshot`: a syrupy extension that stores a tracer's call tree as readable text.

    def test_checkout(snapshot):
        with snapy.FunctionTracer(["myapp.*"]) as tracer:
            myapp.shop.checkout(["apple"])
        assert tracer == snapshot(extension_class=snapy.TracedSnapshot)

The entry goes into the test module's `.ambr` file like any amber snapshot: the tree's text as an
amber string, so `SnapTestCase.assertMatchTrace` under `python -m unittest` reads and writes the
same entry. syrupy's `exclude`, `include` and `matcher` apply to the traced values, by path
(`snapshot(exclude=props("created_at"))`; paths are described in `snapy._trace_text`).
Anything that is not a tracer is stored as amber stores it.
"""

from __future__ import annotations

from typing import Any

from syrupy.extensions.amber import AmberDataSerializer, AmberSnapshotExtension

from ._trace import FunctionTracer
from ._trace_text import format_trace


def serialize_trace(tracer: FunctionTracer, **filters: Any) -> str:
    """The amber entry of a tracer's call tree (what both runners store)."""
    return AmberDataSerializer.serialize(format_trace(tracer, **filters))


class TracedSnapshot(AmberSnapshotExtension):
    """Amber snapshots in which a `FunctionTracer` is stored as its indented call tree."""

    def serialize(self, data: Any, **kwargs: Any) -> str:
        if isinstance(data, FunctionTracer):
            filters = {k: kwargs.get(k) for k in ("exclude", "include", "matcher")}
            return serialize_trace(data, **filters)
        return super().serialize(data, **kwargs)
