"""The TLS contexts of outbound deliveries: the one every connection uses (the system's
trust store, plus the operator's extra CA bundle if any), and one per client certificate for
webhooks with mutual TLS.

Python's ssl module loads a certificate and key only from files: each client certificate is
written to a private temporary directory (0700, files 0600), loaded, and removed at once, so
the key lives on disk for the time of one `load_cert_chain` call.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import ssl
import tempfile
from collections import OrderedDict
from pathlib import Path

from hookcast.domain.models import ClientCertificate

__all__ = ["TlsContexts", "client_key"]

_CLIENT_CONTEXTS_KEPT = 256


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
    replaces the default context (tests with their own CA)."""

    def __init__(self, *, ca_file: str | None = None, base: ssl.SSLContext | None = None) -> None:
        self._ca_file = ca_file or None
        self._default = base
        self._clients: OrderedDict[str, ssl.SSLContext] = OrderedDict()

    def default(self) -> ssl.SSLContext:
        if self._default is None:
            self._default = self._new()
        return self._default

    def for_client(self, key: str, certificate: ClientCertificate) -> ssl.SSLContext:
        """The context presenting `certificate` (named `key`, see client_key); made on first
        use, the most recently used ones kept."""
        found = self._clients.get(key)
        if found is not None:
            self._clients.move_to_end(key)
            return found
        context = self._new()
        _load_client_certificate(context, certificate)
        self._clients[key] = context
        if len(self._clients) > _CLIENT_CONTEXTS_KEPT:
            self._clients.popitem(last=False)
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
