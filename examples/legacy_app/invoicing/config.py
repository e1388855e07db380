"""Settings, read once from the environment when the application is imported."""

import os
from decimal import Decimal

DATABASE = os.environ.get("INVOICING_DB", "invoicing.db")
RATES_URL = os.environ.get("RATES_URL", "http://127.0.0.1:8001")
RATES_API_KEY = os.environ.get("RATES_API_KEY", "rk_demo_4f1c2e")
SMTP_HOST = os.environ.get("SMTP_HOST", "127.0.0.1")
SMTP_PORT = int(os.environ.get("SMTP_PORT", "8025"))
SMTP_USER = os.environ.get("SMTP_USER", "billing")
SMTP_PASSWORD = os.environ.get("SMTP_PASSWORD", "smtp-demo-password")

SENDER = "billing@northwind.example"
HOME_CURRENCY = "EUR"
VAT_RATE = Decimal("0.20")
EU_COUNTRIES = {"AT", "BE", "DE", "ES", "FR", "IE", "IT", "NL", "PT"}
