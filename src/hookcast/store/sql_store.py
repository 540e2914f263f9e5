"""SqlStore: the `Store` port over SQLAlchemy Core, on SQLite or PostgreSQL.

Each method is one transaction. Writes go through `_writing` (on SQLite: BEGIN IMMEDIATE on
the single writer connection), short reads through `_reading` and reads that may cover many
rows through `_scanning` (see Engines); all three translate driver errors.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from hookcast.domain.errors import Unavailable
from hookcast.domain.models import Account, ApiKey, Delivery, Event, Site, Webhook
from hookcast.ports import (
    ClaimedDelivery,
    ConfigChanged,
    ConfigVersion,
    DeliveryCount,
    DeliveryQuery,
    DeliveryRecord,
    DeliveryResult,
    DeliveryStats,
    EventQuery,
    EventSummary,
    Fanout,
    Page,
    PageRequest,
    Pruned,
    WebhookHealth,
    WebhookQuery,
)
from hookcast.store import accounts as account_sql
from hookcast.store import deliveries as delivery_sql
from hookcast.store import events as event_sql
from hookcast.store import operations as operations_sql
from hookcast.store import sessions as session_sql
from hookcast.store import sites as site_sql
from hookcast.store import stats as stats_sql
from hookcast.store import webhooks as webhook_sql
from hookcast.store.crypto import SecretBox
from hookcast.store.engine import Engines, asyncpg_dsn
from hookcast.store.errors import translate_errors
from hookcast.store.sql import notify
from hookcast.store.wakeup import Wakeup

__all__ = ["SqlStore"]


_GROUP_EVENTS = 5000  # events per group-commit transaction (a call is never split)


@dataclass(frozen=True, slots=True, eq=False)
class _Call:
    """One append_events call."""

    events: Sequence[Event]
    fanout: Fanout
    expect: ConfigVersion | None


@dataclass(frozen=True, slots=True)
class _Append:
    call: _Call
    waiter: asyncio.Future[Sequence[str]]


async def _append_in(
    conn: AsyncConnection, calls: Sequence[_Call]
) -> tuple[list[list[str] | None], int]:
    """The statements of several append_events calls, run together (one INSERT of events,
    one of deliveries, whatever the number of calls): the ids each call stored, or None for
    a call whose `expect` no longer holds (it stores nothing); and how many deliveries are
    due now (workers should be woken)."""
    stale = await _stale(conn, calls)
    live = [call for call in calls if call not in stale]
    stored = await event_sql.insert_new_events(conn, [e for call in live for e in call.events])
    # Each newly stored event belongs to the first call that carried it and is fanned out
    # there only: a re-published event (same id) already has its deliveries.
    new = {(event.account_id, event.id) for event in stored}
    ids: list[list[str] | None] = []
    fanned_out: list[Delivery] = []
    for call in calls:
        if call in stale:
            ids.append(None)
            continue
        mine = []
        for event in call.events:
            if (event.account_id, event.id) in new:
                new.discard((event.account_id, event.id))
                mine.append(event)
        ids.append([event.id for event in mine])
        if mine:
            fanned_out.extend(call.fanout(mine))
    if fanned_out:
        checked = all(call.expect is not None for call in live)
        await delivery_sql.insert_deliveries(conn, fanned_out, webhooks_exist=checked)
    # Workers are woken for deliveries due now, not for those born leased to a worker
    # (fanout.Lease), which that worker already has.
    due = sum(1 for delivery in fanned_out if delivery.lease_token is None)
    if due:
        await notify(conn)
    return ids, due


async def _stale(conn: AsyncConnection, calls: Sequence[_Call]) -> list[_Call]:
    expected = [call.expect for call in calls if call.expect is not None]
    if not expected:
        return []
    versions = await account_sql.config_versions(conn, {e.account_id for e in expected})
    return [
        call
        for call in calls
        if call.expect is not None and versions.get(call.expect.account_id) != call.expect.version
    ]


async def _changed(conn: AsyncConnection, account_id: str, change: Awaitable[bool]) -> bool:
    """Runs a delete; if it deleted something, moves the account's configuration version."""
    if changed := await change:
        await account_sql.config_changed(conn, account_id)
    return changed


def _settle(group: list[_Append], exc: BaseException) -> None:
    for item in group:
        if not item.waiter.done():
            item.waiter.set_exception(exc)


