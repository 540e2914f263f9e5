"""E-mail: the outbox the store keeps (written with the operational events that cause each
mail) and the transport that sends one (SMTP, delivery/smtp.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from hookcast.domain.mail import Mail


@dataclass(frozen=True, slots=True)
class OutboxMail:
    """A mail leased to one mailer until `lease_token` is released or expires."""

    id: str
    lease_token: str
    mail: Mail
    attempts: int  # including the one this lease is for


class MailFailed(Exception):
    """The transport could not hand the mail over (refused, unreachable, timed out): it is
    tried again later."""


class MailOutbox(Protocol):
    """E-mails waiting to be sent, as the mailer sees them. `SqlStore` implements it."""

    async def claim_due_mails(
        self, *, now: datetime, limit: int, lease_seconds: float
    ) -> Sequence[OutboxMail]:
        """Leases up to `limit` unsent mails due at `now`, oldest first; a lease neither
        released nor marked makes the mail due again when it expires."""

    async def mail_sent(self, *, mail_id: str, lease_token: str, now: datetime) -> None:
        """Marks a leased mail sent: it is never claimed again."""

    async def mail_failed(
        self, *, mail_id: str, lease_token: str, error: str, retry_at: datetime | None
    ) -> None:
        """Records why a leased mail was not sent; due again at `retry_at` (None: given up)."""


class MailTransport(Protocol):
    """Hands one mail over to a mail server."""

    async def send(self, mail: Mail, *, message_id: str) -> None:
        """Sends `mail` with the Message-ID `message_id` (the same on every try, so a mail
        server or client can tell a repeat); raises `MailFailed` if it was not accepted."""
