"""/docs and /redoc render from HookCast alone: with every request to another host refused,
under the pages' Content-Security-Policy, and "Try it out" answers with an API key."""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import urlsplit

import pytest
from live import SCREENSHOTS, Server, width_of
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, Route, expect
from test_dark_mode import AA, LOW_CONTRAST

from support.waiting import wait_until

LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
# The colour the page is painted with: the body's, else the root element's, else the canvas
# (white unless the page declares a dark color-scheme, alone or with light in a dark system).
BEHIND_THE_PAGE = """() => {
  for (const element of [document.body, document.documentElement]) {
    const colour = getComputedStyle(element).backgroundColor;
    if (colour !== "rgba(0, 0, 0, 0)") return colour;
  }
  const schemes = getComputedStyle(document.documentElement).colorScheme;
  const system = matchMedia("(prefers-color-scheme: dark)").matches;
  const dark = schemes.includes("dark") && (system || !schemes.includes("light"));
  return dark ? "rgb(0, 0, 0)" : "rgb(255, 255, 255)";
}"""


@pytest.fixture
def blocked(sized_page: Page) -> tuple[list[str], list[str]]:
    """Refuses every request that leaves loopback; returns (refused requests, CSP reports)."""
    refused: list[str] = []
    reports: list[str] = []

    def route(route: Route, request: Request) -> None:
        if urlsplit(request.url).hostname in LOOPBACK or request.url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            refused.append(request.url)
            route.abort()

    def console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            reports.append(message.text)

    sized_page.route("**/*", route)
    sized_page.on("console", console)
    return refused, reports


def test_swagger_ui_renders_offline_and_tries_a_request(
    sized_page: Page, server: Server, blocked: tuple[list[str], list[str]]
) -> None:
    page, width = sized_page, width_of(sized_page)
    page.goto("/docs")
    # Swagger UI renders the document in the browser: seconds on a busy machine.
    expect(page.get_by_role("heading", name="HookCast")).to_be_visible(timeout=30_000)
    operation = page.locator(".opblock-summary-path", has_text="/v2/sites/").first
    expect(operation).to_be_visible()

    # Authorize with an API key, then "Try it out" on GET /v2/sites/.
    page.locator(".auth-wrapper button.authorize").click()
    dialog = page.locator(".dialog-ux")
    dialog.locator(".auth-container input").first.fill(server.admin)
    dialog.locator("button[type=submit]").click()
    dialog.get_by_role("button", name="Close").first.click()
    page.locator(".opblock-get .opblock-summary", has_text="/v2/sites/").first.click()
    page.get_by_role("button", name="Try it out").click()
    page.get_by_role("button", name="Execute").click()
    status = page.locator(".live-responses-table tbody .response-col_status").first
    expect(status).to_have_text("200")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"api-docs-{width}.png"))
    assert blocked == ([], [])


def test_redoc_renders_offline(
    sized_page: Page, server: Server, blocked: tuple[list[str], list[str]]
) -> None:
    page, width = sized_page, width_of(sized_page)
    page.goto("/redoc")
    # ReDoc lays out the whole document in the browser before showing any of it: seconds on
    # a busy machine, so a longer wait than expect's 5 s for the first heading.
    first = page.get_by_role("heading", name="Create a webhook").first
    expect(first).to_be_visible(timeout=30_000)
    expect(page.get_by_role("heading", name="Publish one event or a batch").first).to_be_visible()
    # Its menu names the groups as headings read ("api keys" before); on a phone the menu
    # is folded away, so attached, not visible.
    expect(page.get_by_text("API keys", exact=True).first).to_be_attached()
    expect(page.get_by_text("Event types", exact=True).first).to_be_attached()
    expect(page.get_by_text("api keys", exact=True)).to_have_count(0)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"api-redoc-{width}.png"))
    refused, reports = blocked
    assert refused == []
    # ReDoc's credit logo is on a CDN: the policy blocks it and redoc.css hides it.
    assert all("https://cdn.redoc.ly/redoc/logo-mini.svg" in report for report in reports)
    assert page.locator('img[src^="https://cdn.redoc.ly/"]').first.is_hidden()


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_the_docs_follow_the_system_scheme_and_keep_their_text_readable(
    browser: Browser, server: Server, path: str, scheme: Literal["light", "dark"]
) -> None:
    """In a dark system the API's pages are dark like the dashboard (Swagger UI's own dark
    styles; ReDoc's theme object and redoc.css), in a light one light; in both every text is
    at WCAG AA on what is behind it, code samples included (an operation opened)."""
    context = browser.new_context(
        base_url=server.url, viewport={"width": 1280, "height": 900}, color_scheme=scheme
    )
    try:
        page = context.new_page()
        page.goto(path)
        if path == "/docs":
            expect(page.get_by_role("heading", name="HookCast").first).to_be_visible(timeout=30_000)
            page.locator(".opblock-summary").first.click()
            expect(page.locator(".highlight-code").first).to_be_visible()
        else:
            first = page.get_by_role("heading", name="Create a webhook").first
            expect(first).to_be_visible(timeout=30_000)
        colour = page.evaluate(BEHIND_THE_PAGE)
        rgb = [int(part) for part in re.findall(r"\d+", colour)[:3]]
        dark = sum(rgb) / 3 < 64
        assert dark == (scheme == "dark"), f"{path} in a {scheme} system: {colour}"
        assert page.evaluate(LOW_CONTRAST, AA) == []
    finally:
        context.close()


