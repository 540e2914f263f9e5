"""PostgreSQL's day partitions of deliveries and attempts (store/partitions.py): retention
drops a finished day whole, each day in a transaction of its own (a publish is served
between them), keeps a day an unfinished delivery is in, a deleted delivery's attempts
still go with it, and the migration keeps the rows it moves."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import asyncpg  # type: ignore[import-untyped]
import pytest

from hookcast.domain.models import Account, DeliveryStatus, Event, Webhook
from hookcast.ports import DeliveryQuery, PageRequest
from hookcast.store import SqlStore, migrate, open_store
from hookcast.store.migrate import upgrade_to
from hookcast.store.partitions import PARTITIONED, partition_name
from hookcast.store.types import to_micros
from support import factories as make
from support.lock_race import waiting
from support.postgres import run_sql
from support.waiting import eventually

pytestmark = pytest.mark.postgres

# Days the migration created ahead of today: the rows below are created in them.
TOMORROW = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0) + timedelta(1)


async def _tables(url: str, pattern: str) -> set[str]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT relname FROM pg_class WHERE relname LIKE $1", pattern)
        return {row[0] for row in rows}
    finally:
        await conn.close()


async def _scalar(url: str, sql: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval(sql))
    finally:
        await conn.close()


async def _webhook(store: SqlStore) -> tuple[Account, Webhook]:
    acme = make.account()
    await store.create_account(acme)
    hook = make.webhook(acme.id)
    await store.create_webhook(hook)
    return acme, hook


async def _publish_and_send(store: SqlStore, acme: Account, hook: Webhook, day: datetime) -> Event:
    """An event created on `day`, delivered once (its attempt that day)."""
    (event,) = [make.event(acme.id, created=day)]
    await store.append_events(events=[event], fanout=make.fanout_to(hook.id))
    claimed = await store.claim_due_deliveries(now=day, limit=10, lease_seconds=30)
    await store.record_results([make.succeeded(c, day) for c in claimed], [])
    return event


async def test_retention_drops_a_finished_day_whole(
    pg_store: SqlStore, postgres_database: str
) -> None:
    acme, hook = await _webhook(pg_store)
    await _publish_and_send(pg_store, acme, hook, TOMORROW)
    await _publish_and_send(pg_store, acme, hook, TOMORROW + timedelta(days=1))
    day = partition_name("deliveries", TOMORROW.date())

    pruned = await pg_store.prune_before(TOMORROW + timedelta(days=1, hours=6), limit=1000)

    assert (pruned.deliveries, pruned.events) == (1, 1)
    assert day not in await _tables(postgres_database, "deliveries_%")
    assert partition_name("attempts", TOMORROW.date()) not in await _tables(
        postgres_database, "attempts_%"
    )
    assert await _scalar(postgres_database, "SELECT count(*) FROM attempts") == 1
    left = await pg_store.list_deliveries(DeliveryQuery(acme.id, hook.id, page=PageRequest()))
    assert [record.delivery.created.date() for record in left.items] == [
        (TOMORROW + timedelta(days=1)).date()
    ]


async def test_a_day_with_an_unfinished_delivery_is_kept(
    pg_store: SqlStore, postgres_database: str
) -> None:
    acme, hook = await _webhook(pg_store)
    await _publish_and_send(pg_store, acme, hook, TOMORROW)
    pending = make.event(acme.id, created=TOMORROW)
    await pg_store.append_events(events=[pending], fanout=make.fanout_to(hook.id))

    pruned = await pg_store.prune_before(TOMORROW + timedelta(days=2), limit=1000)

    # The finished delivery goes one row at a time; the pending one and its day stay.
    assert (pruned.deliveries, pruned.events) == (1, 1)
    assert partition_name("deliveries", TOMORROW.date()) in await _tables(
        postgres_database, "deliveries_%"
    )
    left = await pg_store.list_deliveries(DeliveryQuery(acme.id, hook.id, page=PageRequest()))
    assert [record.delivery.event_id for record in left.items] == [pending.id]


async def test_deleting_a_webhook_deletes_its_attempts(
    pg_store: SqlStore, postgres_database: str
) -> None:
    acme, hook = await _webhook(pg_store)
    await _publish_and_send(pg_store, acme, hook, TOMORROW)
    assert await _scalar(postgres_database, "SELECT count(*) FROM attempts") == 1

    assert await pg_store.delete_webhook(acme.id, hook.id)

    assert await _scalar(postgres_database, "SELECT count(*) FROM deliveries") == 0
    assert await _scalar(postgres_database, "SELECT count(*) FROM attempts") == 0


async def test_rows_of_a_day_without_a_partition_land_in_the_default_one(
    pg_store: SqlStore, postgres_database: str
) -> None:
    acme, hook = await _webhook(pg_store)
    await _publish_and_send(pg_store, acme, hook, datetime(2020, 1, 1, tzinfo=UTC))
    count = "SELECT count(*) FROM deliveries_default"
    assert await _scalar(postgres_database, count) == 1
    pruned = await pg_store.prune_before(datetime(2021, 1, 1, tzinfo=UTC), limit=1000)
    assert (pruned.deliveries, pruned.events) == (1, 1)
    assert await _scalar(postgres_database, count) == 0


async def test_a_publish_is_served_while_a_pass_waits_after_dropping_a_day(
    pg_store: SqlStore, postgres_database: str, secret_key: bytes
) -> None:
    # The pass drops the delivery day, then waits at the gate (a SHARE lock on `attempts`)
    # to drop the attempts day. With every day in one transaction it still held the lock its
    # delivery day's DROP took on `deliveries` there, and the publish waited behind it.
    acme, hook = await _webhook(pg_store)
    await _publish_and_send(pg_store, acme, hook, TOMORROW)
    await pg_store.prune_before(TOMORROW, limit=1000)  # the days before its own dropped now
    gate = await asyncpg.connect(postgres_database)
    retention_store = await open_store(postgres_database, secret_key=secret_key)
    try:
        holding = gate.transaction()
        await holding.start()
        await gate.execute("LOCK TABLE attempts IN SHARE MODE")
        retention = asyncio.ensure_future(
            retention_store.prune_before(TOMORROW + timedelta(days=1), limit=1000)
        )
        await eventually(
            functools.partial(waiting, postgres_database, 1), message="the pass never waited"
        )
        later = make.event(acme.id, created=TOMORROW + timedelta(days=1))
        publish = asyncio.ensure_future(
            pg_store.append_events(events=[later], fanout=make.fanout_to(hook.id))
        )

        async def settled() -> bool:
            return publish.done() or await waiting(postgres_database, 2)

        await eventually(settled, message="the publish neither committed nor waited")
        served = publish.done()
        await holding.commit()
        await asyncio.gather(publish, retention)
    finally:
        await gate.close()
        await retention_store.close()

    assert served, "the publish waited on the pass"
    assert retention.result().deliveries == 1
    assert partition_name("deliveries", TOMORROW.date()) not in await _tables(
        postgres_database, "deliveries_%"
    )


async def _execute(url: str, *statements: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


# An event trigger recording each table DROP with the transaction that ran it.
_RECORD_DROPS = (
    "CREATE TABLE dropped (name text, transaction_id bigint)",
    """CREATE FUNCTION record_drop() RETURNS event_trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO dropped SELECT object_name, txid_current()
        FROM pg_event_trigger_dropped_objects() WHERE object_type = 'table';
    END $$""",
    "CREATE EVENT TRIGGER record_drops ON sql_drop EXECUTE FUNCTION record_drop()",
)


async def test_a_pass_drops_each_day_in_a_transaction_of_its_own(
    pg_store: SqlStore, postgres_database: str
) -> None:
    # With every due day in one transaction, the DROP's lock on `deliveries` (ACCESS
    # EXCLUSIVE: every publish and claim waits), taken at the first day, was held through
    # each later day's count and checks: a backlog of days stopped delivery for their sum.
    acme, hook = await _webhook(pg_store)
    days = [TOMORROW + timedelta(days=offset) for offset in range(3)]
    for day in days:
        await _publish_and_send(pg_store, acme, hook, day)
    await pg_store.prune_before(TOMORROW, limit=1000)  # the days before theirs dropped now
    await _execute(postgres_database, *_RECORD_DROPS)

    pruned = await pg_store.prune_before(days[-1] + timedelta(days=1), limit=1000)

    assert (pruned.deliveries, pruned.events) == (3, 3)
    conn = await asyncpg.connect(postgres_database)
    try:
        rows = await conn.fetch("SELECT name, transaction_id FROM dropped")
    finally:
        await conn.close()
    names = {table: [partition_name(table, day.date()) for day in days] for table in PARTITIONED}
    assert sorted(row["name"] for row in rows) == sorted(names["attempts"] + names["deliveries"])
    transactions = [row["transaction_id"] for row in rows]
    assert len(set(transactions)) == len(transactions), "two days dropped in one transaction"


def _row_values(created: datetime, number: int) -> tuple[str, str]:
    micros = to_micros(created)
    delivery = (
        f"('d{number}', 'acct0001', 'e{number}', 'hook0001', 'succeeded', 1, {micros}, "
        f"{micros}, {micros})"
    )
    attempt = f"('d{number}', 1, {micros}, '{{}}', 200, 1.5, '')"
    return delivery, attempt


# ~40 s on PostgreSQL: a row of 2020 makes the migration create its 120 days back (and a
# week on) for both tables, HookCast's own DDL; make test-lowest leaves it to the suite.
@pytest.mark.suite_only
async def test_the_migration_keeps_the_delivery_log(postgres_url: Callable[[str], str]) -> None:
    name = "hookcast_partition_upgrade"
    run_sql(postgres_url("postgres"), f"CREATE DATABASE {name}")
    url = postgres_url(name)
    await upgrade_to(url, "0011_portal_settings")
    # Two days ago (its own day partition), and years ago (the default partition).
    rows = [
        _row_values(datetime(2020, 1, 1, tzinfo=UTC), 1),
        _row_values(datetime.now(UTC) - timedelta(days=2), 2),
    ]
    await _execute(
        url,
        "INSERT INTO accounts (id, name, created) VALUES ('acct0001', 'a', 0)",
        "INSERT INTO webhooks (id, account_id, name, description, webhook_url, enabled, "
        "retry_policy, timeout_seconds, secret_encrypted, created, last_modified) VALUES "
        "('hook0001', 'acct0001', 'h', '', 'https://example.com/', true, '{}', 5, 'x', 0, 0)",
        "INSERT INTO events (account_id, id, site_id, type, resource_ids, event_time, created) "
        "VALUES ('acct0001', 'e1', 's', 'media_created', '{}', 0, 0), "
        "('acct0001', 'e2', 's', 'media_created', '{}', 0, 0)",
        "INSERT INTO deliveries (id, account_id, event_id, webhook_id, status, attempts, "
        "next_attempt_at, created, completed_at) VALUES " + ", ".join(d for d, _ in rows),
        "INSERT INTO attempts (delivery_id, number, started_at, request_headers, status_code, "
        "latency_ms, response_body) VALUES " + ", ".join(a for _, a in rows),
    )

    await asyncio.to_thread(migrate, url)

    in_default = "SELECT string_agg(id, ',') FROM deliveries_default"
    assert await _scalar_text(url, in_default) == "d1"
    assert await _scalar(url, "SELECT count(*) FROM deliveries") == 2
    assert await _scalar(url, "SELECT count(*) FROM attempts") == 2
    # The attempt ids go on from where they were.
    await _execute(
        url,
        "INSERT INTO attempts (delivery_id, number, started_at, request_headers, "
        "latency_ms, response_body) VALUES ('d2', 2, 0, '{}', 1.0, '')",
    )
    assert await _scalar(url, "SELECT max(id) FROM attempts") == 3
    run_sql(postgres_url("postgres"), f"DROP DATABASE {name} WITH (FORCE)")


async def _scalar_text(url: str, sql: str) -> str:
    conn = await asyncpg.connect(url)
    try:
        return str(await conn.fetchval(sql))
    finally:
        await conn.close()


async def test_retention_creates_the_coming_days(
    pg_store: SqlStore, postgres_database: str
) -> None:
    last = (datetime.now(UTC) + timedelta(days=7)).date()
    # IF EXISTS: a database made from the session's template, migrated before midnight UTC
    # and used after it, has no partition for the new "today + 7 days" yet (suitetime3's
    # run at 00:0x failed on the DROP), which retention must create all the same.
    for table in ("deliveries", "attempts"):
        await _execute(postgres_database, f"DROP TABLE IF EXISTS {partition_name(table, last)}")

    await pg_store.prune_before(datetime(2020, 1, 1, tzinfo=UTC), limit=1000)

    assert partition_name("deliveries", last) in await _tables(postgres_database, "deliveries_%")
    assert partition_name("attempts", last) in await _tables(postgres_database, "attempts_%")
    # A column a migration added after the first partitions (0026's mark of a person's
    # test), with its default: a publish's INSERT leaves it out.
    marked = await _scalar(
        postgres_database,
        "SELECT count(*) FROM information_schema.columns WHERE column_name = 'by_hand'"
        f" AND table_name = '{partition_name('deliveries', last)}'"
        " AND is_nullable = 'NO' AND column_default = 'false'",
    )
    assert marked == 1


async def test_recording_and_releasing_touch_only_their_own_day(
    pg_store: SqlStore, postgres_database: str
) -> None:
    # The first row of two day partitions: the same ctid, (0,1), in each.
    acme, hook = await _webhook(pg_store)
    days = [TOMORROW, TOMORROW + timedelta(days=1)]
    for day in days:
        event = make.event(acme.id, created=day)
        await pg_store.append_events(events=[event], fanout=make.fanout_to(hook.id))
    claimed = await pg_store.claim_due_deliveries(
        now=days[1] + timedelta(hours=1), limit=10, lease_seconds=30
    )
    first, second = sorted(claimed, key=lambda c: c.created)

    await pg_store.record_results([make.succeeded(second, days[1])], [])
    await pg_store.release_deliveries([(first.delivery_id, first.lease_token)], days[1])

    untouched = await pg_store.get_delivery(acme.id, first.delivery_id)
    sent = await pg_store.get_delivery(acme.id, second.delivery_id)
    assert untouched is not None
    assert sent is not None
    assert (untouched.delivery.status, len(untouched.attempts)) == (DeliveryStatus.PENDING, 0)
    assert (sent.delivery.status, len(sent.attempts)) == (DeliveryStatus.SUCCEEDED, 1)
    again = await pg_store.claim_due_deliveries(
        now=days[1] + timedelta(hours=2), limit=10, lease_seconds=30
    )
    assert [c.delivery_id for c in again] == [first.delivery_id]  # released, not recorded
