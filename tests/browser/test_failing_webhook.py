"""In a real browser, at a phone and a desktop width: a webhook whose receiver refuses every
request (401) shows as failing, with the response it got and when it is tried again, on the
list and on its page; its log shows the request that was sent and finds a delivery by its
media id."""

from __future__ import annotations

import re

import httpx
import pytest
from live import SCREENSHOTS, WIDTHS, Receiver, Server
from playwright.sync_api import Browser, Page, expect
from test_webhook_lifecycle import sign_in, webhook_on_property

from support.waiting import wait_until

NAME = "CRM sync (wrong secret)"


@pytest.fixture(scope="module")
def refused(browser: Browser, server: Server, receiver: Receiver) -> str:
    """A webhook at a receiver answering 401, with two events retried a minute apart."""
    webhook_id = webhook_on_property(
        browser,
        server,
        name=NAME,
        webhook_url=receiver.url("/refuse/crm"),
        retry_policy=[60, 600],
    )
    events = [
        {"event": "media_available", "site_id": "1A23bCD4", "media_id": media_id}
        for media_id in ("Crm00001", "Crm00002")
    ]
    server.api("POST", "/v2/events/", server.admin, {"events": events})
    wait_until(
        lambda: _state(server, webhook_id) == "failing",
        timeout=15,
        message="the webhook never showed as failing",
    )
    return webhook_id


def _state(server: Server, webhook_id: str) -> str:
    found = httpx.get(
        f"{server.url}/v2/webhooks/{webhook_id}/", headers={"Authorization": server.admin}
    ).json()
    return str(found["metadata"]["state"])


@pytest.mark.parametrize("width", WIDTHS)
def test_a_refused_webhook_shows_as_failing_with_its_last_error(
    browser: Browser, server: Server, refused: str, width: int
) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(base_url=server.url, viewport={"width": width, "height": 900})
    try:
        page = context.new_page()
        sign_in(page, server.admin)
        row = page.locator(".webhook-row", has_text=NAME)
        expect(row.locator(".state")).to_contain_text("Failing")
        expect(row.locator(".state")).to_contain_text("Last error: HTTP 401")
        expect(row.locator(".state")).to_contain_text("refused: bad signature")
        expect(row.locator(".state")).to_contain_text("Next retry")
        row.scroll_into_view_if_needed()
        page.screenshot(path=str(SCREENSHOTS / f"webhooks-failing-{width}.png"), full_page=True)

        row.get_by_role("link", name=NAME).click()
        state = page.locator("#state")
        expect(state).to_be_in_viewport()
        expect(state).to_contain_text("Failing")
        expect(state).to_contain_text("since")
        expect(state.locator("pre")).to_have_text("refused: bad signature")
        expect(state).to_contain_text("Next retry")
        # Every attempt failed: the success rate says so before any retry gives up.
        expect(page.locator(".health")).to_contain_text("0%")
        page.screenshot(path=str(SCREENSHOTS / f"webhook-refused-{width}.png"), full_page=True)

        # Found by its media id; its row shows the request that was sent beside the 401.
        page.get_by_label("Media, channel… id").fill("Crm00002")
        page.get_by_role("button", name="Find").click()
        entries = page.locator(".log-row")
        expect(entries).to_have_count(1)
        expect(entries.get_by_role("button", name="Retry")).to_be_visible()
        entries.locator("summary").click()
        body = entries.locator(".log-body pre").first
        expect(body).to_contain_text('"media_id": "Crm00002"')
        expect(entries.locator(".attempt").first).to_contain_text("HTTP 401")
        expect(entries.locator(".attempt").first).to_contain_text("[redacted]")
        expect(entries.locator(".attempt").first).to_contain_text("refused: bad signature")
        page.screenshot(path=str(SCREENSHOTS / f"webhook-log-found-{width}.png"), full_page=True)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the log at {width} px scrolls sideways by {overflow} px"
    finally:
        context.close()


@pytest.fixture(scope="module")
def gone(browser: Browser, server: Server, receiver: Receiver) -> str:
    """A webhook whose receiver answered 410 Gone, so the worker disabled it."""
    webhook_id = webhook_on_property(
        browser, server, name="Retired partner feed", webhook_url=receiver.url("/gone/partner")
    )
    event = {"event": "media_available", "site_id": "1A23bCD4", "media_id": "Gone0001"}
    server.api("POST", "/v2/events/", server.admin, {"events": [event]})
    wait_until(
        lambda: _state(server, webhook_id) == "disabled",
        timeout=15,
        message="a 410 never disabled the webhook",
    )
    return webhook_id


def test_a_webhook_disabled_by_410_says_why_and_what_enabling_it_does(
    sized_page: Page, server: Server, gone: str
) -> None:
    sign_in(sized_page, server.admin)
    sized_page.goto(f"/webhooks/{gone}")
    state = sized_page.locator("#state")
    expect(state).to_be_in_viewport()
    expect(state.locator(".badge")).to_have_text("Disabled")  # in words, not grey alone
    expect(state).to_contain_text("endpoint answered 410 Gone")
    expect(state.locator("pre")).to_have_text("this endpoint was retired")
    # The first question after a 410: are the events lost if the endpoint comes back?
    expect(state.locator("#while-disabled")).to_contain_text(
        "Deliveries that were waiting for an attempt are paused and go out when you enable it"
    )


@pytest.fixture(scope="module")
def given_up(browser: Browser, server: Server, receiver: Receiver) -> str:
    """A webhook answered 500 whose custom policy (one retry, a second later) gave up."""
    webhook_id = webhook_on_property(
        browser,
        server,
        name="Given up",
        webhook_url=receiver.url("/fail/given-up"),
        retry_policy=[1],
    )
    event = {"event": "media_available", "site_id": "1A23bCD4", "media_id": "GaveUp01"}
    server.api("POST", "/v2/events/", server.admin, {"events": [event]})

    def failed() -> bool:
        found = server.api("GET", f"/v2/webhooks/{webhook_id}/deliveries/", server.admin)
        return any(d["status"] == "failed" for d in found["deliveries"])

    wait_until(failed, timeout=60, message="the retry policy never gave up")
    return webhook_id


@pytest.mark.parametrize(
    ("which", "why"),
    [
        ("given_up", "Retries used up: 2 attempts, all that the custom retry policy makes"),
        ("gone", "The endpoint answered 410 Gone, which asks for nothing more"),
    ],
)
def test_a_delivery_given_up_says_when_and_why_after_its_attempts(
    sized_page: Page, server: Server, which: str, why: str, request: pytest.FixtureRequest
) -> None:
    webhook_id = request.getfixturevalue(which)
    sign_in(sized_page, server.admin)
    sized_page.goto(f"/webhooks/{webhook_id}?status=failed#log")
    entry = sized_page.locator(".log-row").first
    entry.locator("summary").click()
    stopped = entry.locator(".gave-up")
    expect(stopped).to_be_visible()
    expect(stopped.locator("h3")).to_contain_text("Gave up ·")
    expect(stopped.locator("time")).to_have_attribute("datetime", re.compile(r"^\d{4}-"))
    expect(stopped).to_contain_text(why)
    expect(stopped).to_contain_text("No more attempts are made: Retry sends it again.")
    # after the last attempt, not before it
    last = entry.locator(".attempt:not(.gave-up)").last
    above, below = last.bounding_box(), stopped.bounding_box()
    assert above is not None
    assert below is not None
    assert below["y"] >= above["y"] + above["height"]
