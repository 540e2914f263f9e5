"""The embedded database's file, created private before SQLite first opens it."""

from __future__ import annotations

import contextlib
import os

from sqlalchemy.engine import URL

__all__ = ["create_private_sqlite_file"]


def create_private_sqlite_file(url: URL) -> None:
    """Creates a missing SQLite database file readable and writable by its owner only.

    It holds event data, response bodies and API key hashes, and SQLite would create it
    with the process umask (usually readable by all). SQLite gives the -wal and -shm files
    it creates beside a database the database file's mode, so they are private too. An
    empty file is a valid empty database.
    """
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return
    # An existing file is kept; any other failure (a missing directory) is SQLite's to
    # report when it opens the file, as it was before this.
    with contextlib.suppress(OSError):
        os.close(os.open(str(url.database), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
