"""Events, event types, properties, API keys."""

from __future__ import annotations

import re

from board import Board, admin_of

from hookcast.domain.models import Role
from hookcast.services import Caller
from hookcast.services.accounts import MAX_API_KEYS_PER_ACCOUNT


async def test_events_are_listed_with_where_they_went_and_can_be_filtered(board: Board) -> None:
    site_id = await board.site()
    await board.webhook(site_id)
    publisher = Caller(board.account_id, Role.PUBLISHER)
    events = board.runtime.services.events
    await events.publish(
        publisher, {"event": "media_available", "site_id": site_id, "media_id": "MNYaMSQl"}
    )
    await events.publish(
        publisher, {"event": "channel_active", "site_id": site_id, "channel_id": "YijbmYHJ"}
    )
    await board.sign_in(await board.key(Role.VIEWER))

    everything = await board.client.get("/events")
    assert "media_available" in everything.text
    assert "1 pending" in everything.text  # the webhook's delivery, not yet sent
    # channel_active went nowhere, and the page says why
    assert "not sent: your webhook subscribes to other events" in everything.text
    assert "no webhook matched" not in everything.text
    only_media = await board.client.get("/events", params={"resource_id": "MNYaMSQl"})
    assert "media_available" in only_media.text
    assert "channel_active</span>" not in only_media.text
    nothing = await board.client.get("/events", params={"type": "track_created"})
    assert "No events match these filters" in nothing.text


async def test_events_that_went_nowhere_or_wait_say_why(board: Board) -> None:
    """No webhooks yet; a disabled (paused) webhook's held deliveries, with what "held"
    means under the table; webhooks that hear other events or properties, counted."""
    site_id = await board.site()
    publisher = Caller(board.account_id, Role.PUBLISHER)
    events = board.runtime.services.events
    media = {"event": "media_available", "site_id": site_id, "media_id": "MNYaMSQl"}
    await events.publish(publisher, media)
    await board.sign_in(await board.key(Role.VIEWER))
    none_yet = (await board.client.get("/events")).text
    assert "not sent: no webhooks yet" in none_yet
    assert "judged against your webhooks" not in none_yet  # nothing was judged

    paused = await board.webhook(site_id)
    await board.runtime.services.webhooks.update(
        admin_of(board), webhook_id=paused.id, changes={"enabled": False}
    )
    await board.webhook(site_id, events=["media_deleted"])
    await events.publish(publisher, media | {"media_id": "Held0001"})
    await events.publish(publisher, {**media, "event": "track_created", "track_id": "Trk00001"})
    page = (await board.client.get("/events")).text
    assert "1 held</span>" in page
    assert "published while its webhook was disabled; kept, not sent" in page
    # The verdict is the row's line; what each webhook said opens under it.
    assert (
        _reason("not sent: none of your 2 webhooks took it", "2 subscribe to other events") in page
    )
    # the first event, published before either existed: not a reason from their settings
    assert _reason("not sent: none of your 2 webhooks took it", "2 were created after it") in page
    # and the page says what the reasons are judged against, once and short: four lines at
    # 1280 px had said it, then said again what each row's reason says
    judged = re.search(r'<p class="hint small" id="judged-now">(.*?)</p>', page)
    assert judged is not None
    assert "judged against your webhooks as they are now" in judged[1]
    assert len(judged[1]) <= 90, judged[1]
    assert judged[1].count(". ") == 0


async def test_the_event_types_page_shows_the_catalog_with_examples(board: Board) -> None:
    await board.sign_in(await board.key(Role.VIEWER))
    page = await board.client.get("/event-types")
    assert "conversions_complete" in page.text
    assert "Live channel" in page.text
    assert "&#34;media_id&#34;: &#34;MNYaMSQl&#34;" in page.text


async def test_properties_are_created_renamed_and_deleted(board: Board) -> None:
    await board.sign_in(await board.key(Role.EDITOR))
    bad = await board.post("/properties", {"name": "Main", "id": "short"})
    assert bad.status_code == 400
    assert "exactly 8 letters or digits" in bad.text
    assert 'value="Main"' in bad.text

    created = await board.post("/properties", {"name": "Main", "id": "1A23bCD4"})
    assert created.headers["location"] == "/properties?notice=site_created"
    taken = await board.post("/properties", {"name": "Again", "id": "1A23bCD4"})
    assert "already taken" in taken.text
    await board.post("/properties/1A23bCD4/rename", {"name": "Renamed site"})
    assert "Renamed site" in (await board.client.get("/properties")).text
    await board.post("/properties/1A23bCD4/delete")
    assert "No properties yet" in (await board.client.get("/properties")).text


