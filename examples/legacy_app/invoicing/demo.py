"""Demo data: four customers with one pending order each."""

from . import db

CUSTOMERS = [
    ("Acme Corp", "ap@acme.example", "US", "USD"),
    ("Brightside Ltd", "accounts@brightside.example", "GB", "GBP"),
    ("Cafe Lumiere", "compta@cafe-lumiere.example", "FR", "EUR"),
    ("Kaizen KK", "keiri@kaizen.example", "JP", "JPY"),
]
ORDERS = [  # (description, quantity, unit price in EUR), one order per customer
    [("Support plan, monthly", 3, "120.00"), ("Onboarding workshop", 1, "950.00")],
    [("Consulting day", 2, "650.00")],
    [("Espresso beans, 1 kg", 12, "18.50")],
    [("Annual licence", 1, "4800.00")],
]


def seed():
    """Add the demo customers and their orders; returns the new order ids."""
    return [
        db.add_order(db.add_customer(*customer), lines)
        for customer, lines in zip(CUSTOMERS, ORDERS, strict=True)
    ]
