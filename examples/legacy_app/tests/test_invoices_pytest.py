"""The same application under pytest: the `side_effects` marker and fixture."""

import smtplib

import pytest

from invoicing import config, db, invoices
from tests import support

CLOCK_AND_IDS = ("invoicing.clock.now", "uuid.uuid4")
RATES, MAIL = "invoicing.rates.fetch_rate", "invoicing.mailer.send_mail"


@pytest.fixture
def database():
    with support.temporary_database():
        yield


@pytest.mark.side_effects(*CLOCK_AND_IDS, RATES, MAIL)
def test_invoice_in_pounds(database, snapshot):
    buyer = db.add_customer("Brightside Ltd", "accounts@brightside.example", "GB", currency="GBP")
    order = db.add_order(buyer, [("Consulting day", 2, "650.00")])

    assert invoices.create_invoice(order) == snapshot


@pytest.mark.side_effects(*CLOCK_AND_IDS, RATES)
def test_wrong_smtp_password(database, side_effects, monkeypatch, caplog):
    monkeypatch.setattr(config, "SMTP_PASSWORD", "expired-password")
    send_mail = side_effects.replay(MAIL)
    buyer = db.add_customer("Acme Corp", "ap@acme.example", "US", "USD")
    order = db.add_order(buyer, [("Support plan, monthly", 1, "120.00")])

    invoice = invoices.create_invoice(order)

    assert invoice["status"] == db.invoices()[0]["status"] == "unsent"
    [call] = send_mail.calls
    assert isinstance(call.value, smtplib.SMTPAuthenticationError)
    assert call.value.smtp_code == 535
    assert f"invoice {invoice['number']} not mailed" in caplog.text
