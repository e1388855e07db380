"""The call tree of one invoice: which of the application's own functions ran, in which order.

The tracer follows the business logic and the database code. The clock, the rates service and
the mailer are replaced by recordings in this test, and what they were asked is in their
recordings; they are left out of the tree, which then reads the same while recording and while
replaying.
"""

import pytest
import snapy

from invoicing import db, invoices
from tests import support

SIDE_EFFECTS = (
    "invoicing.clock.now",
    "uuid.uuid4",
    "invoicing.rates.fetch_rate",
    "invoicing.mailer.send_mail",
)


@pytest.fixture
def database():
    with support.temporary_database():
        yield


@pytest.mark.side_effects(*SIDE_EFFECTS)
def test_call_tree_of_an_invoice(database, snapshot):
    buyer = db.add_customer("Brightside Ltd", "accounts@brightside.example", "GB", "GBP")
    order = db.add_order(buyer, [("Consulting day", 2, "650.00")])

    with snapy.FunctionTracer(["invoicing.invoices", "invoicing.db"], max_repr=60) as tracer:
        invoices.create_invoice(order)

    assert tracer == snapshot(extension_class=snapy.TracedSnapshot)
