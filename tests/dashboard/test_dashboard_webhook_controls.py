"""The per-webhook controls in the dashboard: the form sets and edits each one, keeps the
secrets it cannot show, and the webhook page shows them (header values redacted)."""

from __future__ import annotations

from typing import Any

import pytest
from board import WEBHOOK_URL, Board, admin_of

from hookcast.domain.models import Role
from support.certificates import Pki, make_pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def _form(site_id: str, **overrides: Any) -> dict[str, Any]:
    return {
        "name": "Gateway hook",
        "webhook_url": WEBHOOK_URL,
        "site_ids": [site_id],
        "events": ["media_available"],
        "retry_policy": "standard",
        "timeout_seconds": "10",
        "enabled": "on",
        **overrides,
    }


async def test_each_control_is_set_in_the_form_and_shown_on_the_page(
    board: Board, pki: Pki
) -> None:
    webhook = await board.webhook(await board.site())
    await board.sign_in(await board.key(Role.EDITOR))
    path = f"/webhooks/{webhook.id}/edit"
    client = pki.client("dashboard-client")

    saved = await board.post(
        path,
        _form(
            webhook.site_ids[0],
            headers="X-Api-Key: gw-secret-42\r\nX-Route: blue",
            rate_limit_per_second="2.5",
            rate_limit_burst="4",
            client_certificate=client.certificate,
            client_key=client.private_key,
        ),
    )
    assert saved.headers["location"] == f"/webhooks/{webhook.id}?notice=updated"

    page = (await board.client.get(f"/webhooks/{webhook.id}")).text
    assert "X-Api-Key: [redacted]" in page
    assert "2.5 per second, bursts of 4" in page
    assert "CN=dashboard-client" in page
    form = (await board.client.get(path)).text
    assert "gw-secret-42" not in page + form
    assert "PRIVATE KEY-----\n" not in form  # the key is never sent back to a browser
    assert "X-Api-Key: [redacted]" in form
    assert 'value="2.5"' in form

    # The form sent back as shown keeps the stored header values and the certificate.
    again = await board.post(
        path, _form(webhook.site_ids[0], headers="X-Api-Key: [redacted]\nX-Route: [redacted]")
    )
    assert again.status_code == 303, again.text
    stored = await board.runtime.services.webhooks.get(admin_of(board), webhook.id)
    assert stored.headers == {"X-Api-Key": "gw-secret-42", "X-Route": "blue"}
    assert stored.client_certificate is not None
    assert stored.rate_limit is None  # the rate fields were left empty: no limit


async def test_wrong_controls_come_back_with_the_reason(board: Board, pki: Pki) -> None:
    webhook = await board.webhook(await board.site())
    await board.sign_in(await board.key(Role.EDITOR))
    path = f"/webhooks/{webhook.id}/edit"
    site_id = webhook.site_ids[0]

    for fields, field, says in (
        ({"headers": "X-Api-Key gw"}, "headers", "Name: value"),
        ({"headers": "Host: evil.example"}, "headers", "Host cannot be set"),
        ({"rate_limit_per_second": "fast"}, "rate_limit_per_second", "requests per second"),
        ({"rate_limit_per_second": "0"}, "rate_limit_per_second", "between 0.01 and 1000"),
        ({"client_certificate": pki.client().certificate}, "client_certificate", "both"),
        (
            {"client_certificate": "junk", "client_key": "junk"},
            "client_certificate",
            "not a PEM certificate",
        ),
    ):
        refused = await board.post(path, _form(site_id, **fields))
        assert refused.status_code == 400, fields
        assert f'id="{field}-error"' in refused.text, fields
        assert says in refused.text, fields


async def test_the_certificate_can_be_removed(board: Board, pki: Pki) -> None:
    client = pki.client()
    webhook = await board.webhook(await board.site(), client_certificate=client.as_metadata())
    await board.sign_in(await board.key(Role.EDITOR))
    path = f"/webhooks/{webhook.id}/edit"
    assert "Remove the client certificate" in (await board.client.get(path)).text

    removed = await board.post(path, _form(webhook.site_ids[0], remove_client_certificate="on"))

    assert removed.status_code == 303
    page = (await board.client.get(f"/webhooks/{webhook.id}")).text
    assert "none (no mutual TLS)" in page
