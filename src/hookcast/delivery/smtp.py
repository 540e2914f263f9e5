"""The SMTP transport (aiosmtplib): `HOOKCAST_SMTP_URL` names the server and how to reach it.

- `smtp://[user:password@]host[:port]` (port 25 by default): STARTTLS when the server
  offers it, plain otherwise;
- `smtp+starttls://...` (587): STARTTLS required, the mail is not sent without it;
- `smtps://...` (465): TLS from the first byte.
Credentials in the URL are percent-decoded; the password is never logged.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate
from typing import Literal
from urllib.parse import unquote, urlsplit

import aiosmtplib

from hookcast.domain.mail import Mail
from hookcast.ports.mail import MailFailed

__all__ = ["SmtpServer", "SmtpTransport"]

Security = Literal["opportunistic", "starttls", "tls"]
_SCHEMES: dict[str, tuple[Security, int]] = {
    "smtp": ("opportunistic", 25),
    "smtp+starttls": ("starttls", 587),
    "smtps": ("tls", 465),
}


@dataclass(frozen=True, slots=True)
class SmtpServer:
    """Where and how to hand mail over, parsed from an `smtp://` URL."""

    host: str
    port: int
    security: Security
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @classmethod
    def from_url(cls, url: str) -> SmtpServer:
        """Parses `url`; raises ValueError naming what is wrong (never echoing a password)."""
        parts = urlsplit(url)
        if parts.scheme not in _SCHEMES:
            raise ValueError("the SMTP URL must start with smtp://, smtp+starttls:// or smtps://")
        if not parts.hostname:
            raise ValueError("the SMTP URL names no host")
        security, default_port = _SCHEMES[parts.scheme]
        return cls(
            host=parts.hostname,
            port=parts.port or default_port,
            security=security,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )


class SmtpTransport:
    """Sends each mail in a connection of its own (they are few: a handful a day)."""

    def __init__(
        self,
        server: SmtpServer,
        *,
        sender: str,
        timeout: float = 30.0,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        """`sender`: the From address; `tls_context`: to trust a private CA (tests)."""
        self._server = server
        self._sender = sender
        self._timeout = timeout
        self._tls_context = tls_context

    def __repr__(self) -> str:
        return f"SmtpTransport({self._server!r})"

    async def send(self, mail: Mail, *, message_id: str) -> None:
        """Hands `mail` over; raises `MailFailed` if the server did not take it."""
        server = self._server
        try:
            await aiosmtplib.send(
                _message(mail, sender=self._sender, message_id=message_id),
                hostname=server.host,
                port=server.port,
                username=server.username,
                password=server.password,
                use_tls=server.security == "tls",
                # None: STARTTLS if the server offers it; True: required.
                start_tls=True if server.security == "starttls" else None,
                timeout=self._timeout,
                tls_context=self._tls_context,
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise MailFailed(f"{type(exc).__name__}: {exc}") from exc


def _message(mail: Mail, *, sender: str, message_id: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.recipient
    message["Subject"] = mail.subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = message_id
    message.set_content(mail.body)
    return message
