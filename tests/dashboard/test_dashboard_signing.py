"""The webhook form's Signatures select: an Ed25519 webhook shows its public key."""

from __future__ import annotations

import re

from board import WEBHOOK_URL, Board, admin_of

from hookcast.domain import ed25519
from hookcast.domain.models import Role
from hookcast.ports import PageRequest


def _form(site_id: str, signing: str) -> dict[str, str | list[str]]:
    return {
        "name": "Signed",
        "webhook_url": WEBHOOK_URL,
        "site_ids": [site_id],
        "events": ["media_available"],
        "retry_policy": "standard",
        "timeout_seconds": "10",
        "signing": signing,
        "enabled": "on",
    }


async def test_creating_an_ed25519_webhook_shows_its_public_key(board: Board) -> None:
    site_id = await board.site()
    await board.sign_in(board.admin)

    response = await board.post("/webhooks", _form(site_id, "ed25519"))

    assert response.status_code == 200, response.text
    (webhook,) = (
        await board.runtime.services.webhooks.list(admin_of(board), page=PageRequest())
    ).items
    public_key = ed25519.public_key_of(webhook.secret)
    assert webhook.signing == "ed25519"
    assert re.search(r"whsk_[A-Za-z0-9+/=]+", response.text)
    assert public_key in response.text
    page = (await board.client.get(f"/webhooks/{webhook.id}")).text
    assert public_key in page
    assert webhook.secret not in page


async def test_changing_the_select_rotates_to_the_other_kind(board: Board) -> None:
    site_id = await board.site()
    await board.sign_in(board.admin)
    await board.post("/webhooks", _form(site_id, "hmac"))
    (webhook,) = (
        await board.runtime.services.webhooks.list(admin_of(board), page=PageRequest())
    ).items
    form = (await board.client.get(f"/webhooks/{webhook.id}/edit")).text
    assert '<option value="hmac" selected>' in form

    saved = await board.post(f"/webhooks/{webhook.id}/edit", _form(site_id, "ed25519"))

    assert saved.headers["location"] == f"/webhooks/{webhook.id}?notice=updated"
    changed = await board.runtime.services.webhooks.get(admin_of(board), webhook.id)
    assert changed.signing == "ed25519"
    assert changed.secret.startswith("whsk_")
    assert changed.previous_secret == webhook.secret


async def test_an_unknown_signing_is_an_error_beside_the_select(board: Board) -> None:
    site_id = await board.site()
    await board.sign_in(board.admin)
    await board.post("/webhooks", _form(site_id, "hmac"))
    (webhook,) = (
        await board.runtime.services.webhooks.list(admin_of(board), page=PageRequest())
    ).items

    response = await board.post(f"/webhooks/{webhook.id}/edit", _form(site_id, "rsa"))

    assert response.status_code == 400
    assert 'href="#field-signing"' in response.text


async def test_revealing_an_ed25519_secret_shows_the_public_key_to_verify_with(
    board: Board,
) -> None:
    site_id = await board.site()
    await board.sign_in(board.admin)
    await board.post("/webhooks", _form(site_id, "ed25519"))
    (webhook,) = (
        await board.runtime.services.webhooks.list(admin_of(board), page=PageRequest())
    ).items

    revealed = await board.post(f"/webhooks/{webhook.id}/secret", {})

    assert revealed.status_code == 200, revealed.text
    assert webhook.secret in revealed.text
    assert f'verify.any(body, headers, "{ed25519.public_key_of(webhook.secret)}")' in (
        revealed.text
    )


async def test_an_editor_edits_an_ed25519_webhook_without_touching_its_key(board: Board) -> None:
    site_id = await board.site()
    await board.sign_in(board.admin)
    await board.post("/webhooks", _form(site_id, "ed25519"))
    (webhook,) = (
        await board.runtime.services.webhooks.list(admin_of(board), page=PageRequest())
    ).items
    await board.sign_in(await board.key(Role.EDITOR))
    form = (await board.client.get(f"/webhooks/{webhook.id}/edit")).text
    assert '<select id="signing" name="signing" disabled' in form

    edited = {**_form(site_id, "ed25519"), "name": "Renamed"}
    del edited["signing"]  # a disabled select is not sent
    saved = await board.post(f"/webhooks/{webhook.id}/edit", edited)

    assert saved.headers["location"] == f"/webhooks/{webhook.id}?notice=updated"
    changed = await board.runtime.services.webhooks.get(admin_of(board), webhook.id)
    assert (changed.name, changed.secret) == ("Renamed", webhook.secret)


async def test_a_format_without_ed25519_offers_no_signatures_select(board: Board) -> None:
    await board.site()
    await board.sign_in(board.admin)
    assert 'id="signing"' in (await board.client.get("/webhooks/new?format=standard")).text
    assert 'id="signing"' not in (await board.client.get("/webhooks/new?format=apivideo")).text
