"""A portal link opens a key-less, scoped view of one account."""

from __future__ import annotations

from live import Receiver, Server
from playwright.sync_api import Browser, Page, expect
from test_webhook_lifecycle import ensure_property, sign_in


def test_a_portal_link_shows_only_its_accounts_webhooks(
    page: Page, browser: Browser, server: Server, receiver: Receiver
) -> None:
    # Another account with a webhook of its own, made with the CLI and the API.
    rival = server.cli("accounts", "create", "Rival Broadcasting")
    rival_key = server.cli("keys", "create", "--role", "admin", "--account", rival)
    server.api("POST", "/v2/sites/", rival_key, {"id": "Rival001", "metadata": {"name": "R"}})
    server.api(
        "POST",
        "/v2/webhooks/",
        rival_key,
        {
            "metadata": {
                "name": "Rival secret hook",
                "webhook_url": receiver.url("/ok/rival"),
                "events": ["*"],
                "site_ids": ["Rival001"],
            }
        },
    )
    sign_in(page, server.admin)
    ensure_property(page)
    server.api(
        "POST",
        "/v2/webhooks/",
        server.admin,
        {
            "metadata": {
                "name": "Customer hook",
                "webhook_url": receiver.url("/ok/customer"),
                "events": ["media_available"],
                "site_ids": ["1A23bCD4"],
            }
        },
    )

    page.goto("/portal-links")
    page.get_by_label("Access").select_option("viewer")
    page.get_by_label("Works for").select_option("1h")
    page.get_by_role("button", name="Create link").click()
    link = page.locator("#portal-link").inner_text()
    assert "/portal/" in link

    customer = browser.new_context(base_url=server.url)  # no cookies, no key
    try:
        portal_page = customer.new_page()
        portal_page.goto(link)
        expect(portal_page.get_by_role("heading", name="Webhooks")).to_be_visible()
        expect(portal_page.get_by_text("this link gives read-only access")).to_be_visible()
        expect(portal_page.get_by_role("link", name="Customer hook")).to_be_visible()
        expect(portal_page.get_by_text("Rival secret hook")).to_have_count(0)
        expect(portal_page.get_by_role("link", name="API keys")).to_have_count(0)
        expect(portal_page.get_by_role("link", name="Create", exact=True)).to_have_count(0)

        portal_page.goto(link[:-3] + "xyz")
        expect(portal_page.get_by_role("heading", name="This link is not valid")).to_be_visible()
    finally:
        customer.close()
