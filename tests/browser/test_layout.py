"""What a careful reader notices, measured in a real browser at a phone's and a desktop's
width: long values stay inside their boxes, a webhook's page says where it sends before
anything else, figures line up, log rows show that they open, an empty form names every
missing field at once, events name their property, and an empty page keeps its spacing."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from live import WIDTHS, Receiver, Server
from playwright.sync_api import Browser, Locator, Page, expect
from test_webhook_lifecycle import ensure_property_as, sign_in, webhook_on_property

from hookcast.dashboard.chart import hourly_chart_svg
from hookcast.dashboard.health import HourBar

# A phone and a laptop: the widths the chart is checked at.
CHART_WIDTHS = (390, 1280)

# Typed by users, and each one long unbroken word: a pasted token, a runbook's URL.
LONG_NAME = "Archive-ingest-" + "regional-broadcaster-" * 8
LONG_PATH = "/ok/" + "very-long-path-segment/" * 8 + "receiver?token=" + "0123456789abcdef" * 8
DESCRIPTION = "Runbook: https://wiki.example.com/" + "runbooks-" * 40


@pytest.fixture(scope="module")
def long_webhook(browser: Browser, server: Server, receiver: Receiver) -> str:
    return webhook_on_property(
        browser,
        server,
        name=LONG_NAME,
        description=DESCRIPTION,
        webhook_url=receiver.url(LONG_PATH),
    )


@contextlib.contextmanager
def signed_in(browser: Browser, server: Server, width: int, key: str) -> Iterator[Page]:
    """A page `width` px wide, signed in with `key`, in a context of its own."""
    context = browser.new_context(base_url=server.url, viewport={"width": width, "height": 900})
    try:
        page = context.new_page()
        sign_in(page, key)
        yield page
    finally:
        context.close()


def box_of(locator: Locator) -> dict[str, Any]:
    box = locator.bounding_box()
    assert box is not None, f"{locator} is not shown"
    return dict(box)


def _right(box: dict[str, Any]) -> float:
    return float(box["x"] + box["width"])


def _sideways_scroll(page: Page) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


@pytest.mark.parametrize("width", WIDTHS)
def test_a_long_url_and_name_stay_inside_their_card_and_page(
    browser: Browser, server: Server, long_webhook: str, width: int
) -> None:
    with signed_in(browser, server, width, server.admin) as page:
        row = page.locator(".webhook-row", has=page.get_by_role("link", name=LONG_NAME))
        url = row.locator(".url")
        card = box_of(row)
        assert _right(box_of(url)) <= _right(card)
        # Two lines at most on the list, the whole URL in its title; the page shows it whole.
        line = float(url.evaluate("el => parseFloat(getComputedStyle(el).lineHeight)"))
        assert box_of(url)["height"] <= 2 * line + 1, "the URL takes more than two lines"
        assert (url.get_attribute("title") or "").endswith(LONG_PATH)
        assert _sideways_scroll(page) <= 0

        row.get_by_role("link", name=LONG_NAME).click()
        expect(page.locator("h1")).to_have_text(LONG_NAME)
        assert _sideways_scroll(page) <= 0, f"the webhook's page scrolls sideways at {width} px"
        for shown in (page.locator("h1"), page.locator(".description"), page.locator(".crumbs")):
            assert _right(box_of(shown)) <= width, f"{shown} runs off the screen at {width} px"
        # Where it sends is the first thing under its name, on screen without scrolling.
        where = page.locator(".page-url")
        expect(where).to_contain_text(LONG_PATH)
        expect(where).to_be_in_viewport()
        assert _right(box_of(where)) <= width


@pytest.mark.parametrize("width", WIDTHS)
def test_a_url_on_the_list_fills_its_first_line(
    browser: Browser, server: Server, receiver: Receiver, width: int
) -> None:
    """Broken at its first hyphen, "https://hooks-" stood alone on the first of the two
    lines the list gives a URL, which then showed less of it than it had room for."""
    name = f"Hyphen first at {width}"
    url = receiver.url("/ok/a-" + "b" * 200)
    webhook_on_property(browser, server, name=name, webhook_url=url)
    with signed_in(browser, server, width, server.admin) as page:
        row = page.locator(".webhook-row", has=page.get_by_role("link", name=name))
        first_line = row.locator(".url code").evaluate(
            "el => { const r = document.createRange(); r.selectNodeContents(el);"
            " return r.getClientRects()[0].width; }"
        )
        assert first_line >= 0.9 * box_of(row.locator(".url"))["width"], first_line


@pytest.mark.parametrize("width", WIDTHS)
def test_the_health_figures_line_up(
    browser: Browser, server: Server, long_webhook: str, width: int
) -> None:
    with signed_in(browser, server, width, server.admin) as page:
        row = page.locator(".webhook-row", has=page.get_by_role("link", name=LONG_NAME))
        labels = row.locator(".health dt")
        values = row.locator(".health dd")
        expect(values).to_have_count(3)
        # At a phone's width "Deliveries (24 h)" wraps onto two lines: its value still sits
        # on the same line as its neighbours' values.
        tops = {round(box_of(values.nth(i))["y"]) for i in range(3)}
        assert len(tops) == 1, f"the figures' values start at different heights: {tops}"
        assert len({round(box_of(labels.nth(i))["y"]) for i in range(3)}) == 1


def test_a_delivery_row_shows_that_it_opens(page: Page, server: Server, long_webhook: str) -> None:
    sign_in(page, server.admin)
    page.goto(f"/webhooks/{long_webhook}")
    page.get_by_role("button", name="Send test event").click()
    expect(page.locator("#log-notice")).to_be_visible()
    marker = "el => getComputedStyle(el, '::before').content"
    page.goto(f"/webhooks/{long_webhook}")  # the row closed, as a visitor first sees it
    summary = page.locator(".log-row summary").first
    assert summary.evaluate(marker) == '"\u25b8"'  # ▸: closed, and can be opened
    summary.click()
    assert summary.evaluate(marker) == '"\u25be"'  # ▾: open
    expect(page.locator(".log-row .log-body").first).to_be_visible()


def test_an_empty_form_names_every_missing_field_at_once(page: Page, server: Server) -> None:
    sign_in(page, server.admin)
    page.goto("/webhooks/new")
    page.get_by_role("button", name="Create", exact=True).click()
    summary = page.locator("#form-errors")
    expect(summary).to_be_focused()
    # In the order the form shows them: one try tells everything (before, name and URL were
    # reported one submission at a time, after the properties and events).
    expect(summary.locator("li")).to_have_text(
        [
            "Enter a name, e.g. what the receiving system is.",
            "Enter the URL to send events to, e.g. https://example.com/webhooks.",
            "Choose at least one property, or All properties.",
            "Choose at least one event, or All events.",
        ]
    )
    expect(page.get_by_label("Name", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("URL", exact=True)).to_have_attribute("aria-invalid", "true")
    # "Format" reads as a field's label, like "Name" below it.
    weight = "el => getComputedStyle(el).fontWeight"
    name_label = page.locator("label[for=name]")
    assert page.locator("#field-format .label").evaluate(weight) == name_label.evaluate(weight)


def test_events_name_their_property(page: Page, browser: Browser, server: Server) -> None:
    ensure_property_as(browser, server.url, server.admin)
    event = {"event": "media_created", "site_id": "1A23bCD4", "media_id": "Layout01"}
    server.api("POST", "/v2/events/", server.admin, {"events": [event]})
    sign_in(page, server.admin)
    page.goto("/events?resource_id=Layout01")
    cell = page.locator("td[data-label=Property]")
    expect(cell).to_have_count(1)
    expect(cell).to_contain_text("Main site")  # as the filter above and the webhooks name it
    expect(cell).to_contain_text("1A23bCD4")


@pytest.mark.parametrize("width", WIDTHS)
def test_an_empty_account_keeps_its_spacing(browser: Browser, server: Server, width: int) -> None:
    account = server.cli("accounts", "create", f"Empty at {width}")
    key = server.cli("keys", "create", "--role", "admin", "--account", account)
    with signed_in(browser, server, width, key) as page:
        empty = page.locator(".empty")
        expect(empty).to_contain_text("No webhooks yet")
        # Nothing about Flowplayer under it: a first-time user read that card as a step.
        expect(page.locator("#flowplayer-secret")).to_have_count(0)
        # Once a Flowplayer secret is set, its card below keeps its distance.
        server.api("PUT", "/v2/account/flowplayer_secret/", key, {"secret": "x" * 16})
        page.reload()
        below = box_of(page.locator("#flowplayer-secret"))
        gap = below["y"] - (box_of(empty)["y"] + box_of(empty)["height"])
        assert gap >= 12, f"the empty state touches the card below it ({gap:.0f} px apart)"


@pytest.mark.parametrize("width", CHART_WIDTHS)
def test_the_chart_fills_its_card(browser: Browser, server: Server, width: int) -> None:
    """Its axis runs the card's width, its numbers at the right edge, with no sideways scroll.
    Its height capped, a 1280 px screen had it letterboxed in ~75% of the card; a phone
    scrolled it sideways."""
    start = datetime(2026, 12, 6, tzinfo=UTC)
    bars = [HourBar(start + timedelta(hours=i), i, 1) for i in range(24)]
    with _chart_page(browser, server, width, bars) as page:
        card = page.locator(".card").evaluate(
            "el => { const r = el.getBoundingClientRect(), s = getComputedStyle(el);"
            " return [r.left + parseFloat(s.paddingLeft), r.right - parseFloat(s.paddingRight)] }"
        )
        axis = box_of(page.locator(".chart line.chart-axis").first)
        numbers = [box_of(label) for label in page.locator(".chart text.chart-label").all()]
        assert axis["x"] - card[0] <= 12, f"the axis starts {axis['x'] - card[0]:.0f} px in"
        right = max(_right(box) for box in numbers)
        assert card[1] - 24 <= right <= card[1] + 0.5, (
            f"the numbers end {card[1] - right:.0f} px in"
        )
        chart = box_of(page.locator(".chart"))
        assert _right(chart) <= card[1] + 0.5, (
            f"the chart runs {_right(chart) - card[1]:.0f} px out"
        )
        assert _sideways_scroll(page) <= 0


@contextlib.contextmanager
def _chart_page(
    browser: Browser, server: Server, width: int, bars: list[HourBar]
) -> Iterator[Page]:
    """The chart of `bars` in a card as the webhook page holds it, `width` px wide."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    try:
        page = context.new_page()
        page.set_content(
            f'<link rel="stylesheet" href="{server.url}/static/app.css">'
            '<main class="container"><section class="card"><figure class="chart-figure">'
            f"{hourly_chart_svg(bars)}</figure></section></main>"
        )
        yield page
    finally:
        context.close()


@pytest.mark.parametrize("width", CHART_WIDTHS)
def test_the_charts_labels_are_readable_and_whole(
    browser: Browser, server: Server, width: int
) -> None:
    # A busy hour: the y-axis goes to 20,000, said as thousands (chart.tick_label).
    start = datetime(2026, 12, 6, tzinfo=UTC)
    bars = [HourBar(start + timedelta(hours=i), 0, 0) for i in range(23)]
    bars.append(HourBar(start + timedelta(hours=23), 3_000, 12_345))
    with _chart_page(browser, server, width, bars) as page:
        chart = page.locator(".chart")
        expect(chart.locator("text", has_text=re.compile(r"^20k$"))).to_have_count(1)
        drawn = box_of(chart)
        for label in chart.locator("text.chart-label").all():
            size = float(  # as drawn: its font size times its drawing's scale
                label.evaluate(
                    "el => parseFloat(getComputedStyle(el).fontSize) * el.getScreenCTM().d"
                )
            )
            assert size >= 12, f"{label.text_content()} is {size:.1f} px"
            box = box_of(label)
            assert _right(box) <= _right(drawn) + 0.5, f"{label.text_content()} is cut off"
