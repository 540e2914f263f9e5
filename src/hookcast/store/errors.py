"""Driver errors, translated once, at the connector boundary, into HookCast's errors.

`Conflict` for constraint violations, `ValidationFailed` for values the database refuses
(SQLSTATE class 22, e.g. a NUL character on PostgreSQL), `Unavailable` for the rest: an
outage is not the caller's fault, a bad value is. Of those, `Unreachable` is the database
not reached or not serving at all (the connection, the server, the disk: `_is_unreachable`),
which the worker says as an outage; a plain `Unavailable` is a statement refused otherwise
(a syntax error, a missing column), a bug the worker logs in full. `RolledBack`, an
`Unavailable`, says PostgreSQL ended the transaction to break a deadlock or a serialization
failure with a concurrent one: run again, the same work may well succeed. Only the drivers'
own exceptions (sqlite3, asyncpg, and SQLAlchemy's for a caller's connection) are
translated; anything else raised inside a transaction block passes through unchanged.

The translated error's cause says what the database refused in PEP 249's terms, whatever the
driver (`IntegrityError`, `DataError`, `DatabaseError`), and chains the driver's own error,
to which the connector added the statement (`note_statement`): a logged traceback names the
statement but never its parameters, which hold event data, response bodies and names.
"""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import exc as sa_exc

from hookcast.domain.errors import (
    Conflict,
    HookcastError,
    Unavailable,
    Unreachable,
    ValidationFailed,
)

__all__ = [
    "DataError",
    "DatabaseError",
    "IntegrityError",
    "RolledBack",
    "StoreUnavailable",
    "connection_refusal",
    "note_statement",
    "translate_errors",
]

# Kept as the store's name for the same error, so `except StoreUnavailable` reads naturally.
StoreUnavailable = Unavailable

_DRIVER_ERRORS = (
    sqlite3.Error,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    # asyncpg's own state machine refusing a connection a server restart broke mid-use
    # ("cannot switch to state 15; another operation is in progress"): an outage too.
    asyncpg.InternalClientError,
    sa_exc.SQLAlchemyError,
    OSError,
    TimeoutError,
)
_BAD_VALUE = "the database refused a value (for example a NUL character or an out-of-range number)"
_ROLLED_BACK = {"40P01", "40001"}  # deadlock_detected, serialization_failure
# SQLSTATE classes of a server that cannot serve at all: 08 connection exception, 53
# insufficient resources (too many connections, disk full), 57 operator intervention
# (shutting down, starting up, query canceled), 58 system error (I/O).
_UNREACHABLE_CLASSES = ("08", "53", "57", "58")
# SQLite's primary result codes for the same: busy, locked, out of memory, I/O error, disk
# full, cannot open, lock protocol error. SQLITE_ERROR (1: a syntax error, a missing table or
# column) and the rest are statements refused.
_UNREACHABLE_SQLITE = frozenset({5, 6, 7, 10, 13, 14, 15})


class RolledBack(Unavailable):
    """PostgreSQL rolled the transaction back to end a deadlock (SQLSTATE 40P01) or a
    serialization failure (40001) with a concurrent transaction; the same statements run
    again may succeed. To a caller that does not run them again, an outage like any other."""


class DatabaseError(Exception):
    """A statement the database (or its driver) refused: the driver's error, by class and
    message, chained under HookCast's own."""


class IntegrityError(DatabaseError):
    """A constraint refused the statement (a duplicate key, a missing reference)."""


class DataError(DatabaseError):
    """The database refused one of the statement's values."""


def note_statement(exc: BaseException, sql: str) -> None:
    """Adds the statement a driver error came from to its traceback (never the values)."""
    exc.add_note(f"[SQL: {sql}]")


@contextmanager
def translate_errors() -> Iterator[None]:
    """Raises the store's error for a driver's error raised inside the block."""
    try:
        yield
    except _DRIVER_ERRORS as exc:
        raise _translated(exc) from _described(exc)


def _described(exc: BaseException) -> BaseException:
    """The cause to chain: SQLAlchemy's errors and outages as they are, a driver's error
    under the PEP 249 class it belongs to."""
    if isinstance(exc, sa_exc.SQLAlchemyError | OSError | TimeoutError):
        return exc
    kind = (
        IntegrityError
        if _is_constraint(exc)
        else DataError
        if _is_bad_value(exc)
        else DatabaseError
    )
    described = kind(f"({type(exc).__module__}.{type(exc).__name__}) {exc}")
    described.__cause__ = exc
    return described


