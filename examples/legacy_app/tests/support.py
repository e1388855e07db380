"""What every test of the application needs: a database file of its own."""

import tempfile
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

from invoicing import config, db


@contextmanager
def temporary_database():
    """A new SQLite file for one test. The application keeps its settings and its connection
    in module globals, so the test points those at the file and puts them back afterwards."""
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
