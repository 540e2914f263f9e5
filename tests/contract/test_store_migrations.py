"""migrate(): creates the schema the tables describe, once, from anywhere."""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, Table, UniqueConstraint, insert, inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from hookcast.domain.models import Account, DeliveryStatus, Webhook
from hookcast.ports import DeliveryQuery
from hookcast.store import migrate, open_store, to_async_url
from hookcast.store.crypto import SecretBox
from hookcast.store.migrate import upgrade_schema
from hookcast.store.rows import (
    attempt_values,
    delivery_values,
    event_values,
    site_values,
    webhook_values,
)
from hookcast.store.sql_store import SqlStore
from hookcast.store.tables import (
    accounts,
    attempts,
    deliveries,
    events,
    metadata,
    sites,
    webhook_events,
    webhook_sites,
    webhooks,
)
from support import factories as make
from support.migrations import downgrade_to


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    yield request.getfixturevalue("empty_postgres_url")


async def _scalar(database_url: str, sql: str) -> object:
    engine = create_async_engine(to_async_url(database_url))
    try:
        async with engine.connect() as conn:
            return await conn.scalar(text(sql))
    finally:
        await engine.dispose()


async def test_migrate_creates_the_schema_once(empty_database_url: str, secret_key: bytes) -> None:
    # Called while this test's event loop runs: migrate() brings its own loop and thread.
    migrate(empty_database_url)
    await asyncio.to_thread(migrate, empty_database_url)  # current: a no-op

    assert (
        await _scalar(empty_database_url, "SELECT version_num FROM alembic_version")
        == "0026_deliveries_by_hand"
    )
    store = await open_store(empty_database_url, secret_key=secret_key)
    try:
        (default,) = await store.list_accounts()
        assert default.name == "Default"
    finally:
        await store.close()


_MIGRATE = "import sys; from hookcast.store import migrate; migrate(sys.argv[1])"


async def test_concurrent_migrations_agree(empty_database_url: str) -> None:
    # Processes, as several servers starting at once on a new database are: each waits for
    # the one migrating (PostgreSQL's advisory lock, SQLite's write lock), none fails, and
    # the schema and its one account are made once. A process that hung would be killed by
    # its timeout, never leave the suite waiting at exit as a stuck thread would.
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _MIGRATE,
            empty_database_url,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        for _ in range(3)
    ]
    try:
        outputs = await asyncio.wait_for(
            asyncio.gather(*(process.communicate() for process in processes)), timeout=100
        )
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.wait()
    assert [process.returncode for process in processes] == [0, 0, 0], outputs
    assert await _scalar(empty_database_url, "SELECT count(*) FROM accounts") == 1


def _not_a_partition(_object: object, name: str | None, kind: str, *_args: object) -> bool:
    # A day's partition (deliveries_20261205) or the default one, and their indexes: the
    # parent table stands for them all.
    return not (name and re.search(r"_(\d{8}|default)($|_)", name))


def _schema_differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "include_object": _not_a_partition}
    )
    return list(compare_metadata(context, metadata))


async def test_migrations_match_the_table_definitions(database_url: str) -> None:
    engine = create_async_engine(to_async_url(database_url))
    try:
        async with engine.connect() as conn:
            differences = await conn.run_sync(_schema_differences)
    finally:
        await engine.dispose()
    expected = _PARTITIONED_KEYS if database_url.startswith("postgresql") else set()
    assert {_described(difference) for difference in differences} == expected


# Revisions an existing database may be at: upgrading from each must keep what it holds.
# make test-lowest upgrades from the first only (~9 s each on PostgreSQL): the older ones
# run more of HookCast's own migrations, not more of Alembic's or the drivers' API.
_EARLIER = [
    "0011_portal_settings",
    pytest.param("0009_ordering", marks=pytest.mark.suite_only),
    pytest.param("0008_webhook_state", marks=pytest.mark.suite_only),
]


