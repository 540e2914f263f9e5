"""`hookcast worker` (and `serve`'s delivery thread) while its PostgreSQL goes away and comes
back, as a real process: one line when the database becomes unavailable, one when it is
back, no traceback in between.
It logged a claim traceback and a heartbeat traceback every second (~1,190 lines in 12 s).
A statement the database refuses is no outage: its traceback at ERROR, once."""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import re
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from harness import cli_env, free_port, hookcast_bin, run_cli

from hookcast.delivery.mailer import Mailer, MailerOptions
from hookcast.delivery.outage import Outage
from hookcast.delivery.retention import Retention, RetentionOptions
from hookcast.ports import Pruned
from hookcast.ports.mail import OutboxMail
from hookcast.store import SqlStore, open_store
from support.postgres import PostgresServer, postgres_server, run_sql
from support.sql import execute_sql
from support.waiting import STARTING, wait_until

OUTAGE_SECONDS = 6.0  # the outage under test: ~12 claims and ~3 heartbeats fail in it


@pytest.fixture(scope="module")
def _outage_server() -> Iterator[PostgresServer]:
    """A server of this module's own, since its tests stop it; one for both commands (an
    initdb and a start: ~1.5 s of CPU and 4-9 s here), its files in memory as the session's."""
    with postgres_server(in_memory=True) as server:
        if server is None:
            missing = "PostgreSQL binaries (initdb, postgres) are not installed"
            if os.environ.get("CI"):
                pytest.fail(missing)
            pytest.skip(missing)
        yield server


@pytest.fixture
def own_postgres(_outage_server: PostgresServer) -> Iterator[PostgresServer]:
    """The module's server, running again after a test that stopped it (had it failed
    before its `resume`, the next test would have found it stopped)."""
    yield _outage_server
    if _outage_server.pid is None:
        _outage_server.resume()


# What each command logs once it is up, and the lines of its start and stop besides.
STARTED = {"worker": "delivering from", "serve": "HookCast is serving on"}
HOOKCAST_LINE = re.compile(r"^\S+ \S+ [A-Z]+ hookcast\.")


@pytest.mark.parametrize("command", ["worker", "serve"])
def test_a_worker_says_once_that_the_database_went_away_and_once_that_it_is_back(
    own_postgres: PostgresServer, tmp_path: Path, command: str
) -> None:
    database = f"outage_{command}"  # the server is the module's: a database per test
    run_sql(own_postgres.url(), f"CREATE DATABASE {database}")
    env = cli_env(own_postgres.url(database), HOOKCAST_SECRET_KEY="a shared secret")
    assert run_cli(["migrate"], env, tmp_path).returncode == 0
    log = tmp_path / f"{command}.log"
    args = [command] if command == "worker" else [command, "--port", str(free_port())]
    with log.open("w") as out:
        process = subprocess.Popen(
            [hookcast_bin(), *args], env=env, cwd=tmp_path, stdout=out, stderr=out, text=True
        )
    try:
        wait_until(
            lambda: STARTED[command] in log.read_text(), timeout=STARTING, message=log.read_text
        )
        own_postgres.pause()
        wait_until(lambda: "is unavailable" in log.read_text(), message=log.read_text)
        time.sleep(OUTAGE_SECONDS)  # the outage itself, not a wait for something to happen
        own_postgres.resume()
        wait_until(lambda: "is back after" in log.read_text(), message=log.read_text)
    finally:
        process.terminate()
        process.wait(timeout=30)
    lines = log.read_text().splitlines()
    assert "Traceback" not in log.read_text()
    said = [
        line
        for line in lines
        if HOOKCAST_LINE.match(line) and not re.search(r": (delivering from|stopped$)", line)
    ]
    where = f"PostgreSQL database {database} on 127.0.0.1:{own_postgres.port}"
    down = [line for line in said if f"ERROR hookcast.worker: {where} is unavailable (" in line]
    back = [line for line in said if f"hookcast.worker: {where} is back after " in line]
    # Beside them at most one line saying wake-ups are polled for meanwhile (it may come
    # first: the LISTEN connection can see the shutdown before a claim does).
    polled = [line for line in said if "cannot LISTEN for deliveries (will poll)" in line]
    assert len(down) == 1, lines
    assert down[0].endswith("; retrying until it is back"), lines
    assert back == said[-1:], lines
    assert len(polled) <= 1, lines
    assert len(said) == 2 + len(polled), lines


def _lose_a_column(database_url: str) -> None:
    """What a bad migration may leave: the heartbeat's statement (every second while idle)
    names a column that is gone."""
    execute_sql(database_url, "ALTER TABLE workers RENAME COLUMN last_seen TO last_seen_lost")


BEAT_FAILED = "hookcast.worker: recording the worker's heartbeat failed"
# On SQLite the first write a worker makes is its start's check that no other process
# delivers from the file, retried each second until it gets through (delivery/liveness.py).
REGISTERING_FAILED = "hookcast.worker: registering the worker failed"
A_LINE = re.compile(r"^\S+ \S+ (?P<level>[A-Z]+) (?P<said>hookcast\..*)$")


