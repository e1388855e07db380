"""`SnapyValueExtension`: snapshots in snapy's readable form, compared by value, diffed by path."""

from __future__ import annotations

import json

import pytest

TEST = """
import dataclasses, decimal
import snapy

@dataclasses.dataclass
class Invoice:
    number: str
    lines: list
    total: decimal.Decimal

class Opaque:  # no readable repr: the amber format could not show it
    def __init__(self, v):
        self.v = v
    def __eq__(self, other):
        return isinstance(other, Opaque) and other.v == self.v

def test_invoice(snapshot):
    invoice = Invoice("INV-1", [{"sku": "A", "qty": QTY}], decimal.Decimal("9.99"))
    value = {"invoice": invoice, "blob": Opaque(3)}
    assert value == snapshot.use_extension(snapy.SnapyValueExtension)
"""


def test_written_compared_by_value_and_diffed_by_path(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider\n")
    pytester.makepyfile(test_invoice=TEST.replace("QTY", "2"))
    pytester.runpytest_subprocess("--snapshot-update").assert_outcomes(passed=1)
    stored = pytester.path / "__snapshots__" / "test_invoice" / "test_invoice.snapy.json"
    tree = json.loads(stored.read_text())
    assert tree["invoice"] == {
        "$dataclass": "test_invoice:Invoice",
        "fields": {
            "number": "INV-1",
            "lines": [{"sku": "A", "qty": 2}],
            "total": {"$decimal": "9.99"},
        },
    }
    assert tree["blob"]["type"] == "test_invoice.Opaque" and "$pickle" in tree["blob"]

    pytester.runpytest_subprocess().assert_outcomes(passed=1)

    pytester.makepyfile(test_invoice=TEST.replace("QTY", "3"))
    failed = pytester.runpytest_subprocess()
    failed.assert_outcomes(failed=1)
    assert "E         value['invoice'].lines[0]['qty']: 2 -> 3" in failed.stdout.lines
