"""The SQLite database: customers, their orders, and the invoices made from them.

One connection for the whole process, opened on first use from `config.DATABASE`.
"""

import sqlite3

from . import config

SCHEMA = """
CREATE TABLE IF NOT EXISTS customers (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL,
    country TEXT NOT NULL, currency TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS orders (
    id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers(id),
    status TEXT NOT NULL DEFAULT 'pending'
);
CREATE TABLE IF NOT EXISTS order_lines (
    order_id INTEGER NOT NULL REFERENCES orders(id), description TEXT NOT NULL,
    quantity INTEGER NOT NULL, unit_price TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS invoices (
    id TEXT PRIMARY KEY, number TEXT UNIQUE NOT NULL,
    order_id INTEGER NOT NULL REFERENCES orders(id), issued_at TEXT NOT NULL,
    currency TEXT NOT NULL, rate TEXT NOT NULL, net TEXT NOT NULL, vat TEXT NOT NULL,
    total TEXT NOT NULL, status TEXT NOT NULL
);
"""

_connection = None


def connection():
    global _connection
    if _connection is None:
        _connection = sqlite3.connect(config.DATABASE)
        _connection.row_factory = sqlite3.Row
        _connection.executescript(SCHEMA)
    return _connection


def add_customer(name, email, country, currency):
    with connection() as db:
        cursor = db.execute(
            "INSERT INTO customers (name, email, country, currency) VALUES (?, ?, ?, ?)",
            (name, email, country, currency),
        )
    return cursor.lastrowid


def add_order(customer_id, lines):
    """A pending order; `lines` are (description, quantity, unit price in EUR as text)."""
    with connection() as db:
        order_id = db.execute(
            "INSERT INTO orders (customer_id) VALUES (?)", (customer_id,)
        ).lastrowid
        db.executemany(
            "INSERT INTO order_lines VALUES (?, ?, ?, ?)",
            [(order_id, *line) for line in lines],
        )
    return order_id


def get_order(order_id):
    """The order joined with its customer, or None."""
    rows = connection().execute(
        "SELECT orders.id, orders.status, customers.name, customers.email,"
        " customers.country, customers.currency"
        " FROM orders JOIN customers ON customers.id = orders.customer_id"
        " WHERE orders.id = ?",
        (order_id,),
    )
    return rows.fetchone()


def order_lines(order_id):
    rows = connection().execute(
        "SELECT description, quantity, unit_price FROM order_lines WHERE order_id = ?"
        " ORDER BY rowid",
        (order_id,),
    )
    return rows.fetchall()


def pending_orders():
    rows = connection().execute("SELECT id FROM orders WHERE status = 'pending' ORDER BY id")
    return [row["id"] for row in rows]


def save_invoice(invoice, order_id):
    """Store a new invoice and mark its order invoiced, in one transaction."""
    with connection() as db:
        db.execute(
            "INSERT INTO invoices VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                str(invoice["id"]),
                invoice["number"],
                order_id,
                invoice["issued_at"].isoformat(),
                invoice["currency"],
                *(str(invoice[name]) for name in ("rate", "net", "vat", "total")),
                invoice["status"],
            ),
        )
        db.execute("UPDATE orders SET status = 'invoiced' WHERE id = ?", (order_id,))


def set_invoice_status(invoice_id, status):
    with connection() as db:
        db.execute("UPDATE invoices SET status = ? WHERE id = ?", (status, str(invoice_id)))


def invoices():
    return connection().execute("SELECT * FROM invoices ORDER BY number").fetchall()
