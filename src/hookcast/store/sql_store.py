"""SqlStore: the `Store` port on SQLite (embedded) or PostgreSQL, through a connector.

Each method is one transaction (but on SQLite a webhook's delete, which deletes its
deliveries a batch at a time first: `_delete_deliveries_in_batches`; and the changes over a
webhook's backlog, made a few stretches a write after the save or recording that starts
them (store/slices.py): its pause or resume and a disable by the worker,
`_pause_or_resume_in_batches`, turning its ordering off, `_end_chains_in_slices`, a
recovery, `recover_deliveries`, and a release or discard of held deliveries,
`_held_in_batches`). Writes go through
`_writing` (on SQLite: BEGIN IMMEDIATE on the single writer connection), short reads
through `_reading` and reads that may cover many rows through `_scanning` (see
store/connector.py); a claim, one UPDATE between two reads, through `_committing` (on
PostgreSQL without a transaction around it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Collection,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import (
    AbstractAsyncContextManager,
    AbstractContextManager,
    asynccontextmanager,
    contextmanager,
)
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from hookcast.domain.errors import Conflict
from hookcast.domain.health import on_standing
from hookcast.domain.models import (
    Account,
    ApiKey,
    Delivery,
    DeliveryRateLimit,
    Event,
    Ordering,
    Site,
    Webhook,
)
from hookcast.domain.operational import Notice, Standing, notices_for
from hookcast.domain.portal import PortalSettings
from hookcast.ports import (
    Beat,
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
    EventValues,
    Fanout,
    Page,
    PageRequest,
    Pruned,
    ReplayQuery,
    WebhookHealth,
    WebhookQuery,
    event_fields,
)
from hookcast.ports.mail import OutboxMail
from hookcast.store import accounts as account_sql
from hookcast.store import chains as chain_sql
from hookcast.store import cut_short, pause_postgres, pause_walk, webhook_walk
from hookcast.store import deliveries as delivery_sql
from hookcast.store import delivery_rate as rate_sql
from hookcast.store import events as event_sql
from hookcast.store import held as held_sql
from hookcast.store import horizon as horizon_sql
from hookcast.store import mail as mail_sql
from hookcast.store import operational as operational_sql
from hookcast.store import operations as operations_sql
from hookcast.store import replay as replay_sql
from hookcast.store import sessions as session_sql
from hookcast.store import sites as site_sql
from hookcast.store import stats as stats_sql
from hookcast.store import webhooks as webhook_sql
from hookcast.store import workers as worker_sql
from hookcast.store.append import Publish, append_together
from hookcast.store.caller_transaction import CallerTransaction
from hookcast.store.claimed_webhooks import ClaimedWebhooks
from hookcast.store.connector import Connector, Transaction
from hookcast.store.crypto import SecretBox
from hookcast.store.errors import translate_errors
from hookcast.store.events import EventKey
from hookcast.store.file_wakeup import FileWakeup
from hookcast.store.foreseen import ForeseenNotices
from hookcast.store.group_commit import GROUP_EVENTS, GroupCommit
from hookcast.store.quarantine import record_splitting
from hookcast.store.slices import SLICE_ROWS, Tally, write_in_slices
from hookcast.store.sql import notify
from hookcast.store.statistics import GrowthStatistics
from hookcast.store.tables import api_keys, webhooks
from hookcast.store.types import to_micros
from hookcast.store.wakeup import Wakeup

__all__ = ["SqlStore"]

_log = logging.getLogger(__name__)

# A claimed delivery made from its values in C (`tuple.__new__`), without `_make`'s Python
# call and length check: the claim joins values of a fixed shape (`claim_due_deliveries`).
_carrier: Callable[[type[ClaimedDelivery], tuple[Any, ...]], ClaimedDelivery] = tuple.__new__


async def _deleted(tx: Transaction, account_id: str, deletion: Awaitable[bool]) -> bool:
    """Runs a deletion; if it deleted something, moves the account's configuration version."""
    if deleted := await deletion:
        await account_sql.config_changed(tx, account_id)
    return deleted


async def _with_held(tx: Transaction, found: Sequence[Webhook]) -> list[Webhook]:
    """The webhooks with their held-delivery counts (one query for all of them)."""
    held = await held_sql.count_held(tx, [webhook.id for webhook in found])
    return [replace(webhook, held_deliveries=held.get(webhook.id, 0)) for webhook in found]


# SQLite's one writer takes turns (store/writer_gate.py): a group of 5,000 events held it
# for a whole batch of publishes while `serve`'s worker waited to record what it had sent
# (docs/benchmarks/latency.md, "Latency as the publisher sees it"). PostgreSQL's writers do not
# queue.
_SQLITE_GROUP_EVENTS = 200
# A webhook's deliveries deleted per SQLite write when it is deleted (~80 ms for 1,000
# on a loaded 2-core machine): `_delete_deliveries_in_batches`.
_DELETE_BATCH = 1000


def _group_events(connector: Connector) -> int:
    return _SQLITE_GROUP_EVENTS if connector.database == "sqlite" else GROUP_EVENTS


def _on_standing(health: WebhookHealth, standing: dict[str, Standing]) -> WebhookHealth:
    """`health` as the webhook's stored standing allows (domain/health.py on_standing)."""
    before = standing.get(health.webhook_id)
    if before is None:
        return health
    return on_standing(
        health,
        before.failing_since,
        last_success=before.last_success,
        last_error_at=before.last_error_at,
    )


def _notices(standing: Mapping[str, Standing], health: Sequence[WebhookHealth]) -> list[Notice]:
    """The operational events the batch causes (domain/operational.py)."""
    return [
        notice
        for change in health
        if (before := standing.get(change.webhook_id)) is not None
        for notice in notices_for(before, change)
    ]


def _newly_disabled(health: Sequence[WebhookHealth], standing: Mapping[str, Standing]) -> list[str]:
    """The webhooks the batch disables that were enabled when it locked them: one disabled
    already (a person paused it, or an earlier batch disabled it) has its backlog paused,
    or being walked, by that disable, and a 410 for each of its attempts in flight walked
    it all again (store/webhooks.py `apply_health`)."""
    return [
        h.webhook_id
        for h in health
        if h.disable_reason and ((before := standing.get(h.webhook_id)) is None or before.enabled)
    ]


class _Uncovered(Exception):
    """A recording's notices about these webhooks, which its lock pass did not cover: it
    rolls back and begins again (SqlStore._record_batch)."""

    def __init__(self, webhook_ids: frozenset[str]) -> None:
        super().__init__(sorted(webhook_ids))
        self.webhook_ids = webhook_ids


