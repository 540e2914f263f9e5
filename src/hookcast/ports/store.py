"""The store port: durable accounts, keys, sites, webhooks, events and deliveries."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from hookcast.domain.models import Account, ApiKey, Delivery, Event, Site, Webhook
from hookcast.domain.portal import PortalSettings
from hookcast.ports.mail import MailOutbox
from hookcast.ports.queries import (
    DeliveryQuery,
    EventQuery,
    Page,
    PageRequest,
    ReplayQuery,
    WebhookQuery,
)
from hookcast.ports.queue import DeliveryQueue
from hookcast.ports.records import (
    DeliveryCount,
    DeliveryRecord,
    DeliveryStats,
    EventSummary,
    Pruned,
)

Fanout = Callable[[Sequence[Event]], Sequence[Delivery]]
"""Given the events a publish newly stored, the deliveries to create for them (pure). Given
the same events again, numbered otherwise or not, the same deliveries, ids included (with
the new numbers where a delivery carries its event's): a store may store a first call's
deliveries and call again once it knows the events' numbers (`Store.append_events`)."""


@dataclass(frozen=True, slots=True)
class ConfigVersion:
    """An account's configuration version (keys, sites, webhooks) as a publish last read it."""

    account_id: str
    version: int


class AccountFull(Exception):
    """create_api_key or create_webhook refused a row, storing nothing: its account already
    held `most` of them or more (`held`: how many, without the refused one)."""

    def __init__(self, held: int) -> None:
        super().__init__(held)
        self.held = held


class ConfigChanged(Exception):
    """append_events refused a call, storing nothing: the account's keys, sites or webhooks
    changed since the publish read them (`ConfigVersion`). Read them again and retry."""


class Store(DeliveryQueue, MailOutbox, Protocol):
    """Durable state. Every method is one transaction; none leaks driver exceptions.

    Reads scoped to an account take its id and find nothing of another account's."""

    # accounts and keys
    async def create_account(self, account: Account) -> None:
        """Raises `Conflict` if the id is taken."""

    async def get_account(self, account_id: str) -> Account | None:
        """The account, or None if there is none with this id."""

    async def list_accounts(self) -> Sequence[Account]:
        """Every account."""

    async def set_flowplayer_secret(self, account_id: str, secret: str | None) -> bool:
        """Saves the account's Flowplayer organization secret (None clears it), encrypted;
        whether the account exists. Moves the account's configuration version."""

    async def get_flowplayer_secret(self, account_id: str) -> str | None:
        """The account's Flowplayer organization secret, decrypted, or None if unset."""

    async def set_portal_settings(self, account_id: str, settings: PortalSettings) -> bool:
        """Saves the account's portal settings (brand, default frame-ancestors); whether the
        account exists."""

    async def get_portal_settings(self, account_id: str) -> PortalSettings:
        """The account's portal settings (HookCast's defaults if never set)."""

    async def set_contact_email(self, account_id: str, email: str | None) -> bool:
        """Saves (None: clears) the address HookCast e-mails about the account's webhooks
        (disable warning, disable, recovery); whether the account exists."""

    async def get_contact_email(self, account_id: str) -> str | None:
        """The account's contact address, or None if unset."""

    async def create_api_key(self, key: ApiKey, *, most: int | None = None) -> None:
        """Raises `Conflict` if the id is taken, `AccountFull` if the account then held more
        than `most` keys (None: no bound). Creates racing at the bound cannot both pass.
        Moves the account's configuration version."""

    async def find_api_key(self, secret_hash: str) -> ApiKey | None:
        """The key whose secret hashes to `secret_hash`, in any account, or None."""

    async def list_api_keys(self, account_id: str) -> Sequence[ApiKey]:
        """The account's keys."""

    async def delete_api_key(self, account_id: str, key_id: str) -> bool:
        """Whether the account had the key (it is gone now)."""

    async def count_api_keys(self) -> int:
        """How many keys exist across all accounts (none means the service is not set up)."""

    async def create_first_api_key(self, key: ApiKey) -> bool:
        """Creates `key` if no key exists in any account, atomically (processes starting
        together on a new database make one between them); whether it did."""

    async def sign_out_session(
        self, account_id: str, session_id: str, *, expires: datetime, now: datetime
    ) -> None:
        """Refuses the dashboard session `session_id` (of `account_id`) until `expires`, on
        every server."""

    async def is_signed_out(self, session_id: str) -> bool:
        """Whether the dashboard session `session_id` was signed out."""

    async def config_version(self, account_id: str) -> int:
        """Moves (within the changing transaction) whenever the account's keys, sites or
        webhooks change, including a webhook the worker disables."""

    # sites
    async def create_site(self, site: Site) -> None:
        """Raises `Conflict` if the id is taken (by any account)."""

    async def get_site(self, account_id: str, site_id: str) -> Site | None:
        """The account's site, or None."""

    async def list_sites(self, account_id: str, page: PageRequest) -> Page[Site]:
        """One page of the account's sites."""

    async def update_site(self, site: Site) -> None:
        """Saves every field of an existing site."""

    async def delete_site(self, account_id: str, site_id: str) -> bool:
        """Deletes the site and removes it from every webhook's site_ids."""

    async def existing_site_ids(self, account_id: str, site_ids: Sequence[str]) -> set[str]:
        """Those of `site_ids` that are the account's sites."""

    # webhooks
    async def create_webhook(self, webhook: Webhook, *, most: int | None = None) -> None:
        """Raises `Conflict` if the id is taken, `AccountFull` if the account then held more
        than `most` webhooks (None: no bound). Creates racing at the bound cannot both pass.
        Moves the account's configuration version."""

    async def get_webhook(self, account_id: str, webhook_id: str) -> Webhook | None:
        """The account's webhook, secrets decrypted, with its held-delivery count, or None."""

    async def list_webhooks(self, query: WebhookQuery) -> Page[Webhook]:
        """One page of the account's webhooks, filtered and sorted as `query` says."""

    async def update_webhook(self, webhook: Webhook, now: datetime) -> None:
        """Saves every field. Disabling pauses the webhook's pending deliveries; enabling
        resumes them as due at `now`."""

    async def delete_webhook(self, account_id: str, webhook_id: str) -> bool:
        """Deletes the webhook with its deliveries and attempts."""

    async def deliver_held(self, *, account_id: str, webhook_id: str) -> int:
        """Makes the webhook's held deliveries pending, due in publish order, if the webhook
        is enabled (else they stay held); returns how many were released."""

    async def discard_held(self, *, account_id: str, webhook_id: str, now: datetime) -> int:
        """Marks the webhook's held deliveries DISCARDED (final); returns how many."""

    async def publish_webhooks(self, account_id: str) -> Sequence[Webhook]:
        """Every webhook of the account, oldest first: those a publish fans out to (the
        disabled ones get held deliveries)."""

    # events
    async def append_events(
        self,
        *,
        events: Sequence[Event],
        fanout: Fanout,
        expect: ConfigVersion | None = None,
        handover: set[str] | None = None,
    ) -> Sequence[str]:
        """Stores the events whose (account_id, id) is new and, in the same transaction, the
        deliveries `fanout` returns for them. Returns the ids of the newly stored events.
        `fanout` may be called more than once, and with events found stored afterwards;
        when any event is stored, its last call was with exactly the events stored, numbered
        as stored, and returned the deliveries stored, as made (one to a webhook deleted
        meanwhile has no row, one to a webhook paused meanwhile is stored paused). A call
        before it may have had them numbered otherwise (PostgreSQL's one-statement publish
        numbers them in SQL, store/append_at_once.py).

        With `expect`, the transaction first checks the account's configuration version and
        raises `ConfigChanged`, storing nothing, if it moved: `fanout` was built from what
        the publish read at that version.

        With `handover`, the store adds to it, before returning, the ids of the deliveries
        it stored pending under a lease (domain/fanout.py `Lease`) to a webhook enabled as
        it stored them: the only ones a worker in the publishing process may be handed. One
        the last call returned leased but that was stored paused, or not at all (its
        webhook paused, disabled or deleted meanwhile, perhaps by another process), is not
        among them. The set may hold other deliveries written in the same transaction (a
        group of publishes): look up the fan-out's own."""

    async def list_events(self, query: EventQuery) -> Page[EventSummary]:
        """One page of the account's events, newest first, each with its delivery counts."""

    # deliveries (claims, results, releases and wake-ups: see DeliveryQueue)
    async def list_deliveries(self, query: DeliveryQuery) -> Page[DeliveryRecord]:
        """One page of a webhook's deliveries, newest first, with their attempts."""

    async def get_delivery(self, account_id: str, delivery_id: str) -> DeliveryRecord | None:
        """The account's delivery with its event and attempts, or None."""

    async def reschedule_delivery(
        self, *, account_id: str, delivery_id: str, now: datetime
    ) -> bool:
        """Makes the delivery pending and due at `now` (a manual retry)."""

    async def count_deliveries_by_hour(
        self, *, account_id: str, webhook_ids: Sequence[str], since: datetime
    ) -> Sequence[DeliveryCount]:
        """Counts the webhooks' deliveries created at or after `since`, by hour and status
        (hours with no delivery are left out)."""

    async def recover_deliveries(
        self, *, account_id: str, webhook_id: str, since: datetime, now: datetime
    ) -> int:
        """Makes every FAILED delivery of the webhook created at or after `since` due again
        at `now`; returns how many."""

    async def replay_deliveries(
        self, query: ReplayQuery, *, now: datetime, limit: int, dry_run: bool
    ) -> int:
        """How many finished deliveries match `query`; unless `dry_run` or more than `limit`
        match, they are made due again at `now`, in publish order (an ordered webhook's
        re-join their resources' chains), and how many were is returned (one retried
        between the read of the range and the write is left as it is)."""

    # operations
    async def delivery_stats(self, now: datetime) -> DeliveryStats:
        """The backlog: pending deliveries, the oldest due one's age, disabled webhooks."""

    async def prune_before(self, before: datetime, *, limit: int) -> Pruned:
        """Deletes, in one short transaction, up to `limit` succeeded, failed, discarded or
        held deliveries created before `before` (with their attempts), then up to `limit`
        events created before it that no delivery refers to any more, and up to `limit`
        e-mails sent or given up that were queued over an hour before it (the hourly mail
        limit counts the last hour's). Pending and paused deliveries, and their events, and
        mails still to be sent, are never deleted."""

    async def close(self) -> None:
        """Finishes the writes already accepted, then frees connections."""
