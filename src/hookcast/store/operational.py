"""Publishing HookCast's operational events (domain/operational.py) inside the transaction
that records the attempt outcomes causing them: the webhook's change of state and the
event announcing it commit together or not at all.

Idempotence rests on two things. The webhooks' rows are locked before their health is
read (FOR NO KEY UPDATE on PostgreSQL; SQLite has one writer), so of two workers recording
failures of one webhook at once, the second sees the first's `failing_since` and publishes
nothing. And each event's id is derived from its webhook and period, so an event stored
already is not stored, nor fanned out, again.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence

from sqlalchemy import bindparam, func, or_, select

from hookcast.domain.fanout import FanoutPlan
from hookcast.domain.ids import new_delivery_id
from hookcast.domain.models import Delivery, DeliveryStatus, Event
from hookcast.domain.operational import (
    HELD,
    Notice,
    OperationalSubscribers,
    Standing,
    operational_event,
)
from hookcast.store import deliveries as delivery_sql
from hookcast.store import mail as mail_sql
from hookcast.store import sequences as sequence_sql
from hookcast.store import webhooks as webhook_sql
from hookcast.store.connector import Transaction
from hookcast.store.crypto import SecretBox
from hookcast.store.sql import in_list, notify
from hookcast.store.statement import Statement
from hookcast.store.tables import deliveries, webhooks
from hookcast.store.tables import events as event_rows

__all__ = ["announce_held", "lock_standing", "publish_notices"]

# Not yet delivered, and still to be: what "deliveries waiting" counts.
_WAITING = tuple(
    status.value
    for status in (
        DeliveryStatus.PENDING,
        DeliveryStatus.PAUSED,
        DeliveryStatus.HELD,
        DeliveryStatus.WAITING,
    )
)


async def lock_standing(tx: Transaction, webhook_ids: Collection[str]) -> dict[str, Standing]:
    """The webhooks' health before a batch is applied, their rows locked until commit in id
    order (the order every writer of webhook rows takes)."""
    if not webhook_ids:
        return {}
    rows = await tx.fetch_all(_LOCK_STANDING, {"ids": sorted(webhook_ids)})
    return {
        webhook_id: Standing(webhook_id, enabled=bool(enabled), failing_since=failing_since)
        for webhook_id, enabled, failing_since in rows
    }


async def publish_notices(
    tx: Transaction, notices: Sequence[Notice], *, box: SecretBox
) -> tuple[list[Event], int]:
    """Publishes the notices' events, fanned out to their accounts' subscribers: returns the
    events newly stored (a repeated notice stores nothing) and how many deliveries are due."""
    about = await webhook_sql.load_webhooks(
        tx, webhook_ids={notice.webhook_id for notice in notices}, box=box
    )
    waiting = await _count_waiting(tx, list(about))
    by_account: dict[str, list[Event]] = defaultdict(list)
    for notice in notices:
        webhook = about.get(notice.webhook_id)
        if webhook is not None:  # deleted since the batch was claimed: no one to tell about
            event = operational_event(notice, webhook, waiting=waiting.get(webhook.id, 0))
            by_account[webhook.account_id].append(event)
    stored: list[Event] = []
    fanned_out: list[Delivery] = []
    for account_id, events in by_account.items():
        subscribers = OperationalSubscribers(
            await webhook_sql.account_webhooks(tx, account_id=account_id, box=box)
        )
        plan = FanoutPlan(subscribers, events, now=events[0].created, new_id=new_delivery_id)
        # Only the events stored now are fanned out and mailed: a notice repeated (the same
        # id) stores nothing, and sends nothing again.
        new = await sequence_sql.insert_numbered(tx, events)
        stored.extend(new)
        fanned_out.extend(plan(new))
    if fanned_out:
        await delivery_sql.insert_deliveries(tx, fanned_out)
    await mail_sql.queue_mails(tx, stored)
    due = sum(1 for delivery in fanned_out if delivery.status is DeliveryStatus.PENDING)
    if due:
        await notify(tx)
    return stored, due


async def announce_held(tx: Transaction, deliveries: Sequence[Delivery], *, box: SecretBox) -> int:
    """Publishes webhook_held for each webhook `deliveries` (a publish's) were held for,
    once per run of held deliveries: the run is named by its oldest, so the next publish
    held for the same webhook finds its event stored and publishes nothing. Returns the
    deliveries made due."""
    newest: dict[str, Delivery] = {}
    for delivery in deliveries:
        if delivery.status is DeliveryStatus.HELD:
            newest[delivery.webhook_id] = delivery
    if not newest:
        return 0
    oldest = await tx.fetch_all(_OLDEST_HELD, {"ids": sorted(newest)})
    notices = [
        Notice(HELD, webhook_id, at=newest[webhook_id].created, period=since)
        for webhook_id, since in oldest
    ]
    told = await _stored_already(tx, [(newest[n.webhook_id].account_id, n) for n in notices])
    fresh = [notice for notice in notices if notice.event_id not in told]
    if not fresh:
        return 0
    _, due = await publish_notices(tx, fresh, box=box)
    return due


async def _stored_already(tx: Transaction, notices: list[tuple[str, Notice]]) -> set[str]:
    by_account: dict[str, list[str]] = defaultdict(list)
    for account_id, notice in notices:
        by_account[account_id].append(notice.event_id)
    stored: set[str] = set()
    for account_id, ids in by_account.items():
        rows = await tx.fetch_all(_EVENTS_STORED, {"b_account_id": account_id, "ids": ids})
        stored.update(event_id for (event_id,) in rows)
    return stored


async def _count_waiting(tx: Transaction, webhook_ids: list[str]) -> dict[str, int]:
    if not webhook_ids:
        return {}
    rows = await tx.fetch_all(_COUNT_WAITING, {"ids": webhook_ids})
    return {webhook_id: int(n) for webhook_id, n in rows}


_LOCK_STANDING = Statement(
    lambda database: (
        select(webhooks.c.id, webhooks.c.enabled, webhooks.c.failing_since)
        .where(in_list(database, column=webhooks.c.id))
        .order_by(webhooks.c.id)
        # NO KEY UPDATE, the lock an UPDATE of these columns takes anyway: it leaves other
        # transactions free to insert deliveries referencing the row (their foreign key
        # check's KEY SHARE), so publishes never wait on it.
        .with_for_update(key_share=True)
    )
)
_OLDEST_HELD = Statement(
    lambda database: (
        select(deliveries.c.webhook_id, func.min(deliveries.c.created))
        .where(
            in_list(database, column=deliveries.c.webhook_id),
            deliveries.c.status == DeliveryStatus.HELD.value,
        )
        .group_by(deliveries.c.webhook_id)
    )
)
_EVENTS_STORED = Statement(
    lambda database: select(event_rows.c.id).where(
        event_rows.c.account_id == bindparam("b_account_id"),
        in_list(database, column=event_rows.c.id),
    )
)
_COUNT_WAITING = Statement(
    lambda database: (
        select(deliveries.c.webhook_id, func.count())
        .where(
            in_list(database, column=deliveries.c.webhook_id),
            or_(*(deliveries.c.status == status for status in _WAITING)),
        )
        .group_by(deliveries.c.webhook_id)
    )
)
