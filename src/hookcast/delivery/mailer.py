"""The mailer: sends the e-mails the store queued with their operational events (the mail
outbox), each under a lease, retrying the ones the mail server did not take."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from hookcast.delivery.outage import Outage
from hookcast.domain.mail import retry_at
from hookcast.ports import Clock
from hookcast.ports.mail import MailOutbox, MailTransport, OutboxMail

__all__ = ["Mailer", "MailerOptions"]

_log = logging.getLogger("hookcast.mailer")


@dataclass(frozen=True, slots=True)
class MailerOptions:
    # Mails leased at once. A batch must be sent within its lease, or another mailer takes
    # and sends its mails again: 5 mails x the transport's 30 s timeout, against 300 s.
    batch: int = 5
    lease_seconds: float = 300.0
    poll_seconds: float = 5.0  # how soon a queued mail goes (the outbox is polled)


class Mailer:
    """Claims due mails from `outbox` and hands each to `transport`."""

    def __init__(
        self,
        outbox: MailOutbox,
        transport: MailTransport,
        *,
        clock: Clock,
        options: MailerOptions = MailerOptions(),
        outage: Outage | None = None,
        on_mailed: Callable[[str], None] = lambda _result: None,
    ) -> None:
        """`outage`: where a failed poll of the outbox is said (the worker's, shared with
        its claims: a database outage is one line for the whole process); `on_mailed`: told
        each try's result, "sent", "retrying" or "given_up" (the metrics)."""
        self._outage = outage or Outage(_log)
        self._on_mailed = on_mailed
        self._outbox = outbox
        self._transport = transport
        self._clock = clock
        self._options = options

    async def send_due(self) -> int:
        """Sends the mails due now (one batch); returns how many the server took."""
        options = self._options
        leased = await self._outbox.claim_due_mails(
            now=self._clock(), limit=options.batch, lease_seconds=options.lease_seconds
        )
        sent = 0
        for mail in leased:
            sent += await self._send(mail)
        return sent

    async def run(self, stop: asyncio.Event) -> None:
        """Sends due mails until `stop` is set, polling the outbox in between."""
        while not stop.is_set():
            try:
                await self.send_due()
            except Exception as error:  # the database, most likely: try again at the next poll
                self._outage.failed("sending queued e-mails", error)
            else:
                self._outage.worked()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._options.poll_seconds)

    async def _send(self, leased: OutboxMail) -> int:
        try:
            await self._transport.send(leased.mail, message_id=f"<{leased.id}@hookcast>")
        except Exception as exc:  # MailFailed, or a mail the library refuses to build:
            # either way this mail fails alone, retried then given up, and the batch goes on
            again = retry_at(attempts=leased.attempts, now=self._clock())
            _log.warning(
                "e-mail %s to %s failed (try %d, %s): %s",
                leased.id,
                leased.mail.recipient,
                leased.attempts,
                f"again at {again.isoformat()}" if again else "given up",
                exc,
            )
            await self._outbox.mail_failed(
                mail_id=leased.id, lease_token=leased.lease_token, error=str(exc), retry_at=again
            )
            self._on_mailed("retrying" if again else "given_up")
            return 0
        await self._outbox.mail_sent(
            mail_id=leased.id, lease_token=leased.lease_token, now=self._clock()
        )
        self._on_mailed("sent")
        return 1