class SqlStore:
    """Durable state on SQLite (embedded) or PostgreSQL (scale-out). See `hookcast.ports.Store`."""

    def __init__(
        self,
        connector: Connector,
        box: SecretBox,
        *,
        listen_dsn: str | None = None,
        file_wakeup: FileWakeup | None = None,
    ) -> None:
        """A store on `connector`; `listen_dsn`: the PostgreSQL server to LISTEN on for
        other processes' wake-ups (None on SQLite); `file_wakeup`: theirs on a SQLite file."""
        self._connector = connector
        self._box = box
        self._wakeup = Wakeup(listen_dsn, file=file_wakeup)
        self._appends = GroupCommit(
            self._writing,
            self._committing,
            self._wakeup.notify,
            box=box,
            database=connector.database,
            group_events=_group_events(connector),
        )
        self._statistics = GrowthStatistics(connector)
        self._claimed_webhooks = ClaimedWebhooks(box)
        self._foreseen = ForeseenNotices()  # the notices a recording tells (PostgreSQL)
        self._horizon = horizon_sql.KnownHorizon()  # as the last claim found it (store/horizon.py)
        self._edit_listeners: list[Callable[[str], None]] = []  # watch_edits
        self._walks: dict[str, object] = {}  # `_pause_or_resume_in_batches`
        self._walked: set[str] = set()  # webhooks whose last walk ended (`_walk_needed`)
        # The pauses a worker's disables started (`_pause_later`), each with its webhook
        # and walk token; held here, or a running task may be garbage-collected.
        self._pauses: dict[asyncio.Task[None], tuple[str, object]] = {}

    def __repr__(self) -> str:
        return f"SqlStore({self._connector!r})"

    @property
    def dialect(self) -> str:
        """ "sqlite" or "postgresql"."""
        return self._connector.database

    def using(self, connection: AsyncConnection) -> SqlStore:
        """This store, working inside a transaction the caller has begun on `connection`.

        Every method of the returned view runs its statements on `connection` and neither
        commits nor rolls back: the caller's commit makes them durable together with the
        caller's own writes, its rollback discards both (a transactional outbox). The
        connection must reach the database HookCast was migrated into. The view shares this
        store's connector and secret key; closing it does nothing.
        """
        if not connection.in_transaction():
            raise ValueError(
                "the connection has no transaction: call it inside `async with conn.begin()`"
            )
        return _TransactionView(self, connection)

    def _reading(self) -> AbstractAsyncContextManager[Transaction]:
        return self._connector.reading()

    def _committing(self) -> AbstractAsyncContextManager[Transaction]:
        """Writes each committed as it runs (PostgreSQL: no BEGIN and COMMIT, two round
        trips fewer); a write transaction on SQLite."""
        return self._connector.committing()

    def _scanning(self) -> AbstractAsyncContextManager[Transaction]:
        """A read that may touch many rows (a page and its total, statistics), or that runs
        several statements which must agree (a delivery and its attempts)."""
        return self._connector.scanning()

    async def _making_due(self, change: Callable[[Transaction], Awaitable[int]]) -> int:
        """Runs `change` in a write transaction. If it made deliveries due (a count above 0),
        workers of other processes are told inside it (NOTIFY, delivered on commit) and this
        process's after the commit."""
        async with self._writing() as tx:
            made_due = await change(tx)
            if made_due:
                await notify(tx)
        if made_due:
            self._wakeup.notify()
        return made_due

    @asynccontextmanager
    async def _writing(self, conflict: str | None = None) -> AsyncIterator[Transaction]:
        """A write transaction; `conflict` names what a constraint violation means."""
        try:
            async with self._connector.writing() as tx:
                yield tx
        except Conflict as exc:
            if conflict is None:
                raise
            raise Conflict(conflict) from exc.__cause__

    # accounts and keys

    async def create_account(self, account: Account) -> None:
        async with self._writing(f"account id {account.id} is already taken") as tx:
            await account_sql.create_account(tx, account)

    async def get_account(self, account_id: str) -> Account | None:
        async with self._reading() as tx:
            return await account_sql.get_account(tx, account_id)

    async def list_accounts(self) -> Sequence[Account]:
        async with self._reading() as tx:
            return await account_sql.list_accounts(tx)

    async def set_flowplayer_secret(self, account_id: str, secret: str | None) -> bool:
        async with self._writing() as tx:
            found = await account_sql.set_flowplayer_secret(
                tx, account_id=account_id, secret=secret, box=self._box
            )
            if found:
                # Publishes read it with the webhooks (a Flowplayer webhook without it holds
                # its deliveries), so it is configuration like them.
                await account_sql.config_changed(tx, account_id)
            return found

    async def get_flowplayer_secret(self, account_id: str) -> str | None:
        async with self._reading() as tx:
            return await account_sql.get_flowplayer_secret(tx, account_id=account_id, box=self._box)

    async def set_portal_settings(self, account_id: str, settings: PortalSettings) -> bool:
        async with self._writing() as tx:
            return await account_sql.set_portal_settings(
                tx, account_id=account_id, settings=settings
            )

    async def get_portal_settings(self, account_id: str) -> PortalSettings:
        async with self._reading() as tx:
            return await account_sql.get_portal_settings(tx, account_id)

    async def set_contact_email(self, account_id: str, email: str | None) -> bool:
        async with self._writing() as tx:
            return await mail_sql.set_contact_email(tx, account_id=account_id, email=email)

    async def get_contact_email(self, account_id: str) -> str | None:
        async with self._reading() as tx:
            return await mail_sql.get_contact_email(tx, account_id)

    async def create_api_key(self, key: ApiKey, *, most: int | None = None) -> None:
        async with self._writing(f"api key {key.id} already exists") as tx:
            await account_sql.create_api_key(tx, key)
            await account_sql.added_to_account(
                tx, table=api_keys, account_id=key.account_id, added=key.id, most=most
            )

    async def find_api_key(self, secret_hash: str) -> ApiKey | None:
        async with self._reading() as tx:
            return await account_sql.find_api_key(tx, secret_hash)

    async def list_api_keys(self, account_id: str) -> Sequence[ApiKey]:
        async with self._reading() as tx:
            return await account_sql.list_api_keys(tx, account_id)

    async def delete_api_key(self, account_id: str, key_id: str) -> bool:
        async with self._writing() as tx:
            return await _deleted(
                tx, account_id, account_sql.delete_api_key(tx, account_id=account_id, key_id=key_id)
            )

    async def count_api_keys(self) -> int:
        async with self._reading() as tx:
            return await account_sql.count_api_keys(tx)

    async def create_first_api_key(self, key: ApiKey) -> bool:
        async with self._writing(f"api key {key.id} already exists") as tx:
            postgres = self.dialect == "postgresql"
            if not await account_sql.create_first_api_key(tx, key, postgres=postgres):
                return False
            await account_sql.config_changed(tx, key.account_id)
            return True

    async def sign_out_session(
        self, account_id: str, session_id: str, *, expires: datetime, now: datetime
    ) -> None:
        async with self._writing() as tx:
            await session_sql.sign_out(
                tx, account_id=account_id, session_id=session_id, expires=expires, now=now
            )

    async def is_signed_out(self, session_id: str) -> bool:
        async with self._reading() as tx:
            return await session_sql.is_signed_out(tx, session_id)

    async def config_version(self, account_id: str) -> int:
        async with self._reading() as tx:
            return (await account_sql.config_versions(tx, [account_id])).get(account_id, 0)

    # sites

    async def create_site(self, site: Site) -> None:
        async with self._writing(f"site id {site.id} is already taken") as tx:
            await site_sql.create_site(tx, site)
            await account_sql.config_changed(tx, site.account_id)

    async def get_site(self, account_id: str, site_id: str) -> Site | None:
        async with self._reading() as tx:
            return await site_sql.get_site(tx, account_id=account_id, site_id=site_id)

    async def list_sites(self, account_id: str, page: PageRequest) -> Page[Site]:
        async with self._scanning() as tx:
            return await site_sql.list_sites(tx, account_id=account_id, page=page)

    async def update_site(self, site: Site) -> None:
        async with self._writing() as tx:
            await site_sql.update_site(tx, site)

    async def delete_site(self, account_id: str, site_id: str) -> bool:
        async with self._writing() as tx:
            return await _deleted(
                tx, account_id, site_sql.delete_site(tx, account_id=account_id, site_id=site_id)
            )

    async def existing_site_ids(self, account_id: str, site_ids: Sequence[str]) -> set[str]:
        async with self._reading() as tx:
            return await site_sql.existing_site_ids(tx, account_id=account_id, site_ids=site_ids)

    # webhooks

    async def create_webhook(self, webhook: Webhook, *, most: int | None = None) -> None:
        async with self._writing(f"webhook id {webhook.id} is already taken") as tx:
            await webhook_sql.create_webhook(tx, webhook=webhook, box=self._box)
            await account_sql.added_to_account(
                tx, table=webhooks, account_id=webhook.account_id, added=webhook.id, most=most
            )

    async def get_webhook(self, account_id: str, webhook_id: str) -> Webhook | None:
        async with self._scanning() as tx:
            found = await webhook_sql.get_webhook(
                tx, account_id=account_id, webhook_id=webhook_id, box=self._box
            )
            return None if found is None else (await _with_held(tx, [found]))[0]

    async def list_webhooks(self, query: WebhookQuery) -> Page[Webhook]:
        async with self._scanning() as tx:
            page = await webhook_sql.list_webhooks(tx, query=query, box=self._box)
            return Page(items=await _with_held(tx, page.items), total=page.total)

    async def update_webhook(self, webhook: Webhook, now: datetime) -> None:
        sqlite = self.dialect == "sqlite"
        walk = False
        async with self._writing() as tx:
            before = await pause_walk.saved_state(tx, webhook.id)
            if sqlite:
                # Read in the save's write (SQLite's one writer): no save commits between.
                walk = self._walk_needed(webhook, before)
            await webhook_sql.update_webhook(
                tx,
                webhook=webhook,
                now=now,
                box=self._box,
                # A pause goes in stretches after the commit, on either database.
                resume=not sqlite,
            )
            await rate_sql.forget_bucket(tx, webhook.id)
            chained = False
            if webhook.ordering is Ordering.NONE:
                # Ordering turned off (or never on): nothing may stay waiting for a turn.
                if sqlite:
                    chained = await chain_sql.has_chains(tx, webhook.id)
                else:
                    await chain_sql.end_chains(tx, webhook.id, now=now)
            if webhook.enabled:
                await notify(tx)
            await account_sql.config_changed(tx, webhook.account_id)
            if not sqlite:
                walk = before is not None and before.enabled is not webhook.enabled
            # Inside the write, so in the order the saves commit: the walk of the last one
            # committed is never the one stopped.
            walking = self._walk_begins(webhook.id) if walk else None
        # Told before the walk: a worker's queued deliveries of a paused webhook go back
        # paused now, not once its last batch has committed.
        self.edited(webhook.id)
        if walking is not None:
            with self._walking(webhook.id, walking):
                if not sqlite:
                    await self._pause_saved(webhook, walking=walking)
                    return
                await self._pause_or_resume_in_batches(
                    webhook.id, enabled=webhook.enabled, now=now, walking=walking
                )
                if chained:
                    await self._end_chains_in_slices(webhook.id, now=now, walking=walking)
        if webhook.enabled:
            self._wakeup.notify()

    async def _pause_saved(self, webhook: Webhook, *, walking: object) -> None:
        """PostgreSQL, a save that paused or resumed the webhook, holding the walk token
        `walking` as a worker's disable does: a pause walks its pending deliveries in
        stretches, and either stops a pause's walk under way. Without the token a resume
        and a pause saved within one stretch of an earlier pause's walk left two walks of
        the webhook going at once, each reading its whole history (the first read it
        disabled again, and went on). A resume walks nothing: its save's statement made
        the paused deliveries pending (store/webhooks.py `resume_paused`). A save that
        neither pauses nor resumes (a rename) takes no token, so it stops no walk: read
        before the save's lock, a resume committing meanwhile leaves pending deliveries not
        walked, which a claim parks (store/pause_postgres.py)."""
        if webhook.enabled:
            self._wakeup.notify()
        else:
            await self._pause_in_stretches(webhook.id, walking=walking)

    def _walk_needed(self, webhook: Webhook, before: pause_walk.SavedState | None) -> bool:
        """Whether a save of `webhook` over its stored state `before` walks its deliveries:
        when it pauses or resumes it, or turns ordering off, and on its first save since
        this store opened (a walk cut short when the process stopped is finished then). A
        save that changes neither (a rename, a new description) moves none of them: walking
        anyway, a tenant renaming its webhook in a loop walked its whole history each time,
        every account's writes queued behind each stretch (attack 21: 40,000 deliveries,
        0.20-0.38 s of the loop per rename). A walk under way goes on: such a save takes no
        token, so it stops none."""
        if before is None or webhook.id not in self._walked:
            return True
        turned_off = before.ordered and webhook.ordering is Ordering.NONE
        return before.enabled is not webhook.enabled or turned_off

    def _walk_begins(self, webhook_id: str) -> object:
        """The token of a save's walk of `webhook_id`'s deliveries, which stops any walk of
        them under way."""
        walking = self._walks[webhook_id] = object()
        self._walked.discard(webhook_id)
        return walking

    async def _pause_or_resume_in_batches(
        self, webhook_id: str, *, enabled: bool, now: datetime, walking: object
    ) -> None:
        """Pauses the webhook's pending deliveries, or resumes its paused ones, a stretch of
        its deliveries at a time, the loop running between writes (SQLite: see
        store/pause_walk.py). Between writes a disabled webhook has pending deliveries
        still: a worker claiming one parks it, paused (delivery/worker.py `_sendable`), as
        for a publish racing a pause, so none is sent. A walk cut short (the process
        stopped) is finished by the webhook's first save since (`_walk_needed`).

        A walk stops, too, once a later save of the webhook (`walking` no longer the last
        token) has begun walking from the start: a save that walks walks the webhook's whole
        history, not only what it moves, so 20 saves at once (a tenant toggling its webhook
        in a loop) walked it 20 times over, every account's writes queued behind each batch
        (attack 20: 40,000 deliveries, 400 batches, another account's publishes waiting up
        to 1.75 s)."""

        def move(tx: Transaction, rowids: str) -> Awaitable[int | None]:
            return pause_walk.pause_or_resume(
                tx, rowids, webhook_id=webhook_id, enabled=enabled, now=now
            )

        await webhook_walk.walk_deliveries(
            self._writing,
            webhook_id=webhook_id,
            move=self._until_overtaken(webhook_id, walking, move),
            moved=self._woken(enabled),
        )

    @contextmanager
    def _walking(self, webhook_id: str, walking: object) -> Iterator[None]:
        """The walks of a save (or a disable's recording) holding token `walking`: it is
        forgotten after them, unless a later save's has taken its place."""
        try:
            yield
        except BaseException:
            if self._walks.get(webhook_id) is walking:
                del self._walks[webhook_id]
            raise
        if self._walks.get(webhook_id) is walking:
            # Ended, not stopped by a later save's walk: nothing is left to walk.
            del self._walks[webhook_id]
            self._walked.add(webhook_id)

    def _until_overtaken(
        self, webhook_id: str, walking: object, move: webhook_walk.Move
    ) -> webhook_walk.Move:
        """`move`, stopping the walk (None) once a later save of the webhook has begun one."""

        async def current(tx: Transaction, rowids: str) -> int | None:
            if self._walks.get(webhook_id) is not walking:
                return None
            return await move(tx, rowids)

        return current

    def _woken(self, made_due: bool) -> Callable[[int], None] | None:
        """What a walk's committed writes tell: this process's workers, if they made
        deliveries due (SQLite: no other process to NOTIFY, store/sql.py)."""
        return (lambda _: self._wakeup.notify()) if made_due else None

    async def _end_chains_in_slices(
        self, webhook_id: str, *, now: datetime, walking: object
    ) -> None:
        """Ordering turned off on SQLite: the webhook's waiting deliveries made due (paused
        if it is disabled) a stretch at a time, then its chains ended (with any delivery a
        recovery re-joined to one meanwhile: `end_some_chains`), the loop running between
        writes (store/slices.py); in one statement a webhook's 100,000 waiting deliveries
        held it for all of them. Each write stops once the webhook orders its
        deliveries again, or a later save has begun its own walks (`walking`, as a pause's).
        Until the walk is over, the chains hand on as before: a waiting delivery not yet
        released goes when its head has finished or when its stretch is walked, whichever
        comes first; cut short (the process stopped), the chains stay and the webhook's
        first save since walks again."""

        def move(tx: Transaction, rowids: str) -> Awaitable[int | None]:
            return chain_sql.release_waiting(tx, rowids, webhook_id=webhook_id, now=now)

        await webhook_walk.walk_deliveries(
            self._writing,
            webhook_id=webhook_id,
            move=self._until_overtaken(webhook_id, walking, move),
            moved=self._woken(True),
        )

        made_due = Tally(self._woken(True))

        async def end(tx: Transaction) -> bool:
            if self._walks.get(webhook_id) is not walking:
                return False
            released, more = await chain_sql.end_some_chains(
                tx, webhook_id, now=now, limit=SLICE_ROWS
            )
            made_due.add(released)
            return more

        await write_in_slices(self._writing, end, committed=made_due)

    async def delete_webhook(self, account_id: str, webhook_id: str) -> bool:
        if self.dialect == "sqlite":
            await self._delete_deliveries_in_batches(account_id, webhook_id)
        async with self._writing() as tx:
            deletion = webhook_sql.delete_webhook(tx, account_id=account_id, webhook_id=webhook_id)
            deleted = await _deleted(tx, account_id, deletion)
        if deleted:
            self.edited(webhook_id)
        return deleted

    async def _delete_deliveries_in_batches(self, account_id: str, webhook_id: str) -> None:
        """Deletes the webhook's deliveries before the webhook, `_DELETE_BATCH` a write.

        SQLite's one writer runs on the event loop's thread: deleted with the webhook, in
        its cascade, a tenant's 30,000 paused deliveries held the writer, and the API's
        loop, 2.5-3.3 s (every account's publishes waited, /healthz too), and a paused
        webhook keeps its deliveries however many. In batches each other writer waits for
        one batch at most (the writer gate is first come, first served), and the loop runs
        between them. A delete cut short leaves the webhook with part of its deliveries
        gone: they were being deleted, and deleting it again ends the job. PostgreSQL's
        writers do not queue, so it deletes all at once, atomically.

        As many as the webhook held when it began, at most: publishes to it go between the
        batches, and while they made as many as a batch deleted, the loop never ended (a
        contract test). Those made meanwhile go in the webhook's cascade."""
        async with self._scanning() as tx:
            left = await webhook_sql.count_deliveries(
                tx, account_id=account_id, webhook_id=webhook_id
            )
        while left > 0:
            async with self._writing() as tx:
                deleted = await webhook_sql.delete_some_deliveries(
                    tx, account_id=account_id, webhook_id=webhook_id, limit=_DELETE_BATCH
                )
            if deleted < _DELETE_BATCH:
                return
            left -= deleted
            await asyncio.sleep(0)  # the loop's other tasks, and queued writers, go now

    def watch_edits(self, listener: Callable[[str], None]) -> Callable[[], None]:
        """`update_webhook` and `delete_webhook` call `listener` once they committed."""
        self._edit_listeners.append(listener)
        return lambda: self._edit_listeners.remove(listener)

    def edited(self, webhook_id: str) -> None:
        """Tells the listeners that the webhook's edit or deletion committed: this store's own
        (after the commit, before the caller hears of it), or another store's of this
        process (`serve` forwards its API store's to the delivery thread's store)."""
        for listener in list(self._edit_listeners):
            listener(webhook_id)

    async def deliver_held(self, *, account_id: str, webhook_id: str) -> int:
        def deliver(limit: int | None) -> Callable[[Transaction], Awaitable[int]]:
            return lambda tx: held_sql.deliver_held(
                tx, account_id=account_id, webhook_id=webhook_id, limit=limit
            )

        released = await self._held_in_batches(deliver, making_due=True)
        if self.dialect == "sqlite":
            await self._start_unchained(webhook_id, now=datetime.now(UTC))
        return released

    async def discard_held(self, *, account_id: str, webhook_id: str, now: datetime) -> int:
        def discard(limit: int | None) -> Callable[[Transaction], Awaitable[int]]:
            return lambda tx: held_sql.discard_held(
                tx, account_id=account_id, webhook_id=webhook_id, now=now, limit=limit
            )

        return await self._held_in_batches(discard, making_due=False)

    async def _held_in_batches(
        self,
        change: Callable[[int | None], Callable[[Transaction], Awaitable[int]]],
        *,
        making_due: bool,
    ) -> int:
        """Runs a release or discard of held deliveries: on SQLite `SLICE_ROWS` of them a
        slice, oldest first, as many slices a write as fit in `WRITE_SECONDS`, the loop
        running between writes (each slice reads the webhook's state again: a release
        stops at a pause), as a pause's walk; on PostgreSQL, whose writers do not queue, in
        one transaction. How many it moved."""
        write = self._making_due if making_due else self._written
        if self.dialect != "sqlite":
            return await write(change(None))
        total = 0
        tally = Tally(self._woken(making_due))

        async def step(tx: Transaction) -> bool:
            nonlocal total
            moved = await change(SLICE_ROWS)(tx)
            total += moved
            tally.add(moved)
            return moved >= SLICE_ROWS

        await write_in_slices(self._writing, step, committed=tally)
        return total

    async def _written(self, change: Callable[[Transaction], Awaitable[int]]) -> int:
        async with self._writing() as tx:
            return await change(tx)

    async def publish_webhooks(self, account_id: str) -> Sequence[Webhook]:
        async with self._reading() as tx:
            return await webhook_sql.account_webhooks(tx, account_id=account_id, box=self._box)

    # events

    async def append_events(
        self,
        *,
        events: Sequence[Event],
        fanout: Fanout,
        expect: ConfigVersion | None = None,
        handover: set[str] | None = None,
    ) -> Sequence[str]:
        """Group commit (store/group_commit.py): calls made while a write is under way share
        the next transaction. A call whose data the database refuses fails alone."""
        stored = await self._appends.append(Publish(events, fanout, expect, handover))
        self._statistics.stored(len(stored))
        return stored

    async def list_events(self, query: EventQuery) -> Page[EventSummary]:
        async with self._scanning() as tx:
            return await event_sql.list_events(tx, query)

    # deliveries

    async def claim_due_deliveries(
        self,
        *,
        now: datetime,
        limit: int,
        lease_seconds: float,
        worker_id: str | None = None,
        per_account: int = 0,
        holding: Collection[str] | None = None,
    ) -> Sequence[ClaimedDelivery]:
        # No transaction around the claim on PostgreSQL: its one UPDATE is atomic alone, and
        # the reads around it (the horizon before it, when no claim has kept it; a changed
        # webhook's load after it) see what they would inside one under READ COMMITTED.
        # BEGIN and COMMIT were two of a claim's five round trips, each on the way from a
        # publish's commit to its delivery's send; the horizon's read and the webhooks'
        # standing were two of the three left (store/horizon.py, store/deliveries.py).
        leased: list[str] = []
        try:
            async with self._committing() as tx:
                token, claimed, events, lost, standing = await delivery_sql.claim_due(
                    tx,
                    now=now,
                    limit=limit,
                    lease_seconds=lease_seconds,
                    worker_id=worker_id,
                    per_account=per_account,
                    holding=holding,
                    horizon=self._horizon,
                )
                leased = [head[0] for head in claimed] + [d.id for d, _ in lost]
                # Batched loads, one query each (PostgreSQL's claim loaded the events itself
                # and read its webhooks' standing: they are loaded again only when their
                # configuration changed); deliveries of one webhook share one Webhook object,
                # and those of one event its values (`EventValues`, its data among them).
                by_key: dict[EventKey, EventValues] = {}
                if events is not None:
                    by_key = {key: event_fields(event) for key, event in events.items()}
                elif claimed:
                    by_key = await event_sql.load_event_values(tx, {h[1:3] for h in claimed})
                hooks = {head[3] for head in claimed}
                by_id: dict[str, Webhook] = {}
                if claimed and standing is not None:  # PostgreSQL's claim read them
                    # Only the claimed deliveries' webhooks: one whose only delivery here
                    # was lost too often (`fail_lost`'s) is not loaded for nothing.
                    mine = [standing[hook] for hook in hooks if hook in standing]
                    by_id = await self._claimed_webhooks.standing(tx, mine)
                    self._foreseen.claimed(by_id.values())
                elif claimed:
                    by_id = await self._claimed_webhooks.load(tx, hooks)
        except Exception:
            if leased and self.dialect == "postgresql":  # committed: not rolled back
                await self._give_back(leased, token, now)
            raise
        if lost:  # rare; after the block, which holds SQLite's one writer
            await self._fail_lost(lost, now)
        if not by_id.keys() >= hooks:
            # Deleted since the claim committed (PostgreSQL: no transaction holds the claimed
            # rows against the deletion's cascade), their deliveries with them: nothing to
            # send or hand back. Failing the claim instead left its other deliveries, any
            # account's, leased a lease long, each counting a lease loss towards being
            # failed unsent (MAX_LEASE_LOSSES).
            claimed = [head for head in claimed if head[3] in by_id]
        # One object per claimed delivery, made in C: its head, the lease, its event's
        # values and its webhook joined into the named tuple (ports/queue.py).
        lease = (token,)
        return [
            _carrier(ClaimedDelivery, head + lease + by_key[head[1:3]] + (by_id[head[3]],))
            for head in claimed
        ]

    async def _give_back(self, leased: Sequence[str], token: str, now: datetime) -> None:
        """Releases the leases of a claim whose reads after it failed, so that they are due
        at once rather than when the lease expires; if that fails too (the database is
        down), the lease's expiry hands them back."""
        try:
            await self.release_deliveries([(delivery_id, token) for delivery_id in leased], now)
        except Exception:
            _log.warning("handing back a claim whose webhooks could not be read failed")

    async def _fail_lost(self, lost: Sequence[tuple[Delivery, int]], now: datetime) -> None:
        """Fails the claimed deliveries whose leases were lost too often, in a transaction of
        their own (a failure, its attempt and a chain moving on go together). Should it
        fail, they stay leased to this worker and are found again once the lease expires
        (lost once more), while the claim's others are sent."""
        try:
            async with self._writing() as tx:
                await delivery_sql.fail_lost(tx, lost, now)
        except Exception:
            _log.exception("failing deliveries whose leases were lost too often failed")

    async def record_results(
        self, results: Sequence[DeliveryResult], health: Sequence[WebhookHealth]
    ) -> None:
        """One transaction, split around a row the database refuses (store/quarantine.py)."""
        await record_splitting(self._record_batch, results=results, health=health)

    async def _record_batch(
        self, results: Sequence[DeliveryResult], health: Sequence[WebhookHealth]
    ) -> None:
        """One transaction, begun again when its lock pass did not cover the notices it tells
        (store/operational.py `lock_standing`): each time covers one webhook of the batch
        more, so at most once per webhook (in practice once: a state change is rare). In a
        caller's transaction (`using`) nothing is rolled back: the pass runs again and takes
        the accounts' webhooks after the first pass's locks, as before. On PostgreSQL the
        first pass covers the notices foreseen from the standing last known
        (store/foreseen.py); SQLite's one writer takes no such locks."""
        telling = frozenset[str]()
        if self.dialect == "postgresql":
            telling = self._foreseen.telling(health)
        while uncovered := await self._record_telling(results, health, telling=telling):
            telling |= uncovered

    async def _record_telling(
        self,
        results: Sequence[DeliveryResult],
        health: Sequence[WebhookHealth],
        *,
        telling: frozenset[str],
    ) -> frozenset[str]:
        """Records the batch, its pass covering notices about `telling`; or, rolled back
        before anything is written, returns the webhooks whose notices it did not cover."""
        made_due = 0
        told: list[Event] = []
        try:
            async with self._writing() as tx:
                # Webhook rows, then delivery rows, then chain rows, then account rows: the
                # order every writer locks them in (update_webhook, append_events), so
                # PostgreSQL never sees a cycle. The webhooks' standing is read under that
                # first lock: what changed is told once (store/operational.py).
                locked = await operational_sql.lock_standing(
                    tx,
                    [h.webhook_id for h in health],
                    disabling=[h.webhook_id for h in health if h.disable_reason],
                    telling=telling,
                )
                health = [_on_standing(h, locked.standing) for h in health]
                notices = _notices(locked.standing, health)
                if uncovered := locked.uncovered(notices):
                    raise _Uncovered(uncovered)  # nothing written yet: rolled back
                # Read in the transaction, after the webhooks' lock: a disable's time (its
                # `last_modified`) is as late as it can be before it commits.
                now = datetime.now(UTC)
                await webhook_sql.apply_health(tx, health, now=now, standing=locked.standing)
                made_due += await delivery_sql.record_attempts(tx, results)
                if notices:
                    told, due = await operational_sql.publish_notices(
                        tx, notices, box=self._box, reaches=locked.reaches
                    )
                    made_due += due
                if made_due:
                    await notify(tx)
                await account_sql.config_changed_for_webhooks(
                    tx, [h.webhook_id for h in health if h.disable_reason]
                )
        except _Uncovered as again:
            return again.webhook_ids
        operational_sql.log_told(told)  # once committed: what happened, said once
        self._foreseen.recorded(locked.standing, health)
        if made_due:
            self._wakeup.notify()
        # Taken once committed, before anything else runs (no await since the commit): in
        # the order the writes commit, as a save's inside its write (`update_webhook`).
        for webhook_id in sorted(_newly_disabled(health, locked.standing)):
            # Their backlogs paused after the recording commits (SQLite: see
            # `_pause_or_resume_in_batches`; PostgreSQL: store/pause_postgres.py): in it,
            # one statement held the loop, or every claim, for all.
            walking = self._walk_begins(webhook_id)
            await self._pause_later(webhook_id, now=now, walking=walking)
        return frozenset()

    async def _pause_later(self, webhook_id: str, *, now: datetime, walking: object) -> None:
        """Starts the pause of a disabled webhook's backlog, which the recording does not
        wait for: awaited, the worker's every later result (other accounts' too) waited
        for the walk behind it in the outcome flusher (delivery/outcomes.py), 23-37 s for
        100,000 pending on PostgreSQL (docs/delivery.md), and results buffered past their
        leases could be claimed and sent again by another worker. No await before the task
        starts (none since the commit): the walks begin in the order the recordings
        commit."""
        pause = self._pause_disabled(webhook_id, now=now, walking=walking)
        task = asyncio.create_task(pause, name=f"hookcast-pause-{webhook_id}")
        self._pauses[task] = (webhook_id, walking)
        task.add_done_callback(self._pauses.pop)

    async def settle_pauses(self) -> None:
        """Waits for the pauses of backlogs that this store's recordings disabled (each
        logs its own failure): tests, and `close` once it has stopped them."""
        while running := [task for task in self._pauses if not task.done()]:
            await asyncio.wait(running)

    async def _stop_pauses(self) -> None:
        """Stops the pauses under way after the stretch each is in (its token taken back,
        as a later walk's would: no cancel inside a write) and waits for them. What they
        leave pending under a disabled webhook is parked by the claims that reach it
        (delivery/worker.py `_sendable`); the next worker's start-up sweep (`finish_walks`,
        on either database) walks it. Waited for instead, a stop (a deploy's) took as long
        as the walk: 23-37 s for 100,000 pending on PostgreSQL."""
        for webhook_id, walking in self._pauses.values():
            if self._walks.get(webhook_id) is walking:
                del self._walks[webhook_id]
        await self.settle_pauses()

    async def finish_walks(self, now: datetime) -> int:
        """Finishes the walks over webhooks' backlogs that a stopped process cut short
        (store/cut_short.py), each as the webhook's save would, with its settings as they
        are now. SQLite: a resumed webhook's deliveries still paused are sent (due at
        `now`), a paused one's still pending paused, ordering turned off finished, chains a
        walk had not started yet started; a walk of this process begun meanwhile stops it
        for that webhook (that one walks everything again). PostgreSQL: a disabled
        webhook's deliveries still pending paused (the only change made in stretches there,
        store/pause_postgres.py), a stretch at a time; a resume meanwhile stops it. Run as
        a worker starts. How many webhooks it walked.

        Two workers starting together may both walk a webhook: each stretch pauses only
        what is still pending, so the second pauses what the first has not reached and
        reads the rest (a pause saved meanwhile walks beside them the same way)."""
        async with self._scanning() as tx:
            owing = await cut_short.owing_walks(tx)
        for webhook_id in owing:
            if self.dialect == "sqlite":
                await self._walk_again(webhook_id, now=now)
            else:
                # A walk of its own, as a disable's: a later one of this process (a worker's
                # disable of that webhook) stops it rather than walking beside it.
                walking = self._walk_begins(webhook_id)
                with self._walking(webhook_id, walking):
                    await self._pause_in_stretches(webhook_id, walking=walking)
        return len(owing)

    async def _walk_again(self, webhook_id: str, *, now: datetime) -> None:
        async with self._reading() as tx:
            enabled = await pause_walk.enabled(tx, webhook_id)
        if enabled is None:  # deleted meanwhile
            return
        walking = self._walk_begins(webhook_id)
        with self._walking(webhook_id, walking):
            await self._pause_or_resume_in_batches(
                webhook_id, enabled=enabled, now=now, walking=walking
            )
            if await self._unordered_with_chains(webhook_id):
                await self._end_chains_in_slices(webhook_id, now=now, walking=walking)
            await self._start_unchained(webhook_id, now=now)
        if enabled:
            self._wakeup.notify()

    async def _unordered_with_chains(self, webhook_id: str) -> bool:
        async with self._reading() as tx:
            webhook_unordered = await chain_sql.unordered(tx, webhook_id)
            return webhook_unordered and await chain_sql.has_chains(tx, webhook_id)

    async def _pause_disabled(self, webhook_id: str, *, now: datetime, walking: object) -> None:
        """The backlog of a webhook the worker's recording disabled, paused after it
        committed (`_pause_later`). A failure is logged, not raised: the recording is done,
        and nothing waits for the pause. What is left pending a claim parks rather than
        sends, but a person's test or example (store/pausable.py); a worker's
        start (`finish_walks`, either database) or, on SQLite, the webhook's first save since
        walks again. A later walk of the webhook (`walking` no longer its token) stops this
        one."""
        try:
            with self._walking(webhook_id, walking):
                if self.dialect == "sqlite":
                    await self._pause_in_batches(webhook_id, now=now, walking=walking)
                else:
                    await self._pause_in_stretches(webhook_id, walking=walking)
        except Exception:
            _log.exception("pausing the backlog of disabled webhook %s failed", webhook_id)

    async def _pause_in_stretches(self, webhook_id: str, *, walking: object) -> None:
        """PostgreSQL: the disabled webhook's pending deliveries paused a stretch at a time
        (store/pause_postgres.py), until a later walk of it takes `walking`'s place."""
        await pause_postgres.pause_in_stretches(
            self._writing,
            webhook_id=webhook_id,
            going=lambda: self._walks.get(webhook_id) is walking,
        )

    async def _pause_in_batches(self, webhook_id: str, *, now: datetime, walking: object) -> None:
        await self._pause_or_resume_in_batches(webhook_id, enabled=False, now=now, walking=walking)
        # Its walk stopped a save's under way, which may have been turning ordering off:
        # that save's chains are ended here, or they stayed until the next save.
        if await self._unordered_with_chains(webhook_id):
            await self._end_chains_in_slices(webhook_id, now=now, walking=walking)

    # the mail outbox (ports/mail.py)

    async def claim_due_mails(
        self, *, now: datetime, limit: int, lease_seconds: float
    ) -> Sequence[OutboxMail]:
        async with self._writing() as tx:
            return await mail_sql.claim_due(tx, now=now, limit=limit, lease_seconds=lease_seconds)

    async def mail_sent(self, *, mail_id: str, lease_token: str, now: datetime) -> None:
        async with self._writing() as tx:
            await mail_sql.mark_sent(tx, mail_id=mail_id, lease_token=lease_token, now=now)

    async def mail_failed(
        self, *, mail_id: str, lease_token: str, error: str, retry_at: datetime | None
    ) -> None:
        async with self._writing() as tx:
            await mail_sql.mark_failed(
                tx, mail_id=mail_id, lease_token=lease_token, error=error, retry_at=retry_at
            )

    async def beat_worker(
        self, worker_id: str, now: datetime, *, stale_before: datetime | None = None
    ) -> Beat:
        if self.dialect != "postgresql":
            # One transaction (SQLite's one writer): the beat and taking back.
            registered: list[datetime] = []

            async def beat(tx: Transaction) -> int:
                registered.append(await worker_sql.beat(tx, worker_id=worker_id, now=now))
                if stale_before is None:
                    return 0
                return await worker_sql.take_back(tx, now=now, stale_before=stale_before)

            taken = await self._making_due(beat)
            return Beat(taken=taken, registered=registered[-1])
        return await self._beat_on_postgres(worker_id, now, stale_before, read_due=False)

    async def start_sole_worker(
        self,
        worker_id: str,
        now: datetime,
        *,
        alive_after: datetime,
        running: Callable[[str], bool] | None = None,
    ) -> Beat | datetime:
        found: list[datetime] = []
        registered: list[datetime] = []
        expiring: list[int] = []

        async def start(tx: Transaction) -> int:
            other = await worker_sql.latest_other_beat(tx, worker_id=worker_id, since=alive_after)
            if other is not None:
                found.append(other)
                return 0
            registered.append(await worker_sql.beat(tx, worker_id=worker_id, now=now))
            expiring.append(await worker_sql.let_expire(tx, worker_id=worker_id, running=running))
            return await worker_sql.take_back(tx, now=now, stale_before=now)

        taken = await self._making_due(start)
        if found:
            return found[-1]
        return Beat(taken=taken, registered=registered[-1], expiring=expiring[-1])

    async def beat_and_read_due(
        self, worker_id: str, now: datetime, *, stale_before: datetime | None = None
    ) -> Beat:
        if self.dialect != "postgresql":  # a read in the process: no round trip to save
            beat = await self.beat_worker(worker_id, now, stale_before=stale_before)
            return replace(beat, next_due=await self.next_due_at())
        return await self._beat_on_postgres(worker_id, now, stale_before, read_due=True)

    async def _beat_on_postgres(
        self, worker_id: str, now: datetime, stale_before: datetime | None, *, read_due: bool
    ) -> Beat:
        async with self._committing() as tx:
            look = await worker_sql.beat_and_look(
                tx, worker_id=worker_id, now=now, stale_before=stale_before, read_due=read_due
            )
        taken = 0
        if look.stale and stale_before is not None:
            taken = await self.take_back_leases(now=now, stale_before=stale_before)
        if look.horizon_behind:
            # The days claims plan follow the backlog's oldest (store/horizon.py).
            async with self._writing() as tx:
                await horizon_sql.advance(tx)
            # It may have moved up: the next claim reads it rather than plan the days it left.
            self._horizon.since = None
        else:
            # The beat read it: the next claim plans from it without a read of its own (a
            # horizon that moved down since is caught by the claim, as for a claim's own).
            self._horizon.since = look.pending_since
        next_due = look.next_due
        if taken and (next_due is None or next_due > now):
            next_due = now  # what was taken back is due now; the beat's read came before
        return Beat(taken=taken, registered=look.started, next_due=next_due)

    async def resign_worker(self, worker_id: str) -> None:
        async with self._writing() as tx:
            await worker_sql.resign(tx, worker_id=worker_id)

    async def take_back_leases(self, *, now: datetime, stale_before: datetime) -> int:
        return await self._making_due(
            lambda tx: worker_sql.take_back(tx, now=now, stale_before=stale_before)
        )

    async def still_leased(self, leases: Sequence[tuple[str, str]]) -> Collection[tuple[str, str]]:
        if not leases:
            return set()
        async with self._reading() as tx:
            return await delivery_sql.still_leased(tx, leases)

    async def disown_losses(self, leases: Sequence[tuple[str, str]]) -> None:
        if leases:
            async with self._writing() as tx:
                await delivery_sql.disown_losses(tx, leases)

    async def release_deliveries(self, leases: Sequence[tuple[str, str]], now: datetime) -> None:
        async with self._writing() as tx:
            await delivery_sql.release_leases(tx, leases=leases, now=now)
            await notify(tx)
        self._wakeup.notify()

    async def park_deliveries(self, leases: Sequence[tuple[str, str]]) -> Sequence[str]:
        async with self._writing() as tx:
            kept = await delivery_sql.park(tx, leases)
            await notify(tx)
        self._wakeup.notify()
        return kept

    async def admit_requests(
        self, webhook_id: str, *, limit: DeliveryRateLimit, now: datetime, count: int = 1
    ) -> tuple[int, datetime]:
        async with self._writing() as tx:
            admission = await rate_sql.admit_requests(
                tx, webhook_id=webhook_id, limit=limit, now=now.timestamp(), count=count
            )
        return admission.granted, datetime.fromtimestamp(admission.next_at, UTC)

    async def next_due_at(self) -> datetime | None:
        async with self._reading() as tx:
            return await delivery_sql.next_due_at(tx)

    async def list_deliveries(self, query: DeliveryQuery) -> Page[DeliveryRecord]:
        async with self._scanning() as tx:
            return await delivery_sql.list_deliveries(tx, query)

    async def get_delivery(self, account_id: str, delivery_id: str) -> DeliveryRecord | None:
        async with self._scanning() as tx:
            return await delivery_sql.get_delivery(
                tx, account_id=account_id, delivery_id=delivery_id
            )

    async def reschedule_delivery(
        self, *, account_id: str, delivery_id: str, now: datetime
    ) -> bool:
        found = await self._making_due(
            lambda tx: delivery_sql.reschedule(
                tx, account_id=account_id, delivery_id=delivery_id, now=now
            )
        )
        return bool(found)

    async def recover_deliveries(
        self, *, account_id: str, webhook_id: str, since: datetime, now: datetime
    ) -> int:
        if self.dialect != "sqlite":
            return await self._making_due(
                lambda tx: delivery_sql.recover_failed(
                    tx, account_id=account_id, webhook_id=webhook_id, since=since, now=now
                )
            )

        # SQLite: a walk from `since`, the loop running between its writes (store/slices.py),
        # as a pause's: in one statement a webhook's 100,000 failed ones held it for all.
        def move(tx: Transaction, rowids: str) -> Awaitable[int]:
            return delivery_sql.recover_failed(
                tx,
                account_id=account_id,
                webhook_id=webhook_id,
                since=since,
                now=now,
                rowids=rowids,
            )

        recovered = await webhook_walk.walk_deliveries(
            self._writing,
            webhook_id=webhook_id,
            move=move,
            start=webhook_walk.Position(created=to_micros(since), rowid=0),
            moved=self._woken(True),
        )
        await self._start_unchained(webhook_id, now=now)
        return recovered

    async def _start_unchained(self, webhook_id: str, *, now: datetime) -> None:
        """SQLite: the chains of what a walk made waiting (a recovery, a held release)
        started once the walk is over, each with its lowest sequence, some chains a write
        (chains.py `start_unchained`)."""
        made_due = Tally(self._woken(True))

        async def start(tx: Transaction) -> bool:
            started, more = await chain_sql.start_unchained(
                tx, webhook_id, now=now, limit=SLICE_ROWS
            )
            made_due.add(started)
            return more

        await write_in_slices(self._writing, start, committed=made_due)

    async def replay_deliveries(
        self, query: ReplayQuery, *, now: datetime, limit: int, dry_run: bool
    ) -> int:
        # Read first, outside the writer: the range is found through the webhook's index
        # over every delivery in it, finished or not, so counting it in the write (on
        # SQLite, on the event loop's thread) held every writer and the loop 0.19 s a dry
        # run over a paused webhook's 100,000, a request a tenant may repeat at its rate
        # limit. The write changes only the ids read (attack 19).
        async with self._scanning() as tx:
            ids = await replay_sql.matching_ids(tx, query, limit=limit + 1)
            if len(ids) > limit:
                return await replay_sql.count_matching(tx, query)
        if dry_run or not ids:
            return len(ids)
        async with self._writing() as tx:
            replayed = await replay_sql.replay(tx, query, ids=ids, now=now)
            if replayed:
                await notify(tx)
        if replayed:
            self._wakeup.notify()
        return replayed

    async def count_deliveries_by_hour(
        self, *, account_id: str, webhook_ids: Sequence[str], since: datetime
    ) -> Sequence[DeliveryCount]:
        async with self._scanning() as tx:
            return await stats_sql.count_by_hour(
                tx, account_id=account_id, webhook_ids=webhook_ids, since=since
            )

    # operations

    async def delivery_stats(self, now: datetime) -> DeliveryStats:
        async with self._scanning() as tx:
            return await operations_sql.delivery_stats(tx, now)

    async def prune_before(self, before: datetime, *, limit: int) -> Pruned:
        dropped = 0
        if self.dialect == "postgresql":
            dropped = await operations_sql.drop_old_days(self._writing, before)
        async with self._writing() as tx:
            pruned = await operations_sql.prune_before(tx, before, limit=limit)
        return replace(pruned, deliveries=dropped + pruned.deliveries)

    # wake-ups

    async def current_webhooks(self, webhook_ids: Collection[str]) -> Mapping[str, Webhook]:
        async with self._reading() as tx:
            return await self._claimed_webhooks.current(tx, webhook_ids)

    async def wait_for_deliveries(self, timeout: float) -> bool:
        return await self._wakeup.wait(timeout)

    def holding_wakeups(self) -> AbstractContextManager[None]:
        return self._wakeup.holding()

    def wake(self) -> None:
        """Wakes the workers waiting on this store (`wait_for_deliveries`), as a commit that
        made deliveries due does: a hint, they claim and find out."""
        self._wakeup.notify()

    def forward_wakeups(self, wake: Callable[[], None] | None) -> None:
        """Also calls `wake` (None: no longer) on each of this store's in-process wake-ups,
        on the thread that made them: `serve` passes its delivery thread's, whose worker
        waits on a store of its own (cli/delivery_thread.py)."""
        self._wakeup.forward = wake

    async def settle_wakeups(self) -> None:
        """Forgets the wake-ups already due, including (on PostgreSQL) the notifications of
        every commit made before the call, so the next wait is woken only by what follows."""
        await self._wakeup.settle()

    async def close(self) -> None:
        """Waits for accepted publishes, stops the pauses under way at their next stretch,
        then closes the wake-ups and the connections."""
        await self._appends.drain()
        await self._stop_pauses()
        await self._statistics.close()
        await self._wakeup.close()
        await self._connector.close()


