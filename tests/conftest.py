"""Fixtures every suite may use: a throwaway PostgreSQL, and one database per test on each
backend, so the same test runs against SQLite and PostgreSQL.

    database_url   "sqlite:///<tmp>/hookcast.db" or "postgresql://...", migrated, fresh per test
    store          an open SqlStore on database_url, closed after the test
    secret_key     the Fernet key `store` encrypts webhook secrets with
    postgres_url   (session) database name -> URL on the throwaway server (skips without one)
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from hookcast.store import SqlStore, migrate, open_store
from support.postgres import PostgresServer, postgres_server, run_sql

_TEMPLATE = "hookcast_template"
_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def _postgres() -> Iterator[PostgresServer | None]:
    with postgres_server() as server:
        yield server


@pytest.fixture(scope="session")
def postgres_url(_postgres: PostgresServer | None) -> Callable[[str], str]:
    """Builds a URL for a database on the session's PostgreSQL server."""
    if _postgres is None:
        missing = "PostgreSQL binaries (initdb, postgres) are not installed"
        if os.environ.get("CI"):  # on CI a silent skip would hide half the contract suite
            pytest.fail(missing)
        pytest.skip(missing)
    return _postgres.url


@pytest.fixture(scope="session")
def _postgres_template(postgres_url: Callable[[str], str]) -> str:
    """A migrated database that every test's database is copied from (much faster than
    migrating each one)."""
    run_sql(postgres_url("postgres"), f"CREATE DATABASE {_TEMPLATE}")
    migrate(postgres_url(_TEMPLATE))
    return _TEMPLATE


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "hookcast.db"
    migrate(f"sqlite:///{path}")
    return path


def _fresh_postgres(request: pytest.FixtureRequest) -> Iterator[str]:
    postgres_url: Callable[[str], str] = request.getfixturevalue("postgres_url")
    template: str = request.getfixturevalue("_postgres_template")
    name = f"hookcast_test_{next(_numbers)}"
    run_sql(postgres_url("postgres"), f"CREATE DATABASE {name} TEMPLATE {template}")
    yield postgres_url(name)
    run_sql(postgres_url("postgres"), f"DROP DATABASE {name} WITH (FORCE)")


def _fresh_sqlite(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    template: Path = request.getfixturevalue("_sqlite_template")
    path = tmp_path / "hookcast.db"
    # migrate() closed every connection, so the WAL is checkpointed into the main file.
    shutil.copyfile(template, path)
    yield f"sqlite:///{path}"


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A freshly migrated database (one "Default" account) on each backend."""
    if request.param == "postgres":
        yield from _fresh_postgres(request)
    else:
        yield from _fresh_sqlite(request, tmp_path)


@pytest.fixture
def secret_key() -> bytes:
    return Fernet.generate_key()


@pytest.fixture
async def store(database_url: str, secret_key: bytes) -> AsyncIterator[SqlStore]:
    opened = await open_store(database_url, secret_key=secret_key)
    try:
        yield opened
    finally:
        await opened.close()
