"""A real SMTP server on 127.0.0.1 (aiosmtpd) for the e-mail tests: plain, STARTTLS or TLS
from the first byte, with a self-signed certificate made for the test, optionally demanding
a login. It keeps every message it accepted."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from receivers import closed_port

USER, PASSWORD = "hookcast", "p@ss word"  # characters a URL must percent-encode


@dataclass
class Inbox:
    """What the server accepted: (envelope recipients, parsed message), in arrival order."""

    received: list[tuple[list[str], Message]] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        # Runs on the server's thread before it answers 250: once the client's send returns,
        # the message is here.
        content = envelope.original_content or b""
        self.received.append((list(envelope.rcpt_tos), message_from_bytes(content)))
        return "250 OK"


def _authenticate(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535


def self_signed(directory: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(the server's context, a client context trusting only that certificate)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smtp.pem", directory / "smtp.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_path, key_path)
    client = ssl.create_default_context(cafile=str(cert_path))
    return server, client


class _Controller(Controller):
    def factory(self) -> SMTP:
        # Its warning that AUTH does not require TLS is wrong for TLS from the first byte
        # (see auth_require_tls below); the tests turn warnings into errors.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
            server: SMTP = super().factory()  # type: ignore[no-untyped-call]
        return server


@contextmanager
def smtp_server(
    *, tls: ssl.SSLContext | None = None, starttls: bool = False, login: bool = False
) -> Iterator[tuple[Inbox, int]]:
    """A running server and its port: TLS from the first byte with `tls` alone, STARTTLS
    required with `starttls` too; a login demanded with `login`."""
    inbox = Inbox()
    options: dict[str, Any] = {}
    if login:  # over TLS only: credentials never cross in the clear, even on loopback
        assert tls is not None, "a login needs TLS"
        options.update(authenticator=_authenticate, auth_required=True)
        # aiosmtpd counts only STARTTLS as TLS for AUTH; TLS from the first byte is too.
        options["auth_require_tls"] = starttls
    if tls is not None and starttls:
        options.update(tls_context=tls, require_starttls=True)
    elif tls is not None:
        options.update(ssl_context=tls)
    port = closed_port()
    controller = _Controller(inbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()