async def test_an_admin_creates_a_key_sees_it_once_and_revokes_it(board: Board) -> None:
    await board.sign_in(board.admin)
    created = await board.post("/keys", {"name": "ci", "role": "viewer"})
    secret = re.search(r'id="new-key" class="secret">([^<]+)<', created.text)
    assert secret
    viewer = await board.runtime.services.auth.authenticate(secret.group(1))
    assert viewer.role is Role.VIEWER
    assert secret.group(1) not in (await board.client.get("/keys")).text

    revoked = await board.post(f"/keys/{viewer.key_id}/revoke")
    assert revoked.headers["location"] == "/keys?notice=key_revoked"
    keys = await board.runtime.services.accounts.list_keys(Caller(board.account_id, Role.ADMIN))
    assert viewer.key_id not in {key.id for key in keys}


async def test_an_account_at_its_key_bound_is_told_on_the_keys_page(board: Board) -> None:
    caller = Caller(board.account_id, Role.ADMIN)
    held = len(await board.runtime.services.accounts.list_keys(caller))
    for _ in range(MAX_API_KEYS_PER_ACCOUNT - held):
        await board.runtime.services.accounts.issue_key(board.account_id, role=Role.VIEWER)
    await board.sign_in(board.admin)

    refused = await board.post("/keys", {"name": "one more", "role": "viewer"})

    assert refused.status_code == 400
    assert f"at most {MAX_API_KEYS_PER_ACCOUNT} API keys" in refused.text
    assert len(await board.runtime.services.accounts.list_keys(caller)) == MAX_API_KEYS_PER_ACCOUNT


async def test_an_admin_sets_and_clears_the_contact_address(board: Board) -> None:
    await board.sign_in(board.admin)
    assert "None is set: no e-mail is sent" in (await board.client.get("/keys")).text

    saved = await board.post("/account/contact", {"email": "oncall@acme.example"})
    assert saved.headers["location"] == "/keys?notice=contact_saved"
    page = (await board.client.get("/keys?notice=contact_saved")).text
    assert 'value="oncall@acme.example"' in page
    assert "The contact address is saved." in page
    refused = await board.post("/account/contact", {"email": "oncall, boss@acme.example"})
    assert refused.status_code == 400
    assert "one e-mail address" in refused.text

    await board.post("/account/contact", {"email": ""})
    admin = Caller(board.account_id, Role.ADMIN)
    assert await board.runtime.services.accounts.contact_email(admin) is None


async def test_a_page_past_the_last_says_so_not_that_nothing_exists(board: Board) -> None:
    # A stale link, or the last page emptied by deletes: it said "No webhooks yet" (and "No
    # events yet", "No deliveries yet") beside an account that had them.
    site_id = await board.site()
    webhook = await board.webhook(site_id)
    publisher = Caller(board.account_id, Role.PUBLISHER)
    await board.runtime.services.events.publish(
        publisher, {"event": "media_available", "site_id": site_id, "media_id": "MNYaMSQl"}
    )
    await board.sign_in(board.admin)
    for path, empty, last in (
        ("/webhooks?page=2", "No webhooks yet", "/webhooks?page=1"),
        ("/events?type=media_available&page=3", "No events", "/events?type=media_available&page=1"),
        (
            f"/webhooks/{webhook.id}?page=2",
            "No deliveries yet",
            f"/webhooks/{webhook.id}?page=1#log",
        ),
    ):
        page = (await board.client.get(path)).text
        assert empty not in page, path
        assert "There is no page " in page, path
        assert f'href="{last.replace("&", "&amp;")}">Go to page 1</a>' in page, path


def _reason(verdict: str, breakdown: str) -> str:
    """An Events row's reason for sending nothing, as a disclosure: the verdict, then why."""
    return f"<summary>{verdict}</summary>{breakdown}</details>"
