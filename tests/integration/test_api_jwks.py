"""GET /v2/webhooks/jwks.json: the account's ed25519 webhooks' public keys, as a JWK Set."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from harness import SITE_ID, Api, assert_error

from hookcast.domain import ed25519
from hookcast.domain.models import Role


async def _ed25519_webhook(api: Api) -> tuple[str, str]:
    """A webhook signing with a new Ed25519 key: its id and the key."""
    created = await api.webhook([SITE_ID], signing="ed25519")
    return created["id"], created["secret"]


async def test_an_account_without_ed25519_webhooks_has_an_empty_set(api: Api) -> None:
    await api.site(SITE_ID)
    await api.webhook([SITE_ID])
    for path in ("/v2/webhooks/jwks.json", "/v2/webhooks/jwks.json/"):
        response = await api.call("GET", path, key=await api.key(Role.VIEWER))
        assert response.status_code == 200, response.text
        assert response.json() == {"keys": []}


async def test_each_key_verifies_its_webhooks_signatures(api: Api) -> None:
    await api.site(SITE_ID)
    webhook_id, signing_key = await _ed25519_webhook(api)

    response = await api.call("GET", "/v2/webhooks/jwks.json", key=await api.key(Role.VIEWER))

    assert response.status_code == 200, response.text
    (jwk,) = response.json()["keys"]
    assert jwk["webhook_id"] == webhook_id
    assert jwk["expires_at"] is None
    assert (jwk["kty"], jwk["crv"], jwk["alg"], jwk["use"]) == ("OKP", "Ed25519", "EdDSA", "sig")
    public = Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(jwk["x"] + "="))
    public.verify(ed25519.sign(signing_key, b"content"), b"content")
    assert signing_key.removeprefix("whsk_") not in response.text


async def test_a_rotation_publishes_the_previous_key_until_its_grace_ends(api: Api) -> None:
    await api.site(SITE_ID)
    webhook_id, first_key = await _ed25519_webhook(api)

    rotated = await api.call("POST", f"/v2/webhooks/{webhook_id}/secret/rotate/")
    keys = (await api.call("GET", "/v2/webhooks/jwks.json")).json()["keys"]

    assert rotated.status_code == 200, rotated.text
    assert [key["expires_at"] is None for key in keys] == [True, False]
    expires = datetime.fromisoformat(keys[1]["expires_at"])
    assert expires > datetime.now(UTC) + timedelta(hours=1)
    previous_x = base64.urlsafe_b64encode(
        ed25519.public_key_bytes(ed25519.public_key_of(first_key))
    )
    assert keys[1]["x"] == previous_x.rstrip(b"=").decode()


async def test_the_keys_are_the_callers_accounts_only(api: Api) -> None:
    await api.site(SITE_ID)
    await _ed25519_webhook(api)
    other_account = await api.runtime.services.accounts.create_account("Other")
    other_key = await api.key(Role.VIEWER, other_account.id)

    response = await api.call("GET", "/v2/webhooks/jwks.json", key=other_key)

    assert response.json() == {"keys": []}


async def test_it_needs_an_api_key(api: Api) -> None:
    assert_error(await api.call("GET", "/v2/webhooks/jwks.json", key=None), 401)
