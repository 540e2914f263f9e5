"""The customer portal embedded in a platform's own app: framed by an allowed origin and
refused by any other, wearing the platform's brand, scoped to webhooks, and sending event
examples to the customer's endpoint. The platform's page is a second loopback server on
`localhost` (another site than the portal's 127.0.0.1)."""

from __future__ import annotations

import base64
import html
import re
import struct
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from live import SCREENSHOTS, WIDTHS, Receiver, Server, width_of
from playwright.sync_api import Browser, Page, expect
from test_dark_mode import AA, LOW_CONTRAST
from test_webhook_lifecycle import ensure_property_as

from support.waiting import wait_until

BRAND = "Acme Video"
ACCENT = "#0f766e"


class Platform:
    """A page of the platform's app that frames whatever `iframe_src` says."""

    def __init__(self) -> None:
        self.iframe_src = "about:blank"
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = (
                    "<!doctype html><title>Acme app</title><h1>Acme app</h1>"
                    f'<iframe title="webhooks" src="{html.escape(platform.iframe_src)}" '
                    'width="100%" height="700"></iframe>'
                ).encode()
                self.send_response(200)
                self.send_header("content-type", "text/html; charset=utf-8")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def origin(self) -> str:  # `localhost`, not 127.0.0.1: a different site from the portal's
        return f"http://localhost:{self.server.server_address[1]}"


@pytest.fixture(scope="module")
def platform() -> Iterator[Platform]:
    started = Platform()
    yield started
    started.server.shutdown()
    started.server.server_close()


@pytest.fixture(scope="module")
def branded(browser: Browser, server: Server, receiver: Receiver) -> str:
    """The account's brand set through the API, a property and the customer's webhook."""
    ensure_property_as(browser, server.url, server.admin)
    server.api(
        "PUT",
        "/v2/account/portal/",
        server.admin,
        {"name": BRAND, "logo": _png_data_url(), "accent_colour": ACCENT},
    )
    created = server.api(
        "POST",
        "/v2/webhooks/",
        server.admin,
        {
            "metadata": {
                "name": "Acme customer endpoint",
                "webhook_url": receiver.url("/ok/portal-customer"),
                "events": ["media.available"],
                "site_ids": ["1A23bCD4"],
                "format": "standard",
            }
        },
    )
    return str(created["id"])


def _link(server: Server, role: str, origins: list[str] | None) -> str:
    body: dict[str, Any] = {"role": role, "duration": "1h"}
    if origins is not None:
        body["frame_ancestors"] = origins
    return str(server.api("POST", "/v2/portal_links/", server.admin, body)["url"])


def _framed(page: Page, platform: Platform, link: str) -> None:
    platform.iframe_src = link
    page.goto(platform.origin + "/")
    expect(page.get_by_role("heading", name="Acme app")).to_be_visible()


def test_the_portal_opens_in_an_allowed_origins_frame_and_is_refused_by_another(
    sized_page: Page, server: Server, platform: Platform, branded: str
) -> None:
    page, width = sized_page, width_of(sized_page)
    link = _link(server, "editor", [platform.origin])
    _framed(page, platform, link)
    frame = page.frame_locator("iframe")
    expect(frame.get_by_role("heading", name="Webhooks")).to_be_visible()
    # The session cookie (SameSite=None; Secure) reached the framed pages after the redirect.
    expect(frame.get_by_role("link", name="Acme customer endpoint")).to_be_visible()
    expect(frame.locator(".brand")).to_have_text(BRAND)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    overflow = frame.locator("html").evaluate("html => html.scrollWidth - html.clientWidth")
    assert overflow <= 0, f"the framed portal at {width} px scrolls sideways by {overflow} px"
    page.screenshot(path=str(SCREENSHOTS / f"portal-embedded-{width}.png"), full_page=True)

    elsewhere = _link(server, "editor", ["https://app.example.com"])
    platform.iframe_src = elsewhere
    # Chromium reports the refusal on the console: waited for, not slept on.
    with page.expect_console_message(lambda message: "frame-ancestors" in message.text):
        page.goto(platform.origin + "/")
    expect(page.frame_locator("iframe").get_by_role("heading", name="Webhooks")).to_have_count(0)
    # The operator dashboard is never framed, even by the allowed origin.
    dashboard = httpx.get(server.url + "/", timeout=5)
    assert "frame-ancestors 'none'" in dashboard.headers["content-security-policy"]


@pytest.mark.parametrize(("system", "theme"), [("dark", "light"), ("light", "dark")])
def test_the_framed_portal_takes_the_scheme_its_link_names(
    browser: Browser, server: Server, platform: Platform, branded: str, system: str, theme: str
) -> None:
    """The platform's page knows its own scheme, the portal framed in it cannot: the link's
    `?theme=` says it, whatever the reader's system prefers (docs/dashboard.md)."""
    context = browser.new_context(
        viewport={"width": 390, "height": 900},
        color_scheme="dark" if system == "dark" else "light",
    )
    try:
        page = context.new_page()
        _framed(page, platform, _link(server, "viewer", [platform.origin]) + f"?theme={theme}")
        frame = page.frame_locator("iframe")
        expect(frame.get_by_role("heading", name="Webhooks")).to_be_visible()
        expect(frame.locator("html")).to_have_attribute("data-theme", theme)
        background = frame.locator("html").evaluate(
            "el => getComputedStyle(el).backgroundColor.match(/\\d+/g).slice(0, 3).map(Number)"
        )
        assert (sum(background) / 3 < 64) == (theme == "dark"), background
        # Every text reads, the brand's accent (#0f766e, 2.9:1 on the dark surface as it is)
        # included: lightened in the dark scheme.
        (framed,) = [found for found in page.frames if found.url.startswith(server.url)]
        assert not framed.evaluate(LOW_CONTRAST, AA)
        link = frame.get_by_role("link", name="Acme customer endpoint")
        accent = link.evaluate("el => getComputedStyle(el).color") == "rgb(15, 118, 110)"
        assert accent == (theme == "light")
    finally:
        context.close()