def test_a_statement_the_database_refuses_is_logged_in_full_once_not_as_an_outage(
    database_url: str, tmp_path: Path
) -> None:
    # It was said as "<database> is unavailable", its traceback at DEBUG only.
    _lose_a_column(database_url)
    failed = REGISTERING_FAILED if database_url.startswith("sqlite") else BEAT_FAILED
    env = cli_env(database_url, HOOKCAST_SECRET_KEY="a shared secret", HOOKCAST_LOG_LEVEL="DEBUG")
    log = tmp_path / "worker.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [hookcast_bin(), "worker"], env=env, cwd=tmp_path, stdout=out, stderr=out, text=True
        )
    try:  # the first failed beat said, then two more, a second apart
        wait_until(
            lambda: log.read_text().count(f"DEBUG {failed} again") >= 2,
            timeout=45,  # two beats a second apart; once 15 s passed without one at load 9
            message=log.read_text,
        )
    finally:
        process.terminate()
        process.wait(timeout=30)
    text = log.read_text()
    lines = text.splitlines()
    said = [(m["level"], m["said"]) for m in map(A_LINE.match, lines) if m]
    errors = [(level, line) for level, line in said if level in ("ERROR", "WARNING")]
    assert (
        "ERROR",
        f"{failed} (not an outage: said once, repeats at DEBUG)",
    ) in errors, text
    # Each said once (the claim's statement, which registers the worker, may fail too).
    assert len(errors) == len(set(errors)), text
    assert all("failed (not an outage" in line for _, line in errors), text
    first = next(i for i, line in enumerate(lines) if f"ERROR {failed}" in line)
    traceback = list(itertools.takewhile(lambda line: not A_LINE.match(line), lines[first + 1 :]))
    assert traceback[0] == "Traceback (most recent call last):", text
    assert "last_seen" in "\n".join(traceback), text  # what the database refused, named
    assert not [line for _, line in said if " is unavailable (" in line], text


class _Counting:
    """A store's outbox and pruning, counted: `stop` is set at the `passes`th call of each."""

    def __init__(self, store: SqlStore, stop: asyncio.Event, passes: int) -> None:
        self._store, self._stop, self._passes = store, stop, passes
        self.calls: Counter[str] = Counter()

    def _count(self, name: str) -> None:
        self.calls[name] += 1
        if min(self.calls["prune"], self.calls["claim"]) >= self._passes:
            self._stop.set()

    async def prune_before(self, before: datetime, *, limit: int) -> Pruned:
        self._count("prune")
        return await self._store.prune_before(before, limit=limit)

    async def claim_due_mails(
        self, *, now: datetime, limit: int, lease_seconds: float
    ) -> Sequence[OutboxMail]:
        self._count("claim")
        return await self._store.claim_due_mails(now=now, limit=limit, lease_seconds=lease_seconds)


def _now() -> datetime:
    return datetime.now(UTC)


class _NoMail:
    async def send(self, mail: object, *, message_id: str) -> None:
        raise AssertionError("nothing is claimed from a database that is gone")


@pytest.mark.parametrize("where", ["sqlite", "postgres"])
async def test_retention_and_the_mailer_say_an_outage_on_the_workers_one_line(
    tmp_path: Path, where: str, caplog: pytest.LogCaptureFixture
) -> None:
    # They logged a full traceback at each failed pass (the mailer every 5 s).
    with socket.socket() as taken:  # a port nobody listens on while the test runs
        taken.bind(("127.0.0.1", 0))
        url = (
            f"sqlite:///{tmp_path / 'gone' / 'hookcast.db'}"
            if where == "sqlite"
            else f"postgresql://hookcast@127.0.0.1:{taken.getsockname()[1]}/hookcast"
        )
        store = await open_store(url, secret_key=Fernet.generate_key())
        stop = asyncio.Event()
        counting = _Counting(store, stop, passes=3)
        outage = Outage(logging.getLogger("hookcast.worker"), database="the database")
        retention = Retention(
            counting,  # type: ignore[arg-type]  # the one Store method pruning uses
            clock=_now,
            options=RetentionOptions(
                max_age=timedelta(days=1), first_pass_after_seconds=0, interval_seconds=0
            ),
            outage=outage,
        )
        mailer = Mailer(
            counting,  # type: ignore[arg-type]  # the one MailOutbox method a failed poll uses
            _NoMail(),
            clock=_now,
            options=MailerOptions(poll_seconds=0),
            outage=outage,
        )
        try:
            with caplog.at_level(logging.DEBUG, logger="hookcast"):
                async with asyncio.timeout(30):
                    await asyncio.gather(retention.run(stop), mailer.run(stop))
        finally:
            await store.close()
    said = [(r.levelname, r.getMessage()) for r in caplog.records if r.levelno > logging.DEBUG]
    assert len(said) == 1, said
    assert said[0][0] == "ERROR"
    assert said[0][1].startswith("the database is unavailable ("), said
    assert not [r for r in caplog.records if r.levelno > logging.DEBUG and r.exc_info]
    assert min(counting.calls.values()) >= 3
