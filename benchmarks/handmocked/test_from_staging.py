"""examples/legacy_app/tests/test_from_staging.py, by hand with unittest.mock.

snapy loads the staging capture of `create_invoice(2)` and checks that the call gives the
captured invoice again; by hand, that invoice is written out in the test.
"""

import unittest
from datetime import UTC, datetime
from decimal import Decimal
from unittest import mock
from uuid import UUID

from handmocked.support import API_KEY, PASSWORD, temporary_database
from invoicing import demo, invoices

STAGING_INVOICE = {
    "currency": "GBP",
    "customer": "Brightside Ltd",
    "id": UUID("0fa46bb3-250d-4fec-9ee4-f02c5a2978fd"),
    "issued_at": datetime(2026, 11, 22, 1, 13, 10, tzinfo=UTC),
    "lines": [
        {
            "amount": Decimal("1119.44"),
            "description": "Consulting day",
            "quantity": 2,
            "unit_price": Decimal("559.72"),
        }
    ],
    "net": Decimal("1119.44"),
    "number": "INV-20261122-0FA46B",
    "order_id": 2,
    "rate": Decimal("0.8611"),
    "status": "sent",
    "total": Decimal("1119.44"),
    "vat": Decimal("0.00"),
}
MAIL = """\
Dear Brightside Ltd,

please find below invoice INV-20261122-0FA46B of 22 November 2026.

    2 x Consulting day                  1,119.44 GBP
  Net                                   1,119.44 GBP
  VAT                                       0.00 GBP
  Total                                 1,119.44 GBP

Converted at 1 EUR = 0.8611 GBP.

Northwind Traders, Billing"""


class StagingInvoiceTest(unittest.TestCase):
    def test_brightside_invoice_again(self):
        self.enterContext(temporary_database())
        demo.seed()  # the staging database held the demo orders: order 2 is Brightside's
        made = STAGING_INVOICE
        self.enterContext(mock.patch("invoicing.clock.now", return_value=made["issued_at"]))
        self.enterContext(mock.patch("uuid.uuid4", return_value=made["id"]))
        fetch_rate = self.enterContext(
            mock.patch("invoicing.rates.fetch_rate", return_value=Decimal("0.8611"))
        )
        send_mail = self.enterContext(mock.patch("invoicing.mailer.send_mail", return_value={}))

        invoice = invoices.create_invoice(2)

        self.assertEqual(invoice, made)
        self.assertEqual(invoice["number"], made["number"])
        fetch_rate.assert_called_once_with("EUR", "GBP", "2026-11-22", API_KEY)
        send_mail.assert_called_once_with(
            "accounts@brightside.example", "Invoice INV-20261122-0FA46B", MAIL, PASSWORD
        )
