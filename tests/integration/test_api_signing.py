"""metadata.signing: "ed25519" on create and patch, the public key shown, the rotation."""

from __future__ import annotations

import base64

import pytest
from harness import SITE_ID, Api, assert_error, webhook_metadata

from hookcast.domain import ed25519
from hookcast.domain.models import Role


async def test_an_ed25519_webhook_shows_its_public_key_and_never_its_signing_key(
    api: Api,
) -> None:
    await api.site(SITE_ID)
    created = await api.webhook([SITE_ID], signing="ed25519")

    secret = created["secret"]
    assert secret.startswith("whsk_")
    assert len(base64.b64decode(secret.removeprefix("whsk_"), validate=True)) == 32
    assert created["metadata"]["signing"] == "ed25519"
    assert created["metadata"]["public_key"] == ed25519.public_key_of(secret)
    got = await api.call("GET", f"/v2/webhooks/{created['id']}/")
    assert got.json()["metadata"]["public_key"] == created["metadata"]["public_key"]
    listed = await api.call("GET", "/v2/webhooks/")
    assert secret.removeprefix("whsk_") not in got.text + listed.text


async def test_an_hmac_webhook_has_no_public_key(api: Api) -> None:
    await api.site(SITE_ID)
    created = await api.webhook([SITE_ID])
    assert (created["metadata"]["signing"], created["metadata"]["public_key"]) == ("hmac", None)


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ({"signing": "rsa"}, "signing"),
        ({"signing": "ed25519", "format": "apivideo"}, "not available in the apivideo format"),
        ({"signing": "ed25519", "format": "mediamanager"}, "receivers check an HMAC"),
    ],
)
async def test_a_signing_the_format_cannot_send_is_a_400(
    api: Api, metadata: dict[str, str], message: str
) -> None:
    await api.site(SITE_ID)
    body = {"metadata": {**_metadata(), **metadata}}
    description = assert_error(await api.call("POST", "/v2/webhooks/", json=body), 400)
    assert message in description


def _metadata() -> dict[str, object]:
    return webhook_metadata([SITE_ID], events=["*"])


async def test_a_patch_to_ed25519_signs_with_both_kinds_until_the_grace_ends(api: Api) -> None:
    await api.site(SITE_ID)
    created = await api.webhook([SITE_ID])
    path = f"/v2/webhooks/{created['id']}/"

    patched = await api.call("PATCH", path, json={"metadata": {"signing": "ed25519"}})
    secrets = (await api.call("GET", path + "secret/")).json()
    keys = (await api.call("GET", "/v2/webhooks/jwks.json")).json()["keys"]

    assert patched.status_code == 200, patched.text
    assert patched.json()["metadata"]["signing"] == "ed25519"
    assert secrets["secret"].startswith("whsk_")
    assert secrets["previous_secret"] == created["secret"]
    assert secrets["previous_secret_expires"] is not None
    assert patched.json()["metadata"]["public_key"] == ed25519.public_key_of(secrets["secret"])
    assert [key["webhook_id"] for key in keys] == [created["id"]]


async def test_a_patch_back_to_hmac_keeps_the_ed25519_key_signing_in_the_grace(api: Api) -> None:
    await api.site(SITE_ID)
    created = await api.webhook([SITE_ID], signing="ed25519")
    path = f"/v2/webhooks/{created['id']}/"

    patched = await api.call("PATCH", path, json={"metadata": {"signing": "hmac"}})
    keys = (await api.call("GET", "/v2/webhooks/jwks.json")).json()["keys"]

    assert patched.json()["metadata"]["public_key"] is None
    assert (await api.call("GET", path + "secret/")).json()["secret"].startswith("whsec_")
    # the old key still signs until the grace period ends, so it is still published
    assert [key["expires_at"] is not None for key in keys] == [True]


async def test_a_patch_repeating_the_signing_changes_no_secret(api: Api) -> None:
    await api.site(SITE_ID)
    created = await api.webhook([SITE_ID], signing="ed25519")
    path = f"/v2/webhooks/{created['id']}/"

    await api.call("PATCH", path, json={"metadata": {"signing": "ed25519", "name": "x"}})

    assert (await api.call("GET", path + "secret/")).json()["secret"] == created["secret"]
    assert_error(
        await api.call("PATCH", path, json={"metadata": {"signing": "none"}}), 400, "invalid_body"
    )


async def test_only_an_admin_changes_the_signing_since_it_rotates_the_secret(api: Api) -> None:
    await api.site(SITE_ID)
    created = await api.webhook([SITE_ID], signing="ed25519")
    path = f"/v2/webhooks/{created['id']}/"
    editor = await api.key(Role.EDITOR)

    refused = await api.call("PATCH", path, key=editor, json={"metadata": {"signing": "hmac"}})
    kept = await api.call(
        "PATCH", path, key=editor, json={"metadata": {"signing": "ed25519", "name": "Renamed"}}
    )

    assert_error(refused, 403)
    assert kept.status_code == 200, kept.text
    assert kept.json()["metadata"]["public_key"] == created["metadata"]["public_key"]
