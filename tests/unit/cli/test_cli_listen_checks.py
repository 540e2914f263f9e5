"""`hookcast listen --secret whpk_...`: the public key checks webhook-signature, never the HMACs."""

from __future__ import annotations

import time

from hookcast.cli.listen import check_signatures
from hookcast.domain import ed25519
from hookcast.domain.ids import new_webhook_secret
from hookcast.domain.signing import delivery_headers

BODY = b'{"event":"media_available","event_id":"evt_1"}'
SIGNING_KEY = ed25519.new_signing_key()
PUBLIC_KEY = ed25519.public_key_of(SIGNING_KEY)
SECRET = new_webhook_secret()


def _signed(*secrets: str) -> dict[str, str]:
    return delivery_headers(body=BODY, msg_id="dlv_1", timestamp=int(time.time()), secrets=secrets)


def test_an_ed25519_delivery_verifies_with_the_public_key() -> None:
    # only the Standard Webhooks headers: checked as what it is, nothing reported absent
    checks = check_signatures(BODY, _signed(SIGNING_KEY), [PUBLIC_KEY])
    assert [(check.scheme, check.ok) for check in checks] == [("Standard", True)]


def test_a_public_key_leaves_the_hmac_signatures_unchecked_and_says_so() -> None:
    checks = {
        check.scheme: check for check in check_signatures(BODY, _signed(SECRET), [PUBLIC_KEY])
    }
    assert checks["JWT"].error == "not checked: a whpk_ public key verifies webhook-signature only"
    assert checks["hex"].error == checks["JWT"].error
    assert not checks["Standard"].ok


def test_a_secret_and_a_public_key_together_check_every_scheme() -> None:
    headers = _signed(SECRET, SIGNING_KEY)  # mid-way from ed25519 back to HMAC
    checks = check_signatures(BODY, headers, [PUBLIC_KEY, SECRET])
    assert [check.ok for check in checks] == [True, True, True]
