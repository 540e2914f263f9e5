"""delivery/outage.py: a database outage in three kinds of line (unavailable, still, back)."""

from __future__ import annotations

import logging
import sqlite3

import pytest

from hookcast.delivery.outage import Outage
from hookcast.domain.errors import Unavailable, Unreachable
from hookcast.store.errors import translate_errors

DATABASE = "PostgreSQL database hookcast on db:5432"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def said(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    return [(r.levelname, r.getMessage()) for r in caplog.records if r.levelno > logging.DEBUG]


def test_one_line_down_a_reminder_a_minute_one_line_back(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, "test.outage")
    clock = Clock()
    outage = Outage(logging.getLogger("test.outage"), database=DATABASE, clock=clock)
    outage.worked()  # nothing to say while the database answers
    for _ in range(150):  # 150 s of failing claims and heartbeats, twice a second
        outage.failed("claiming deliveries", ConnectionRefusedError("refused"))
        clock.now += 0.5
        outage.failed("recording the worker's heartbeat", ConnectionRefusedError("refused"))
        clock.now += 0.5
    outage.worked()  # too soon after the last failure to be sure
    clock.now += 4.5
    outage.worked()
    outage.worked()

    assert said(caplog) == [
        (
            "ERROR",
            f"{DATABASE} is unavailable (claiming deliveries: refused); retrying until it is back",
        ),
        (
            "ERROR",
            f"{DATABASE} still unavailable after 1 min 0 s (claiming deliveries: "
            "refused); retrying",
        ),
        (
            "ERROR",
            f"{DATABASE} still unavailable after 2 min 0 s (claiming deliveries: "
            "refused); retrying",
        ),
        ("WARNING", f"{DATABASE} is back after 2 min 34 s"),
    ]
    tracebacks = [r for r in caplog.records if r.levelno == logging.DEBUG]
    assert len(tracebacks) == 300
    assert all(r.exc_info for r in tracebacks)


def test_a_second_outage_is_said_again(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "test.outage")
    clock = Clock()
    outage = Outage(logging.getLogger("test.outage"), clock=clock)
    for _ in range(2):
        outage.failed("claiming deliveries", OSError())
        clock.now += 6
        outage.worked()

    assert [message for _, message in said(caplog)] == [
        "the database is unavailable (claiming deliveries: OSError); retrying until it is back",
        "the database is back after 6 s",
    ] * 2


def test_a_database_failing_some_calls_and_not_others_is_one_outage(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A full SQLite disk: writes needing a new page fail, claims go through. Each claim that
    # went through said "back after 1 s" and the next write "unavailable" again, every second.
    caplog.set_level(logging.INFO, "test.outage")
    clock = Clock()
    outage = Outage(logging.getLogger("test.outage"), database="hookcast.db", clock=clock)
    for _ in range(90):  # 90 s
        outage.failed("recording the worker's heartbeat", OSError("full"))
        clock.now += 0.5
        outage.worked()
        clock.now += 0.5
    for _ in range(10):  # space freed: every call goes through
        outage.worked()
        clock.now += 1

    assert [message for _, message in said(caplog)] == [
        "hookcast.db is unavailable (recording the worker's heartbeat: full); retrying until "
        "it is back",
        "hookcast.db still unavailable after 1 min 0 s (recording the worker's heartbeat: "
        "full); retrying",
        "hookcast.db is back after 1 min 34 s",
    ]


def test_an_error_that_is_no_outage_is_logged_in_full_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, "test.outage")
    outage = Outage(logging.getLogger("test.outage"), clock=Clock())
    for rows in range(1, 4):  # the same error three times, only a number differing
        outage.failed("claiming deliveries", KeyError(f"webhook_id of {rows} rows"))
    outage.failed("claiming deliveries", KeyError("account_id"))  # another: said too
    outage.failed("recording the worker's heartbeat", KeyError("account_id"))  # elsewhere

    assert [(r.levelname, r.getMessage(), r.exc_info is not None) for r in caplog.records] == [
        ("ERROR", "claiming deliveries failed (not an outage: said once, repeats at DEBUG)", True),
        ("DEBUG", "claiming deliveries failed again", True),
        ("DEBUG", "claiming deliveries failed again", True),
        ("ERROR", "claiming deliveries failed (not an outage: said once, repeats at DEBUG)", True),
        (
            "ERROR",
            "recording the worker's heartbeat failed (not an outage: said once, repeats at DEBUG)",
            True,
        ),
    ]
    assert not outage.down


def test_a_statement_the_database_refused_is_no_outage(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "test.outage")
    outage = Outage(logging.getLogger("test.outage"), clock=Clock())
    outage.failed("claiming deliveries", Unavailable("the database is unavailable: Error"))
    outage.failed("claiming deliveries", Unreachable("the database is unavailable: OSError"))

    assert [r.getMessage() for r in caplog.records] == [
        "claiming deliveries failed (not an outage: said once, repeats at DEBUG)",
        "the database is unavailable (claiming deliveries: the database is unavailable: "
        "OSError); retrying until it is back",
    ]
    assert outage.down


def test_a_full_sqlite_disk_is_named_in_the_outage_line_and_not_to_api_callers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The line said "OperationalError" alone: a full disk, a locked file and an I/O error
    # read the same. A database of at most 2 pages fills as a full disk does (SQLITE_FULL).
    caplog.set_level(logging.DEBUG, "test.outage")
    connection = sqlite3.connect(":memory:")
    connection.execute("PRAGMA max_page_count = 2")
    connection.execute("CREATE TABLE t (x TEXT)")
    with pytest.raises(Unreachable) as raised, translate_errors():
        connection.executemany("INSERT INTO t VALUES (?)", [("x" * 1000,)] * 100)
    connection.close()

    Outage(logging.getLogger("test.outage"), database="hookcast.db").failed(
        "recording 15 outcomes", raised.value
    )

    assert said(caplog) == [
        (
            "ERROR",
            "hookcast.db is unavailable (recording 15 outcomes: the database is unavailable: "
            "OperationalError (SQLITE_FULL: database or disk is full)); retrying until it is "
            "back",
        )
    ]
    assert raised.value.description == "the database is unavailable: OperationalError"
