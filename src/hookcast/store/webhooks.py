"""Webhooks and their subscriptions (events, sites), stored in order."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    Table,
    Text,
    and_,
    bindparam,
    case,
    delete,
    false,
    insert,
    or_,
    select,
    update,
)

from hookcast.domain.catalog import ALL_EVENTS
from hookcast.domain.errors import NotFound, ValidationFailed
from hookcast.domain.models import DeliveryStatus, Ordering, Webhook
from hookcast.domain.operational import Standing
from hookcast.ports import Page, WebhookHealth, WebhookQuery
from hookcast.store.connector import Row, Transaction
from hookcast.store.crypto import SecretBox
from hookcast.store.rows import webhook_from_row, webhook_values
from hookcast.store.sql import count, in_list, lock_in_order, paginate, written_status
from hookcast.store.statement import Query, Statement
from hookcast.store.tables import accounts, deliveries, webhook_events, webhook_sites, webhooks
from hookcast.store.types import Timestamp
from hookcast.store.webhook_locks import lock_in_one_pass

__all__ = [
    "account_webhooks",
    "apply_health",
    "count_deliveries",
    "create_webhook",
    "delete_some_deliveries",
    "delete_webhook",
    "get_webhook",
    "list_webhooks",
    "load_webhooks",
    "lock_webhooks",
    "resume_paused",
    "retried_now",
    "update_webhook",
]

FLOWPLAYER = "flowplayer"  # the format whose webhooks sign with the account's secret
_PENDING = DeliveryStatus.PENDING.value


async def create_webhook(tx: Transaction, *, webhook: Webhook, box: SecretBox) -> None:
    await tx.execute(_INSERT, webhook_values(webhook, box))
    await _insert_subscriptions(tx, webhook)


async def get_webhook(
    tx: Transaction, *, account_id: str, webhook_id: str, box: SecretBox
) -> Webhook | None:
    found = await _load(tx, _WEBHOOK, box, {"account_id": account_id, "id": webhook_id})
    return found[0] if found else None


async def account_webhooks(
    tx: Transaction, *, account_id: str, box: SecretBox
) -> Sequence[Webhook]:
    """Every webhook of the account, oldest first (at most the per-account cap)."""
    return await _load(tx, _OF_ACCOUNT, box, {"account_id": account_id})


async def load_webhooks(
    tx: Transaction, *, webhook_ids: Collection[str], box: SecretBox
) -> dict[str, Webhook]:
    """The webhooks with these ids, by id (any account: the caller already scoped the ids)."""
    if not webhook_ids:
        return {}
    found = await _load(tx, _BY_IDS, box, {"ids": list(webhook_ids)})
    return {webhook.id: webhook for webhook in found}


def _sort_key(query: WebhookQuery, *, database: str) -> list[ColumnElement[Any]]:
    columns: dict[str, ColumnElement[Any]] = {
        "created": webhooks.c.created,
        "last_modified": webhooks.c.last_modified,
        # PostgreSQL sorts text by locale; "C" is byte order, as SQLite's BINARY collation,
        # so both databases list alike.
        "name": webhooks.c.name.collate("C") if database == "postgresql" else webhooks.c.name,
    }
    if query.sort not in columns:
        raise ValidationFailed(f"cannot sort webhooks by {query.sort!r}", field="sort")
    keys = [columns[query.sort], webhooks.c.id]
    return [key.desc() if query.descending else key.asc() for key in keys]


def _filters(query: WebhookQuery) -> list[ColumnElement[bool]]:
    filters = [webhooks.c.account_id == query.account_id]
    if query.event is not None:
        filters.append(or_(_subscribed(query.event), _to_all(query.all_events_formats)))
    if query.site_id is not None:
        on_site = select(webhook_sites.c.webhook_id).where(webhook_sites.c.site_id == query.site_id)
        # A webhook on every property hears this one too.
        filters.append(or_(webhooks.c.all_sites, webhooks.c.id.in_(on_site)))
    if query.format is not None:
        filters.append(webhooks.c.format == query.format)
    return filters


def _subscribed(event: str) -> ColumnElement[bool]:
    subscribers = select(webhook_events.c.webhook_id).where(webhook_events.c.event == event)
    return webhooks.c.id.in_(subscribers)


def _to_all(formats: tuple[str, ...]) -> ColumnElement[bool]:
    """Webhooks on every event ("*") in one of `formats` (none: no webhook)."""
    if not formats:
        return false()
    in_formats = or_(*(webhooks.c.format == name for name in formats))
    return and_(in_formats, _subscribed(ALL_EVENTS))


async def list_webhooks(tx: Transaction, *, query: WebhookQuery, box: SecretBox) -> Page[Webhook]:
    filters = _filters(query)
    order = _sort_key(query, database=tx.database)
    page_query = paginate(select(webhooks).where(*filters).order_by(*order), query.page)
    items = await _load(tx, page_query, box)
    return Page(items=items, total=await count(tx, webhooks, *filters))


async def update_webhook(
    tx: Transaction,
    *,
    webhook: Webhook,
    now: datetime,
    box: SecretBox,
    resume: bool = True,
) -> None:
    """Saves the webhook and, enabled, with `resume`, makes its paused deliveries pending.
    The caller pauses a disabled one's pending deliveries after the commit, a stretch per
    write (SQLite: store/pause_walk.py; PostgreSQL: store/pause_postgres.py), and resumes
    them so on SQLite (`resume` False)."""
    values = {f"b_{name}": value for name, value in webhook_values(webhook, box).items()}
    if not webhook.enabled or webhook.ordering is Ordering.NONE:
        # FOR UPDATE, the one row lock a publish's FOR KEY SHARE waits for, and taken before
        # the UPDATE (a KEY SHARE lock is granted on a row an UPDATE of other columns holds,
        # and the publish reads it as it was): a publish that locked the webhook first (its
        # configuration read before this pause commits) commits before the pause goes on,
        # which then pauses its deliveries too; one locking it after waits for the pause,
        # reads the webhook disabled and stores them paused (store/append_postgres.py).
        # Unordered too: a recovery, replay or manual retry reads the webhook's ordering
        # under FOR KEY SHARE (store/chains.py `lock_ordering`), so a save turning ordering
        # off must conflict with it, or the chains it starts stay unseen by the save.
        await tx.execute(_LOCK_FOR_PAUSE, {"ids": [webhook.id]})
    if await tx.execute(_UPDATE, values) == 0:
        raise NotFound(f"webhook {webhook.id} not found")
    await tx.execute(_DELETE_EVENTS, {"b_id": webhook.id})
    await tx.execute(_DELETE_SITES, {"b_id": webhook.id})
    await _insert_subscriptions(tx, webhook)
    # Applied on every save rather than on a detected flip: an enabled webhook has no paused
    # deliveries, so this is idempotent and needs no read of the previous state (which a
    # concurrent writer could change under us).
    if webhook.enabled and resume:
        await resume_paused(tx, webhook_id=webhook.id, now=now)


async def resume_paused(tx: Transaction, *, webhook_id: str, now: datetime) -> int:
    return await tx.execute(_RESUME, {"b_id": webhook_id, "b_now": now})


async def retried_now(tx: Transaction, *, webhook_id: str, now: datetime) -> None:
    """A person made one of the webhook's deliveries due now: while it is failing, its next
    retry is now. Else the retry that delivery had scheduled would stay shown, and stay
    after the manual attempt fails (apply_health keeps a known earlier retry, taking it for
    another delivery's), though nothing is due then."""
    await tx.execute(_RETRIED_NOW, {"b_id": webhook_id, "b_now": now})


async def delete_webhook(tx: Transaction, *, account_id: str, webhook_id: str) -> bool:
    # Deliveries, their attempts and the subscriptions go with it (ON DELETE CASCADE).
    return await tx.execute(_DELETE, {"account_id": account_id, "id": webhook_id}) > 0


async def count_deliveries(tx: Transaction, *, account_id: str, webhook_id: str) -> int:
    """How many deliveries the account's webhook holds."""
    mine = (deliveries.c.account_id == account_id, deliveries.c.webhook_id == webhook_id)
    return await count(tx, deliveries, *mine)


async def delete_some_deliveries(
    tx: Transaction, *, account_id: str, webhook_id: str, limit: int
) -> int:
    """Deletes up to `limit` of the account's webhook's deliveries (and their attempts);
    how many."""
    values = {"b_account_id": account_id, "b_webhook_id": webhook_id, "b_limit": limit}
    return await tx.execute(_DELETE_SOME_DELIVERIES, values)


async def lock_webhooks(
    tx: Transaction, webhook_ids: Collection[str], *, updating: Collection[str] = ()
) -> dict[str, bool]:
    """The ids that still exist, share-locked until commit so they cannot be deleted before
    deliveries referencing them are inserted (SQLite's BEGIN IMMEDIATE already excludes it),
    each with whether it is enabled as locked (a pause that held it committed first).
    `updating`, some of them, are locked FOR NO KEY UPDATE instead, in the same pass: the
    transaction updates their rows later (store/operational.py `announce_held`), and a
    lock taken then, on a row the pass had passed, could wait on a recording that waits on
    this transaction's share lock of another (store/webhook_locks.py). The same pass
    share-locks their accounts' other webhooks too: telling a run publishes webhook_held,
    fanned out to them, whose inserts share-lock them; taken then, after the pass, a
    recording disabling one of them (FOR UPDATE, in its own pass) and waiting for an
    `updating` row closed a cycle (tests/contract/test_store_disables_lock_order.py)."""
    if not webhook_ids:
        return {}
    if updating and tx.database == "postgresql":
        locked = await lock_in_one_pass(
            tx,
            ("enabled",),
            no_key_update=updating,
            key_share=webhook_ids,
            key_share_accounts_of=updating,
        )
        return {
            webhook_id: bool(enabled)
            for _, webhook_id, enabled in locked
            if webhook_id in webhook_ids
        }
    rows = await tx.fetch_all(_LOCK_BY_IDS, {"ids": list(webhook_ids)})
    return {webhook_id: bool(enabled) for webhook_id, enabled in rows}


async def _insert_subscriptions(tx: Transaction, webhook: Webhook) -> None:
    await tx.execute_many(
        _INSERT_EVENT,
        [
            {"webhook_id": webhook.id, "position": i, "event": event}
            for i, event in enumerate(webhook.events)
        ],
    )
    await tx.execute_many(
        _INSERT_SITE,
        [
            {
                "webhook_id": webhook.id,
                "position": i,
                "account_id": webhook.account_id,
                "site_id": site_id,
            }
            for i, site_id in enumerate(webhook.site_ids)
        ],
    )


async def _load(
    tx: Transaction,
    query: Query,
    box: SecretBox,
    values: dict[str, Any] | None = None,
) -> list[Webhook]:
    """Runs a webhooks query, then fetches every subscription of the rows in two queries
    (and the organization secrets of Flowplayer-format webhooks' accounts in a third)."""
    rows = await tx.fetch_mappings(query, values or {})
    if not rows:
        return []
    ids = [row["id"] for row in rows]
    events = _ordered(await tx.fetch_all(_EVENTS_OF, {"ids": ids}))
    sites = _ordered(await tx.fetch_all(_SITES_OF, {"ids": ids}))
    organization = await _organization_secrets(tx, rows, box)
    return [
        webhook_from_row(
            row,
            events=events.get(row["id"], []),
            site_ids=sites.get(row["id"], []),
            box=box,
            organization_secret=(
                organization.get(row["account_id"]) if row["format"] == FLOWPLAYER else None
            ),
        )
        for row in rows
    ]


async def _organization_secrets(
    tx: Transaction, rows: Sequence[Any], box: SecretBox
) -> dict[str, str]:
    """The Flowplayer organization secrets of the accounts owning Flowplayer-format rows."""
    owners = {row["account_id"] for row in rows if row["format"] == FLOWPLAYER}
    if not owners:
        return {}
    found = await tx.fetch_all(_ORGANIZATION_SECRETS, {"ids": sorted(owners)})
    return {account_id: box.decrypt(token) for account_id, token in found if token is not None}


def _ordered(rows: list[Row]) -> dict[str, list[str]]:
    by_webhook: defaultdict[str, list[str]] = defaultdict(list)
    for webhook_id, item in rows:
        by_webhook[webhook_id].append(item)
    return by_webhook


_THIS_ACCOUNTS = (
    webhooks.c.account_id == bindparam("account_id"),
    webhooks.c.id == bindparam("id"),
)
# What recording attempts writes (apply_health) is never saved with the webhook: a save
# must not undo an outcome recorded since the webhook was read.
_OUTCOMES = ("last_error_at", "last_error_status", "last_error", "last_error_body", "next_retry_at")
# Nor the mark of a told run of held deliveries, which only store/operational.py moves.
_NOT_SAVED = (*_OUTCOMES, "held_announced_at")
_SAVED = [column.key for column in webhooks.c if column.key not in _NOT_SAVED]
_INSERT = Statement(lambda _: insert(webhooks), columns=_SAVED)
_WEBHOOK = Statement(lambda _: select(webhooks).where(*_THIS_ACCOUNTS))
_OF_ACCOUNT = Statement(
    lambda _: (
        select(webhooks)
        .where(webhooks.c.account_id == bindparam("account_id"))
        .order_by(webhooks.c.created, webhooks.c.id)
    )
)
_BY_IDS = Statement(
    lambda database: select(webhooks).where(in_list(database, column=webhooks.c.id))
)
_LOCK_BY_IDS = Statement(
    lambda database: (
        select(webhooks.c.id, webhooks.c.enabled)
        .where(in_list(database, column=webhooks.c.id))
        .order_by(webhooks.c.id)
        .with_for_update(read=True, key_share=True)
    )
)
_LOCK_FOR_PAUSE = lock_in_order(webhooks.c.id)
_MUTABLE = [key for key in _SAVED if key not in ("id", "account_id", "created")]
_UPDATE = Statement(
    lambda _: (
        update(webhooks)
        .where(
            webhooks.c.account_id == bindparam("b_account_id"),
            webhooks.c.id == bindparam("b_id"),
        )
        .values({name: bindparam(f"b_{name}", type_=webhooks.c[name].type) for name in _MUTABLE})
    )
)
_DELETE = Statement(lambda _: delete(webhooks).where(*_THIS_ACCOUNTS))
_DELETE_SOME_DELIVERIES = Statement(
    lambda _: delete(deliveries).where(
        deliveries.c.id.in_(
            select(deliveries.c.id)
            .where(
                deliveries.c.account_id == bindparam("b_account_id"),
                deliveries.c.webhook_id == bindparam("b_webhook_id"),
            )
            .limit(bindparam("b_limit", type_=Integer))
        )
    )
)
_DELETE_EVENTS = Statement(
    lambda _: delete(webhook_events).where(webhook_events.c.webhook_id == bindparam("b_id"))
)
_DELETE_SITES = Statement(
    lambda _: delete(webhook_sites).where(webhook_sites.c.webhook_id == bindparam("b_id"))
)
_INSERT_EVENT = Statement(lambda _: insert(webhook_events))
_INSERT_SITE = Statement(lambda _: insert(webhook_sites))
# Through ix_deliveries_paused, the status written in (store/sql.py `written_status`): run
# on every save of an enabled webhook, under its row lock, it read the webhook's whole
# history through (webhook_id, created) for the paused deliveries it almost never has.
_RESUME = Statement(
    lambda _: (
        update(deliveries)
        .where(
            deliveries.c.webhook_id == bindparam("b_id"),
            # Every paused one, a person's test or example too: none is paused now
            # (store/pausable.py), and one stored paused before goes again.
            deliveries.c.status == written_status(DeliveryStatus.PAUSED),
        )
        .values(status=_PENDING, next_attempt_at=bindparam("b_now", type_=Timestamp))
    )
)


def _subscriptions(table: Table, column: str) -> Callable[[str], Select[Any]]:
    return lambda database: (
        select(table.c.webhook_id, table.c[column])
        .where(in_list(database, column=table.c.webhook_id))
        .order_by(table.c.webhook_id, table.c.position)
    )


_EVENTS_OF = Statement(_subscriptions(webhook_events, "event"))
_ORGANIZATION_SECRETS = Statement(
    lambda database: select(accounts.c.id, accounts.c.flowplayer_secret_encrypted).where(
        in_list(database, column=accounts.c.id)
    )
)
_SITES_OF = Statement(_subscriptions(webhook_sites, "site_id"))


async def apply_health(
    tx: Transaction,
    health: Sequence[WebhookHealth],
    *,
    now: datetime,
    standing: Mapping[str, Standing] | None = None,
) -> None:
    """Moves each webhook's success/failure marks; disabling leaves its backlog to the
    caller, who pauses it after the commit a stretch at a time (store/sql_store.py
    `_record_telling`), and, as a pause through the API does, moves the
    webhook's `last_modified` to `now` (see `_DISABLE`): a claim of one of its deliveries
    still pending parks it (delivery/worker.py `_sendable`). `standing`: the webhooks' rows
    as this transaction read them under their lock (store/operational.py lock_standing); a
    success they show would change nothing is not sent at all.

    Rows are updated in id order so concurrent recorders lock webhooks in one order.
    """
    ordered = sorted(health, key=lambda h: h.webhook_id)
    known = standing or {}
    succeeded = [
        {"b_id": h.webhook_id, "b_at": h.succeeded_at, "b_fresh": h.succeeded_at - _SUCCESS_GRAIN}
        for h in ordered
        if h.succeeded_at and not _success_changes_nothing(h.succeeded_at, known.get(h.webhook_id))
    ]
    failed = [
        _failure_values(h) for h in ordered if h.succeeded_at is None and h.failed_at is not None
    ]
    # Failures older than the stored last success (domain/health.py on_standing): their
    # error alone, when it is the latest one.
    errored = [
        _error_values(h)
        for h in ordered
        if h.succeeded_at is None and h.failed_at is None and h.last_error is not None
    ]
    # Successes older than the stored failing streak (idem): the last success alone.
    earlier = [
        {"b_id": h.webhook_id, "b_at": h.earlier_success} for h in ordered if h.earlier_success
    ]
    disabled: list[dict[str, Any]] = [
        {"b_id": h.webhook_id, "b_reason": h.disable_reason, "b_now": now}
        for h in ordered
        if h.disable_reason
    ]
    await tx.execute_many(_SUCCEEDED, succeeded)
    await tx.execute_many(_SUCCEEDED_EARLIER, earlier)
    await tx.execute_many(_FAILING, failed)
    await tx.execute_many(_ERRORED, errored)
    if disabled:
        # As a pause through the API (`update_webhook`), the disabled webhooks are held FOR
        # UPDATE, taken with the batch's locks (store/operational.py `lock_standing`, with
        # FOR KEY SHARE on their accounts' other webhooks, which the webhook_disabled
        # event's fan-out needs): FOR NO KEY UPDATE alone does not make a publish's FOR KEY
        # SHARE wait, so a publish that checked its configuration before this disable
        # commits read the webhook enabled and stored pending deliveries made later than
        # the disable's clock read, which a worker then sent. FOR UPDATE waits for such a
        # publish, whose deliveries the pause after the commit then finds, and makes a
        # later one wait for the commit and read the webhook disabled.
        await tx.execute_many(_DISABLE, disabled)


def _failure_values(health: WebhookHealth) -> dict[str, Any]:
    return {**_error_values(health), "b_at": health.failed_at, "b_retry": health.retry_at}


def _error_values(health: WebhookHealth) -> dict[str, Any]:
    """`_last_error()`'s parameters: the latest error (a failure without one: its time)."""
    error = health.last_error
    return {
        "b_id": health.webhook_id,
        "b_error_at": error.at if error else health.failed_at,
        "b_status": error.status_code if error else None,
        "b_error": error.error if error else None,
        "b_body": error.body if error else None,
    }


def _success_changes_nothing(at: datetime, before: Standing | None) -> bool:
    """Whether `_SUCCEEDED` would leave the webhook's row as `before` shows it (the same test
    as its WHERE clause, read under the row's lock, so nothing has changed it since). A busy
    endpoint's batches nearly all are such: the statement was one of the five a recording
    ran, for every batch (docs/benchmarks/postgres-delivery.md, "The recording statement,
    priced")."""
    return (
        before is not None
        and before.last_success is not None
        and before.last_success >= at - _SUCCESS_GRAIN
        and before.failing_since is None
        and before.next_retry_at is None
    )


_THIS_WEBHOOK = webhooks.c.id == bindparam("b_id")

# A success is written when it changes something: the webhook was failing, a retry was
# pending, or its last success is older than this. A busy endpoint's every batch wrote the
# row before, and each write held the webhook's row lock until its transaction committed:
# two workers' batches for one endpoint waited on each other (measured: 27 ms a batch).
_SUCCESS_GRAIN = timedelta(seconds=1)
_SUCCEEDED = Statement(
    lambda _: (
        update(webhooks)
        .where(
            _THIS_WEBHOOK,
            or_(
                webhooks.c.last_success.is_(None),
                webhooks.c.last_success < bindparam("b_fresh", type_=Timestamp),
                webhooks.c.failing_since.is_not(None),
                webhooks.c.next_retry_at.is_not(None),
            ),
        )
        .values(
            last_success=bindparam("b_at", type_=Timestamp), failing_since=None, next_retry_at=None
        )
    )
)

_SUCCEEDED_EARLIER = Statement(
    lambda _: (
        update(webhooks)
        .where(
            _THIS_WEBHOOK,
            or_(
                webhooks.c.last_success.is_(None),
                webhooks.c.last_success < bindparam("b_at", type_=Timestamp),
            ),
        )
        .values(last_success=bindparam("b_at", type_=Timestamp))
    )
)


def _next_retry() -> ColumnElement[Any]:
    """The earliest retry still ahead: the one already known if it is later than this
    failure and earlier than the retry it scheduled, else the new one. Each failure's
    batch knows only its own deliveries' retries; kept this way, the column stays the
    soonest one without reading the webhook's pending deliveries."""
    known = webhooks.c.next_retry_at
    new = bindparam("b_retry", type_=Timestamp)
    keep = and_(
        known.is_not(None),
        known > bindparam("b_error_at", type_=Timestamp),
        or_(new.is_(None), known < new),
    )
    return case((keep, known), else_=new)


def _last_error() -> dict[str, ColumnElement[Any]]:
    """The columns of the latest error, as a failure's statements write them: unless the
    stored one is later (two workers' batches of one webhook's failures, committed in the
    other order than their attempts were made in)."""
    at = bindparam("b_error_at", type_=Timestamp)
    stored_at = webhooks.c.last_error_at
    later = or_(stored_at.is_(None), stored_at <= at)
    new = {
        "last_error_at": at,
        "last_error_status": bindparam("b_status", type_=Integer),
        "last_error": bindparam("b_error", type_=Text),
        "last_error_body": bindparam("b_body", type_=Text),
    }
    return {name: case((later, value), else_=webhooks.c[name]) for name, value in new.items()}


def _streak_start() -> ColumnElement[Any]:
    """ "Failing since" the streak's first failure: the stored start if there is an earlier
    one, else this failure's time (a batch committed after a later one's comes earlier)."""
    stored, at = webhooks.c.failing_since, bindparam("b_at", type_=Timestamp)
    return case((or_(stored.is_(None), stored > at), at), else_=stored)


_FAILING = Statement(
    lambda _: (
        update(webhooks)
        .where(_THIS_WEBHOOK)
        .values(failing_since=_streak_start(), next_retry_at=_next_retry(), **_last_error())
    )
)
# A failure older than the stored last success writes its error alone (apply_health).
_ERRORED = Statement(lambda _: update(webhooks).where(_THIS_WEBHOOK).values(**_last_error()))
_RETRIED_NOW = Statement(
    lambda _: (
        update(webhooks)
        .where(_THIS_WEBHOOK, webhooks.c.failing_since.is_not(None))
        .values(next_retry_at=bindparam("b_now", type_=Timestamp))
    )
)


def _disabled_at() -> ColumnElement[Any]:
    """The `last_modified` a disable by the worker leaves: its time, as a pause through the
    API moves it. The worker parks rather than sends a delivery claimed under a disabled
    webhook only if it was made no later than that (delivery/worker.py `_sendable`); on
    PostgreSQL a publish that checked its configuration before the disable committed may
    still make one pending, and with the mark left at the last edit it was sent.
    Unmoved for a webhook disabled already (an attempt in flight when a person paused it):
    a test sent to it since then still goes; never moved back (another process's clock)."""
    at, stored = bindparam("b_now", type_=Timestamp), webhooks.c.last_modified
    return case((and_(webhooks.c.enabled.is_(True), stored < at), at), else_=stored)


_DISABLE = Statement(
    lambda _: (
        update(webhooks)
        .where(_THIS_WEBHOOK)
        .values(
            enabled=False,
            disabled_reason=bindparam("b_reason", type_=Text),
            last_modified=_disabled_at(),
        )
    )
)
