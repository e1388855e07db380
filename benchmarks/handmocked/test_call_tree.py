"""examples/legacy_app/tests/test_call_tree.py, by hand with unittest.mock.

snapy's `FunctionTracer` snapshot shows which of the application's functions ran, in which
order and with which arguments. By hand: each of them wrapped in a `Mock(wraps=...)`
attached to one parent mock, whose `mock_calls` keep that order.
"""

from datetime import UTC, datetime
from decimal import Decimal
from unittest import mock
from uuid import UUID

from handmocked.support import API_KEY, PASSWORD
from invoicing import db, invoices

INVOICE_ID = UUID("55277ba4-a57e-4dc0-b583-6c97c7325a2a")
MAIL = """\
Dear Brightside Ltd,

please find below invoice INV-20261122-55277B of 22 November 2026.

    2 x Consulting day                  1,119.44 GBP
  Net                                   1,119.44 GBP
  VAT                                       0.00 GBP
  Total                                 1,119.44 GBP

Converted at 1 EUR = 0.8611 GBP.

Northwind Traders, Billing"""


def test_call_tree_of_an_invoice(database):
    recorded = datetime(2026, 11, 22, 1, 20, 43, tzinfo=UTC)
    buyer = db.add_customer("Brightside Ltd", "accounts@brightside.example", "GB", "GBP")
    order = db.add_order(buyer, [("Consulting day", 2, "650.00")])
    tree = mock.Mock()
    traced = [
        (db, "get_order"),
        (db, "order_lines"),
        (db, "save_invoice"),
        (db, "set_invoice_status"),
        (db, "connection"),
        (invoices, "render"),
    ]
    with (
        mock.patch("invoicing.clock.now", return_value=recorded),
        mock.patch("uuid.uuid4", return_value=INVOICE_ID),
        mock.patch("invoicing.rates.fetch_rate", return_value=Decimal("0.8611")) as fetch_rate,
        mock.patch("invoicing.mailer.send_mail", return_value={}) as send_mail,
    ):
        for module, name in traced:
            wrapper = mock.patch.object(module, name, wraps=getattr(module, name))
            tree.attach_mock(wrapper.start(), name)
        try:
            invoice = invoices.create_invoice(order)
        finally:
            mock.patch.stopall()

    assert invoice["id"] == INVOICE_ID and invoice["number"] == "INV-20261122-55277B"
    assert tree.mock_calls == [
        mock.call.get_order(1),
        mock.call.connection(),
        mock.call.order_lines(1),
        mock.call.connection(),
        mock.call.save_invoice(invoice, 1),
        mock.call.connection(),
        mock.call.render(invoice),
        mock.call.set_invoice_status(INVOICE_ID, "sent"),
        mock.call.connection(),
    ]
    fetch_rate.assert_called_once_with("EUR", "GBP", "2026-11-22", API_KEY)
    send_mail.assert_called_once_with(
        "accounts@brightside.example", "Invoice INV-20261122-55277B", MAIL, PASSWORD
    )