def test_redoc_follows_a_change_of_scheme_while_open(browser: Browser, server: Server) -> None:
    """ReDoc draws its theme once, at its render: /redoc renders again when the system's
    scheme changes, without reloading the page, at AA in the new scheme, and where the
    reader was (ReDoc's #hash)."""
    context = browser.new_context(
        base_url=server.url, viewport={"width": 1280, "height": 900}, color_scheme="light"
    )
    try:
        page = context.new_page()
        page.goto("/redoc")
        expect(page.locator("#redoc[data-scheme=light]")).to_be_attached(timeout=30_000)
        page.evaluate("() => { window.stillThisPage = true; }")
        sidebar = page.locator(".menu-content").first
        light_sidebar = sidebar.evaluate("el => getComputedStyle(el).backgroundColor")
        reading = page.get_by_role("heading", name="Publish one event or a batch").first
        reading.scroll_into_view_if_needed()
        expect(page).to_have_url(re.compile("#"))  # ReDoc keeps the section being read
        where = urlsplit(page.url).fragment

        page.emulate_media(color_scheme="dark")
        expect(page.locator("#redoc[data-scheme=dark]")).to_be_attached(timeout=30_000)
        assert page.evaluate("() => window.stillThisPage") is True  # no reload
        assert sidebar.evaluate("el => getComputedStyle(el).backgroundColor") != light_sidebar
        assert page.evaluate(LOW_CONTRAST, AA) == []
        assert urlsplit(page.url).fragment == where
        section = page.locator(f'[id="{where}"]').first
        expect(section).to_be_in_viewport()

        page.emulate_media(color_scheme="light")
        expect(page.locator("#redoc[data-scheme=light]")).to_be_attached(timeout=30_000)
        assert sidebar.evaluate("el => getComputedStyle(el).backgroundColor") == light_sidebar
    finally:
        context.close()


def test_redoc_leaves_nothing_running_behind_a_change_of_scheme(
    browser: Browser, server: Server
) -> None:
    """Each switch renders ReDoc anew; the ReDoc before it must go with everything it
    started. ReDoc's own init and destroy never unmount it, so every switch used to leave
    one more search worker running (and the store's window listeners): 1, 3, 5, 7 workers
    after three round trips. One round trip checks both switches; a leak shows at the
    first (two workers)."""
    context = browser.new_context(
        base_url=server.url, viewport={"width": 1280, "height": 900}, color_scheme="light"
    )
    try:
        page = context.new_page()
        page.goto("/redoc")
        expect(page.locator("#redoc[data-scheme=light]")).to_be_attached(timeout=30_000)
        wait_for_workers(page, 1)
        for scheme in ("dark", "light"):
            page.emulate_media(color_scheme=scheme)
            drawn = page.locator(f"#redoc[data-scheme={scheme}]")
            expect(drawn).to_be_attached(timeout=30_000)
            wait_for_workers(page, 1)
        expect(page.locator("#redoc .menu-content")).to_have_count(1)
    finally:
        context.close()


def wait_for_workers(page: Page, count: int) -> None:
    """Until the page has `count` workers (a terminated one is gone a moment later); the
    round trip to the page lets Playwright hear of workers that started or closed."""
    wait_until(
        lambda: page.evaluate("0") == 0 and len(page.workers) == count,
        message=lambda: f"{len(page.workers)} workers, not {count}",
    )


# Each inline code box against the words of the other lines of its paragraph: a box
# reaching into one covers its words.
_CODE_OVER_OTHER_LINES = """() => {
  const found = [];
  const codes = document.querySelectorAll(
    ".swagger-ui .markdown code, .swagger-ui .renderedMarkdown code");
  for (const code of codes) {
    const words = [];
    const walker = document.createTreeWalker(code.parentElement, NodeFilter.SHOW_TEXT);
    for (let text = walker.nextNode(); text; text = walker.nextNode()) {
      if (code.contains(text) || !text.textContent.trim()) continue;
      const range = document.createRange();
      range.selectNodeContents(text);
      words.push(...range.getClientRects());
    }
    for (const box of code.getClientRects()) {
      const middle = (box.top + box.bottom) / 2;
      for (const word of words) {
        const otherLine = Math.abs((word.top + word.bottom) / 2 - middle) > word.height / 2;
        const across = Math.min(box.right, word.right) - Math.max(box.left, word.left);
        const down = Math.min(box.bottom, word.bottom) - Math.max(box.top, word.top);
        if (otherLine && across > 0 && down > 0.5) {
          found.push(`${code.textContent.slice(0, 30)} covers ${down.toFixed(1)} px of a line`);
        }
      }
    }
  }
  return found;
}"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_swagger_ui_inline_code_stays_on_its_line_on_a_phone(
    browser: Browser, server: Server, scheme: Literal["light", "dark"]
) -> None:
    """The API's description at 390 px: its inline code boxes (26 px on 16 px lines) hid
    the words of the lines above and below where they wrapped."""
    context = browser.new_context(
        base_url=server.url, viewport={"width": 390, "height": 900}, color_scheme=scheme
    )
    try:
        page = context.new_page()
        page.goto("/docs")
        expect(page.get_by_role("heading", name="HookCast").first).to_be_visible(timeout=30_000)
        expect(page.locator(".swagger-ui .info code").first).to_be_visible()
        assert page.evaluate(_CODE_OVER_OTHER_LINES) == []
    finally:
        context.close()
