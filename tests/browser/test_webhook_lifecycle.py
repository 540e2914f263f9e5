"""In a real browser: sign in, create a webhook through the panel, toggle it, reveal its
secret, send a test event to a loopback receiver, watch it in the log, retry it, rotate the
secret, delete the webhook."""

from __future__ import annotations

import hashlib
import hmac
import re

from live import Receiver, Server
from playwright.sync_api import Browser, Page, expect

from support.waiting import wait_until


def sign_in(page: Page, key: str) -> None:
    page.goto("/")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/webhooks$"))


def ensure_property(page: Page, site_id: str = "1A23bCD4", name: str = "Main site") -> None:
    page.goto("/properties")
    if page.get_by_text(site_id, exact=True).count():
        return
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Own id").fill(site_id)
    page.get_by_role("button", name="Create property").click()
    expect(page.get_by_role("status")).to_have_text("The property is created.")


def ensure_property_as(browser: Browser, base_url: str, key: str) -> None:
    """`ensure_property` in a context of its own, signed in with `key`, then closed: for
    fixtures that set an account up before the tests open their own pages."""
    context = browser.new_context(base_url=base_url)
    try:
        page = context.new_page()
        sign_in(page, key)
        ensure_property(page)
    finally:
        context.close()


def webhook_on_property(browser: Browser, server: Server, **metadata: object) -> str:
    """A webhook made through the API for `media_available` on the property
    `ensure_property_as` makes, with `metadata` (its name and webhook_url at least): its id."""
    ensure_property_as(browser, server.url, server.admin)
    body = {"events": ["media_available"], "site_ids": ["1A23bCD4"], **metadata}
    created = server.api("POST", "/v2/webhooks/", server.admin, {"metadata": body})
    return str(created["id"])


def test_signing_in_with_a_wrong_key_says_so(page: Page) -> None:
    page.goto("/webhooks")
    expect(page).to_have_url(re.compile(r"/\?next="))
    page.get_by_label("API key").fill("hck_wrong")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("That API key is not valid")


def test_a_webhook_from_creation_to_deletion(
    page: Page, server: Server, receiver: Receiver
) -> None:
    sign_in(page, server.admin)
    ensure_property(page)

    # Create, through the panel, with a validation error first: nothing typed is lost.
    page.goto("/webhooks")
    # "Create" beside the heading, or "Create a webhook" in an empty account's empty state.
    page.get_by_role("link", name=re.compile(r"^Create( a webhook)?$")).click()
    page.get_by_label("Name", exact=True).fill("Lifecycle hook")
    page.get_by_label("URL", exact=True).fill("ftp://nowhere")
    page.get_by_role("checkbox", name=re.compile("Main site")).check()
    page.get_by_role("checkbox", name="Media available").check()
    page.locator("summary", has_text="Conditions").click()
    page.get_by_label("Only when the event has the tag").fill("sports")
    page.get_by_role("button", name="Create", exact=True).click()
    expect(page.locator("#webhook_url-error")).to_contain_text("http:// or https://")
    expect(page.get_by_label("Name", exact=True)).to_have_value("Lifecycle hook")
    expect(page.get_by_label("Only when the event has the tag")).to_have_value("sports")
    page.get_by_label("URL", exact=True).fill(receiver.url("/ok/lifecycle"))
    page.get_by_role("button", name="Create", exact=True).click()

    expect(page.get_by_role("heading", name="Webhook created")).to_be_visible()
    secret = page.locator("#new-secret").inner_text()
    assert secret.startswith("whsec_")
    page.get_by_role("button", name="Copy signing secret").click()
    expect(page.locator("#announcer")).to_have_text("Copied to the clipboard")
    assert page.evaluate("navigator.clipboard.readText()") == secret

    # Listed, and toggled off and on again from the list.
    page.goto("/webhooks")
    row = page.locator(".webhook-row", has_text="Lifecycle hook")
    switch = row.get_by_role("switch")
    expect(switch).to_have_attribute("aria-checked", "true")
    switch.click()
    expect(page.get_by_role("status")).to_contain_text("disabled")
    expect(row.get_by_role("switch")).to_have_attribute("aria-checked", "false")
    row.get_by_role("switch").click()
    expect(row.get_by_role("switch")).to_have_attribute("aria-checked", "true")

    # Reveal the secret (admin).
    row.get_by_role("link", name="Lifecycle hook").click()
    webhook_url = page.url
    page.get_by_role("button", name="Reveal secret").click()
    expect(page.locator("#webhook-secret")).to_have_text(secret)
    page.goto(webhook_url)

    # Send a test event; the server's worker delivers it to the receiver.
    page.get_by_role("button", name="Send test event").click()
    expect(page.get_by_role("status")).to_contain_text("A test event is on its way")
    expect(page.get_by_role("status")).to_be_in_viewport()
    wait_until(
        lambda: bool(receiver.to("/ok/lifecycle")),
        timeout=15,
        message="the test delivery never came",
    )
    delivered = receiver.to("/ok/lifecycle")[0]
    assert delivered.json()["event"] == "webhook_test"
    expected = hmac.new(secret.encode(), delivered.body, hashlib.sha256).hexdigest()
    assert delivered.headers["X-Hookcast-Signature"] == expected
    # The log follows the delivery without a reload; its row is open, request and response.
    page.evaluate("window.notReloaded = true")
    entry = page.locator(".log-row").first
    expect(entry.locator(".badge", has_text="succeeded")).to_be_visible(timeout=15_000)
    assert page.evaluate("window.notReloaded === true")
    attempt = entry.locator(".attempt")
    expect(attempt).to_contain_text("HTTP 200")
    expect(attempt).to_contain_text("ok")
    expect(entry.locator("pre").first).to_contain_text('"event": "webhook_test"')

    # Delivered, it is offered "Send again" (not "Retry": nothing failed), which the open row
    # explains; a second request arrives; the notice is on the row, in view.
    expect(entry).to_contain_text("posts this event once more with the same event id")
    entry.get_by_role("button", name="Send again").click()
    expect(page.get_by_role("status")).to_contain_text("sent again")
    expect(page.get_by_role("status")).to_be_in_viewport()
    wait_until(
        lambda: len(receiver.to("/ok/lifecycle")) == 2, timeout=15, message="the retry never came"
    )

    # Rotate the secret (a confirm dialog first).
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Rotate secret").click()
    expect(page.get_by_role("heading", name="New signing secret")).to_be_visible()
    rotated = page.locator("#webhook-secret").inner_text()
    assert rotated.startswith("whsec_")
    assert rotated != secret

    # Delete, with confirmation.
    page.goto(webhook_url)
    page.get_by_role("link", name="Delete").click()
    page.get_by_role("button", name="Delete webhook").click()
    expect(page.get_by_role("status")).to_contain_text("deleted")
    expect(page.locator(".webhook-row", has_text="Lifecycle hook")).to_have_count(0)
