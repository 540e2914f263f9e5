"""What `hookcast migrate` says it did, and how operator commands name their database."""

from __future__ import annotations

from pathlib import Path

import pytest

from hookcast.cli.database import describe, migration_report, missing_database
from hookcast.config import Settings
from hookcast.store.migrate import Migration


@pytest.mark.parametrize(
    ("migration", "created", "said"),
    [
        (Migration(None, "0005"), True, "created /db at schema revision 0005"),
        (Migration(None, "0005"), False, "created the schema in /db (revision 0005)"),
        (Migration("0003", "0005"), False, "upgraded /db from schema revision 0003 to 0005"),
        (Migration("0005", "0005"), False, "/db is up to date (schema revision 0005)"),
    ],
)
def test_migrate_says_what_it_did(migration: Migration, created: bool, said: str) -> None:
    assert migration_report(migration, where="/db", created=created) == said


def test_postgresql_is_named_by_host_and_database_never_the_password() -> None:
    settings = Settings(database_url="postgresql://hook:s3cret@db.internal:5433/hookcast")
    assert describe(settings) == "PostgreSQL database hookcast on db.internal:5433"
    assert missing_database(settings) is None  # PostgreSQL's own error says what is wrong


def test_a_sqlite_file_that_is_not_there_is_named_in_full(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'hookcast.db'}")
    assert str(tmp_path / "hookcast.db") in (missing_database(settings) or "")
    (tmp_path / "hookcast.db").touch()
    assert missing_database(settings) is None


def test_a_password_with_a_slash_is_not_read_as_the_host() -> None:
    # Review 10: urlsplit read "hook" as the host and "b64" as a port (ValueError).
    settings = Settings(database_url="postgresql://hook:b64/pass?w#rd=@db.internal:5433/hookcast")
    assert describe(settings) == "PostgreSQL database hookcast on db.internal:5433"
