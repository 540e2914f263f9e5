"""A webhook's client certificate is checked when it is set, not at the first failed TLS
handshake: PEM, a key that belongs to it, valid now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from hookcast.domain.errors import ValidationFailed
from hookcast.services.client_certificates import parse_client_certificate
from support.certificates import Pki, make_pki

NOW = datetime.now(UTC)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def test_a_valid_certificate_and_key_are_kept_with_what_people_are_shown(pki: Pki) -> None:
    pem = pki.client("hooks.example.com")

    parsed = parse_client_certificate(pem.as_metadata(), now=NOW)

    assert parsed is not None
    assert parsed.subject == "CN=hooks.example.com"
    assert parsed.issuer == "CN=HookCast mTLS test CA"
    assert parsed.not_after > NOW
    assert len(parsed.fingerprint) == 64
    assert "PRIVATE" not in repr(parsed)  # the key never shows in a repr (logs)
    assert parse_client_certificate(None, now=NOW) is None


def test_a_key_of_another_certificate_is_refused(pki: Pki) -> None:
    mine, theirs = pki.client("a"), pki.client("b")
    mixed = {"certificate": mine.certificate, "private_key": theirs.private_key}

    with pytest.raises(ValidationFailed, match="does not belong"):
        parse_client_certificate(mixed, now=NOW)


def test_an_expired_or_not_yet_valid_certificate_is_refused(pki: Pki) -> None:
    with pytest.raises(ValidationFailed, match="expired"):
        parse_client_certificate(pki.client(expired=True).as_metadata(), now=NOW)
    with pytest.raises(ValidationFailed, match="not valid before"):
        parse_client_certificate(pki.client().as_metadata(), now=NOW - timedelta(days=3))


def test_an_encrypted_key_is_refused_with_the_reason(pki: Pki) -> None:
    pem = pki.client()
    key = serialization.load_pem_private_key(pem.private_key.encode(), password=None)
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pass phrase"),
    ).decode()

    with pytest.raises(ValidationFailed, match="encrypted"):
        parse_client_certificate(
            {"certificate": pem.certificate, "private_key": encrypted}, now=NOW
        )


@pytest.mark.parametrize(
    "raw",
    [
        "PEM",
        {"certificate": "x"},
        {"certificate": "not pem", "private_key": "not pem"},
        {"certificate": 1, "private_key": 2},
        {"certificate": "a" * 40000, "private_key": "b"},
    ],
)
def test_malformed_input_is_a_validation_error(raw: object) -> None:
    with pytest.raises(ValidationFailed) as refused:
        parse_client_certificate(raw, now=NOW)
    assert refused.value.field == "client_certificate"


def test_a_garbage_key_with_a_good_certificate_is_refused(pki: Pki) -> None:
    pem = pki.client()
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    public_only = other.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()

    with pytest.raises(ValidationFailed, match="not a PEM private key"):
        parse_client_certificate(
            {"certificate": pem.certificate, "private_key": public_only}, now=NOW
        )
