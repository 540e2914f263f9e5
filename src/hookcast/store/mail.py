"""The mail outbox: e-mails to accounts' contact addresses, queued in the transaction that
publishes their operational event and leased to one mailer at a time.

One row per (account, event): a notice published twice queues one mail. A mail is leased
before it is sent and marked sent after; a mailer dying between the two leaves the lease to
expire and the mail to go again (at-least-once, as deliveries: the one way it is sent twice).
Tries are counted at the lease, so that too ends once they are used up (MAIL_TRIES).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Integer, Text, bindparam, func, select, update

from hookcast.domain.ids import new_delivery_id
from hookcast.domain.mail import MAIL_TRIES, MAILS_PER_HOUR, Mail, compose
from hookcast.domain.models import Event
from hookcast.domain.operational import MAILED
from hookcast.ports.mail import OutboxMail
from hookcast.store.connector import Transaction
from hookcast.store.sql import in_list, insert_ignoring
from hookcast.store.statement import Statement
from hookcast.store.tables import accounts, mail_outbox
from hookcast.store.types import Timestamp

__all__ = [
    "MAIL_LIMIT_PERIOD",
    "claim_due",
    "get_contact_email",
    "mark_failed",
    "mark_sent",
    "queue_mails",
    "set_contact_email",
]


async def set_contact_email(tx: Transaction, *, account_id: str, email: str | None) -> bool:
    """Saves (None: clears) the account's contact address; whether the account exists."""
    return await tx.execute(_SET_CONTACT, {"b_id": account_id, "b_email": email}) > 0


async def get_contact_email(tx: Transaction, account_id: str) -> str | None:
    row = await tx.fetch_one(_CONTACT, {"id": account_id})
    return None if row is None else row[0]


async def queue_mails(tx: Transaction, events: Sequence[Event]) -> int:
    """Queues the e-mail of each event that is mailed, to its account's contact address
    (accounts with none get none); returns how many were queued."""
    mailed = [event for event in events if event.type in MAILED]
    if not mailed:
        return 0
    rows = await tx.fetch_all(_CONTACTS, {"ids": sorted({e.account_id for e in mailed})})
    contacts = {account_id: email for account_id, email in rows if email}
    room = {
        account_id: MAILS_PER_HOUR - await _recent(tx, account_id, since=mailed[0].created)
        for account_id in contacts
    }
    values = []
    for event in mailed:
        if room.get(event.account_id, 0) <= 0:
            continue  # no contact address, or this hour's mails were sent already
        room[event.account_id] -= 1
        recipient = contacts[event.account_id]
        values.append(_row(event, compose(event.type, dict(event.data or {}), recipient=recipient)))
    if values:
        await tx.execute_many(_QUEUE, values)
    return len(values)


async def _recent(tx: Transaction, account_id: str, *, since: datetime) -> int:
    """How many mails the account was sent (or has queued) in the hour before `since`."""
    row = await tx.fetch_one(
        _RECENT, {"b_account": account_id, "b_since": since - MAIL_LIMIT_PERIOD}
    )
    return 0 if row is None else int(row[0])


def _row(event: Event, mail: Mail) -> dict[str, object]:
    return {
        "id": new_delivery_id(),
        "account_id": event.account_id,
        "event_id": event.id,
        "recipient": mail.recipient,
        "subject": mail.subject,
        "body": mail.body,
        "created": event.created,
        "next_attempt_at": event.created,
        "attempts": 0,
        "lease_token": None,
        "sent_at": None,
        "last_error": None,
    }


async def claim_due(
    tx: Transaction, *, now: datetime, limit: int, lease_seconds: float
) -> list[OutboxMail]:
    """Leases up to `limit` due mails (rows other mailers have locked are skipped). A due
    mail whose tries are used up is given up instead: its last lease expired unreported (the
    mailer died sending it), and a mail that kills its mailer must not be tried forever."""
    await tx.execute(_GIVE_UP, {"b_now": now})
    rows = await tx.fetch_all(_DUE, {"b_now": now, "b_limit": limit})
    if not rows:
        return []
    token = secrets.token_hex(16)
    until = now + timedelta(seconds=lease_seconds)
    values = {"ids": [row[0] for row in rows], "b_token": token, "b_until": until}
    await tx.execute(_LEASE, values)
    return [
        OutboxMail(
            id=mail_id,
            lease_token=token,
            mail=Mail(recipient=recipient, subject=subject, body=body),
            attempts=int(attempts) + 1,
        )
        for mail_id, recipient, subject, body, attempts in rows
    ]


