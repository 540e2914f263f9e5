"""Formats in the dashboard: chosen on Create, shown everywhere, the catalog in every format,
and the Flowplayer organization secret."""

from __future__ import annotations

import re
from typing import Any

from board import WEBHOOK_URL, Board, admin_of

from hookcast.ports import PageRequest


def _form(site_id: str, **overrides: Any) -> dict[str, Any]:
    return {
        "name": "Encodings",
        "description": "",
        "webhook_url": WEBHOOK_URL,
        "site_ids": [site_id],
        "events": ["video.encoding.quality.completed"],
        "tag": "",
        "conditions": "",
        "retry_policy": "custom",
        "retry_delays": "3, 3, 3",
        "timeout_seconds": "10",
        "enabled": "on",
        "format": "apivideo",
        **overrides,
    }


async def test_the_create_form_offers_the_chosen_formats_names_and_defaults(board: Board) -> None:
    await board.site()
    await board.sign_in(board.admin)

    page = (await board.client.get("/webhooks/new?format=apivideo")).text

    assert 'name="format" value="apivideo"' in page
    assert 'value="live-stream.broadcast.started"' in page
    assert 'value="media_available"' not in page  # not an api.video event
    assert 'value="3, 3, 3"' in page  # api.video retries 3 times, 3 s apart
    assert 'value="media_available"' in (await board.client.get("/webhooks/new")).text


async def test_an_apivideo_webhook_made_in_the_dashboard_shows_api_video_names(
    board: Board,
) -> None:
    site_id = await board.site()
    await board.sign_in(board.admin)

    created = await board.post("/webhooks", _form(site_id))

    assert created.status_code == 200, created.text
    assert re.search(r"sig_sec_[A-Za-z0-9]{22}", created.text)
    assert "X_API_VIDEO_SIGNATURE" in created.text  # the PHP check, as api.video's guide
    (webhook,) = (
        await board.runtime.services.webhooks.list(admin_of(board), page=PageRequest())
    ).items
    assert (webhook.format, webhook.events) == ("apivideo", ("rendition_ready",))
    for path in ("/webhooks", f"/webhooks/{webhook.id}", f"/webhooks/{webhook.id}/edit"):
        text = (await board.client.get(path)).text
        assert "api.video" in text, path
        assert "video.encoding.quality.completed" in text, path
    # Rotating is honest about api.video's single signature: no grace period for it.
    detail = (await board.client.get(f"/webhooks/{webhook.id}")).text
    assert "X-Api-Video-Signature carries one signature, by the new secret" in detail


async def test_a_name_of_another_format_is_an_error_beside_the_events(board: Board) -> None:
    site_id = await board.site()
    await board.sign_in(board.admin)

    response = await board.post("/webhooks", _form(site_id, events=["media_available"]))

    assert response.status_code == 400
    assert 'id="events-error"' in response.text
    assert "unknown event(s) for the apivideo format: media_available" in response.text
    assert "(jwplayer&#39;s name; not sent in apivideo)" in response.text


async def test_a_mistyped_event_links_to_the_page_listing_every_name(board: Board) -> None:
    site_id = await board.site()
    await board.sign_in(board.admin)

    response = await board.post(
        "/webhooks", _form(site_id, format="jwplayer", events=["media_availble"])
    )

    assert response.status_code == 400
    error = re.search(r'<p class="field-error" id="events-error">(.*?)</p>', response.text)
    assert error is not None
    # The API's and the CLI's words, with the page they name made a link that leads there.
    assert "(did you mean media_available?)" in error[1]
    assert (
        'listed by GET /v2/event_types/ and at <a href="/event-types">/event-types</a> on the '
        "dashboard"
    ) in error[1]
    listed = await board.client.get("/event-types")
    assert listed.status_code == 200
    assert "media_available" in listed.text


async def test_the_event_types_page_names_every_event_in_every_format(board: Board) -> None:
    await board.sign_in(board.admin)
    page = (await board.client.get("/event-types")).text
    assert "VIDEO_READY" in page
    assert "video.encoding.quality.completed" in page
    assert "media.upload.completed" in page
    assert "not delivered in this format" in page


async def test_the_flowplayer_secret_is_shown_only_to_an_account_using_flowplayer(
    board: Board,
) -> None:
    """Under "No webhooks yet", or beside JW Player webhooks, a card about Flowplayer's
    secret read as a step of setting up; it appears with the first Flowplayer webhook."""
    site_id = await board.site()
    await board.sign_in(board.admin)
    assert "Flowplayer organization secret" not in (await board.client.get("/webhooks")).text
    await board.webhook(site_id)
    assert "Flowplayer organization secret" not in (await board.client.get("/webhooks")).text
    await board.webhook(site_id, format="flowplayer", events=["VIDEO_READY"])
    assert "Flowplayer organization secret" in (await board.client.get("/webhooks")).text


async def test_a_flowplayer_webhook_says_why_nothing_is_sent_until_the_secret_is_set(
    board: Board,
) -> None:
    site_id = await board.site()
    await board.sign_in(board.admin)
    await board.post(
        "/webhooks",
        _form(site_id, format="flowplayer", events=["VIDEO_READY"], retry_policy="standard"),
    )
    (webhook,) = (
        await board.runtime.services.webhooks.list(admin_of(board), page=PageRequest())
    ).items
    assert (
        "Flowplayer organization secret" in (await board.client.get(f"/webhooks/{webhook.id}")).text
    )
    assert "It is not set" in (await board.client.get("/webhooks")).text

    answer = await board.post("/account/flowplayer_secret", {"secret": ""})

    assert answer.status_code == 200, answer.text
    secret = await board.runtime.services.accounts.reveal_flowplayer_secret(admin_of(board))
    assert secret is not None
    assert secret in answer.text
    detail = (await board.client.get(f"/webhooks/{webhook.id}")).text
    assert 'id="unsigned"' not in detail
    assert "It is set" in (await board.client.get("/webhooks")).text
