"""The dashboard in the reader's colour scheme, measured in Chromium with the scheme emulated:
every visible piece of text keeps WCAG AA contrast (4.5:1) on what is behind it, light and
dark, on the pages with the most colours (a failing webhook's state, status badges, code,
form errors); the status badges stay told apart by colour; and a portal link's `?theme=`
fixes the scheme whatever the system says."""

from __future__ import annotations

import contextlib
import itertools
import re
from collections.abc import Iterator
from typing import Any, Literal

import httpx
import pytest
from live import Receiver, Server
from playwright.sync_api import Browser, Locator, Page, expect
from test_webhook_lifecycle import sign_in, webhook_on_property

from support.waiting import wait_until

Scheme = Literal["light", "dark"]
AA = 4.5
STATUSES = ("succeeded", "failed", "pending", "discarded")

# For each element with text of its own: its colour over its background (ancestors' colours
# composited, the page's canvas last) and their contrast ratio, where below AA.
LOW_CONTRAST = """
(minimum) => {
  const parse = (c) => {
    const m = c.match(/rgba?\\(([^)]*)\\)/);
    if (!m) return null;
    const p = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, under) => [0, 1, 2].map((i) => top[i] * top[3] + under[i] * (1 - top[3]));
  const behind = (element) => {
    const layers = [];
    for (let e = element; e; e = e.parentElement) {
      const colour = parse(getComputedStyle(e).backgroundColor);
      if (colour && colour[3] > 0) { layers.push(colour); if (colour[3] >= 1) break; }
    }
    const dark = matchMedia("(prefers-color-scheme: dark)").matches;
    let colour = dark ? [0, 0, 0] : [255, 255, 255];
    for (const layer of layers.reverse()) colour = over(layer, colour);
    return colour;
  };
  const luminance = (rgb) => {
    const channel = (v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    };
    return 0.2126 * channel(rgb[0]) + 0.7152 * channel(rgb[1]) + 0.0722 * channel(rgb[2]);
  };
  const low = [];
  for (const element of document.querySelectorAll("body *")) {
    const own = [...element.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own || element.closest(".sr-only, svg, option, script")) continue;
    const box = element.getBoundingClientRect();
    const style = getComputedStyle(element);
    if (!box.width || !box.height || style.visibility !== "visible") continue;
    const background = behind(element);
    const text = over(parse(style.color), background);
    const [a, b] = [luminance(text), luminance(background)];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < minimum) {
      const name = element.textContent.trim().slice(0, 40);
      low.push(`${element.tagName.toLowerCase()}.${element.className} "${name}": ` +
               `${ratio.toFixed(2)} (${style.color} on rgb(${background.map(Math.round)}))`);
    }
  }
  return low;
}
"""


@pytest.fixture(scope="module")
def failing(browser: Browser, server: Server, receiver: Receiver) -> str:
    """A webhook whose receiver answers 500, shown as failing: the page with the most
    colours (its state, badges of several statuses, the response's code)."""
    webhook_id = webhook_on_property(
        browser, server, name="Dark failing", webhook_url=receiver.url("/fail/dark")
    )
    event = {"event": "media_available", "site_id": "1A23bCD4", "media_id": "Dark0001"}
    server.api("POST", "/v2/events/", server.admin, {"events": [event]})

    def state() -> str:
        found = httpx.get(
            f"{server.url}/v2/webhooks/{webhook_id}/", headers={"Authorization": server.admin}
        ).json()
        return str(found["metadata"]["state"])

    wait_until(lambda: state() == "failing", timeout=15, message="never shown as failing")
    return webhook_id


@contextlib.contextmanager
def _in_scheme(browser: Browser, server: Server, scheme: Scheme, width: int) -> Iterator[Page]:
    context = browser.new_context(
        base_url=server.url, viewport={"width": width, "height": 900}, color_scheme=scheme
    )
    try:
        yield context.new_page()
    finally:
        context.close()


def _low_contrast(page: Page) -> list[str]:
    return list(page.evaluate(LOW_CONTRAST, AA))


def _background(page: Page, selector: str = "html") -> tuple[int, ...]:
    colour = page.locator(selector).first.evaluate("el => getComputedStyle(el).backgroundColor")
    return tuple(int(part) for part in re.findall(r"\d+", colour)[:3])