def _translated(exc: BaseException) -> HookcastError:
    cause = exc.orig if isinstance(exc, sa_exc.DBAPIError) else exc
    if isinstance(exc, sa_exc.IntegrityError) or _is_constraint(cause):
        return Conflict("the resource already exists")
    if isinstance(exc, sa_exc.DataError) or _is_bad_value(cause):
        return ValidationFailed(_BAD_VALUE)
    if _sqlstate(cause) in _ROLLED_BACK:
        return RolledBack(f"the database is unavailable: {type(exc).__name__}")
    if isinstance(exc, TimeoutError):  # connecting, on PostgreSQL (store/database.py)
        return Unreachable("the database is unavailable: it did not answer in time")
    if _is_unreachable(exc) or _is_unreachable(cause):
        return Unreachable(
            f"the database is unavailable: {type(exc).__name__}", reason=_sqlite_reason(exc)
        )
    return Unavailable(f"the database is unavailable: {type(exc).__name__}")


def _sqlite_reason(exc: BaseException) -> str | None:
    """SQLite's result code and its own text for it ("SQLITE_FULL: database or disk is
    full"): the operator's log said "OperationalError" alone for a full disk, a locked file
    and an I/O error alike. These codes' texts are SQLite's fixed ones, without values."""
    name = getattr(exc, "sqlite_errorname", None)
    if not isinstance(exc, sqlite3.Error) or not name:
        return None
    return f"{name}: {' '.join(str(exc).split())[:200]}"


def _is_unreachable(exc: BaseException | None) -> bool:
    """Whether a driver's error says the database was not reached or could not serve at
    all, rather than refusing the statement."""
    if isinstance(
        exc,
        OSError
        | TimeoutError
        | asyncpg.PostgresConnectionError
        | asyncpg.InternalClientError
        | sa_exc.DisconnectionError
        | sa_exc.TimeoutError,
    ):
        return True
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, asyncpg.InterfaceError):  # "connection is closed", "pool is closing"
        return "clos" in str(exc)
    if isinstance(exc, sqlite3.Error):
        return (getattr(exc, "sqlite_errorcode", 0) & 0xFF) in _UNREACHABLE_SQLITE
    return _sqlstate(exc)[:2] in _UNREACHABLE_CLASSES


def _is_constraint(exc: BaseException | None) -> bool:
    return isinstance(
        exc, sqlite3.IntegrityError | asyncpg.IntegrityConstraintViolationError
    ) or _sqlstate(exc).startswith("23")


def _is_bad_value(exc: BaseException | None) -> bool:
    for candidate in (exc, getattr(exc, "__cause__", None)):
        if isinstance(candidate, sqlite3.DataError) or _sqlstate(candidate).startswith("22"):
            return True
        # asyncpg refuses some values client-side (e.g. an int64 overflow) with a DataError
        # that is a ValueError.
        if isinstance(candidate, ValueError):
            return True
    return False


def _sqlstate(exc: BaseException | None) -> str:
    return str(getattr(exc, "sqlstate", "") or "")


# PostgreSQL's own words for a connection it refused are the clearest there are ('role "x"
# does not exist', 'password authentication failed for user "x"', 'database "x" does not
# exist'); the class names alone (InvalidCatalogNameError, DBAPIError) said nothing to act on.
_REFUSED_BY_POSTGRESQL = (
    asyncpg.InvalidAuthorizationSpecificationError,  # and its InvalidPasswordError
    asyncpg.InvalidCatalogNameError,
)


def connection_refusal(error: BaseException) -> str | None:
    """Why a connection to the database was not made, in words, from the driver's error
    under `error` (its causes); None when the connection was not the trouble. For the
    operator's one line: "gaierror" and "ConnectionRefusedError" named Python's classes,
    not what to fix."""
    for cause in _causes(error):
        if isinstance(cause, ConnectionRefusedError):
            return "the connection was refused (is PostgreSQL running there?)"
        if isinstance(cause, socket.gaierror):
            return "its host name was not found"
        if isinstance(cause, _REFUSED_BY_POSTGRESQL):
            return str(cause).splitlines()[0]
    return None


def _causes(error: BaseException) -> Iterator[BaseException]:
    """`error`'s causes, nearest first: chained ones and SQLAlchemy's wrapped driver error."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending and len(seen) < 20:  # a chain is a few links; a cycle must not loop
        cause = pending.pop(0)
        if cause is None or id(cause) in seen:
            continue
        seen.add(id(cause))
        yield cause
        pending += [cause.__cause__, cause.__context__, getattr(cause, "orig", None)]