class SqlStore:
    """Durable state on SQLite (embedded) or PostgreSQL (scale-out). See `hookcast.ports.Store`."""

    def __init__(self, engines: Engines, box: SecretBox) -> None:
        self._engines = engines
        self._box = box
        self._wakeup = Wakeup(asyncpg_dsn(engines.url) if engines.is_postgres else None)
        self._appends: deque[_Append] = deque()
        self._appender: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        url = self._engines.url.render_as_string(hide_password=True)
        return f"SqlStore({url!r})"

    @property
    def dialect(self) -> str:
        """ "sqlite" or "postgresql"."""
        return self._engines.url.get_backend_name()

    def using(self, connection: AsyncConnection) -> SqlStore:
        """This store, working inside a transaction the caller has begun on `connection`.

        Every method of the returned view runs its statements on `connection` and neither
        commits nor rolls back: the caller's commit makes them durable together with the
        caller's own writes, its rollback discards both (a transactional outbox). The
        connection must reach the database HookCast was migrated into. The view shares this
        store's engines and secret key; closing it does nothing.
        """
        if not connection.in_transaction():
            raise ValueError(
                "the connection has no transaction: call it inside `async with conn.begin()`"
            )
        return _TransactionView(self, connection)

    @asynccontextmanager
    async def _reading(self) -> AsyncIterator[AsyncConnection]:
        with translate_errors():
            async with self._engines.begin(self._engines.read) as conn:
                yield conn

    @asynccontextmanager
    async def _scanning(self) -> AsyncIterator[AsyncConnection]:
        """A read that may touch many rows (a page and its total, statistics), or that runs
        several statements which must agree (a delivery and its attempts)."""
        with translate_errors():
            async with self._engines.begin(self._engines.scan) as conn:
                yield conn

    @asynccontextmanager
    async def _writing(
        self, conflict: str = "the resource already exists"
    ) -> AsyncIterator[AsyncConnection]:
        with translate_errors(conflict):
            async with self._engines.begin(self._engines.write) as conn:
                yield conn

    # accounts and keys

    async def create_account(self, account: Account) -> None:
        async with self._writing(f"account id {account.id} is already taken") as conn:
            await account_sql.create_account(conn, account)

    async def get_account(self, account_id: str) -> Account | None:
        async with self._reading() as conn:
            return await account_sql.get_account(conn, account_id)

    async def list_accounts(self) -> Sequence[Account]:
        async with self._reading() as conn:
            return await account_sql.list_accounts(conn)

    async def create_api_key(self, key: ApiKey) -> None:
        async with self._writing(f"api key {key.id} already exists") as conn:
            await account_sql.create_api_key(conn, key)
            await account_sql.config_changed(conn, key.account_id)

    async def find_api_key(self, secret_hash: str) -> ApiKey | None:
        async with self._reading() as conn:
            return await account_sql.find_api_key(conn, secret_hash)

    async def list_api_keys(self, account_id: str) -> Sequence[ApiKey]:
        async with self._reading() as conn:
            return await account_sql.list_api_keys(conn, account_id)

    async def delete_api_key(self, account_id: str, key_id: str) -> bool:
        async with self._writing() as conn:
            return await _changed(
                conn, account_id, account_sql.delete_api_key(conn, account_id, key_id)
            )

    async def count_api_keys(self) -> int:
        async with self._reading() as conn:
            return await account_sql.count_api_keys(conn)

    async def sign_out_session(
        self, account_id: str, session_id: str, *, expires: datetime, now: datetime
    ) -> None:
        async with self._writing() as conn:
            await session_sql.sign_out(conn, account_id, session_id, expires=expires, now=now)

    async def is_signed_out(self, session_id: str) -> bool:
        async with self._reading() as conn:
            return await session_sql.is_signed_out(conn, session_id)

    async def config_version(self, account_id: str) -> int:
        async with self._reading() as conn:
            return (await account_sql.config_versions(conn, [account_id])).get(account_id, 0)

    # sites

    async def create_site(self, site: Site) -> None:
        async with self._writing(f"site id {site.id} is already taken") as conn:
            await site_sql.create_site(conn, site)
            await account_sql.config_changed(conn, site.account_id)

    async def get_site(self, account_id: str, site_id: str) -> Site | None:
        async with self._reading() as conn:
            return await site_sql.get_site(conn, account_id, site_id)

    async def list_sites(self, account_id: str, page: PageRequest) -> Page[Site]:
        async with self._scanning() as conn:
            return await site_sql.list_sites(conn, account_id, page)

    async def update_site(self, site: Site) -> None:
        async with self._writing() as conn:
            await site_sql.update_site(conn, site)

    async def delete_site(self, account_id: str, site_id: str) -> bool:
        async with self._writing() as conn:
            return await _changed(conn, account_id, site_sql.delete_site(conn, account_id, site_id))

    async def existing_site_ids(self, account_id: str, site_ids: Sequence[str]) -> set[str]:
        async with self._reading() as conn:
            return await site_sql.existing_site_ids(conn, account_id, site_ids)

    # webhooks

    async def create_webhook(self, webhook: Webhook) -> None:
        async with self._writing(f"webhook id {webhook.id} is already taken") as conn:
            await webhook_sql.create_webhook(conn, webhook, self._box)
            await account_sql.config_changed(conn, webhook.account_id)

    async def get_webhook(self, account_id: str, webhook_id: str) -> Webhook | None:
        async with self._scanning() as conn:
            return await webhook_sql.get_webhook(conn, account_id, webhook_id, self._box)

    async def list_webhooks(self, query: WebhookQuery) -> Page[Webhook]:
        async with self._scanning() as conn:
            return await webhook_sql.list_webhooks(conn, query, self._box)

    async def update_webhook(self, webhook: Webhook, now: datetime) -> None:
        async with self._writing() as conn:
            await webhook_sql.update_webhook(conn, webhook, now, self._box)
            if webhook.enabled:
                await notify(conn)
            await account_sql.config_changed(conn, webhook.account_id)
        if webhook.enabled:
            self._wakeup.notify()

    async def delete_webhook(self, account_id: str, webhook_id: str) -> bool:
        async with self._writing() as conn:
            deleted = webhook_sql.delete_webhook(conn, account_id, webhook_id)
            return await _changed(conn, account_id, deleted)

    async def enabled_webhooks(self, account_id: str) -> Sequence[Webhook]:
        async with self._reading() as conn:
            return await webhook_sql.enabled_webhooks(conn, account_id, self._box)

    # events

    async def append_events(
        self, *, events: Sequence[Event], fanout: Fanout, expect: ConfigVersion | None = None
    ) -> Sequence[str]:
        """Group commit: calls made while a write is under way share the next transaction
        (one BEGIN, one fsync, one INSERT of events and one of deliveries for them all). A
        call whose data the database refuses fails alone: the group is then retried call by
        call."""
        waiter: asyncio.Future[Sequence[str]] = asyncio.get_running_loop().create_future()
        self._appends.append(_Append(_Call(events, fanout, expect), waiter))
        if self._appender is None or self._appender.done():
            self._appender = asyncio.create_task(self._append_pending())
        return await waiter

    async def _append_pending(self) -> None:
        await asyncio.sleep(0)  # requests the loop has already read join this group
        while self._appends:
            group: list[_Append] = []
            size = 0
            while self._appends and (not group or size < _GROUP_EVENTS):
                group.append(self._appends.popleft())
                size += len(group[-1].call.events)
            await self._append_group(group)

    async def _append_group(self, group: list[_Append]) -> None:
        try:
            async with self._writing() as conn:
                stored, due = await _append_in(conn, [item.call for item in group])
        except Unavailable as exc:  # the database, not the data: every call fails alike
            _settle(group, exc)
            return
        except Exception as exc:
            if len(group) == 1:
                _settle(group, exc)
                return
            for item in group:
                await self._append_group([item])
            return
        if due:
            self._wakeup.notify()
        for item, ids in zip(group, stored, strict=True):
            if item.waiter.done():  # its caller may have gone (a closed connection)
                continue
            if ids is None:
                item.waiter.set_exception(ConfigChanged())
            else:
                item.waiter.set_result(ids)

    async def list_events(self, query: EventQuery) -> Page[EventSummary]:
        async with self._scanning() as conn:
            return await event_sql.list_events(conn, query)

    # deliveries

    async def claim_due_deliveries(
        self, *, now: datetime, limit: int, lease_seconds: float
    ) -> Sequence[ClaimedDelivery]:
        async with self._writing() as conn:
            token, claimed = await delivery_sql.claim_due(
                conn, now=now, limit=limit, lease_seconds=lease_seconds
            )
            if not claimed:
                return []
            # Batched loads, one query each; deliveries of one event or webhook share the
            # same Event / Webhook object.
            by_key = await event_sql.load_events(
                conn, {(d.account_id, d.event_id) for d in claimed}
            )
            by_id = await webhook_sql.load_webhooks(
                conn, {d.webhook_id for d in claimed}, self._box
            )
        return [
            ClaimedDelivery(
                delivery=d,
                lease_token=token,
                event=by_key[(d.account_id, d.event_id)],
                webhook=by_id[d.webhook_id],
            )
            for d in claimed
        ]

    async def record_results(
        self, results: Sequence[DeliveryResult], health: Sequence[WebhookHealth]
    ) -> None:
        async with self._writing() as conn:
            # Webhook rows, then delivery rows, then account rows: the order every writer
            # locks them in (update_webhook, append_events), so PostgreSQL never sees a cycle.
            await webhook_sql.apply_health(conn, health)
            await delivery_sql.record_attempts(conn, results)
            await account_sql.config_changed_for_webhooks(
                conn, [h.webhook_id for h in health if h.disable_reason]
            )

    async def release_deliveries(self, leases: Sequence[tuple[str, str]], now: datetime) -> None:
        async with self._writing() as conn:
            await delivery_sql.release_leases(conn, leases, now)
            await notify(conn)
        self._wakeup.notify()

    async def next_due_at(self) -> datetime | None:
        async with self._reading() as conn:
            return await delivery_sql.next_due_at(conn)

    async def list_deliveries(self, query: DeliveryQuery) -> Page[DeliveryRecord]:
        async with self._scanning() as conn:
            return await delivery_sql.list_deliveries(conn, query)

    async def get_delivery(self, account_id: str, delivery_id: str) -> DeliveryRecord | None:
        async with self._scanning() as conn:
            return await delivery_sql.get_delivery(conn, account_id, delivery_id)

    async def reschedule_delivery(
        self, *, account_id: str, delivery_id: str, now: datetime
    ) -> bool:
        async with self._writing() as conn:
            found = await delivery_sql.reschedule(conn, account_id, delivery_id, now)
            if found:
                await notify(conn)
        if found:
            self._wakeup.notify()
        return found

    async def recover_deliveries(
        self, *, account_id: str, webhook_id: str, since: datetime, now: datetime
    ) -> int:
        async with self._writing() as conn:
            recovered = await delivery_sql.recover_failed(conn, account_id, webhook_id, since, now)
            if recovered:
                await notify(conn)
        if recovered:
            self._wakeup.notify()
        return recovered

    async def count_deliveries_by_hour(
        self, *, account_id: str, webhook_ids: Sequence[str], since: datetime
    ) -> Sequence[DeliveryCount]:
        async with self._scanning() as conn:
            return await stats_sql.count_by_hour(conn, account_id, webhook_ids, since)

    # operations

    async def delivery_stats(self, now: datetime) -> DeliveryStats:
        async with self._scanning() as conn:
            return await operations_sql.delivery_stats(conn, now)

    async def prune_before(self, before: datetime, *, limit: int) -> Pruned:
        async with self._writing() as conn:
            return await operations_sql.prune_before(conn, before, limit=limit)

    # wake-ups

    async def wait_for_deliveries(self, timeout: float) -> None:
        await self._wakeup.wait(timeout)

    async def close(self) -> None:
        if self._appender is not None:  # publishes already accepted into a group commit
            await asyncio.gather(self._appender, return_exceptions=True)
        await self._wakeup.close()
        await self._engines.dispose()


