"""Northwind invoicing: turns pending orders into invoices, converts and mails them.

Written years ago and never refactored: settings are read at import, the database connection
is a module global, and `create_invoice` reads the clock, calls the rates service over HTTP,
writes to SQLite and sends mail over SMTP, all in one function.
"""
