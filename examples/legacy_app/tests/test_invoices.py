"""Invoicing under unittest (`python -m unittest`; pytest runs it too).

The side effects `create_invoice` reaches for are replaced with what they did when the test was
recorded: the clock, the uuid in the invoice number, the rates service and the mail server.
The database stays real: each test gets a new SQLite file.
"""

from decimal import Decimal

import snapy

from invoicing import db, demo, invoices, rates
from tests import support


class InvoicingTest(snapy.SnapTestCase):
    side_effects = ("invoicing.clock.now", "uuid.uuid4")

    def setUp(self):
        super().setUp()
        self.enterContext(support.temporary_database())
        self.fetch_rate = self.replay("invoicing.rates.fetch_rate")
        self.send_mail = self.replay("invoicing.mailer.send_mail")

    def test_invoice_in_dollars(self):
        acme = db.add_customer("Acme Corp", "ap@acme.example", "US", "USD")
        order = db.add_order(acme, [("Support plan, monthly", 3, "120.00")])

        invoice = invoices.create_invoice(order)

        self.assertMatchSnapshot(invoice)
        self.assertMatchSnapshot(self.send_mail.calls[0].arguments, name="mail")
        self.assertEqual(db.invoices()[0]["status"], "sent")

    def test_euro_invoice_has_vat(self):
        cafe = db.add_customer("Cafe Lumiere", "compta@cafe-lumiere.example", "FR", "EUR")
        order = db.add_order(cafe, [("Espresso beans, 1 kg", 12, "18.50")])

        invoice = invoices.create_invoice(order)

        self.assertEqual(self.fetch_rate.calls, [])
        self.assertEqual((invoice["net"], invoice["vat"]), (Decimal("222.00"), Decimal("44.40")))
        self.assertMatchSnapshot(invoice)

    def test_missing_rate_waits(self):
        kaizen = db.add_customer("Kaizen KK", "keiri@kaizen.example", "JP", "JPY")
        order = db.add_order(kaizen, [("Annual licence", 1, "4800.00")])

        with self.assertRaises(rates.RateUnavailable) as raised:
            invoices.create_invoice(order)

        self.assertIn("no EUR/JPY rate", str(raised.exception))
        self.assertEqual(self.fetch_rate.calls[0].outcome, "exception")
        self.assertEqual((db.pending_orders(), self.send_mail.calls), ([order], []))

    def test_invoiced_once(self):
        acme = db.add_customer("Acme Corp", "ap@acme.example", "US", "USD")
        order = db.add_order(acme, [("Onboarding workshop", 1, "950.00")])
        invoices.create_invoice(order)

        with self.assertRaisesRegex(invoices.InvoiceError, "already invoiced"):
            invoices.create_invoice(order)
        self.assertEqual(len(self.send_mail.calls), 1)

    def test_nightly_run(self):
        demo.seed()

        result = invoices.invoice_pending_orders()

        self.assertMatchSnapshot(result)
        self.assertEqual(len(self.send_mail.calls), 3)
        self.assertEqual(db.pending_orders(), [4])