class _TransactionView(SqlStore):
    """`SqlStore.using`: the same queries on a caller's connection, with no commit.

    Only the transaction boundaries differ: every SqlStore method reads and writes through
    `_reading` / `_scanning` / `_writing`, so overriding those keeps one copy of each query.
    """

    def __init__(self, store: SqlStore, connection: AsyncConnection) -> None:
        # No super().__init__(): the view must share the store's connector and wake-ups.
        self._connector = store._connector
        self._box = store._box
        self._wakeup = store._wakeup
        self._transaction = CallerTransaction(connection)
        # Its own: what the caller's transaction reads may yet be rolled back.
        self._claimed_webhooks = ClaimedWebhooks(store._box)
        self._foreseen = ForeseenNotices()
        self._horizon = horizon_sql.KnownHorizon()
        # Its own, never told: its edits commit when the caller commits, after they return.
        self._edit_listeners = []
        # Its own: its walks are in the caller's transaction, which may yet be rolled back.
        self._walks = {}
        self._walked = set()
        self._pauses = {}

    @asynccontextmanager
    async def _in_callers(self) -> AsyncIterator[Transaction]:
        with translate_errors():
            yield self._transaction

    def _reading(self) -> AbstractAsyncContextManager[Transaction]:
        return self._in_callers()

    _scanning = _reading
    _committing = _reading

    @asynccontextmanager
    async def _writing(self, conflict: str | None = None) -> AsyncIterator[Transaction]:
        # pg_notify (sql.notify) runs on this connection too, so PostgreSQL wakes workers only
        # when the caller commits. The in-process wake-up methods send after this block is a
        # hint that may come before the commit: a worker then finds nothing and polls again.
        try:
            async with self._in_callers() as tx:
                yield tx
        except Conflict as exc:
            if conflict is None:
                raise
            raise Conflict(conflict) from exc.__cause__

    async def append_events(
        self,
        *,
        events: Sequence[Event],
        fanout: Fanout,
        expect: ConfigVersion | None = None,
        handover: set[str] | None = None,
    ) -> Sequence[str]:
        """On the caller's transaction, not in a group: it commits when the caller does
        (`handover` then says what may be handed over once it has)."""
        async with self._in_callers() as tx:
            written = await append_together(tx, [Publish(events, fanout, expect)], box=self._box)
        if written.due:
            self._wakeup.notify()
        (ids,) = written.stored
        if ids is None:
            raise ConfigChanged()
        if handover is not None:
            handover.update(written.handed)
        return ids

    async def _pause_later(self, webhook_id: str, *, now: datetime, walking: object) -> None:
        """In the caller's transaction, on its connection: paused before the recording
        returns (a task of its own would share the connection, and outlive a rollback)."""
        await self._pause_disabled(webhook_id, now=now, walking=walking)

    async def close(self) -> None:
        """Nothing to free: the store this view came from owns the connector."""
