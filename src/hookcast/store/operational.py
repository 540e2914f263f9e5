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

from sqlalchemy import func, or_, select

from hookcast.domain.fanout import FanoutPlan
from hookcast.domain.ids import new_delivery_id
from hookcast.domain.models import DeliveryStatus, Event
from hookcast.domain.operational import (
    Notice,
    OperationalSubscribers,
    Standing,
    operational_event,
)
from hookcast.store import mail as mail_sql
from hookcast.store import webhooks as webhook_sql
from hookcast.store.connector import Transaction
from hookcast.store.crypto import SecretBox
from hookcast.store.group_commit import Publish, append_together
from hookcast.store.sql import in_list
from hookcast.store.statement import Statement
from hookcast.store.tables import deliveries, webhooks

__all__ = ["lock_standing", "publish_notices"]

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
    due = 0
    for account_id, events in by_account.items():
        subscribers = OperationalSubscribers(
            await webhook_sql.account_webhooks(tx, account_id=account_id, box=box)
        )
        plan = FanoutPlan(subscribers, events, now=events[0].created, new_id=new_delivery_id)
        (ids,), made_due = await append_together(tx, [Publish(events, plan, None)])
        new = set(ids or ())
        stored.extend(event for event in events if event.id in new)
        due += made_due
    # Only the events stored now: a repeated notice stores no event and queues no mail.
    await mail_sql.queue_mails(tx, stored)
    return stored, due


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
