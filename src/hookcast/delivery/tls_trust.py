"""The trust every mutual-TLS context is made from, decided once.

`ssl.create_default_context()` parses the whole system CA bundle into each new context: ~50
ms of CPU per client certificate (144 CAs, OpenSSL 3.0). OpenSSL also looks certificate
authorities up lazily in a hashed directory (`capath`, e.g. /etc/ssl/certs), which costs a
context nothing until a handshake asks for an issuer. A default context trusts its CA file
and that directory together, so when every certificate of the CA file is also in the
directory, a context trusting only the directory trusts exactly the same authorities. That
is checked once, here; where it does not hold, every context is made as before.

Passing the parsed bundle as `cadata` saves nothing (the parsing is the cost) and holds the
GIL meanwhile, unlike loading from files: the event loop would stall even with the build in
a worker thread.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ClientTrust", "decide_client_trust"]

# The names c_rehash / `openssl rehash` give: the subject hash, a dot, a counter.
_HASHED_NAME = re.compile(r"^[0-9a-f]{8}\.[0-9]+$")
_PEM_CERTIFICATE = re.compile(
    r"-----BEGIN CERTIFICATE-----\s.*?-----END CERTIFICATE-----", re.DOTALL
)


@dataclass(frozen=True, slots=True)
class ClientTrust:
    """How a client context comes to trust what the default one does: `capath` set: the
    hashed directory alone (cheap); None: the full default load (as before)."""

    capath: str | None
    ca_file: str | None  # HOOKCAST_CA_BUNDLE, loaded on top either way
    reference: ssl.SSLContext  # the settings every client context copies

    def new_context(self) -> ssl.SSLContext:
        """A context verifying servers exactly as `reference` does, holding no client
        certificate yet."""
        if self.capath is None:
            context = ssl.create_default_context()
        else:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            _copy_settings(self.reference, context)
            context.load_verify_locations(capath=self.capath)
        if self.ca_file is not None:
            context.load_verify_locations(cafile=self.ca_file)
        return context


def decide_client_trust(*, ca_file: str | None, capath: str | None = None) -> ClientTrust:
    """Builds the reference context (the slow way, once) and decides whether the hashed
    directory `capath` (by default OpenSSL's, SSL_CERT_DIR honoured) covers its CA file."""
    reference = ssl.create_default_context()
    system = reference.get_ca_certs(binary_form=True)  # the CA file's, read eagerly
    if capath is None:
        capath = ssl.get_default_verify_paths().capath
    if capath is not None and not _covers(capath, system):
        capath = None
    return ClientTrust(capath=capath, ca_file=ca_file or None, reference=reference)


def _copy_settings(source: ssl.SSLContext, target: ssl.SSLContext) -> None:
    # Everything create_default_context sets or a Python version may change by default.
    target.check_hostname = source.check_hostname
    target.verify_mode = source.verify_mode
    target.verify_flags = source.verify_flags
    target.options = source.options
    target.minimum_version = source.minimum_version
    target.maximum_version = source.maximum_version
    if source.keylog_filename:
        target.keylog_filename = source.keylog_filename


def _covers(capath: str, certificates: Iterable[bytes]) -> bool:
    """Whether every certificate of `certificates` (DER) is in the hashed directory."""
    wanted = set(certificates)
    if not wanted:
        return False  # no CA file: nothing to compare, keep the default load
    return wanted <= _hashed_certificates(Path(capath))


def _hashed_certificates(folder: Path) -> set[bytes]:
    found: set[bytes] = set()
    try:
        entries = [entry for entry in folder.iterdir() if _HASHED_NAME.match(entry.name)]
    except OSError:
        return found
    for entry in entries:
        try:
            text = entry.read_text(encoding="ascii", errors="replace")
        except OSError:
            continue
        for pem in _PEM_CERTIFICATE.findall(text):
            try:
                found.add(ssl.PEM_cert_to_DER_cert(pem))
            except ValueError:
                continue
    return found
