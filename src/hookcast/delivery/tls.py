"""The TLS contexts of outbound deliveries: the one every connection uses (the system's
trust store, plus the operator's extra CA bundle if any), and one per client certificate for
webhooks with mutual TLS.

Client contexts are made in a worker thread, never on the delivery loop, from the trust
decided once in tls_trust (a hashed CA directory where it matches the system bundle: ~1 ms a
context instead of ~50). They are kept per account (account_lru): a tenant rotating many
certificates evicts only its own, and a context asked for while being made is made once.

Python's ssl module loads a certificate and key only from files: each client certificate is
written to a private temporary directory (0700, files 0600), loaded, and removed at once, so
the key lives on disk for the time of one `load_cert_chain` call.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import ssl
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from hookcast.delivery.account_lru import AccountLru
from hookcast.delivery.tls_trust import ClientTrust, decide_client_trust
from hookcast.domain.models import ClientCertificate

__all__ = ["ContextBuilder", "TlsContexts", "client_key"]

_CLIENT_CONTEXTS_KEPT = 256
_CLIENT_CONTEXTS_PER_ACCOUNT = 32  # 8 accounts' worth at least before any is squeezed

ContextBuilder = Callable[[ClientCertificate], ssl.SSLContext]


def client_key(certificate: ClientCertificate) -> str:
    """Names a client identity: its connections are pooled apart from every other's (a
    connection authenticated with one tenant's certificate is never reused for another
    webhook), and its TLS context is made once."""
    digest = hashlib.sha256(certificate.certificate_pem.encode())
    digest.update(certificate.private_key_pem.encode())
    return digest.hexdigest()


class TlsContexts:
    """`default()` for plain HTTPS; `for_client(...)` for mutual TLS. `ca_file`: extra
    certificate authorities to trust besides the system's (HOOKCAST_CA_BUNDLE); `base`
    replaces the default context (tests with their own CA); `build` replaces how a client
    context is made (tests)."""

    def __init__(
        self,
        *,
        ca_file: str | None = None,
        base: ssl.SSLContext | None = None,
        build: ContextBuilder | None = None,
    ) -> None:
        self._ca_file = ca_file or None
        self._default = base
        self._build = build or self._build_with_trust
        self._trust: ClientTrust | None = None
        self._trust_lock = threading.Lock()
        self._clients: AccountLru[ssl.SSLContext] = AccountLru(
            per_account=_CLIENT_CONTEXTS_PER_ACCOUNT, total=_CLIENT_CONTEXTS_KEPT
        )
        self._building: dict[tuple[str, str], asyncio.Future[ssl.SSLContext]] = {}
        # One thread: a burst of new certificates queues here instead of taking both cores
        # (and the default executor the resolver shares).
        self._executor: ThreadPoolExecutor | None = None

    def default(self) -> ssl.SSLContext:
        if self._default is None:
            self._default = self._new()
        return self._default

    async def for_client(
        self, *, account: str, key: str, certificate: ClientCertificate
    ) -> ssl.SSLContext:
        """The context presenting `certificate` (named `key`, see client_key) for
        `account`'s webhooks: made in the worker thread on first use, the most recently used
        ones kept per account."""
        found = self._clients.get(account, key)
        if found is not None:
            return found
        name = (account, key)
        building = self._building.get(name)
        if building is None:
            building = self._start_building(name, certificate)
        # Shielded: a delivery cancelled meanwhile leaves the build to the others waiting.
        return await asyncio.shield(building)

    def close(self) -> None:
        """Stops the worker thread (a build under way finishes first)."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    def _start_building(
        self, name: tuple[str, str], certificate: ClientCertificate
    ) -> asyncio.Future[ssl.SSLContext]:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hookcast-tls")
        loop = asyncio.get_running_loop()
        building = loop.run_in_executor(self._executor, self._build, certificate)
        self._building[name] = building
        building.add_done_callback(lambda done: self._built(name, done))
        return building

    def _built(self, name: tuple[str, str], done: asyncio.Future[ssl.SSLContext]) -> None:
        del self._building[name]
        if not done.cancelled() and done.exception() is None:
            self._clients.put(*name, done.result())

    def _build_with_trust(self, certificate: ClientCertificate) -> ssl.SSLContext:
        """Runs in the worker thread."""
        with self._trust_lock:
            if self._trust is None:
                self._trust = decide_client_trust(ca_file=self._ca_file)
            trust = self._trust
        context = trust.new_context()
        _load_client_certificate(context, certificate)
        return context

    def _new(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if self._ca_file is not None:
            context.load_verify_locations(cafile=self._ca_file)
        return context


def _load_client_certificate(context: ssl.SSLContext, certificate: ClientCertificate) -> None:
    folder = Path(tempfile.mkdtemp(prefix="hookcast-mtls-"))  # 0700
    try:
        certfile, keyfile = folder / "cert.pem", folder / "key.pem"
        _write_private(certfile, certificate.certificate_pem)
        _write_private(keyfile, certificate.private_key_pem)
        context.load_cert_chain(certfile=certfile, keyfile=keyfile)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as file:
        file.write(text)
