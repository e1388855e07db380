"""examples/legacy_app/tests/test_invoices_pytest.py, by hand with unittest.mock."""

import smtplib
from decimal import Decimal
from unittest import mock
from uuid import UUID

import pytest
from handmocked.support import API_KEY, DAY, NOW, PASSWORD
from invoicing import config, db, invoices

POUNDS_MAIL = """\
Dear Brightside Ltd,

please find below invoice INV-20261122-8A674F of 22 November 2026.

    2 x Consulting day                  1,119.44 GBP
  Net                                   1,119.44 GBP
  VAT                                       0.00 GBP
  Total                                 1,119.44 GBP

Converted at 1 EUR = 0.8611 GBP.

Northwind Traders, Billing"""

UNSENT_MAIL = """\
Dear Acme Corp,

please find below invoice INV-20261122-50382C of 22 November 2026.

    1 x Support plan, monthly             130.10 USD
  Net                                     130.10 USD
  VAT                                       0.00 USD
  Total                                   130.10 USD

Converted at 1 EUR = 1.0842 USD.

Northwind Traders, Billing"""


@pytest.fixture
def clock_and_ids():
    """The clock and the invoice ids, as recorded for the test."""
    with (
        mock.patch("invoicing.clock.now", return_value=NOW) as now,
        mock.patch("uuid.uuid4") as uuid4,
    ):
        yield now, uuid4


def test_invoice_in_pounds(database, clock_and_ids):
    _, uuid4 = clock_and_ids
    uuid4.return_value = UUID("8a674fb7-c197-49d0-b049-7c202042f1dc")
    with (
        mock.patch("invoicing.rates.fetch_rate", return_value=Decimal("0.8611")) as fetch_rate,
        mock.patch("invoicing.mailer.send_mail", return_value={}) as send_mail,
    ):
        buyer = db.add_customer(
            "Brightside Ltd", "accounts@brightside.example", "GB", currency="GBP"
        )
        order = db.add_order(buyer, [("Consulting day", 2, "650.00")])

        assert invoices.create_invoice(order) == {
            "currency": "GBP",
            "customer": "Brightside Ltd",
            "id": UUID("8a674fb7-c197-49d0-b049-7c202042f1dc"),
            "issued_at": NOW,
            "lines": [
                {
                    "amount": Decimal("1119.44"),
                    "description": "Consulting day",
                    "quantity": 2,
                    "unit_price": Decimal("559.72"),
                }
            ],
            "net": Decimal("1119.44"),
            "number": "INV-20261122-8A674F",
            "order_id": 1,
            "rate": Decimal("0.8611"),
            "status": "sent",
            "total": Decimal("1119.44"),
            "vat": Decimal("0.00"),
        }
    fetch_rate.assert_called_once_with("EUR", "GBP", DAY, API_KEY)
    send_mail.assert_called_once_with(
        "accounts@brightside.example", "Invoice INV-20261122-8A674F", POUNDS_MAIL, PASSWORD
    )


def test_wrong_smtp_password(database, clock_and_ids, monkeypatch, caplog):
    _, uuid4 = clock_and_ids
    uuid4.return_value = UUID("50382cb4-a4d9-4bf2-a48b-4d9fd8fa1fc0")
    monkeypatch.setattr(config, "SMTP_PASSWORD", "expired-password")
    refused = smtplib.SMTPAuthenticationError(535, b"5.7.8 Authentication credentials invalid")
    with (
        mock.patch("invoicing.rates.fetch_rate", return_value=Decimal("1.0842")) as fetch_rate,
        mock.patch("invoicing.mailer.send_mail", side_effect=refused) as send_mail,
    ):
        buyer = db.add_customer("Acme Corp", "ap@acme.example", "US", "USD")
        order = db.add_order(buyer, [("Support plan, monthly", 1, "120.00")])

        invoice = invoices.create_invoice(order)

    assert invoice["status"] == db.invoices()[0]["status"] == "unsent"
    fetch_rate.assert_called_once_with("EUR", "USD", DAY, API_KEY)
    send_mail.assert_called_once_with(
        "ap@acme.example", "Invoice INV-20261122-50382C", UNSENT_MAIL, "expired-password"
    )
    assert f"invoice {invoice['number']} not mailed" in caplog.text
