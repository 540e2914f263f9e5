"""Webhooks and their subscriptions (events, sites), stored in order."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    RowMapping,
    Select,
    Table,
    Text,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from hookcast.domain.errors import NotFound, ValidationFailed
from hookcast.domain.models import DeliveryStatus, Webhook
from hookcast.ports import Page, WebhookHealth, WebhookQuery
from hookcast.store import raw
from hookcast.store.crypto import SecretBox
from hookcast.store.rows import webhook_from_row, webhook_values
from hookcast.store.sql import IDS, count, is_postgres, paginate
from hookcast.store.tables import deliveries, webhook_events, webhook_sites, webhooks
from hookcast.store.types import Timestamp

__all__ = [
    "apply_health",
    "create_webhook",
    "delete_webhook",
    "enabled_webhooks",
    "get_webhook",
    "list_webhooks",
    "load_webhooks",
    "lock_webhooks",
    "pause_pending",
    "resume_paused",
    "update_webhook",
]

_PENDING = DeliveryStatus.PENDING.value
_PAUSED = DeliveryStatus.PAUSED.value


async def create_webhook(conn: AsyncConnection, webhook: Webhook, box: SecretBox) -> None:
    await conn.execute(insert(webhooks).values(webhook_values(webhook, box)))
    await _insert_subscriptions(conn, webhook)


async def get_webhook(
    conn: AsyncConnection, account_id: str, webhook_id: str, box: SecretBox
) -> Webhook | None:
    query = select(webhooks).where(webhooks.c.account_id == account_id, webhooks.c.id == webhook_id)
    found = await _load(conn, query, box)
    return found[0] if found else None


async def enabled_webhooks(
    conn: AsyncConnection, account_id: str, box: SecretBox
) -> Sequence[Webhook]:
    query = (
        select(webhooks)
        .where(webhooks.c.account_id == account_id, webhooks.c.enabled.is_(True))
        .order_by(webhooks.c.created, webhooks.c.id)
    )
    return await _load(conn, query, box)


async def load_webhooks(
    conn: AsyncConnection, webhook_ids: Collection[str], box: SecretBox
) -> dict[str, Webhook]:
    """The webhooks with these ids, by id (any account: the caller already scoped the ids)."""
    if not webhook_ids:
        return {}
    found = await _load(conn, _BY_IDS, box, {"ids": list(webhook_ids)})
    return {webhook.id: webhook for webhook in found}


def _sort_key(query: WebhookQuery, *, postgres: bool) -> list[ColumnElement[Any]]:
    columns: dict[str, ColumnElement[Any]] = {
        "created": webhooks.c.created,
        "last_modified": webhooks.c.last_modified,
        # PostgreSQL sorts text by locale; "C" is byte order, as SQLite's BINARY collation,
        # so both databases list alike.
        "name": webhooks.c.name.collate("C") if postgres else webhooks.c.name,
    }
    if query.sort not in columns:
        raise ValidationFailed(f"cannot sort webhooks by {query.sort!r}", field="sort")
    keys = [columns[query.sort], webhooks.c.id]
    return [key.desc() if query.descending else key.asc() for key in keys]


def _filters(query: WebhookQuery) -> list[ColumnElement[bool]]:
    filters = [webhooks.c.account_id == query.account_id]
    if query.event is not None:
        subscribed = select(webhook_events.c.webhook_id).where(
            webhook_events.c.event == query.event
        )
        filters.append(webhooks.c.id.in_(subscribed))
    if query.site_id is not None:
        on_site = select(webhook_sites.c.webhook_id).where(webhook_sites.c.site_id == query.site_id)
        filters.append(webhooks.c.id.in_(on_site))
    return filters


async def list_webhooks(
    conn: AsyncConnection, query: WebhookQuery, box: SecretBox
) -> Page[Webhook]:
    filters = _filters(query)
    order = _sort_key(query, postgres=is_postgres(conn))
    page_query = paginate(select(webhooks).where(*filters).order_by(*order), query.page)
    items = await _load(conn, page_query, box)
    return Page(items=items, total=await count(conn, webhooks, *filters))


async def update_webhook(
    conn: AsyncConnection, webhook: Webhook, now: datetime, box: SecretBox
) -> None:
    values = webhook_values(webhook, box)
    for immutable in ("id", "account_id", "created"):
        del values[immutable]
    result = await conn.execute(
        update(webhooks)
        .where(webhooks.c.account_id == webhook.account_id, webhooks.c.id == webhook.id)
        .values(values)
    )
    if result.rowcount == 0:
        raise NotFound(f"webhook {webhook.id} not found")
    await conn.execute(delete(webhook_events).where(webhook_events.c.webhook_id == webhook.id))
    await conn.execute(delete(webhook_sites).where(webhook_sites.c.webhook_id == webhook.id))
    await _insert_subscriptions(conn, webhook)
    # Applied on every save rather than on a detected flip: an enabled webhook has no paused
    # deliveries and a disabled one no pending deliveries, so this is idempotent and needs no
    # read of the previous state (which a concurrent writer could change under us).
    if webhook.enabled:
        await resume_paused(conn, webhook.id, now)
    else:
        await pause_pending(conn, [webhook.id])


async def pause_pending(conn: AsyncConnection, webhook_ids: Collection[str]) -> None:
    # Leases are kept: a worker sending one of these right now still records its attempt
    # (record_results leaves a paused delivery paused unless the attempt completes it).
    await conn.execute(
        update(deliveries)
        .where(deliveries.c.webhook_id.in_(webhook_ids), deliveries.c.status == _PENDING)
        .values(status=_PAUSED)
    )


async def resume_paused(conn: AsyncConnection, webhook_id: str, now: datetime) -> int:
    result = await conn.execute(
        update(deliveries)
        .where(deliveries.c.webhook_id == webhook_id, deliveries.c.status == _PAUSED)
        .values(status=_PENDING, next_attempt_at=now)
    )
    return result.rowcount


async def delete_webhook(conn: AsyncConnection, account_id: str, webhook_id: str) -> bool:
    # Deliveries, their attempts and the subscriptions go with it (ON DELETE CASCADE).
    result = await conn.execute(
        delete(webhooks).where(webhooks.c.account_id == account_id, webhooks.c.id == webhook_id)
    )
    return result.rowcount > 0


async def lock_webhooks(conn: AsyncConnection, webhook_ids: Collection[str]) -> set[str]:
    """The ids that still exist, share-locked until commit so they cannot be deleted before
    deliveries referencing them are inserted (SQLite's BEGIN IMMEDIATE already excludes it)."""
    if not webhook_ids:
        return set()
    return set((await conn.scalars(_LOCK_BY_IDS, {"ids": list(webhook_ids)})).all())


async def _insert_subscriptions(conn: AsyncConnection, webhook: Webhook) -> None:
    if webhook.events:
        await conn.execute(
            insert(webhook_events),
            [
                {"webhook_id": webhook.id, "position": i, "event": event}
                for i, event in enumerate(webhook.events)
            ],
        )
    if webhook.site_ids:
        await conn.execute(
            insert(webhook_sites),
            [
                {"webhook_id": webhook.id, "position": i, "site_id": site_id}
                for i, site_id in enumerate(webhook.site_ids)
            ],
        )


async def _load(
    conn: AsyncConnection,
    query: Select[Any],
    box: SecretBox,
    params: dict[str, Any] | None = None,
) -> list[Webhook]:
    """Runs a webhooks query, then fetches every subscription of the rows in two queries."""
    rows = list((await conn.execute(query, params)).mappings())
    if not rows:
        return []
    ids = [row["id"] for row in rows]
    events = await _ordered(conn, _EVENTS_OF, ids)
    sites = await _ordered(conn, _SITES_OF, ids)
    return [_webhook(row, events, sites, box) for row in rows]


def _webhook(
    row: RowMapping,
    events: dict[str, list[str]],
    sites: dict[str, list[str]],
    box: SecretBox,
) -> Webhook:
    return webhook_from_row(row, events.get(row["id"], []), sites.get(row["id"], []), box)


_BY_IDS = select(webhooks).where(webhooks.c.id.in_(IDS))
_LOCK_BY_IDS = (
    select(webhooks.c.id)
    .where(webhooks.c.id.in_(IDS))
    .order_by(webhooks.c.id)
    .with_for_update(read=True, key_share=True)
)


def _subscriptions(table: Table, column: str) -> Select[Any]:
    return (
        select(table.c.webhook_id, table.c[column])
        .where(table.c.webhook_id.in_(IDS))
        .order_by(table.c.webhook_id, table.c.position)
    )


_EVENTS_OF = _subscriptions(webhook_events, "event")
_SITES_OF = _subscriptions(webhook_sites, "site_id")


async def _ordered(
    conn: AsyncConnection, query: Select[Any], webhook_ids: list[str]
) -> dict[str, list[str]]:
    by_webhook: defaultdict[str, list[str]] = defaultdict(list)
    for webhook_id, item in await conn.execute(query, {"ids": webhook_ids}):
        by_webhook[webhook_id].append(item)
    return by_webhook


async def apply_health(conn: AsyncConnection, health: Sequence[WebhookHealth]) -> None:
    """Moves each webhook's success/failure marks; disabling also pauses its backlog.

    Rows are updated in id order so concurrent recorders lock webhooks in one order.
    """
    ordered = sorted(health, key=lambda h: h.webhook_id)
    succeeded = [{"b_id": h.webhook_id, "b_at": h.succeeded_at} for h in ordered if h.succeeded_at]
    failed = [
        {"b_id": h.webhook_id, "b_at": h.failed_at}
        for h in ordered
        if h.succeeded_at is None and h.failed_at is not None
    ]
    disabled = [
        {"b_id": h.webhook_id, "b_reason": h.disable_reason} for h in ordered if h.disable_reason
    ]
    # Every batch of results: on SQLite's raw connection when it can (store/raw.py).
    await raw.execute_many(conn, _SUCCEEDED, succeeded)
    await raw.execute_many(conn, _FAILING, failed)
    if disabled:
        await raw.execute_many(conn, _DISABLE, disabled)
        await pause_pending(conn, [row["b_id"] for row in disabled])


_THIS_WEBHOOK = webhooks.c.id == bindparam("b_id")
_SUCCEEDED = (
    update(webhooks)
    .where(_THIS_WEBHOOK)
    .values(last_success=bindparam("b_at", type_=Timestamp), failing_since=None)
)
# COALESCE keeps the start of an ongoing failure streak: "failing since" the first failure.
_FAILING = (
    update(webhooks)
    .where(_THIS_WEBHOOK)
    .values(
        failing_since=func.coalesce(webhooks.c.failing_since, bindparam("b_at", type_=Timestamp))
    )
)
_DISABLE = (
    update(webhooks)
    .where(_THIS_WEBHOOK)
    .values(enabled=False, disabled_reason=bindparam("b_reason", type_=Text))
)
