"""examples/legacy_app/tests/test_invoices.py, by hand with unittest.mock.

Every replaced dependency answers what snapy replays for that test and is checked for the
arguments snapy's replay matches on; the invoices and the e-mail are compared with the
values in `tests/__snapshots__/test_invoices.ambr`.
"""

import unittest
from decimal import Decimal
from unittest import mock
from uuid import UUID

from handmocked.support import API_KEY, DAY, NOW, PASSWORD, temporary_database
from invoicing import db, demo, invoices, rates

DOLLARS_MAIL = """\
Dear Acme Corp,

please find below invoice INV-20261122-8FA9BD of 22 November 2026.

    3 x Support plan, monthly             390.30 USD
  Net                                     390.30 USD
  VAT                                       0.00 USD
  Total                                   390.30 USD

Converted at 1 EUR = 1.0842 USD.

Northwind Traders, Billing"""

EURO_MAIL = """\
Dear Cafe Lumiere,

please find below invoice INV-20261122-DDCA41 of 22 November 2026.

   12 x Espresso beans, 1 kg              222.00 EUR
  Net                                     222.00 EUR
  VAT                                      44.40 EUR
  Total                                   266.40 EUR

Northwind Traders, Billing"""

ONCE_MAIL = """\
Dear Acme Corp,

please find below invoice INV-20261122-C09D64 of 22 November 2026.

    1 x Onboarding workshop             1,029.99 USD
  Net                                   1,029.99 USD
  VAT                                       0.00 USD
  Total                                 1,029.99 USD

Converted at 1 EUR = 1.0842 USD.

Northwind Traders, Billing"""

NIGHTLY_MAILS = [
    (
        "ap@acme.example",
        "Invoice INV-20261122-438B17",
        """\
Dear Acme Corp,

please find below invoice INV-20261122-438B17 of 22 November 2026.

    3 x Support plan, monthly             390.30 USD
    1 x Onboarding workshop             1,029.99 USD
  Net                                   1,420.29 USD
  VAT                                       0.00 USD
  Total                                 1,420.29 USD

Converted at 1 EUR = 1.0842 USD.

Northwind Traders, Billing""",
    ),
    (
        "accounts@brightside.example",
        "Invoice INV-20261122-88BC33",
        """\
Dear Brightside Ltd,

please find below invoice INV-20261122-88BC33 of 22 November 2026.

    2 x Consulting day                  1,119.44 GBP
  Net                                   1,119.44 GBP
  VAT                                       0.00 GBP
  Total                                 1,119.44 GBP

Converted at 1 EUR = 0.8611 GBP.

Northwind Traders, Billing""",
    ),
    (
        "compta@cafe-lumiere.example",
        "Invoice INV-20261122-B42739",
        """\
Dear Cafe Lumiere,

please find below invoice INV-20261122-B42739 of 22 November 2026.

   12 x Espresso beans, 1 kg              222.00 EUR
  Net                                     222.00 EUR
  VAT                                      44.40 EUR
  Total                                   266.40 EUR

Northwind Traders, Billing""",
    ),
]