class _TransactionView(SqlStore):
    """`SqlStore.using`: the same queries on a caller's connection, with no commit.

    Only the transaction boundaries differ: every SqlStore method reads and writes through
    `_reading` / `_scanning` / `_writing`, so overriding those keeps one copy of each query.
    """

    def __init__(self, store: SqlStore, connection: AsyncConnection) -> None:
        # No super().__init__(): the view must share the store's engines and wake-ups.
        self._engines = store._engines
        self._box = store._box
        self._wakeup = store._wakeup
        self._connection = connection

    @asynccontextmanager
    async def _reading(self) -> AsyncIterator[AsyncConnection]:
        with translate_errors():
            yield self._connection

    _scanning = _reading

    @asynccontextmanager
    async def _writing(
        self, conflict: str = "the resource already exists"
    ) -> AsyncIterator[AsyncConnection]:
        # pg_notify (sql.notify) runs on this connection too, so PostgreSQL wakes workers only
        # when the caller commits. The in-process wake-up methods send after this block is a
        # hint that may come before the commit: a worker then finds nothing and polls again.
        with translate_errors(conflict):
            yield self._connection

    async def append_events(
        self, *, events: Sequence[Event], fanout: Fanout, expect: ConfigVersion | None = None
    ) -> Sequence[str]:
        """On the caller's transaction, not in a group: it commits when the caller does."""
        with translate_errors():
            (ids,), due = await _append_in(self._connection, [_Call(events, fanout, expect)])
        if due:
            self._wakeup.notify()
        if ids is None:
            raise ConfigChanged()
        return ids

    async def close(self) -> None:
        """Nothing to free: the store this view came from owns the engines."""
