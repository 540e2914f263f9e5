"""What a person sees during an incident: a failing webhook says so on the list and on its
page, the log shows the request that was sent and finds a delivery by its media id, and a
wrong address is a page, not JSON."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from board import Board, admin_of

from hookcast.domain.models import DeliveryStatus, LastError, WebhookState
from hookcast.ports import ClaimedDelivery, WebhookHealth
from support import factories
from support.factories import retry_later, succeeded

HTML = {"Accept": "text/html,application/xhtml+xml"}


async def test_a_failing_webhook_says_so_with_its_last_error_and_next_retry(board: Board) -> None:
    webhook = await board.webhook(await board.site())
    now = datetime.now(UTC).replace(microsecond=0)
    error = LastError(now, 401, "HTTP 401", "refused: bad signature")
    failing = WebhookHealth(
        webhook.id, None, now, last_error=error, retry_at=now + timedelta(minutes=10)
    )
    await board.runtime.store.record_results([], [failing])
    await board.sign_in(board.admin)

    listed = (await board.client.get("/webhooks")).text
    page = (await board.client.get(f"/webhooks/{webhook.id}")).text

    for shown in (listed, page):
        assert "Failing" in shown
        assert f'since <time datetime="{now.isoformat()}">{now:%Y-%m-%d %H:%M} UTC' in shown
        assert "Last error: HTTP 401" in shown
        assert "refused: bad signature" in shown
        assert f"{now + timedelta(minutes=10):%Y-%m-%d %H:%M} UTC" in shown
    assert "Next retry" in page


async def test_the_log_shows_the_request_and_finds_deliveries_by_media_id(board: Board) -> None:
    site_id = await board.site()
    webhook = await board.webhook(site_id)
    for media_id in ("Find0001", "Find0002"):
        item = {"event": "media_available", "site_id": site_id, "media_id": media_id}
        await board.runtime.services.events.publish(admin_of(board), item)
    await board.sign_in(board.admin)
    path = f"/webhooks/{webhook.id}"

    found = await board.client.get(path, params={"resource_id": "Find0002"})
    polled = await board.client.get(f"{path}/log.json", params={"resource_id": "Find0002"})
    wrong = await board.client.get(path, params={"since": "last tuesday"})

    assert found.status_code == 200
    assert "1 delivery found" in found.text
    assert "Find0001" not in found.text
    assert f"&#34;webhook_id&#34;: &#34;{webhook.id}&#34;" in found.text  # the request body
    assert "&#34;media_id&#34;: &#34;Find0002&#34;" in found.text
    assert "resource_id=Find0002" in found.text  # kept by the page links and the poll
    assert polled.headers["content-type"] == "application/json"
    (row,) = polled.json()["deliveries"]
    assert (row["status"], row["attempts"]) == ("pending", 0)
    assert wrong.status_code == 400
    assert "Enter since as a UTC time" in wrong.text
    # Nothing failed: nothing to resend, so the form is not offered.
    assert "Resend failed" not in found.text


async def test_a_test_event_notice_is_shown_in_the_log_beside_its_delivery(board: Board) -> None:
    webhook = await board.webhook(await board.site())
    await board.sign_in(board.admin)

    sent = await board.post(f"/webhooks/{webhook.id}/test")
    page = await board.client.get(sent.headers["location"])

    location = sent.headers["location"]
    assert location.startswith(f"/webhooks/{webhook.id}?notice=test_sent&delivery=")
    assert location.endswith("#log")
    log = page.text[page.text.index('id="log"') :]
    assert page.text.count('class="notice"') == 1  # one banner, in the log
    assert 'id="log-notice"' in log
    assert "<details open>" in log  # the new delivery, opened


async def test_an_unknown_page_is_a_page_and_the_favicon_is_served(board: Board) -> None:
    await board.sign_in(board.admin)

    page = await board.client.get("/nope/nothing", headers=HTML)
    program = await board.client.get("/nope/nothing")
    api = await board.client.get("/v2/nothing/", headers=HTML)
    icon = await board.client.get("/favicon.ico")
    post_only = await board.client.get("/v2/webhooks/Missing1/test/")

    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "Page not found" in page.text
    assert "/nope/nothing" in page.text
    assert 'aria-label="Main"' in page.text  # signed in: the menu is still there
    assert program.status_code == api.status_code == 404
    assert program.json()["errors"][0]["code"] == "not_found"
    assert api.json()["errors"][0]["code"] == "not_found"
    assert icon.headers["content-type"] == "image/svg+xml"
    assert (post_only.status_code, post_only.headers.get("allow")) == (405, "POST"), post_only.text


async def test_a_retry_notice_shows_even_when_its_row_is_not_on_the_page(board: Board) -> None:
    webhook = await board.webhook(await board.site())
    await board.sign_in(board.admin)
    path = f"/webhooks/{webhook.id}"

    page = await board.client.get(path, params={"notice": "retried", "delivery": "dlv_elsewhere"})

    assert page.text.count('class="notice"') == 1
    assert "will be sent again" in page.text


async def test_a_failing_webhook_whose_newest_delivery_succeeded_says_older_ones_still_fail(
    board: Board,
) -> None:
    # The list showed "Failing since ... HTTP 401" beside "Last delivery: succeeded HTTP
    # 200": the newest delivery had succeeded, then retries of an older one failed.
    site_id = await board.site()
    webhook = await board.webhook(site_id)
    now = datetime.now(UTC).replace(microsecond=0)
    older, newer = await _published_and_claimed(board, site_id, ["Older001", "Newer001"])
    store = board.runtime.store
    failed_at = now + timedelta(seconds=5)
    error = LastError(failed_at, 401, "HTTP 401", "refused: bad signature")
    retry_at = now + timedelta(minutes=10)
    await store.record_results([succeeded(newer, now)], [WebhookHealth(webhook.id, now, None)])
    await store.record_results(
        [retry_later(older, retry_at, failed_at)],
        [WebhookHealth(webhook.id, None, failed_at, last_error=error, retry_at=retry_at)],
    )
    await board.sign_in(board.admin)

    listed = (await board.client.get("/webhooks")).text
    stored = await board.runtime.services.webhooks.get(admin_of(board), webhook.id)

    assert stored.state is WebhookState.FAILING  # what the API's state says too
    assert "Failing" in listed
    assert "Newest delivery" in listed
    assert "Last delivery" not in listed
    assert '<span class="badge status-succeeded">succeeded</span>' in listed
    assert "but retries of older deliveries still fail" in listed


async def test_a_delivered_event_is_offered_send_again_not_retry(board: Board) -> None:
    # "Retry" on a succeeded delivery read as "something went wrong"; sending a delivered
    # event again is legitimate (a receiver lost it), and the row says what it does.
    site_id = await board.site()
    webhook = await board.webhook(site_id)
    now = datetime.now(UTC).replace(microsecond=0)
    sent, busy = await _published_and_claimed(board, site_id, ["Sent0001", "Busy0001"])
    store = board.runtime.store
    await store.record_results([succeeded(sent, now)], [])
    await store.record_results([retry_later(busy, now + timedelta(minutes=10), now)], [])
    item = {"event": "media_available", "site_id": site_id, "media_id": "Wait0001"}
    await board.runtime.services.events.publish(admin_of(board), item)
    await board.sign_in(board.admin)

    page = (await board.client.get(f"/webhooks/{webhook.id}")).text

    rows = {row.split('"', 1)[0]: row for row in page.split('<li class="log-row" id="d-')[1:]}
    buttons = ("Send again", "Retry", "Send now")
    labels = {
        media_id: [label for label in buttons if f">{label}</button>" in row]
        for row in rows.values()
        for media_id in ("Sent0001", "Busy0001", "Wait0001")
        if media_id in row
    }
    assert labels == {"Sent0001": ["Send again"], "Busy0001": ["Retry"], "Wait0001": ["Send now"]}
    assert "posts this event once more with the same event id" in rows[sent.delivery_id]
    # Inside the row, shown when it is opened: not one button per healthy row down the log.
    delivered = rows[sent.delivery_id]
    assert delivered.index(">Send again</button>") < delivered.index("</details>")
    failing = rows[busy.delivery_id]
    assert failing.index(">Retry</button>") > failing.index("</details>")
    assert "posts this event once more" not in failing


async def test_a_paused_delivery_offers_no_button_that_would_leave_it_as_it_is(
    board: Board,
) -> None:
    # "Send now" on a paused delivery did nothing: a retry of it stays paused while its
    # webhook is disabled (enabling the webhook sends it, as the page says).
    site_id = await board.site()
    webhook = await board.webhook(site_id)
    item = {"event": "media_available", "site_id": site_id, "media_id": "Paus0001"}
    await board.runtime.services.events.publish(admin_of(board), item)
    await board.runtime.services.webhooks.update(
        admin_of(board), webhook_id=webhook.id, changes={"enabled": False}
    )
    await board.sign_in(board.admin)

    page = (await board.client.get(f"/webhooks/{webhook.id}")).text

    (row,) = [row for row in page.split('<li class="log-row" id="d-')[1:] if "Paus0001" in row]
    assert "status-paused" in row
    assert not any(f">{label}</button>" in row for label in ("Send again", "Retry", "Send now"))


async def _published_and_claimed(
    board: Board, site_id: str, media_ids: list[str]
) -> list[ClaimedDelivery]:
    """One media_available per media id, published in order, their deliveries claimed as a
    worker would: oldest first. Claimed a second after the last publish: a second after a
    time the test took before them, truncated to its second, one published past it was not
    due yet (a CI run claimed one of two)."""
    for media_id in media_ids:
        item = {"event": "media_available", "site_id": site_id, "media_id": media_id}
        await board.runtime.services.events.publish(admin_of(board), item)
    claimed = await board.runtime.store.claim_due_deliveries(
        now=datetime.now(UTC) + timedelta(seconds=1), limit=10, lease_seconds=60
    )
    return sorted(claimed, key=lambda c: (c.created, c.delivery_id))


async def test_a_held_delivery_offers_no_send_now_until_the_secret_is_set(board: Board) -> None:
    # A Flowplayer webhook's deliveries are held while the account has no organization
    # secret to sign them with: "Send now" on one always answered "That did not work".
    site_id = await board.site()
    webhook = await board.webhook(site_id, format="flowplayer", events=["VIDEO_READY"])
    item = {"event": "media_available", "site_id": site_id, "media_id": "Held0001"}
    await board.runtime.services.events.publish(admin_of(board), item)
    await board.sign_in(board.admin)

    page = (await board.client.get(f"/webhooks/{webhook.id}")).text

    (row,) = [row for row in page.split('<li class="log-row" id="d-')[1:] if "Held0001" in row]
    assert 'data-status="held"' in row, row
    assert not any(f">{label}</button>" in row for label in ("Send again", "Retry", "Send now"))


async def test_resending_failed_deliveries_waits_for_the_secret_too(board: Board) -> None:
    # The recover form's "Resend failed" answered 409 for a Flowplayer webhook without the
    # organization secret (a resend could not be signed): the page says when it can.
    site_id = await board.site()
    webhook = await board.webhook(site_id, format="flowplayer", events=["VIDEO_READY"])
    given_up = factories.event(board.account_id, site_id, created=datetime.now(UTC))
    await board.runtime.store.append_events(
        events=[given_up],
        fanout=lambda events: [
            factories.delivery(e, webhook.id, status=DeliveryStatus.FAILED) for e in events
        ],
    )
    await board.sign_in(board.admin)

    page = (await board.client.get(f"/webhooks/{webhook.id}")).text

    assert "1 delivery failed for good" in page
    assert ">Resend failed</button>" not in page
    assert "once the account's Flowplayer organization secret is set" in page
