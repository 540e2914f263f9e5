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

import logging
from collections import defaultdict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, Select, bindparam, exists, func, or_, select, update

from hookcast.domain.conditions import MAX_VISITS
from hookcast.domain.fanout import MAX_PUBLISH_VISITS, FanoutPlan
from hookcast.domain.ids import new_delivery_id
from hookcast.domain.models import Delivery, DeliveryStatus, Event
from hookcast.domain.operational import (
    DISABLE_WARNING,
    DISABLED,
    FAILING,
    HELD,
    RECOVERED,
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
from hookcast.store.types import Timestamp
from hookcast.store.webhook_locks import KEY_SHARE, lock_in_one_pass

__all__ = [
    "LockedStanding",
    "announce_held",
    "lock_standing",
    "log_told",
    "may_tell",
    "publish_notices",
]

_log = logging.getLogger("hookcast.publish")  # beside the publishes' conditions over budget
# A webhook's changes of state, once each, as its account is told them (`log_told`).
_state_log = logging.getLogger("hookcast.webhooks")

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


@dataclass(frozen=True, slots=True)
class LockedStanding:
    """What a recording's lock pass read and locked (`lock_standing`)."""

    # The batch's webhooks as read under their lock, by id (deleted ones left out).
    standing: dict[str, Standing]
    # The webhooks whose accounts' other webhooks the pass share-locked, so that a notice
    # about one of them may be fanned out; None: about any (SQLite's one writer).
    telling: frozenset[str] | None = None
    # Those other webhooks, as the pass found them.
    others: frozenset[str] = frozenset()

    def uncovered(self, notices: Sequence[Notice]) -> frozenset[str]:
        """The webhooks `notices` are about whose accounts the pass did not share-lock: a
        recording telling them begins again with them in its pass (`lock_standing`)."""
        if self.telling is None or not notices:
            return frozenset()
        return frozenset(notice.webhook_id for notice in notices) - self.telling

    def reaches(self, webhook_id: str) -> bool:
        """Whether the pass locked the webhook: a notice is fanned out to no other."""
        return self.telling is None or webhook_id in self.standing or webhook_id in self.others


async def lock_standing(
    tx: Transaction,
    webhook_ids: Collection[str],
    *,
    disabling: Collection[str] = (),
    telling: Collection[str] = (),
) -> LockedStanding:
    """The webhooks' health before a batch is applied, their rows locked until commit in id
    order (the order every writer of webhook rows takes). On PostgreSQL the same pass takes
    what the rest of the transaction will lock on webhook rows, each row in the strongest
    mode it will need (store/webhook_locks.py): disabling `disabling` (some of
    `webhook_ids`) locks each of them FOR UPDATE (store/webhooks.py `apply_health`), and
    its webhook_disabled notice, as every notice about `telling` (others of them), is
    fanned out to the other webhooks of its account, which the inserts of their deliveries
    share-lock: the pass locks those FOR KEY SHARE. Taken later, each was a lock on a row
    this pass had passed, and two transactions could wait on each other
    (tests/contract/test_store_disables_lock_order.py).

    Which notices a batch tells is known only once this pass has read the standing; taking
    the accounts' webhooks for any batch that may tell one would put a lock on every row of
    them in nearly every recording (any failure may begin a failing period, any success end
    one). So the caller passes in `telling` the webhooks it foresees a notice about
    (store/foreseen.py; none usually), and a batch whose notices the pass did not cover
    (`LockedStanding.uncovered`, as rare as a webhook's unforeseen change of state) is
    recorded again from the start, `telling` naming them: rolled back, the first pass's
    locks are let go before the second waits in id order."""
    if not webhook_ids:
        return LockedStanding({})
    if tx.database != "postgresql":
        rows = await tx.fetch_all(_LOCK_STANDING, {"ids": sorted(webhook_ids)})
        return LockedStanding(_standing(rows))
    if not disabling and not telling:  # the usual batch: one plain locking statement
        rows = await tx.fetch_all(_LOCK_STANDING, {"ids": sorted(webhook_ids)})
        return LockedStanding(_standing(rows), telling=frozenset())
    accounts_of = frozenset((*disabling, *telling))
    locked = await lock_in_one_pass(
        tx,
        _STANDING_COLUMNS,
        update=disabling,
        no_key_update=webhook_ids,
        key_share_accounts_of=accounts_of,
    )
    own = [row[1:] for row in locked if row[0] != KEY_SHARE]  # the batch's webhooks
    others = frozenset(row[1] for row in locked if row[0] == KEY_SHARE)
    return LockedStanding(_standing(own), telling=accounts_of, others=others)


def _standing(rows: Sequence[Sequence[Any]]) -> dict[str, Standing]:
    return {
        webhook_id: Standing(
            webhook_id,
            enabled=bool(enabled),
            failing_since=failing_since,
            last_success=last_success,
            last_error_at=last_error_at,
            next_retry_at=next_retry_at,
        )
        for webhook_id, enabled, failing_since, last_success, last_error_at, next_retry_at in rows
    }


async def publish_notices(
    tx: Transaction,
    notices: Sequence[Notice],
    *,
    box: SecretBox,
    reaches: Callable[[str], bool] | None = None,
) -> tuple[list[Event], int]:
    """Publishes the notices' events, fanned out to their accounts' subscribers (of those,
    the webhooks `reaches` names: the ones a recording's pass locked, `LockedStanding`;
    a webhook made since is not told what happened before it): returns the
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
        hooks = await webhook_sql.account_webhooks(tx, account_id=account_id, box=box)
        if reaches is not None:
            hooks = [webhook for webhook in hooks if reaches(webhook.id)]
        subscribers = OperationalSubscribers(hooks)
        # A publish's budget for each notice, pooled over the recording's: one budget for
        # all of them stopped the plan where it ran out, and the notices after it reached no
        # webhook of the account (attack17). A publisher can split its batch; a recording
        # cannot, and a notice is one event: its evaluations, each bounded (MAX_VISITS),
        # fit one budget whenever the account has at most 100 webhooks (the default cap).
        budget = len(events) * MAX_PUBLISH_VISITS
        plan = FanoutPlan(
            subscribers, events, now=events[0].created, new_id=new_delivery_id, max_visits=budget
        )
        # Only the events stored now are fanned out and mailed: a notice repeated (the same
        # id) stores nothing, and sends nothing again.
        new = await sequence_sql.insert_numbered(tx, events)
        stored.extend(new)
        fanned_out.extend(plan(new))
        _log_untold(plan, account_id)
    if fanned_out:
        await delivery_sql.insert_deliveries(tx, fanned_out)
    await mail_sql.queue_mails(tx, stored)
    due = sum(1 for delivery in fanned_out if delivery.status is DeliveryStatus.PENDING)
    if due:
        await notify(tx)
    return stored, due


def log_told(events: Sequence[Event]) -> None:
    """One line per operational event a recording committed: each change of a webhook's
    state, once, as its account is told it. The attempt lines said "410 ... failed" and
    never that the webhook was disabled; nothing in the logs did. No URL and no response
    body: the account's data (the event and the dashboard have them)."""
    for event in events:
        data = event.data or {}
        said = _SAID.get(event.type)
        if said is None:
            continue
        level, what = said
        _state_log.log(
            level,
            "webhook %s (account %s) %s",
            data.get("webhook_id"),
            event.account_id,
            what.format_map(_Fields(data)),
        )


class _Fields(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "?"


_SAID: dict[str, tuple[int, str]] = {
    FAILING: (logging.INFO, "is failing: {last_error}"),
    DISABLE_WARNING: (
        logging.WARNING,
        "will be disabled at {disable_at} unless an attempt succeeds (failing since "
        "{failing_since}: {last_error})",
    ),
    DISABLED: (
        logging.WARNING,
        "was disabled: {reason}; its {deliveries_waiting} deliveries waiting go once it is "
        "enabled, events published meanwhile are held until a person delivers or discards "
        "them",
    ),
    RECOVERED: (logging.INFO, "recovered (failing since {failing_since})"),
}


def _log_untold(plan: FanoutPlan, account_id: str) -> None:
    """Says which notices reached fewer webhooks than wanted them: a condition over its own
    budget says no (docs/delivery.md, "Conditions"), and the plan's budget, past 100
    webhooks with costly conditions, can run out (the notices after it go to no webhook;
    they are stored and mailed all the same)."""
    for event_id, webhook_id in plan.over_budget:
        _log.warning(
            "notice %s not delivered to webhook %s (account %s): its condition visited more "
            "than %d elements of the notice",
            event_id,
            webhook_id,
            account_id,
            MAX_VISITS,
        )
    if plan.exhausted:
        _log.warning(
            "notices %s (account %s) not delivered to some or all of the webhooks that may "
            "want them: the conditions of the account's webhooks visited more than %d "
            "elements for each",
            ", ".join(plan.unplanned),
            account_id,
            MAX_PUBLISH_VISITS,
        )


async def may_tell(tx: Transaction, deliveries: Sequence[Delivery]) -> set[str] | None:
    """On PostgreSQL, before a publish locks its webhooks: those `deliveries` are held for
    whose run of held deliveries it may tell (`announce_held`), no run being under way as
    its snapshot reads them (no mark, or none held). It locks those FOR NO KEY UPDATE in
    its one pass (store/webhooks.py `lock_webhooks`) for the update that tells the run: that
    update, taken later on a row the pass had share-locked, waited on a recording that
    waited on the publish's share lock of another webhook (store/webhook_locks.py). Not all
    of them: the row lock would make every publish held for a paused webhook wait for the
    one before (while a run is under way they only share-lock it). A run read under way is
    not told by this publish even if a person ends it before its deliveries are stored, as
    one ended unseen: the next publish held for the webhook tells the new run
    (`_tells_run`). None on SQLite, whose one writer needs no lock: any may tell."""
    held = {delivery.webhook_id for delivery in deliveries if delivery.status is _HELD}
    if not held or tx.database != "postgresql":
        return None
    return {webhook_id for (webhook_id,) in await tx.fetch_all(_UNTOLD, {"ids": sorted(held)})}


async def announce_held(
    tx: Transaction,
    deliveries: Sequence[Delivery],
    *,
    telling: Collection[str] | None = None,
    box: SecretBox,
) -> int:
    """Publishes webhook_held for each webhook `deliveries` (a publish's) were held for,
    once per run of held deliveries (a run ends when none is left held), of those in
    `telling` (None: any; `may_tell`). Returns the deliveries made due."""
    held: dict[str, list[Delivery]] = defaultdict(list)
    for delivery in deliveries:
        if delivery.status is _HELD and (telling is None or delivery.webhook_id in telling):
            held[delivery.webhook_id].append(delivery)
    notices = []
    # In id order: a run's first publish takes the webhook's row lock (_TELL), and every
    # writer of webhook rows takes them in that order, so none deadlocks.
    for webhook_id in sorted(held):
        mine = held[webhook_id]
        at = max(delivery.created for delivery in mine)
        if await _tells_run(tx, webhook_id, mine=len(mine), at=at):
            notices.append(Notice(HELD, webhook_id, at=at, period=at))
    if not notices:
        return 0
    _, due = await publish_notices(tx, notices, box=box)
    return due


async def _tells_run(tx: Transaction, webhook_id: str, *, mine: int, at: datetime) -> bool:
    """Whether this transaction, holding `mine` deliveries for the webhook, tells the run
    they are part of: a run is told by moving webhooks.held_announced_at from the value read
    here. Of two transactions beginning a run at once (neither sees the other's held
    deliveries), the second's move waits for the first's row lock, then finds the value
    moved and tells nothing."""
    row = await tx.fetch_one(_RUN, {"b_id": webhook_id, "b_enough": mine + 1})
    if row is None:
        return False  # deleted meanwhile: nobody to tell about
    told_at, held = row
    if told_at is not None and held > mine:
        return False  # a run under way (others' held deliveries), told when it began
    # A new run (none held but ours; a mark left from an earlier run is moved on), or one
    # whose mark a person's delivering or discarding cleared while we were publishing.
    values = {"b_id": webhook_id, "b_seen": told_at, "b_at": at}
    return await tx.execute(_TELL, values) > 0


async def _count_waiting(tx: Transaction, webhook_ids: list[str]) -> dict[str, int]:
    if not webhook_ids:
        return {}
    rows = await tx.fetch_all(_COUNT_WAITING, {"ids": webhook_ids})
    return {webhook_id: int(n) for webhook_id, n in rows}


_STANDING_COLUMNS = (
    "enabled",
    "failing_since",
    "last_success",
    "last_error_at",
    "next_retry_at",
)
_LOCK_STANDING = Statement(
    lambda database: (
        select(webhooks.c.id, *(webhooks.c[name] for name in _STANDING_COLUMNS))
        .where(in_list(database, column=webhooks.c.id))
        .order_by(webhooks.c.id)
        # NO KEY UPDATE, the lock an UPDATE of these columns takes anyway: it leaves other
        # transactions free to insert deliveries referencing the row (their foreign key
        # check's KEY SHARE), so publishes never wait on it.
        .with_for_update(key_share=True)
    )
)


def _run(_database: str) -> Select[Any]:
    """The webhook's mark, and how many deliveries it has held (counting no further than
    `b_enough`: the ones this transaction holds and one more say whether others exist)."""
    held = (
        select(deliveries.c.id)
        .where(
            deliveries.c.webhook_id == bindparam("b_id"),
            deliveries.c.status == DeliveryStatus.HELD.value,
        )
        .limit(bindparam("b_enough", type_=Integer))
        .subquery()
    )
    counted = select(func.count()).select_from(held).scalar_subquery()
    return select(webhooks.c.held_announced_at, counted).where(webhooks.c.id == bindparam("b_id"))


_RUN = Statement(_run)
_HELD = DeliveryStatus.HELD
_UNTOLD = Statement(
    lambda database: select(webhooks.c.id).where(
        in_list(database, column=webhooks.c.id),
        or_(
            webhooks.c.held_announced_at.is_(None),
            ~exists().where(
                deliveries.c.webhook_id == webhooks.c.id,
                deliveries.c.status == DeliveryStatus.HELD.value,
            ),
        ),
    )
)
_TELL = Statement(
    lambda _: (
        update(webhooks)
        .where(
            webhooks.c.id == bindparam("b_id"),
            webhooks.c.held_announced_at.is_not_distinct_from(bindparam("b_seen", type_=Timestamp)),
        )
        .values(held_announced_at=bindparam("b_at", type_=Timestamp))
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
