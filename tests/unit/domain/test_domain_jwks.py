from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from hookcast.domain import ed25519, jwks
from support.factories import webhook

NOW = datetime(2024, 8, 27, tzinfo=UTC)
# RFC 8037, appendix A.2 and A.3: an Ed25519 public key and its RFC 7638 thumbprint.
RFC_X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
RFC_PUBLIC_KEY = "whpk_" + base64.b64encode(base64.urlsafe_b64decode(RFC_X + "=")).decode()


def test_the_thumbprint_is_rfc_7638s() -> None:
    assert jwks.thumbprint(RFC_PUBLIC_KEY) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_a_jwk_is_an_okp_ed25519_signing_key_a_receiver_can_load() -> None:
    document = jwks.document([jwks.PublishedKey("2yW4KmiG", RFC_PUBLIC_KEY)])
    assert json.loads(json.dumps(document)) == {
        "keys": [
            {
                "kty": "OKP",
                "crv": "Ed25519",
                "x": RFC_X,
                "kid": "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k",
                "use": "sig",
                "alg": "EdDSA",
                "webhook_id": "2yW4KmiG",
                "expires_at": None,
            }
        ]
    }


def test_a_rotated_webhook_publishes_both_keys_until_the_grace_period_ends() -> None:
    current, previous = ed25519.new_signing_key(), ed25519.new_signing_key()
    expires = NOW + timedelta(hours=24)
    hook = webhook(
        "acct0001", secret=current, previous_secret=previous, previous_secret_expires=expires
    )
    keys = jwks.webhook_keys(hook, NOW)
    assert keys == [
        jwks.PublishedKey(hook.id, ed25519.public_key_of(current)),
        jwks.PublishedKey(hook.id, ed25519.public_key_of(previous), expires),
    ]
    assert jwks.document(keys)["keys"][1]["expires_at"] == expires.isoformat()
    assert jwks.webhook_keys(hook, expires) == keys[:1]


def test_the_published_key_verifies_the_webhooks_signatures() -> None:
    hook = webhook("acct0001", secret=ed25519.new_signing_key())
    (jwk,) = jwks.document(jwks.webhook_keys(hook, NOW))["keys"]
    raw = base64.urlsafe_b64decode(jwk["x"] + "=")
    Ed25519PublicKey.from_public_bytes(raw).verify(ed25519.sign(hook.secret, b"m"), b"m")


def test_hmac_secrets_publish_nothing() -> None:
    hook = webhook(
        "acct0001",
        secret="whsec_" + base64.b64encode(b"s" * 32).decode(),
        previous_secret=ed25519.new_signing_key(),
        previous_secret_expires=NOW - timedelta(seconds=1),
    )
    assert jwks.webhook_keys(hook, NOW) == []
