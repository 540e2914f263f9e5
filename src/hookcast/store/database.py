"""Database URLs, and the connector for each database.

`sqlite:///path` is the embedded database (SQLiteConnector), `postgresql://...` (or
`postgres://`) the scale-out one (AsyncpgConnector). SQLAlchemy's async URLs, which
`to_async_url` gives, serve Alembic's migrations and callers' own engines (`SqlStore.using`).
"""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url

from hookcast.store.asyncpg_connector import AsyncpgConnector
from hookcast.store.connector import Connector
from hookcast.store.files import create_private_sqlite_file
from hookcast.store.sqlite_connector import SQLiteConnector

__all__ = ["CONNECT_TIMEOUT_SECONDS", "asyncpg_dsn", "open_connector", "to_async_url"]

# How long connecting to PostgreSQL may take, unless told (HOOKCAST_DATABASE_CONNECT_TIMEOUT_
# SECONDS): asyncpg's own 60 s held `migrate`, `serve` and a worker's first claim that long
# against a server that accepts the connection and never answers.
CONNECT_TIMEOUT_SECONDS = 10.0


def to_async_url(database_url: str) -> URL:
    """`sqlite:///path` → aiosqlite, `postgresql://` / `postgres://` → asyncpg."""
    if database_url.startswith("postgres://"):
        database_url = "postgresql://" + database_url.removeprefix("postgres://")
    url = make_url(database_url)
    if url.drivername == "sqlite":
        url = url.set(drivername="sqlite+aiosqlite")
    elif url.drivername == "postgresql":
        url = url.set(drivername="postgresql+asyncpg")
    if url.drivername == "sqlite+aiosqlite" and url.database in (None, "", ":memory:"):
        # Readers and the writer use separate connections, which would each see their own
        # private in-memory database.
        raise ValueError("in-memory SQLite is not supported: give a file path")
    if url.drivername not in ("sqlite+aiosqlite", "postgresql+asyncpg"):
        raise ValueError(f"unsupported database URL scheme {url.drivername!r}")
    return url


def asyncpg_dsn(url: URL) -> str:
    """The libpq-style DSN asyncpg.connect() takes."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def open_connector(
    database_url: str, *, connect_timeout: float = CONNECT_TIMEOUT_SECONDS
) -> Connector:
    """The connector for `database_url`; it connects on first use, giving up on a
    PostgreSQL server that has not answered within `connect_timeout` seconds."""
    url = to_async_url(database_url)
    create_private_sqlite_file(url)
    if url.get_backend_name() == "postgresql":
        return AsyncpgConnector(asyncpg_dsn(url), connect_timeout=connect_timeout)
    assert url.database is not None  # to_async_url refuses SQLite URLs without a path
    return SQLiteConnector(url.database)
