"""A mail client; no test imports it, so it is a submodule that exists but is not loaded."""

from __future__ import annotations


def send(to: str, subject: str) -> str:
    raise RuntimeError("the tests never send mail")