@pytest.mark.parametrize("revision", _EARLIER)
async def test_upgrading_keeps_every_webhooks_subscriptions_and_deliveries(
    empty_database_url: str, secret_key: bytes, revision: str
) -> None:
    acme = make.account()
    site = make.site(acme.id)
    hook = make.webhook(acme.id, site_ids=(site.id,), events=("media_available",))
    published = make.event(acme.id, site.id)
    delivery = make.delivery(published, hook.id)
    subscribed = {"webhook_id": hook.id, "position": 0}
    rows = [
        (accounts, {"id": acme.id, "name": acme.name, "created": acme.created}),
        (sites, site_values(site)),
        (webhooks, webhook_values(hook, SecretBox(secret_key))),
        (webhook_sites, {**subscribed, "site_id": site.id}),
        (webhook_events, {**subscribed, "event": "media_available"}),
        (events, event_values(published)),
        (deliveries, delivery_values(delivery)),
        (attempts, attempt_values(make.attempt(delivery.id, status_code=503))),
    ]
    await _rows_at_revision(empty_database_url, revision, rows)

    migrate(empty_database_url)  # with foreign keys on, as every deployment runs it
    store = await open_store(empty_database_url, secret_key=secret_key)
    try:
        found = await store.get_webhook(acme.id, hook.id)
        sent = await store.get_delivery(acme.id, delivery.id)
    finally:
        await store.close()
    assert found is not None
    assert not found.all_sites  # a list made before "*" existed stays that list
    assert found.site_ids == (site.id,)
    assert found.events == ("media_available",)
    assert sent is not None
    assert [attempt.status_code for attempt in sent.attempts] == [503]


async def test_a_run_of_held_deliveries_told_before_upgrading_is_not_told_again(
    empty_database_url: str, secret_key: bytes
) -> None:
    acme = make.account()
    hook = make.webhook(acme.id, enabled=False, disabled_reason="410 Gone")
    watcher = make.webhook(acme.id, events=("webhook_held",))
    held = make.event(acme.id, created=make.later(-60))
    rows = [
        (accounts, {"id": acme.id, "name": acme.name, "created": acme.created}),
        (webhooks, webhook_values(hook, SecretBox(secret_key))),
        (webhooks, webhook_values(watcher, SecretBox(secret_key))),
        (webhook_events, {"webhook_id": watcher.id, "position": 0, "event": "webhook_held"}),
        (events, event_values(held)),
        (deliveries, delivery_values(make.delivery(held, hook.id, status=DeliveryStatus.HELD))),
    ]
    await _rows_at_revision(empty_database_url, "0016_delivery_partitions", rows)

    migrate(empty_database_url)
    store = await open_store(empty_database_url, secret_key=secret_key)
    try:
        more = make.event(acme.id, resource_ids={"media_id": "MediaTwo"})
        await store.append_events(
            events=[more],
            fanout=lambda new: [
                make.delivery(event, hook.id, status=DeliveryStatus.HELD) for event in new
            ],
        )
        told = await store.list_deliveries(DeliveryQuery(acme.id, watcher.id))
    finally:
        await store.close()
    assert told.total == 0  # the run was told when its first delivery was held


async def test_a_delivery_leased_before_upgrading_stays_leased_until_its_lease_expires(
    empty_database_url: str, secret_key: bytes
) -> None:
    acme = make.account()
    hook = make.webhook(acme.id)
    published = make.event(acme.id)
    expiry = make.later(60)
    # Before migration 0018 a claim moved next_attempt_at to the lease's expiry.
    leased = make.delivery(published, hook.id, next_attempt_at=expiry, lease_token="t0")
    rows = [
        (accounts, {"id": acme.id, "name": acme.name, "created": acme.created}),
        (webhooks, webhook_values(hook, SecretBox(secret_key))),
        (events, event_values(published)),
        (deliveries, {**delivery_values(leased), "lease_worker": "gone"}),
    ]
    await _rows_at_revision(empty_database_url, "0017_held_announced", rows)

    migrate(empty_database_url)
    store = await open_store(empty_database_url, secret_key=secret_key)
    try:
        assert await store.next_due_at() == expiry
        early = await store.claim_due_deliveries(now=make.later(59), limit=5, lease_seconds=30)
        late = await store.claim_due_deliveries(now=expiry, limit=5, lease_seconds=30)
    finally:
        await store.close()
    assert early == []
    assert [claimed.delivery_id for claimed in late] == [leased.id]


