"""Stores: the only place where a task's state changes."""

from __future__ import annotations

from tasky.stores.base import Store


def open_store(database_url: str) -> Store:
    """The store a ``TASKY_DATABASE_URL`` names: ``sqlite:///relative/path.db``,
    ``sqlite:////absolute/path.db``, ``postgresql://user:password@host:port/database``
    (or ``postgres://...``; any libpq connection URI)."""
    if database_url.startswith("sqlite:///"):
        from tasky.stores.sqlite import SQLiteStore

        return SQLiteStore(database_url.removeprefix("sqlite:///"))
    if database_url.startswith(("postgresql://", "postgres://")):
        from tasky.stores.postgres import PostgresStore

        return PostgresStore(database_url)
    scheme = database_url.split(":", 1)[0]
    raise ValueError(f"TASKY_DATABASE_URL: unsupported database {scheme!r}")