async def mark_sent(tx: Transaction, *, mail_id: str, lease_token: str, now: datetime) -> None:
    await tx.execute(_SENT, {"b_id": mail_id, "b_token": lease_token, "b_now": now})


async def mark_failed(
    tx: Transaction, *, mail_id: str, lease_token: str, error: str, retry_at: datetime | None
) -> None:
    values = {"b_id": mail_id, "b_token": lease_token, "b_error": error, "b_retry": retry_at}
    await tx.execute(_FAILED, values)


_SET_CONTACT = Statement(
    lambda _: (
        update(accounts)
        .where(accounts.c.id == bindparam("b_id"))
        .values(contact_email=bindparam("b_email", type_=Text))
    )
)
_CONTACT = Statement(
    lambda _: select(accounts.c.contact_email).where(accounts.c.id == bindparam("id"))
)
_CONTACTS = Statement(
    lambda database: select(accounts.c.id, accounts.c.contact_email).where(
        in_list(database, column=accounts.c.id)
    )
)
_QUEUE = Statement(
    lambda database: insert_ignoring(
        database, table=mail_outbox, conflict_on=("account_id", "event_id")
    )
)
_DUE_NOW = (
    mail_outbox.c.next_attempt_at.is_not(None),
    mail_outbox.c.next_attempt_at <= bindparam("b_now", type_=Timestamp),
)
_GIVE_UP = Statement(
    lambda _: (
        update(mail_outbox)
        .where(*_DUE_NOW, mail_outbox.c.attempts >= MAIL_TRIES)
        .values(
            next_attempt_at=None,
            lease_token=None,
            last_error=f"given up after {MAIL_TRIES} tries, the last one unreported "
            "(the mailer stopped while sending it)",
        )
    )
)
_DUE = Statement(
    lambda _: (
        select(
            mail_outbox.c.id,
            mail_outbox.c.recipient,
            mail_outbox.c.subject,
            mail_outbox.c.body,
            mail_outbox.c.attempts,
        )
        .where(*_DUE_NOW, mail_outbox.c.attempts < MAIL_TRIES)
        .order_by(mail_outbox.c.next_attempt_at)
        .limit(bindparam("b_limit", type_=Integer))
        # Two mailers never take the same mail (SQLite has one writer anyway).
        .with_for_update(skip_locked=True)
    )
)
_LEASE = Statement(
    lambda database: (
        update(mail_outbox)
        .where(in_list(database, column=mail_outbox.c.id))
        .values(
            lease_token=bindparam("b_token", type_=Text),
            next_attempt_at=bindparam("b_until", type_=Timestamp),
            attempts=mail_outbox.c.attempts + 1,
        )
    )
)
_THIS_LEASE = (
    mail_outbox.c.id == bindparam("b_id"),
    mail_outbox.c.lease_token == bindparam("b_token"),
)
_SENT = Statement(
    lambda _: (
        update(mail_outbox)
        .where(*_THIS_LEASE)
        .values(
            sent_at=bindparam("b_now", type_=Timestamp),
            next_attempt_at=None,
            lease_token=None,
            last_error=None,
        )
    )
)
_FAILED = Statement(
    lambda _: (
        update(mail_outbox)
        .where(*_THIS_LEASE)
        .values(
            next_attempt_at=bindparam("b_retry", type_=Timestamp),
            lease_token=None,
            last_error=bindparam("b_error", type_=Text),
        )
    )
)
# The window MAILS_PER_HOUR is counted over: retention keeps every mail of it.
MAIL_LIMIT_PERIOD = timedelta(hours=1)
_RECENT = Statement(
    lambda _: (
        select(func.count())
        .select_from(mail_outbox)
        .where(
            mail_outbox.c.account_id == bindparam("b_account"),
            mail_outbox.c.created > bindparam("b_since", type_=Timestamp),
        )
    )
)