class InvoicingTest(unittest.TestCase):
    def setUp(self):
        self.enterContext(temporary_database())
        self.now = self.enterContext(mock.patch("invoicing.clock.now", return_value=NOW))
        self.uuid4 = self.enterContext(mock.patch("uuid.uuid4"))
        self.fetch_rate = self.enterContext(mock.patch("invoicing.rates.fetch_rate"))
        self.send_mail = self.enterContext(
            mock.patch("invoicing.mailer.send_mail", return_value={})
        )

    def test_invoice_in_dollars(self):
        self.uuid4.return_value = UUID("8fa9bdbe-2a3b-4016-a59a-15b4f44627c4")
        self.fetch_rate.return_value = Decimal("1.0842")
        acme = db.add_customer("Acme Corp", "ap@acme.example", "US", "USD")
        order = db.add_order(acme, [("Support plan, monthly", 3, "120.00")])

        invoice = invoices.create_invoice(order)

        self.assertEqual(
            invoice,
            {
                "currency": "USD",
                "customer": "Acme Corp",
                "id": UUID("8fa9bdbe-2a3b-4016-a59a-15b4f44627c4"),
                "issued_at": NOW,
                "lines": [
                    {
                        "amount": Decimal("390.30"),
                        "description": "Support plan, monthly",
                        "quantity": 3,
                        "unit_price": Decimal("130.10"),
                    }
                ],
                "net": Decimal("390.30"),
                "number": "INV-20261122-8FA9BD",
                "order_id": 1,
                "rate": Decimal("1.0842"),
                "status": "sent",
                "total": Decimal("390.30"),
                "vat": Decimal("0.00"),
            },
        )
        self.fetch_rate.assert_called_once_with("EUR", "USD", DAY, API_KEY)
        self.send_mail.assert_called_once_with(
            "ap@acme.example", "Invoice INV-20261122-8FA9BD", DOLLARS_MAIL, PASSWORD
        )
        self.now.assert_called_once_with()
        self.assertEqual(db.invoices()[0]["status"], "sent")

    def test_euro_invoice_has_vat(self):
        self.uuid4.return_value = UUID("ddca417b-ce24-4235-a5b4-8306a2babd0f")
        cafe = db.add_customer("Cafe Lumiere", "compta@cafe-lumiere.example", "FR", "EUR")
        order = db.add_order(cafe, [("Espresso beans, 1 kg", 12, "18.50")])

        invoice = invoices.create_invoice(order)

        self.fetch_rate.assert_not_called()
        self.assertEqual((invoice["net"], invoice["vat"]), (Decimal("222.00"), Decimal("44.40")))
        self.assertEqual(
            invoice,
            {
                "currency": "EUR",
                "customer": "Cafe Lumiere",
                "id": UUID("ddca417b-ce24-4235-a5b4-8306a2babd0f"),
                "issued_at": NOW,
                "lines": [
                    {
                        "amount": Decimal("222.00"),
                        "description": "Espresso beans, 1 kg",
                        "quantity": 12,
                        "unit_price": Decimal("18.50"),
                    }
                ],
                "net": Decimal("222.00"),
                "number": "INV-20261122-DDCA41",
                "order_id": 1,
                "rate": Decimal("1"),
                "status": "sent",
                "total": Decimal("266.40"),
                "vat": Decimal("44.40"),
            },
        )
        self.send_mail.assert_called_once_with(
            "compta@cafe-lumiere.example", "Invoice INV-20261122-DDCA41", EURO_MAIL, PASSWORD
        )

    def test_missing_rate_waits(self):
        self.fetch_rate.side_effect = rates.RateUnavailable(f"no EUR/JPY rate for {DAY}")
        kaizen = db.add_customer("Kaizen KK", "keiri@kaizen.example", "JP", "JPY")
        order = db.add_order(kaizen, [("Annual licence", 1, "4800.00")])

        with self.assertRaises(rates.RateUnavailable) as raised:
            invoices.create_invoice(order)

        self.assertIn("no EUR/JPY rate", str(raised.exception))
        self.fetch_rate.assert_called_once_with("EUR", "JPY", DAY, API_KEY)
        self.uuid4.assert_not_called()
        self.assertEqual(db.pending_orders(), [order])
        self.send_mail.assert_not_called()

    def test_invoiced_once(self):
        self.uuid4.return_value = UUID("c09d64a8-4829-4a69-9e72-f422ef9d33c7")
        self.fetch_rate.return_value = Decimal("1.0842")
        acme = db.add_customer("Acme Corp", "ap@acme.example", "US", "USD")
        order = db.add_order(acme, [("Onboarding workshop", 1, "950.00")])
        invoices.create_invoice(order)

        with self.assertRaisesRegex(invoices.InvoiceError, "already invoiced"):
            invoices.create_invoice(order)
        self.fetch_rate.assert_called_once_with("EUR", "USD", DAY, API_KEY)
        self.send_mail.assert_called_once_with(
            "ap@acme.example", "Invoice INV-20261122-C09D64", ONCE_MAIL, PASSWORD
        )

    def test_nightly_run(self):
        self.uuid4.side_effect = [
            UUID("438b1756-5bb1-44dd-92b5-42b23b9031d4"),
            UUID("88bc3346-48a5-465b-bee5-ae78d8b807cd"),
            UUID("b42739c0-c78f-4dbb-a787-b230ecbc1b28"),
        ]
        self.fetch_rate.side_effect = [
            Decimal("1.0842"),
            Decimal("0.8611"),
            rates.RateUnavailable(f"no EUR/JPY rate for {DAY}"),
        ]
        demo.seed()

        result = invoices.invoice_pending_orders()

        self.assertEqual(
            result,
            {
                "invoiced": [
                    {
                        "customer": "Acme Corp",
                        "number": "INV-20261122-438B17",
                        "status": "sent",
                        "total": "1420.29 USD",
                    },
                    {
                        "customer": "Brightside Ltd",
                        "number": "INV-20261122-88BC33",
                        "status": "sent",
                        "total": "1119.44 GBP",
                    },
                    {
                        "customer": "Cafe Lumiere",
                        "number": "INV-20261122-B42739",
                        "status": "sent",
                        "total": "266.40 EUR",
                    },
                ],
                "waiting": {4: f"no EUR/JPY rate for {DAY}"},
            },
        )
        self.assertEqual(
            self.fetch_rate.call_args_list,
            [mock.call("EUR", quote, DAY, API_KEY) for quote in ("USD", "GBP", "JPY")],
        )
        self.assertEqual(
            self.send_mail.call_args_list,
            [mock.call(*mail, PASSWORD) for mail in NIGHTLY_MAILS],
        )
        self.assertEqual(self.now.call_count, 4)
        self.assertEqual(db.pending_orders(), [4])
