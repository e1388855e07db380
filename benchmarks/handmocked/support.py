"""What the hand-mocked tests share: a database of their own, and the recorded world.

The values below are what snapy replays from `examples/legacy_app/tests/__recordings__`,
written out by hand, as a test without snapy has to.
"""

import tempfile
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from unittest import mock

from invoicing import config, db

NOW = datetime(2026, 11, 22, 1, 14, 14, tzinfo=UTC)
DAY = "2026-11-22"
API_KEY = "rk_demo_4f1c2e"
PASSWORD = "smtp-demo-password"


@contextmanager
def temporary_database():
    """A new SQLite file for one test, the application's globals pointed at it."""
    with (
        tempfile.TemporaryDirectory() as folder,
        mock.patch.object(config, "DATABASE", str(Path(folder) / "invoicing.db")),
        mock.patch.object(db, "_connection", None),
    ):
        try:
            yield
        finally:
            if db._connection is not None:
                db._connection.close()
