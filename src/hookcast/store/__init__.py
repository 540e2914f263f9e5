"""The one `Store` implementation, on SQLite (embedded) or PostgreSQL: statements written
once in SQLAlchemy Core, run by one connector per driver (store/connector.py).

migrate("sqlite:///hookcast.db")        # sync; creates or upgrades the schema
store = await open_store("sqlite:///hookcast.db", secret_key=load_or_create_key(path))
"""

from hookcast.store.crypto import SecretBox, SecretKeyError, load_or_create_key
from hookcast.store.database import to_async_url
from hookcast.store.errors import StoreUnavailable
from hookcast.store.migrate import migrate, open_store
from hookcast.store.sql_store import SqlStore

__all__ = [
    "SecretBox",
    "SecretKeyError",
    "SqlStore",
    "StoreUnavailable",
    "load_or_create_key",
    "migrate",
    "open_store",
    "to_async_url",
]
