"""The SDK tests' ``SQLiteStore``, played by this app's ``DjangoStore``.

The SDK's tests build one ``SQLiteStore(db_path)`` per test (or per server) and read
``store.db_path`` back; the database itself is the Django test database, emptied
between tests by the run's conftest.
"""

from __future__ import annotations

from django_chatkit.store import DjangoStore


class SQLiteStore(DjangoStore):
    def __init__(self, db_path: str | None = None) -> None:
        super().__init__()
        self.db_path = db_path
