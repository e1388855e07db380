"""The time, as the application sees it."""

from datetime import UTC, datetime


def now():
    """The current time in UTC, to the second."""
    return datetime.now(UTC).replace(microsecond=0)
