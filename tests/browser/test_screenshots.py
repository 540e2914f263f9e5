"""Every page at a phone width (375 px) and a desktop width (1440 px), saved for a reviewer
under tests/results/screenshots/, each checked for the things a person would notice: no
horizontal scrolling, a visible heading, the focus ring on keyboard navigation."""

from __future__ import annotations

import httpx
import pytest
from live import SCREENSHOTS, WIDTHS, Receiver, Server
from playwright.sync_api import Browser, Page, expect
from test_webhook_lifecycle import ensure_property, sign_in

from support.waiting import wait_until

PAGES = {
    "webhooks": "/webhooks",
    "webhook-create": "/webhooks/new",
    "events": "/events",
    "event-types": "/event-types",
    "properties": "/properties",
    "api-keys": "/keys",
    "portal-links": "/portal-links",
    "not-found": "/no-such-page",
}


@pytest.fixture(scope="module")
def busy_webhooks(browser: Browser, server: Server, receiver: Receiver) -> tuple[str, str, str]:
    """A webhook with successes, a failing one with failures, and a disabled one holding what
    was published meanwhile, so the health figures, the chart, the log and the held
    deliveries have something to show."""
    context = browser.new_context(base_url=server.url)
    ensure_property(_signed_in(context.new_page(), server))
    context.close()
    ok = _webhook(server, "Media ready → CMS", receiver.url("/ok/cms"), "standard")
    failing = _webhook(server, "Archive (failing)", receiver.url("/fail/archive"), [1])
    held = _webhook(server, "Partner feed (disabled)", receiver.url("/ok/partner"), "standard")
    server.api("PATCH", f"/v2/webhooks/{held}/", server.admin, {"metadata": {"enabled": False}})
    events = [
        {
            "event": "media_available",
            "site_id": "1A23bCD4",
            "media_id": f"Media{i:03d}",
            "data": {"tags": ["sports"]},
        }
        for i in range(6)
    ]
    server.api("POST", "/v2/events/", server.admin, {"events": events})
    wait_until(
        lambda: _failed_deliveries(server, failing) >= 6,
        timeout=60,  # two attempts each, a second apart: ~5 s quiet, 20+ under make test's load
        message="the failing webhook never gave up",
    )
    return ok, failing, held


def _signed_in(page: Page, server: Server) -> Page:
    sign_in(page, server.admin)
    return page


def _webhook(server: Server, name: str, url: str, retry: object) -> str:
    created = server.api(
        "POST",
        "/v2/webhooks/",
        server.admin,
        {
            "metadata": {
                "name": name,
                "description": "Tells the CMS when media is ready to publish",
                "webhook_url": url,
                "events": ["media_available", "conversions_complete"],
                "site_ids": ["1A23bCD4"],
                "retry_policy": retry,
            }
        },
    )
    return str(created["id"])


def _failed_deliveries(server: Server, webhook_id: str) -> int:
    """The webhook's deliveries that gave up, asked of its own log. The events list's first
    page did not do: the account's webhook_failing notices are events too, and seven of them
    (other modules' webhooks failing on the shared server) pushed the media events off its
    ten rows."""
    listed = httpx.get(
        f"{server.url}/v2/webhooks/{webhook_id}/deliveries/",
        params={"status": "failed"},
        headers={"Authorization": server.admin},
        timeout=5,
    ).json()
    return int(listed["total"])


@pytest.mark.parametrize("width", WIDTHS)
def test_every_page_reads_well_at_this_width(
    browser: Browser, server: Server, busy_webhooks: tuple[str, str, str], width: int
) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(base_url=server.url, viewport={"width": width, "height": 900})
    try:
        page = context.new_page()
        page.goto("/")
        _shoot(page, "sign-in", width)
        sign_in(page, server.admin)
        for name, path in PAGES.items():
            page.goto(path)
            _shoot(page, name, width)
        names = ("webhook", "webhook-failing", "webhook-held")
        for name, webhook_id in zip(names, busy_webhooks, strict=True):
            page.goto(f"/webhooks/{webhook_id}")
            page.locator(".log-row summary").first.click()
            _shoot(page, name, width)
        page.goto(f"/webhooks/{busy_webhooks[0]}")
        page.get_by_role("button", name="Send test event").click()
        expect(page.locator("#log-notice")).to_be_in_viewport()
        _shoot(page, "webhook-test-sent", width, full_page=False)  # what the eye sees
        page.goto(f"/webhooks/{busy_webhooks[1]}?status=failed#log")
        _shoot(page, "webhook-log-failed", width)
        page.goto(f"/webhooks/{busy_webhooks[2]}")
        expect(page.get_by_text("6 held", exact=False).first).to_be_visible()
        page.goto("/webhooks/new")
        page.get_by_role("button", name="Create", exact=True).click()
        expect(page.locator("#form-errors")).to_be_focused()
        _shoot(page, "webhook-create-errors", width)
        _shoot_answers(page, busy_webhooks[0], width)
    finally:
        context.close()


def _shoot_answers(page: Page, webhook_id: str, width: int) -> None:
    """The pages a form or a button answers with: edit, delete, a secret shown once, a new
    API key, a new portal link."""
    for name, path in (
        ("webhook-edit", f"/webhooks/{webhook_id}/edit"),
        ("webhook-delete", f"/webhooks/{webhook_id}/delete"),
    ):
        page.goto(path)
        _shoot(page, name, width)
    page.goto(f"/webhooks/{webhook_id}")
    page.get_by_role("button", name="Reveal secret").click()
    expect(page.get_by_role("heading", name="Signing secret")).to_be_visible()
    _shoot(page, "webhook-secret", width)
    page.goto("/keys")
    page.get_by_label("Name").fill(f"screenshots {width}")
    page.get_by_role("button", name="Create key").click()
    expect(page.locator("#new-key")).to_be_visible()
    _shoot(page, "api-key-created", width)
    page.goto("/portal-links")
    page.get_by_role("button", name="Create link").click()
    expect(page.locator("#portal-link")).to_be_visible()
    _shoot(page, "portal-link-created", width)


def test_keyboard_users_see_where_they_are(page: Page, server: Server) -> None:
    sign_in(page, server.admin)
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    assert page.evaluate("getComputedStyle(document.activeElement).boxShadow") != "none"
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Webhooks", exact=True)).to_be_focused()


def _shoot(page: Page, name: str, width: int, *, full_page: bool = True) -> None:
    expect(page.locator("h1").first).to_be_visible()
    # Nothing wider than the screen: reading never needs sideways scrolling.
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{name} at {width} px scrolls sideways by {overflow} px"
    page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=full_page)
