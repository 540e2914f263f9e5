"""A webhook's TLS client certificate (`metadata.client_certificate`), checked before it is
stored: PEM, one certificate chain (the leaf first) and one unencrypted private key that
belongs to the leaf, the leaf valid now. What is checked here is what would otherwise
surface as a TLS failure on every delivery, long after the person who set it has left.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Final

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from hookcast.domain.errors import ValidationFailed
from hookcast.domain.models import ClientCertificate

__all__ = ["MAX_PEM_LENGTH", "MAX_RSA_BITS", "parse_client_certificate"]

FIELD: Final = "client_certificate"
MAX_PEM_LENGTH: Final = 32 * 1024  # a leaf and a few intermediates
MAX_CHAIN: Final = 8
# The largest RSA key a client certificate may have. Its signature is made in the TLS
# handshake, on the worker's event loop, at every new connection (and a receiver may close
# each one): 3.6 ms at 4,096 bits, 173 ms at 15,360 (openssl speed, load ~5), so one
# account's larger key stalled every account's deliveries for that long per connection
# (attack 10). 4,096 is what public CAs issue at most.
MAX_RSA_BITS: Final = 4096
_KEY_TYPES = (
    rsa.RSAPrivateKey,
    ec.EllipticCurvePrivateKey,
    ed25519.Ed25519PrivateKey,
    ed448.Ed448PrivateKey,
)


def parse_client_certificate(raw: object, *, now: datetime) -> ClientCertificate | None:
    """`{"certificate": PEM, "private_key": PEM}` checked (None: no client certificate)."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping) or set(raw) != {"certificate", "private_key"}:
        raise ValidationFailed(
            'metadata.client_certificate must be {"certificate": "<PEM>", "private_key": '
            '"<PEM>"}, or null for none',
            field=FIELD,
        )
    certificate_pem = _pem(raw["certificate"], "certificate")
    key_pem = _pem(raw["private_key"], "private_key")
    chain = _chain(certificate_pem)
    leaf = chain[0]
    _check_size(leaf)  # before the private key is loaded: checking a huge one is slow too
    _check_key(key_pem, leaf)
    _check_validity(leaf, now)
    return ClientCertificate(
        certificate_pem=certificate_pem,
        private_key_pem=key_pem,
        fingerprint=hashlib.sha256(leaf.public_bytes(serialization.Encoding.DER)).hexdigest(),
        subject=leaf.subject.rfc4514_string(),
        issuer=leaf.issuer.rfc4514_string(),
        not_after=leaf.not_valid_after_utc,
    )


def _pem(value: object, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed(f"metadata.client_certificate.{name} must be PEM text", field=FIELD)
    if len(value) > MAX_PEM_LENGTH or not value.isascii() or "\x00" in value:
        raise ValidationFailed(
            f"metadata.client_certificate.{name} must be ASCII PEM of at most "
            f"{MAX_PEM_LENGTH} characters",
            field=FIELD,
        )
    return value.strip() + "\n"


def _chain(pem: str) -> list[x509.Certificate]:
    try:
        chain = x509.load_pem_x509_certificates(pem.encode("ascii"))
    except ValueError as exc:
        raise ValidationFailed(
            "metadata.client_certificate.certificate is not a PEM certificate (-----BEGIN "
            "CERTIFICATE-----)",
            field=FIELD,
        ) from exc
    if len(chain) > MAX_CHAIN:
        raise ValidationFailed(
            f"metadata.client_certificate.certificate holds more than {MAX_CHAIN} certificates",
            field=FIELD,
        )
    return chain


def _check_size(leaf: x509.Certificate) -> None:
    public = leaf.public_key()
    if isinstance(public, rsa.RSAPublicKey) and public.key_size > MAX_RSA_BITS:
        raise ValidationFailed(
            f"metadata.client_certificate has a {public.key_size}-bit RSA key: at most "
            f"{MAX_RSA_BITS} bits (or an EC or EdDSA key), as its signature is made at every "
            "new connection",
            field=FIELD,
        )


def _check_key(pem: str, leaf: x509.Certificate) -> None:
    try:
        key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    except TypeError as exc:  # encrypted: HookCast would need its password at every send
        raise ValidationFailed(
            "metadata.client_certificate.private_key is encrypted: give it unencrypted "
            "(HookCast stores it encrypted itself)",
            field=FIELD,
        ) from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise ValidationFailed(
            "metadata.client_certificate.private_key is not a PEM private key", field=FIELD
        ) from exc
    if not isinstance(key, _KEY_TYPES):
        raise ValidationFailed(
            "metadata.client_certificate.private_key must be an RSA, EC or EdDSA key",
            field=FIELD,
        )
    raw = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    if key.public_key().public_bytes(der, raw) != leaf.public_key().public_bytes(der, raw):
        raise ValidationFailed(
            "metadata.client_certificate.private_key does not belong to the certificate (the "
            "first one in the chain)",
            field=FIELD,
        )


def _check_validity(leaf: x509.Certificate, now: datetime) -> None:
    now = now.astimezone(UTC)
    if leaf.not_valid_after_utc <= now:
        raise ValidationFailed(
            "metadata.client_certificate.certificate expired on "
            f"{leaf.not_valid_after_utc.isoformat()}",
            field=FIELD,
        )
    if leaf.not_valid_before_utc > now:
        raise ValidationFailed(
            "metadata.client_certificate.certificate is not valid before "
            f"{leaf.not_valid_before_utc.isoformat()}",
            field=FIELD,
        )
