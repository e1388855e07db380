"""Invoicing: the business logic, with every side effect inside it."""

import logging
import smtplib
import uuid
from decimal import Decimal

import snapy

from . import clock, config, db, mailer, rates

log = logging.getLogger(__name__)
CENT = Decimal("0.01")


class InvoiceError(Exception):
    """The order cannot be invoiced."""


@snapy.capture(retention=10)
def create_invoice(order_id):
    """Invoice one pending order in the customer's currency, store it and mail it."""
    order = db.get_order(order_id)
    if order is None:
        raise InvoiceError(f"order {order_id} does not exist")
    if order["status"] != "pending":
        raise InvoiceError(f"order {order_id} is already {order['status']}")

    issued_at = clock.now()
    currency = order["currency"]
    if currency == config.HOME_CURRENCY:
        rate = Decimal(1)
    else:
        rate = rates.fetch_rate(
            config.HOME_CURRENCY, currency, issued_at.date().isoformat(), config.RATES_API_KEY
        )

    lines = []
    for row in db.order_lines(order_id):
        unit_price = (Decimal(row["unit_price"]) * rate).quantize(CENT)
        lines.append(
            {
                "description": row["description"],
                "quantity": row["quantity"],
                "unit_price": unit_price,
                "amount": unit_price * row["quantity"],
            }
        )
    net = sum((line["amount"] for line in lines), Decimal(0))
    vat = Decimal("0.00")
    if order["country"] in config.EU_COUNTRIES:
        vat = (net * config.VAT_RATE).quantize(CENT)
    invoice_id = uuid.uuid4()
    invoice = {
        "id": invoice_id,
        "number": f"INV-{issued_at:%Y%m%d}-{invoice_id.hex[:6].upper()}",
        "order_id": order_id,
        "customer": order["name"],
        "issued_at": issued_at,
        "currency": currency,
        "rate": rate,
        "lines": lines,
        "net": net,
        "vat": vat,
        "total": net + vat,
        "status": "new",
    }
    db.save_invoice(invoice, order_id)

    try:
        mailer.send_mail(
            order["email"],
            f"Invoice {invoice['number']}",
            render(invoice),
            config.SMTP_PASSWORD,
        )
        invoice["status"] = "sent"
    except smtplib.SMTPException as exc:
        log.warning("invoice %s not mailed: %s", invoice["number"], exc)
        invoice["status"] = "unsent"
    db.set_invoice_status(invoice_id, invoice["status"])
    return invoice


@snapy.capture
def invoice_pending_orders():
    """Invoice every pending order; an order without an exchange rate waits for the next run."""
    done, waiting = [], {}
    for order_id in db.pending_orders():
        try:
            invoice = create_invoice(order_id)
        except rates.RateUnavailable as exc:
            waiting[order_id] = str(exc)
            continue
        done.append(
            {
                "number": invoice["number"],
                "customer": invoice["customer"],
                "total": f"{invoice['total']} {invoice['currency']}",
                "status": invoice["status"],
            }
        )
    return {"invoiced": done, "waiting": waiting}


def render(invoice):
    """The e-mail text of an invoice."""
    currency = invoice["currency"]
    rows = [
        f"  {line['quantity']:>3} x {line['description']:<28}{line['amount']:>12,} {currency}"
        for line in invoice["lines"]
    ]
    text = [
        f"Dear {invoice['customer']},",
        "",
        f"please find below invoice {invoice['number']} of {invoice['issued_at']:%d %B %Y}.",
        "",
        *rows,
        f"  {'Net':<34}{invoice['net']:>12,} {currency}",
        f"  {'VAT':<34}{invoice['vat']:>12,} {currency}",
        f"  {'Total':<34}{invoice['total']:>12,} {currency}",
        "",
    ]
    if currency != config.HOME_CURRENCY:
        text += [f"Converted at 1 {config.HOME_CURRENCY} = {invoice['rate']} {currency}.", ""]
    text.append("Northwind Traders, Billing")
    return "\n".join(text)
