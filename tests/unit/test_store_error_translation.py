"""What a driver's error becomes at the store's boundary: a caller sees HookCast's errors only
(the API turns them into 409, 400 and 503), never a driver's, which the API would answer 500."""

from __future__ import annotations

import socket
import sqlite3

import asyncpg  # type: ignore[import-untyped]
import pytest

from hookcast.domain.errors import (
    Conflict,
    HookcastError,
    Unavailable,
    Unreachable,
    ValidationFailed,
)
from hookcast.store.errors import RolledBack, connection_refusal, translate_errors


@pytest.mark.parametrize(
    ("raised", "seen"),
    [
        (sqlite3.IntegrityError("UNIQUE constraint failed: webhooks.id"), Conflict),
        (sqlite3.OperationalError("database is locked"), Unavailable),
        (asyncpg.UniqueViolationError("duplicate key"), Conflict),
        (asyncpg.CharacterNotInRepertoireError("invalid byte sequence"), ValidationFailed),
        (asyncpg.CannotConnectNowError("the database system is starting up"), Unavailable),
        (asyncpg.InterfaceError("connection is closed"), Unavailable),
        # Seen while PostgreSQL restarted under load (chaos: postgres-restart): asyncpg's
        # protocol state machine refused a BEGIN on a connection the restart had broken.
        (
            asyncpg.InternalClientError(
                "cannot switch to state 15; another operation (2) is in progress"
            ),
            Unavailable,
        ),
        (ConnectionResetError("reset by peer"), Unavailable),
    ],
)
def test_a_driver_error_leaves_the_store_as_hookcasts(
    raised: Exception, seen: type[HookcastError]
) -> None:
    with pytest.raises(seen), translate_errors():
        raise raised


@pytest.mark.parametrize(
    ("raised", "redo"),
    [
        (asyncpg.DeadlockDetectedError("deadlock detected"), True),
        (asyncpg.SerializationError("could not serialize access"), True),
        (asyncpg.CannotConnectNowError("the database system is starting up"), False),
        (sqlite3.OperationalError("database is locked"), False),
    ],
)
def test_a_transaction_the_database_rolled_back_to_end_a_conflict_can_be_run_again(
    raised: Exception, redo: bool
) -> None:
    # Both an outage to the API (503); the store runs a publish group again only on the first.
    with pytest.raises(Unavailable) as seen, translate_errors():
        raise raised
    assert isinstance(seen.value, RolledBack) is redo


def test_an_error_that_is_not_the_drivers_passes_through() -> None:
    with pytest.raises(KeyError), translate_errors():
        raise KeyError("a bug of ours stays a bug")


def _sqlite(message: str, code: int) -> sqlite3.Error:
    """A sqlite3 error as SQLite raises it: its result code set (a constructed one has none)."""
    error = sqlite3.OperationalError(message)
    error.sqlite_errorcode = code
    return error


@pytest.mark.parametrize(
    ("raised", "outage"),
    [
        # Not reached, or not serving at all: an outage, said in one line (delivery/outage.py).
        (ConnectionRefusedError("refused"), True),
        (TimeoutError(), True),
        (asyncpg.CannotConnectNowError("the database system is starting up"), True),
        (asyncpg.AdminShutdownError("terminating connection"), True),
        (asyncpg.TooManyConnectionsError("too many clients"), True),
        (asyncpg.ConnectionDoesNotExistError("connection was closed"), True),
        (asyncpg.InterfaceError("connection is closed"), True),
        (_sqlite("database is locked", 5), True),
        (_sqlite("disk I/O error", 10 | (1 << 8)), True),  # an extended code: SQLITE_IOERR_READ
        (_sqlite("unable to open database file", 14), True),
        # Refused statements: a bug, said in full.
        (asyncpg.UndefinedColumnError('column "lease_losses" does not exist'), False),
        (asyncpg.PostgresSyntaxError("syntax error at or near"), False),
        (
            asyncpg.InterfaceError("the server expects 2 arguments for this query, 1 was passed"),
            False,
        ),
        (_sqlite("no such column: lease_losses", 1), False),
    ],
)
def test_only_a_database_not_reached_or_not_serving_is_unreachable(
    raised: Exception, outage: bool
) -> None:
    with pytest.raises(Unavailable) as seen, translate_errors():
        raise raised
    assert isinstance(seen.value, Unreachable) is outage


def _translated(raised: BaseException) -> HookcastError:
    with pytest.raises(HookcastError) as caught, translate_errors():
        raise raised
    return caught.value


@pytest.mark.parametrize(
    ("raised", "said"),
    [
        (
            ConnectionRefusedError(111, "Connection refused"),
            "the connection was refused (is PostgreSQL running there?)",
        ),
        (socket.gaierror(-2, "Name or service not known"), "its host name was not found"),
        (
            asyncpg.InvalidCatalogNameError('database "nothing_here" does not exist'),
            'database "nothing_here" does not exist',
        ),
        (
            asyncpg.InvalidPasswordError('password authentication failed for user "app"'),
            'password authentication failed for user "app"',
        ),
        (sqlite3.OperationalError("database is locked"), None),  # not a connection refused
        (asyncpg.UniqueViolationError("duplicate key"), None),
    ],
)
def test_a_refused_connection_is_said_in_words(raised: BaseException, said: str | None) -> None:
    # The operator's line named Python's class ("gaierror", "InvalidCatalogNameError").
    assert connection_refusal(_translated(raised)) == said