async def test_downgrading_to_0018_gives_back_the_headers_that_were_sent(
    empty_database_url: str, secret_key: bytes
) -> None:
    # PostgreSQL stores them compactly since 0019 (store/stored_headers.py), which code
    # before it cannot read: a downgrade stores each as the object that was sent again.
    acme = make.account()
    hook = make.webhook(acme.id)
    async with _migrated(empty_database_url, secret_key, acme, hook) as store:
        sent = await _send(store, hook, count=3)

    await downgrade_to(empty_database_url, "0018_lease_columns")
    stored = await _stored_headers(empty_database_url)
    assert stored == sent
    # In the order they were sent, too.
    assert {delivery_id: list(headers) for delivery_id, headers in stored.items()} == {
        delivery_id: list(headers) for delivery_id, headers in sent.items()
    }

    migrate(empty_database_url)
    store = await open_store(empty_database_url, secret_key=secret_key)
    try:
        sent |= await _send(store, hook, count=1)
        read = {}
        for delivery_id in sent:
            delivery = await store.get_delivery(acme.id, delivery_id)
            assert delivery is not None
            read[delivery_id] = delivery.attempts[0].request_headers
    finally:
        await store.close()
    assert read == sent


@asynccontextmanager
async def _migrated(
    url: str, secret_key: bytes, account: Account, hook: Webhook
) -> AsyncIterator[SqlStore]:
    """A store on `url` migrated to the head, holding `account` and its webhook `hook`."""
    migrate(url)
    store = await open_store(url, secret_key=secret_key)
    try:
        await store.create_account(account)
        await store.create_webhook(hook)
        yield store
    finally:
        await store.close()


async def _send(store: SqlStore, hook: Webhook, *, count: int) -> dict[str, dict[str, str]]:
    """Publishes `count` events to the webhook and records an attempt of each delivery,
    with headers of every kind the compact form has; returns them by delivery id."""
    published = [make.event(hook.account_id) for _ in range(count)]
    await store.append_events(events=published, fanout=make.fanout_to(hook.id))
    claimed = await store.claim_due_deliveries(now=make.later(1), limit=count, lease_seconds=30)
    sent: dict[str, dict[str, str]] = {}
    results = []
    for number, one in enumerate(claimed):
        result = make.succeeded(one, make.later(1 + number))
        headers = {
            "Content-Type": "application/json",  # words of the list
            "User-Agent": "HookCast/0.1 (+webhooks)",
            "webhook-id": one.delivery_id,  # the attempt's delivery id
            "webhook-timestamp": str(int(result.attempt.started_at.timestamp())),
            "webhook-signature": "[redacted]",
            "X-Custom": f"value {number}",  # neither: stored as itself
        }
        results.append(replace(result, attempt=replace(result.attempt, request_headers=headers)))
        sent[one.delivery_id] = headers
    await store.record_results(results, [])
    assert len(sent) == count
    return sent


async def _stored_headers(url: str) -> dict[str, dict[str, str]]:
    """Every attempt's request headers by delivery id, as stored (JSON text), read as code
    before 0019 reads them."""
    engine = create_async_engine(to_async_url(url))
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(text("SELECT delivery_id, request_headers FROM attempts"))
            return {delivery_id: orjson.loads(stored) for delivery_id, stored in rows}
    finally:
        await engine.dispose()


async def _rows_at_revision(
    url: str, revision: str, rows: list[tuple[Table, dict[str, Any]]]
) -> None:
    """Upgrades the empty database at `url` to `revision` and inserts `rows` there, each
    with the columns its table has at that revision."""
    engine = create_async_engine(to_async_url(url))
    try:
        async with engine.begin() as conn:
            await conn.run_sync(upgrade_schema, revision)
            for table, values in rows:
                columns = await conn.run_sync(_columns, table.name)
                kept = {name: value for name, value in values.items() if name in columns}
                await conn.execute(insert(table).values(**kept))
    finally:
        await engine.dispose()