def _is_dark(rgb: tuple[int, ...]) -> bool:
    return sum(rgb) / 3 < 64


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [1280, 390])
def test_every_text_keeps_aa_contrast(
    browser: Browser, server: Server, failing: str, scheme: Scheme, width: int
) -> None:
    with _in_scheme(browser, server, scheme, width) as page:
        sign_in(page, server.admin)
        assert _is_dark(_background(page)) == (scheme == "dark")
        low: dict[str, list[str]] = {}
        for path in ("/webhooks", f"/webhooks/{failing}", "/events", "/keys", "/portal-links"):
            page.goto(path)
            if path == f"/webhooks/{failing}":
                expect(page.locator("#state")).to_contain_text("Failing")
                page.locator(".log-row summary").first.click()  # request and response code
                expect(page.locator(".log-row details[open] pre").first).to_be_visible()
            low[path] = _low_contrast(page)
        page.goto("/event-types")
        page.locator("details summary").first.click()  # an example body: code on its box
        low["/event-types"] = _low_contrast(page)
        # A form refused: the summary of errors and the error beside its field.
        page.goto(f"/webhooks/{failing}/edit")
        page.get_by_label("URL", exact=True).fill("ftp://nowhere")
        page.get_by_role("button", name="Save changes").click()
        expect(page.locator("#webhook_url-error")).to_be_visible()
        low["the refused form"] = _low_contrast(page)
    assert not {where: texts for where, texts in low.items() if texts}


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_status_badges_stay_told_apart(
    browser: Browser, server: Server, failing: str, scheme: Scheme
) -> None:
    with _in_scheme(browser, server, scheme, 1280) as page:
        sign_in(page, server.admin)
        page.goto("/events")
        # Each status's badge drawn once, whichever statuses the events have now.
        page.evaluate(
            """() => {
              const row = document.querySelector("td[data-label=Deliveries]");
              for (const status of STATUSES) {
                const badge = document.createElement("span");
                badge.className = `badge status-${status}`;
                badge.textContent = status;
                row.append(badge);
              }
            }""".replace("STATUSES", str(list(STATUSES)))
        )
        badges = {status: page.locator(f".badge.status-{status}").last for status in STATUSES}
        text = {status: _rgb(badge, "color") for status, badge in badges.items()}
        fill = {status: _rgb(badge, "backgroundColor") for status, badge in badges.items()}
        surface = _background(page, ".card")
        # Told apart by the colour of their words first, their fills second: the light
        # scheme's succeeded and discarded fills are 14 apart (#e4f5eb, #eef0f3).
        for one, other in itertools.combinations(STATUSES, 2):
            assert _distance(text[one], text[other]) >= 40, f"{one} and {other} read alike"
            assert _distance(fill[one], fill[other]) >= 12, f"{one} and {other} look alike"
        for status in STATUSES:
            assert _is_dark(fill[status]) == (scheme == "dark"), f"{status}'s fill"
            assert _distance(fill[status], surface) >= 12, f"{status} vanishes into its card"
        assert not _low_contrast(page)


def _rgb(badge: Locator, what: str) -> tuple[int, ...]:
    colour = badge.evaluate(f"el => getComputedStyle(el).{what}")
    return tuple(int(part) for part in re.findall(r"\d+", colour)[:3])


def _distance(first: tuple[int, ...], second: tuple[int, ...]) -> float:
    return float(sum((a - b) ** 2 for a, b in zip(first, second, strict=True)) ** 0.5)


def _portal_link(server: Server) -> str:
    body: dict[str, Any] = {"role": "viewer", "duration": "1h"}
    return str(server.api("POST", "/v2/portal_links/", server.admin, body)["url"])


@pytest.mark.parametrize(
    ("system", "theme", "dark"),
    [
        ("dark", "", True),  # no choice made: the system's
        ("light", "", False),
        ("dark", "?theme=light", False),  # the platform's page is light
        ("light", "?theme=dark", True),
        ("dark", "?theme=sepia", True),  # not a scheme: the system's
    ],
)
def test_a_portal_link_may_fix_the_scheme(
    browser: Browser, server: Server, system: Scheme, theme: str, dark: bool
) -> None:
    with _in_scheme(browser, server, system, 390) as page:
        page.goto(_portal_link(server) + theme)
        expect(page.get_by_role("heading", name="Webhooks", exact=True)).to_be_visible()
        assert _is_dark(_background(page)) == dark
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Events").click()
        expect(page.get_by_role("heading", name="Events", exact=True)).to_be_visible()
        assert _is_dark(_background(page)) == dark, "the scheme did not last the session"
        assert not _low_contrast(page)


@pytest.mark.parametrize(("system", "theme"), [("light", "dark"), ("dark", "light")])
def test_a_portal_links_scheme_holds_once_signed_out_and_on_a_broken_link(
    browser: Browser, server: Server, system: Scheme, theme: Scheme
) -> None:
    """The pages a customer sees without a session (signed out; a link expired or broken,
    both one page) keep the scheme the link fixed: they followed the system, a white box in
    a dark app's frame."""
    link = _portal_link(server) + f"?theme={theme}"
    with _in_scheme(browser, server, system, 390) as page:
        page.goto(link)
        expect(page.get_by_role("heading", name="Webhooks", exact=True)).to_be_visible()
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("heading", name="You are signed out")).to_be_visible()
        assert _is_dark(_background(page)) == (theme == "dark")
        assert not _low_contrast(page)
        broken = link.replace("/portal/", "/portal/x", 1)
        page.goto(broken)
        expect(page.get_by_role("heading", name="This link is not valid")).to_be_visible()
        assert _is_dark(_background(page)) == (theme == "dark")
        assert not _low_contrast(page)
