"""A webhook with `signing: ed25519` delivers v1a signatures its public key alone verifies."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from delivery_harness import Deployment

from hookcast import verify
from support.waiting import eventually


@pytest.mark.parametrize("format", ["jwplayer", "standard"])
async def test_the_public_key_verifies_the_delivery_and_no_hmac_is_sent(
    hookcast: Deployment, format: str
) -> None:
    receiver = await hookcast.receiver()
    hook = await hookcast.create_webhook(receiver.url, format=format, signing="ed25519")
    public_key = hook["metadata"]["public_key"]
    hookcast.start_worker()

    await hookcast.publish({"event": "media_available", "media_id": "MNYaMSQl"})
    await eventually(lambda: len(receiver.received) == 1)

    (delivery,) = receiver.received
    headers = {name.lower(): value for name, value in delivery.headers.items()}
    assert "authorization" not in headers
    assert "x-hookcast-signature" not in headers
    version, _, signature = headers["webhook-signature"].partition(",")
    assert version == "v1a"
    content = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + delivery.body
    raw_key = base64.b64decode(public_key.removeprefix("whpk_"))
    Ed25519PublicKey.from_public_bytes(raw_key).verify(base64.b64decode(signature), content)
    assert verify.any(delivery.body, delivery.headers, public_key)