def test_a_portal_editor_manages_webhooks_but_not_the_platform(
    sized_page: Page, server: Server, receiver: Receiver, branded: str
) -> None:
    page = sized_page
    page.goto(_link(server, "editor", None))
    expect(page.get_by_role("heading", name="Webhooks")).to_be_visible()
    expect(page.locator(".brand")).to_have_text(BRAND)
    expect(page).to_have_title(re.compile(BRAND))
    nav = page.get_by_role("navigation", name="Main")
    for hidden in ("Properties", "API keys", "Portal links"):
        expect(nav.get_by_role("link", name=hidden)).to_have_count(0)
    page.goto("/properties")
    expect(page.get_by_role("button", name="Create property")).to_have_count(0)
    for action in ("Rename", "Delete"):
        expect(page.get_by_role("button", name=action)).to_have_count(0)
    csrf = page.locator("input[name=csrf]").first.input_value()
    page.goto("/keys")
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    expect(page.get_by_role("button", name="Create key")).to_have_count(0)
    expect(nav.get_by_role("link", name="Webhooks")).to_be_visible()  # a way back
    forged: list[tuple[str, dict[str, str | float | bool]]] = [
        ("/properties", {"csrf": csrf, "name": "Sneaky"}),
        ("/properties/1A23bCD4/rename", {"csrf": csrf, "name": "Sneaky"}),
        ("/properties/1A23bCD4/delete", {"csrf": csrf}),
        ("/keys", {"csrf": csrf, "name": "sneaky", "role": "admin"}),
        ("/portal-links", {"csrf": csrf, "role": "editor", "duration": "7d"}),
    ]
    for path, form in forged:
        answer = page.request.post(path, form=form, max_redirects=0)
        assert answer.status == 403, (path, answer.status)
    sites = server.api("GET", "/v2/sites/", server.admin)
    assert [s["metadata"]["name"] for s in sites["sites"]] == ["Main site"]

    # Send example: media_available to the customer's endpoint, in its format.
    page.goto("/event-types")
    card = page.locator("#media_available")
    expect(card.get_by_text("Standard Webhooks", exact=False).first).to_be_visible()
    before = len(receiver.to("/ok/portal-customer"))
    card.get_by_role("button", name="Send example").click()
    expect(page.get_by_role("status")).to_contain_text("The example is on its way")
    wait_until(
        lambda: len(receiver.to("/ok/portal-customer")) > before,
        timeout=15,
        message="the example never reached the receiver",
    )
    sent = receiver.to("/ok/portal-customer")[-1]
    assert sent.json()["type"] == "media.available"
    assert "webhook-signature" in {name.lower() for name in sent.headers}

    # Signing out speaks to the customer, not an operator.
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="You are signed out")).to_be_visible()
    expect(page.get_by_text("hookcast serve")).to_have_count(0)
    expect(page.get_by_label("API key")).to_have_count(0)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_portal_reads_well_at_this_width(
    browser: Browser, server: Server, branded: str, width: int
) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(base_url=server.url, viewport={"width": width, "height": 900})
    try:
        page = context.new_page()
        page.goto(_link(server, "editor", None))
        for name, path in (
            ("portal-webhooks", "/webhooks"),
            ("portal-webhook", f"/webhooks/{branded}"),
            ("portal-events", "/events"),
            ("portal-event-types", "/event-types"),
            ("portal-webhook-create", "/webhooks/new"),
            ("portal-webhook-edit", f"/webhooks/{branded}/edit"),
            ("portal-not-found", "/no-such-page"),
            ("portal-not-allowed", "/keys"),
        ):
            page.goto(path)
            expect(page.locator("h1").first).to_be_visible()
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{name} at {width} px scrolls sideways by {overflow} px"
            page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("heading", name="You are signed out")).to_be_visible()
        page.screenshot(path=str(SCREENSHOTS / f"portal-signed-out-{width}.png"))
        page.goto(_link(server, "editor", None)[:-3] + "xyz")  # a link cut short
        expect(page.get_by_role("heading", name="This link is not valid")).to_be_visible()
        page.screenshot(path=str(SCREENSHOTS / f"portal-link-invalid-{width}.png"))
    finally:
        context.close()


def _png_data_url() -> str:
    """A 24 by 24 teal square: a logo small enough to upload as a data: URL."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    row = b"\x00" + bytes.fromhex("0f766e") * 24
    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 24, 24, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(row * 24))
        + chunk(b"IEND", b"")
    )
    return "data:image/png;base64," + base64.b64encode(png).decode()