def _columns(connection: Connection, table: str) -> set[str]:
    """The columns `table` has at the database's revision."""
    return {column["name"] for column in inspect(connection).get_columns(table)}


# PostgreSQL's partitioned deliveries and attempts (migration 0016): a unique key holds the
# partition key, and attempts have no foreign key to deliveries (a trigger deletes them);
# their primary key leads with delivery_id, in place of its own index (migration 0019).
_PARTITIONED_KEYS = {
    ("add_fk", "fk_attempts_delivery_id_deliveries"),
    ("add_index", "ix_attempts_delivery_id"),
    ("remove_constraint", "deliveries(event_id, webhook_id, created)"),
    ("add_constraint", "deliveries(event_id, webhook_id)"),
}


def _described(difference: object) -> tuple[str, str]:
    assert isinstance(difference, tuple), difference
    kind, constraint = difference[0], difference[1]
    if isinstance(constraint, UniqueConstraint):
        columns = ", ".join(column.name for column in constraint.columns)
        return kind, f"{constraint.table.name}({columns})"
    return kind, str(getattr(constraint, "name", constraint))


@pytest.mark.suite_only  # HookCast's batches of 2,000: the suite's, not test-lowest's
async def test_downgrading_to_0018_rewrites_attempts_past_one_batch(
    empty_database_url: str, secret_key: bytes
) -> None:
    # More attempts than one batch of the downgrade (2,000), several per
    # delivery, and rows already stored as objects beside compact ones.
    acme = make.account()
    hook = make.webhook(acme.id)
    count = 1_500
    sent: dict[tuple[str, int], dict[str, str]] = {}
    async with _migrated(empty_database_url, secret_key, acme, hook) as store:
        published = [make.event(acme.id) for _ in range(count)]
        await store.append_events(events=published, fanout=make.fanout_to(hook.id))
        for round_ in range(2):
            at = make.later(100 * (round_ + 1))
            claimed = await store.claim_due_deliveries(now=at, limit=count, lease_seconds=30)
            assert len(claimed) == count
            results = []
            for number, one in enumerate(claimed):
                headers = {
                    "Content-Type": "application/json",
                    "webhook-id": one.delivery_id,
                    "webhook-timestamp": str(int(at.timestamp())),
                    "X-Custom": f"value {number}",
                }
                result = make.retry_later(one, retry_at=make.later(150), at=at)
                attempt = replace(result.attempt, request_headers=headers)
                results.append(replace(result, attempt=attempt))
                sent[(one.delivery_id, attempt.number)] = headers
            await store.record_results(results, [])

    compact = await _scalar(
        empty_database_url, "SELECT count(*) FROM attempts WHERE request_headers LIKE '[%'"
    )
    assert compact == (2 * count if empty_database_url.startswith("postgresql") else 0)
    # Rows as code before 0019 stored them (objects), among the compact ones: kept as they are.
    before = sorted(sent)[:5]
    engine = create_async_engine(to_async_url(empty_database_url))
    try:
        async with engine.begin() as conn:
            for delivery_id, number in before:
                sent[(delivery_id, number)] = {"X-Old": "[kept]"}
                await conn.execute(
                    text(
                        "UPDATE attempts SET request_headers = :stored "
                        "WHERE delivery_id = :delivery_id AND number = :number"
                    ),
                    {"stored": '{"X-Old":"[kept]"}', "delivery_id": delivery_id, "number": number},
                )
    finally:
        await engine.dispose()
    await downgrade_to(empty_database_url, "0018_lease_columns")
    engine = create_async_engine(to_async_url(empty_database_url))
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT delivery_id, number, request_headers FROM attempts")
            )
            stored = {(d, n): orjson.loads(h) for d, n, h in rows}
    finally:
        await engine.dispose()
    assert len(stored) == 2 * count
    assert stored == sent
