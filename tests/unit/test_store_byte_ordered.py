"""Ids and keys compare as bytes: "C" on PostgreSQL's columns, nothing on SQLite's, and
never in the casts of a statement's array parameters (an array cast cannot name one)."""

from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.schema import CreateTable

from hookcast.store.tables import deliveries, webhooks
from hookcast.store.types import byte_ordered
from hookcast.store.unnest import unnest_source


def test_postgresql_columns_of_ids_are_in_the_c_collation() -> None:
    ddl = str(CreateTable(deliveries).compile(dialect=postgresql.dialect()))  # type: ignore[no-untyped-call]
    assert 'id VARCHAR(32) COLLATE "C" NOT NULL' in ddl
    assert 'webhook_id VARCHAR(8) COLLATE "C" NOT NULL' in ddl
    assert "status VARCHAR(16) NOT NULL" in ddl  # not a key
    assert 'name TEXT COLLATE "C" NOT NULL' in str(
        CreateTable(webhooks).compile(dialect=postgresql.dialect())  # type: ignore[no-untyped-call]
    )


def test_sqlite_columns_name_no_collation() -> None:
    ddl = str(CreateTable(deliveries).compile(dialect=sqlite.dialect()))
    assert "COLLATE" not in ddl
    assert byte_ordered(8).compile(dialect=sqlite.dialect()) == "VARCHAR(8)"


def test_array_casts_name_no_collation() -> None:
    source = unnest_source(deliveries)
    assert "COLLATE" not in source
    assert "CAST(:u_id AS VARCHAR(32)[])" in source
