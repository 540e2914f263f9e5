"""The webhook pages: create (with errors shown beside their field), read, change, delete."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from board import WEBHOOK_URL, Board, admin_of

from hookcast.domain.models import LastError, Role, Webhook
from hookcast.ports import PageRequest, WebhookHealth
from hookcast.services import Caller


def _form(site_id: str, **overrides: Any) -> dict[str, Any]:
    return {
        "name": "Media ready",
        "description": "tells the CMS",
        "webhook_url": WEBHOOK_URL,
        "site_ids": [site_id],
        "events": ["media_available", "channel_active"],
        "tag": "",
        "conditions": "",
        "retry_policy": "standard",
        "retry_delays": "",
        "timeout_seconds": "10",
        "enabled": "on",
        **overrides,
    }


async def test_creating_a_webhook_shows_its_secret_once(board: Board) -> None:
    site_id = await board.site()
    await board.sign_in(board.admin)

    response = await board.post("/webhooks", _form(site_id, tag="sports"))

    assert response.status_code == 200, response.text
    secret = re.search(r"whsec_[A-Za-z0-9+/=]+", response.text)
    assert secret
    assert "the only time it is shown" in response.text
    listed = await board.runtime.services.webhooks.list(admin_of(board), page=PageRequest())
    (webhook,) = listed.items
    assert webhook.secret == secret.group(0)
    assert webhook.conditions == {"data.tags": {"$contains": "sports"}}
    assert webhook.events == ("media_available", "channel_active")
    listing = await board.client.get("/webhooks")
    assert "Media ready" in listing.text
    assert secret.group(0) not in listing.text
    assert secret.group(0) not in (await board.client.get(f"/webhooks/{webhook.id}")).text


async def test_a_validation_error_is_shown_beside_its_field_and_keeps_what_was_typed(
    board: Board,
) -> None:
    site_id = await board.site()
    await board.sign_in(board.admin)

    response = await board.post(
        "/webhooks",
        _form(site_id, webhook_url="ftp://example.com/x", description="keep me", tag="news"),
    )

    assert response.status_code == 400
    assert 'id="webhook_url-error"' in response.text
    assert "webhook_url must start with http:// or https://" in response.text
    assert 'value="ftp://example.com/x"' in response.text
    assert ">keep me</textarea>" in response.text
    assert 'value="news"' in response.text
    assert 'value="channel_active" checked' in response.text
    assert "No webhooks yet" in (await board.client.get("/webhooks")).text


async def test_form_level_errors_are_in_words(board: Board) -> None:
    site_id = await board.site()
    await board.sign_in(board.admin)
    response = await board.post(
        "/webhooks",
        _form(site_id, events=[], conditions="{nope", retry_policy="custom", retry_delays="a, b"),
    )
    assert response.status_code == 400
    assert "Choose at least one event, or All events." in response.text
    assert "The conditions are not valid JSON" in response.text
    assert "seconds separated by commas" in response.text


@pytest.mark.parametrize(
    "conditions", ["[" * 5000, '{"$not": ' * 900 + "{}" + "}" * 900, '{"data.x": "\\ud800"}']
)
async def test_conditions_built_to_break_the_parser_are_a_form_error(
    board: Board, conditions: str
) -> None:
    site_id = await board.site()
    await board.sign_in(board.admin)
    response = await board.post("/webhooks", _form(site_id, conditions=conditions))
    assert response.status_code == 400
    assert 'id="conditions-error"' in response.text
    assert "No webhooks yet" in (await board.client.get("/webhooks")).text


async def test_the_webhook_page_toggles_tests_reveals_rotates_and_deletes(board: Board) -> None:
    webhook = await board.webhook(await board.site())
    await board.sign_in(board.admin)
    path = f"/webhooks/{webhook.id}"

    off = await board.post(f"{path}/enabled", {"enabled": "false"})
    assert off.headers["location"] == f"{path}?notice=disabled"
    assert 'aria-checked="false"' in (await board.client.get(path)).text

    sent = await board.post(f"{path}/test")
    assert sent.status_code == 303
    page = await board.client.get(path)
    assert "webhook_test" in page.text
    assert "No attempts in the last 24 hours" in page.text  # no worker here: nothing to chart
    delivery_id = re.search(r'action="/deliveries/([^/]+)/retry"', page.text)
    assert delivery_id
    retried = await board.post(f"/deliveries/{delivery_id.group(1)}/retry")
    assert retried.headers["location"] == (
        f"{path}?notice=retried&delivery={delivery_id.group(1)}#d-{delivery_id.group(1)}"
    )

    revealed = await board.post(f"{path}/secret")
    assert webhook.secret in revealed.text
    rotated = await board.post(f"{path}/secret/rotate")
    assert "New signing secret" in rotated.text
    assert webhook.secret not in rotated.text

    confirm = await board.client.get(f"{path}/delete")
    assert "cannot be undone" in confirm.text
    deleted = await board.post(f"{path}/delete")
    assert deleted.headers["location"] == "/webhooks?notice=deleted"
    assert (await board.client.get(path)).status_code == 404


async def test_editing_keeps_unchanged_fields_and_reports_errors(board: Board) -> None:
    webhook = await board.webhook(await board.site(), conditions={"data.quality": "720p"})
    await board.sign_in(await board.key(Role.EDITOR))
    path = f"/webhooks/{webhook.id}/edit"
    form = await board.client.get(path)
    assert "&#34;data.quality&#34;" in form.text  # the advanced editor holds the JSON

    bad = await board.post(path, _form(webhook.site_ids[0], timeout_seconds="99"))
    assert bad.status_code == 400
    assert "timeout_seconds must be between 1 and 30" in bad.text

    good = await board.post(
        path, _form(webhook.site_ids[0], name="Renamed", retry_policy="quick", conditions="")
    )
    assert good.headers["location"] == f"/webhooks/{webhook.id}?notice=updated"
    changed = await board.runtime.services.webhooks.get(
        Caller(board.account_id, Role.ADMIN), webhook.id
    )
    assert (changed.name, changed.retry_policy.name, changed.conditions) == (
        "Renamed",
        "quick",
        None,
    )


async def test_recover_resends_failed_deliveries_since_a_time(board: Board) -> None:
    webhook = await board.webhook(await board.site())
    await board.sign_in(board.admin)
    response = await board.post(f"/webhooks/{webhook.id}/recover", {"since": "2024-01-01T00:00"})
    assert response.status_code == 200
    assert "0 failed deliveries will be sent again." in response.text
    bad = await board.post(f"/webhooks/{webhook.id}/recover", {"since": "yesterday"})
    assert bad.status_code == 400
    assert "Enter a date and time" in bad.text


async def _held_for(board: Board, events: int) -> tuple[Webhook, str]:
    """A disabled webhook with `events` events published while it was disabled."""
    site_id = await board.site()
    webhook = await board.webhook(site_id, enabled=False)
    for n in range(events):
        item = {"event": "media_available", "site_id": site_id, "media_id": f"MEDIA{n:03d}"}
        await board.runtime.services.events.publish(admin_of(board), item)
    return webhook, f"/webhooks/{webhook.id}"


async def _statuses(board: Board, webhook: Webhook) -> list[str]:
    log = await board.runtime.services.deliveries.list(
        admin_of(board), webhook.id, page=PageRequest()
    )
    return [record.delivery.status.value for record in log.items]


async def test_enabling_offers_to_deliver_what_was_held(board: Board) -> None:
    webhook, path = await _held_for(board, 2)
    await board.sign_in(await board.key(Role.EDITOR))

    listing = (await board.client.get("/webhooks")).text
    page = (await board.client.get(path)).text
    for shown in (listing, page):
        assert "2 held" in shown
        assert "Enable and deliver 2 held" in shown
        assert "Enable and discard 2 held" in shown

    done = await board.post(f"{path}/enabled", {"enabled": "true", "held": "deliver"})

    assert done.headers["location"] == f"{path}?notice=enabled_delivered"
    assert await _statuses(board, webhook) == ["pending", "pending"]
    after = (await board.client.get(path)).text
    assert "2 held" not in after
    assert "while this webhook was disabled" not in after


async def test_the_held_count_is_said_once_beside_the_buttons_that_name_it(board: Board) -> None:
    _, path = await _held_for(board, 2)
    badge = 'class="badge status-held" title="Published while the webhook was disabled'
    await board.sign_in(await board.key(Role.EDITOR))
    for shown in ((await board.client.get("/webhooks")).text, (await board.client.get(path)).text):
        assert "Enable and deliver 2 held" in shown
        assert badge not in shown  # a third "2 held", alone under the buttons
    board.client.cookies.clear()
    await board.sign_in(await board.key(Role.VIEWER))  # no buttons: the count says it
    for shown in ((await board.client.get("/webhooks")).text, (await board.client.get(path)).text):
        assert "Enable and deliver" not in shown
        assert badge in shown


async def test_enabling_can_discard_what_was_held_or_leave_it_for_later(board: Board) -> None:
    webhook, path = await _held_for(board, 1)
    await board.sign_in(board.admin)

    later = await board.post(f"{path}/enabled", {"enabled": "true"})
    assert later.headers["location"] == f"{path}?notice=enabled"
    page = (await board.client.get(path)).text
    assert "1 event published while this webhook was disabled is held" in page
    assert "Deliver held" in page

    discarded = await board.post(f"{path}/held/discard")
    assert discarded.headers["location"] == f"{path}?notice=held_discarded#log"
    assert await _statuses(board, webhook) == ["discarded"]


async def test_ordering_is_chosen_in_the_form_and_shown_on_the_webhook_page(
    board: Board,
) -> None:
    webhook = await board.webhook(await board.site())
    await board.sign_in(await board.key(Role.EDITOR))
    path = f"/webhooks/{webhook.id}/edit"
    assert 'value="none" checked' in (await board.client.get(path)).text

    bad = await board.post(path, _form(webhook.site_ids[0], ordering="alphabetical"))
    assert bad.status_code == 400
    assert 'id="ordering-error"' in bad.text
    good = await board.post(path, _form(webhook.site_ids[0], ordering="resource"))
    assert good.headers["location"] == f"/webhooks/{webhook.id}?notice=updated"

    page = await board.client.get(f"/webhooks/{webhook.id}")
    assert "in publish order per media or channel" in page.text
    assert 'value="resource" checked' in (await board.client.get(path)).text


async def test_latest_wins_and_maximum_ages_are_set_in_the_form_and_shown(board: Board) -> None:
    webhook = await board.webhook(await board.site())
    await board.sign_in(await board.key(Role.EDITOR))
    path = f"/webhooks/{webhook.id}/edit"
    site_id = webhook.site_ids[0]

    typo = await board.post(path, _form(site_id, coalesce="on", max_age_seconds="channel_active"))
    assert typo.status_code == 400
    assert 'id="max_age_seconds-error"' in typo.text
    assert "event=seconds" in typo.text
    unknown = await board.post(path, _form(site_id, max_age_seconds="channel_on=600"))
    assert unknown.status_code == 400
    assert "unknown event &#39;channel_on&#39;" in unknown.text
    good = await board.post(
        path, _form(site_id, coalesce="on", max_age_seconds="channel_active=600")
    )
    assert good.headers["location"] == f"/webhooks/{webhook.id}?notice=updated"

    page = (await board.client.get(f"/webhooks/{webhook.id}")).text
    assert "only the newest unsent update per media or channel is sent" in page
    assert ": 600 s" in page
    form = (await board.client.get(path)).text
    assert 'name="coalesce" value="on" checked' in form
    assert 'value="channel_active=600"' in form


async def test_a_replay_is_counted_first_and_sent_once_confirmed(board: Board) -> None:
    webhook, path = await _held_for(board, 3)
    await board.runtime.services.deliveries.discard_held(admin_of(board), webhook.id)
    await board.runtime.services.webhooks.update(
        admin_of(board), webhook_id=webhook.id, changes={"enabled": True}
    )
    await board.sign_in(await board.key(Role.EDITOR))
    choices = {"since": "2000-01-01T00:00", "event": "media_available"}

    counted = await board.post(f"{path}/replay", choices)

    assert counted.status_code == 200
    assert "3 deliveries would be sent again" in counted.text
    assert "Replay 3" in counted.text
    assert await _statuses(board, webhook) == ["discarded"] * 3
    confirmed = await board.post(f"{path}/replay", {**choices, "confirm": "yes"})
    assert "3 deliveries will be sent again" in confirmed.text
    assert await _statuses(board, webhook) == ["pending"] * 3

    wrong = await board.post(f"{path}/replay", {"since": "2000-01-01T00:00", "event": "nope"})
    assert wrong.status_code == 400
    assert "unknown event" in wrong.text


async def test_the_log_shows_a_superseded_update_and_why(board: Board) -> None:
    site_id = await board.site()
    webhook = await board.webhook(site_id, coalesce=True, events=["media_updated"])
    for n in range(2):
        item = {"event": "media_updated", "site_id": site_id, "media_id": "MEDIA001"}
        await board.runtime.services.events.publish(admin_of(board), {**item, "data": {"n": n}})
    await board.sign_in(await board.key(Role.VIEWER))

    page = (await board.client.get(f"/webhooks/{webhook.id}?status=superseded")).text

    assert "status-superseded" in page
    assert "a newer update about this media was published first (latest wins)" in page
    assert sorted(await _statuses(board, webhook)) == ["pending", "superseded"]


async def test_all_properties_is_a_choice_of_the_form_and_shown_as_such(board: Board) -> None:
    site_id = await board.site()
    await board.sign_in(board.admin)
    form = await board.client.get("/webhooks/new")
    assert "All properties, including future ones" in form.text

    created = await board.post("/webhooks", _form(site_id, site_ids=["*"]))
    assert created.status_code == 200, created.text
    (webhook,) = (
        await board.runtime.services.webhooks.list(admin_of(board), page=PageRequest())
    ).items
    assert webhook.all_sites
    assert webhook.site_ids == ()
    assert "Properties: All properties" in (await board.client.get("/webhooks")).text
    page = await board.client.get(f"/webhooks/{webhook.id}")
    assert "All properties, including future ones" in page.text
    edit = await board.client.get(f"/webhooks/{webhook.id}/edit")
    assert re.search(r'value="\*" checked', edit.text)

    narrowed = await board.post(f"/webhooks/{webhook.id}/edit", _form(site_id))
    assert narrowed.status_code == 303, narrowed.text
    changed = await board.runtime.services.webhooks.get(admin_of(board), webhook.id)
    assert (changed.all_sites, changed.site_ids) == (False, (site_id,))


async def test_an_empty_account_is_told_what_comes_first(board: Board) -> None:
    """Before any webhook, the list says a property comes first only while there is none,
    and that a webhook on every property is the other way (it said "if you have no property
    yet, add one first" to an account with properties, and only to admins)."""
    await board.sign_in(await board.key(Role.EDITOR))
    first = (await board.client.get("/webhooks")).text
    assert "No webhooks yet" in first
    assert "this account has none yet" in first
    assert '<a href="/properties">create a property</a> first' in first
    assert "or make the webhook for every property, including ones created later" in first

    await board.site()
    after = (await board.client.get("/webhooks")).text
    assert "No webhooks yet" in after
    assert "this account has none yet" not in after
    assert "create a property" not in after


async def test_many_webhooks_are_summed_up_by_state_and_found_by_name_url_state_or_format(
    board: Board,
) -> None:
    # 31 webhooks made a 7,667 px page with nothing saying which ones needed a person.
    site_id = await board.site()
    made = []
    for i in range(30):
        name = "東京 Tokyo encoder" if i == 7 else f"Encoder {i:02d}"
        url = f"https://93.184.215.14/hooks/partner-{i:02d}"
        extra: dict[str, Any] = {"format": "flowplayer", "events": ["ALL"]} if i == 9 else {}
        made.append(await board.webhook(site_id, name=name, webhook_url=url, **extra))
    now = datetime.now(UTC).replace(microsecond=0)
    error = LastError(now, 500, "HTTP 500", "down")
    failing = [WebhookHealth(made[i].id, None, now, last_error=error) for i in (1, 2, 3)]
    await board.runtime.store.record_results([], failing)
    for i in (4, 5):
        changes = {"enabled": False}
        await board.runtime.services.webhooks.update(
            admin_of(board), webhook_id=made[i].id, changes=changes
        )
    await board.sign_in(board.admin)

    listed = (await board.client.get("/webhooks")).text
    failing_only = (await board.client.get("/webhooks", params={"state": "failing"})).text
    tokyo = (await board.client.get("/webhooks", params={"q": "東京"})).text
    by_url = (await board.client.get("/webhooks", params={"q": "PARTNER-2"})).text
    flowplayer = (await board.client.get("/webhooks", params={"format": "flowplayer"})).text
    nothing = (await board.client.get("/webhooks", params={"q": "no such hook"})).text

    summary = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", _between(listed, "webhook-summary")))
    assert summary == "30 webhooks: 3 failing · 2 disabled · 1 held · 24 healthy"
    assert 'href="/webhooks?state=failing&amp;"' in listed
    assert _names(failing_only) == ["Encoder 03", "Encoder 02", "Encoder 01"]
    assert "3 of 30 match" in failing_only
    assert _names(tokyo) == ["東京 Tokyo encoder"]
    assert _names(by_url) == [f"Encoder {i}" for i in range(29, 19, -1)]
    assert _names(flowplayer) == ["Encoder 09"]
    assert "No webhook matches" in nothing
    # 25 a page: the second page's link keeps the search.
    assert (
        'href="/webhooks?q=Encoder&amp;page=2"'
        in (await board.client.get("/webhooks", params={"q": "Encoder"})).text
    )


def _between(page: str, css_class: str) -> str:
    start = page.index(f'class="{css_class}"')
    return page[page.index(">", start) + 1 : page.index("</p>", start)]


def _names(page: str) -> list[str]:
    return re.findall(r'<h2 class="webhook-name"><a href="/webhooks/\w+">([^<]+)</a>', page)
