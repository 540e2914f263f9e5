"""Pages as a reader meets them: Event types, 45 events in groups that open; API keys, whose
list stands under a heading of its own; Events, whose short columns keep to one line."""

from __future__ import annotations

import pytest
from live import WIDTHS, Receiver, Server
from playwright.sync_api import Browser, Locator, expect
from test_layout import box_of, signed_in

from support.waiting import wait_until

# The page's height, in screens of 900 px: every event as a card made it 9.5 at 1440 px
# (8,546 px at 1280); grouped, 2.0 at 1280 and 3.3 at 390 with Media, the one open group.
SCREENS = {375: 4.5, 1440: 2.5}


def _account_with_a_webhook(server: Server, receiver: Receiver, name: str) -> str:
    """An admin key of a new account holding one webhook (so Send example is offered)."""
    account = server.cli("accounts", "create", name)
    key = server.cli("keys", "create", "--role", "admin", "--account", account)
    body = {
        "name": "Catalog",
        "webhook_url": receiver.url("/ok/catalog"),
        "events": ["*"],
        "site_ids": ["*"],
    }
    server.api("POST", "/v2/webhooks/", key, {"metadata": body})
    return key


@pytest.mark.parametrize("width", WIDTHS)
def test_event_types_shows_its_groups_and_opens_the_one_asked_for(
    browser: Browser, server: Server, receiver: Receiver, width: int
) -> None:
    key = _account_with_a_webhook(server, receiver, f"Event types at {width}")
    with signed_in(browser, server, width, key) as page:
        page.goto("/event-types")
        groups = page.locator("details.event-group > summary h2")
        expect(groups).to_have_count(8)
        assert groups.all_inner_texts()[:2] == ["Media", "Thumbnail"]
        # Media, what most webhooks take, is open; the others are one line each until asked.
        expect(page.locator("#media_available")).to_be_visible()
        expect(page.locator("#channel_active")).to_be_hidden()
        height = page.evaluate("document.documentElement.scrollHeight")
        assert height <= SCREENS[width] * 900, f"Event types is {height} px tall at {width} px"

        # Send example sits beside its event's name, on the row's first line.
        row = page.locator("#media_available")
        name = box_of(row.get_by_role("heading"))
        button = box_of(row.get_by_role("button", name="Send example"))
        assert abs(button["y"] + button["height"] / 2 - (name["y"] + name["height"] / 2)) < 16
        assert button["x"] > name["x"] + name["width"]

        page.locator("details.event-group > summary", has_text="Live channel").click()
        expect(page.locator("#channel_active")).to_be_visible()

        # A link to an event in a closed group opens the group at the event.
        page.goto("/event-types#thumbnail_created")
        expect(page.locator("#thumbnail_created")).to_be_in_viewport()


@pytest.mark.parametrize("width", WIDTHS)
def test_an_event_name_wraps_only_between_its_words(
    browser: Browser, server: Server, receiver: Receiver, width: int
) -> None:
    """On a phone the name column is narrow: `conversions_complete` broke as
    "conversions_complet" and "e"; now a line ends only after a `_`."""
    key = _account_with_a_webhook(server, receiver, f"Names at {width}")
    with signed_in(browser, server, width, key) as page:
        page.goto("/event-types")
        name = page.locator("#conversions_complete h3 code")
        lines = name.evaluate(
            """code => {
                const range = document.createRange();
                const lines = [];
                let top = null;
                for (const node of code.childNodes) {
                    if (node.nodeType !== Node.TEXT_NODE) continue;
                    for (let i = 0; i < node.length; i++) {
                        range.setStart(node, i); range.setEnd(node, i + 1);
                        const y = Math.round(range.getBoundingClientRect().top);
                        if (top === null || y > top + 2) { lines.push(''); top = y; }
                        lines[lines.length - 1] += node.data[i];
                    }
                }
                return lines;
            }"""
        )
        assert "".join(lines) == "conversions_complete"
        assert all(line.endswith("_") for line in lines[:-1]), lines


def test_the_api_keys_list_is_under_its_own_heading(browser: Browser, server: Server) -> None:
    account = server.cli("accounts", "create", "Keys heading")
    key = server.cli("keys", "create", "--role", "admin", "--account", account, "--name", "ops")
    with signed_in(browser, server, 1440, key) as page:
        page.goto("/keys")
        table = page.get_by_role("table", name="Keys", exact=True)
        expect(table).to_be_visible()
        expect(table.get_by_role("row")).to_have_count(2)  # the column heads and "ops"
        expect(page.get_by_text("1 key;", exact=False)).to_be_visible()
        # Right after the form that adds to it, before the account's contact address.
        contact = page.get_by_role("heading", name="Contact address")
        create = page.get_by_role("heading", name="Create a key")
        assert box_of(create)["y"] < box_of(table)["y"] < box_of(contact)["y"]


def test_the_events_tables_short_columns_keep_to_one_line(
    browser: Browser, server: Server, receiver: Receiver
) -> None:
    """Beside events not sent (their Deliveries cell a sentence saying why) and HookCast's own
    events (ids of 46 characters), the table's own widths gave those columns the room: at
    1280 px "Main site" and "media_id F6CF9dw4" took two lines each, every row a line
    taller."""
    key = _events_not_sent(server, receiver, "Events columns")
    with signed_in(browser, server, 1280, key) as page:
        page.goto("/events")
        expect(page.get_by_text("not sent", exact=False).first).to_be_visible()
        for label in ("Property", "Resource"):
            cells = page.locator(f'table.events td[data-label="{label}"]:not(:has-text("—"))')
            expect(cells).to_have_count(2)
            # The text before the cell's line break (the name; the id's name and value), as
            # tall as one of the cell's lines.
            lines = cells.evaluate_all(
                """cells => cells.map(td => {
                    const range = document.createRange();
                    range.setStartBefore(td.firstChild);
                    const br = td.querySelector('br');
                    if (br) range.setEndBefore(br); else range.setEndAfter(td.lastChild);
                    const line = parseFloat(getComputedStyle(td).lineHeight);
                    return Math.round(range.getBoundingClientRect().height / line);
                })"""
            )
            assert lines == [1, 1], f"{label}: {lines} lines"
        wrap = page.locator(".table-wrap")
        assert wrap.evaluate("el => el.scrollWidth - el.clientWidth") <= 0


def _events_not_sent(server: Server, receiver: Receiver, name: str) -> str:
    """An account (its key) whose Events page has a media_available no webhook took and a
    webhook_failing (HookCast's own) about its one webhook, which fails media_created."""
    account = server.cli("accounts", "create", name)
    key = server.cli("keys", "create", "--role", "admin", "--account", account)
    site = server.cli("sites", "create", "Main site", "--account", account)
    body = {
        "name": "Failing, on media_created only",
        "webhook_url": receiver.url("/fail/columns"),
        "events": ["media_created"],
        "site_ids": ["*"],
        "retry_policy": [1],
    }
    server.api("POST", "/v2/webhooks/", key, {"metadata": body})
    events = [
        {"event": name, "site_id": site, "media_id": "F6CF9dw4"}
        for name in ("media_available", "media_created")
    ]
    server.api("POST", "/v2/events/", key, {"events": events})
    wait_until(
        lambda: "webhook_failing" in _event_names(server, key),
        timeout=60,  # the first attempt fails at once; under make test's load, seconds
        message="the failing webhook never published webhook_failing",
    )
    return key


def test_an_events_reason_for_sending_nothing_is_no_taller_than_the_event(
    browser: Browser, server: Server, receiver: Receiver
) -> None:
    """HookCast's own events said why nothing was sent in 3-4 grey lines at 1280 px, on every
    such row ("not sent: HookCast's own event, only for webhooks that name it (2 subscribe to
    other events, 1 is the one it is about, 1 takes All events, ...)"), each row taller than
    its event's name and id: the verdict is one line, and what each webhook said opens under
    it."""
    key = _events_not_sent(server, receiver, "Events reasons")
    with signed_in(browser, server, 1280, key) as page:
        page.goto("/events")
        rows = page.locator("table.events tbody tr", has=page.locator(".why, span.muted"))
        expect(rows).to_have_count(2)
        for row in rows.all():
            event = _content_height(row.locator('td[data-label="Event"]'))
            reason = _content_height(row.locator('td[data-label="Deliveries"]'))
            assert reason <= event, row.inner_text()
        own = page.locator("tr", has_text="webhook_failing").locator("details.why")
        verdict = own.locator("summary")
        expect(verdict).to_have_text("not sent: HookCast's own event")
        assert box_of(verdict)["height"] < 1.5 * _line_height(verdict)
        verdict.click()
        expect(own).to_contain_text(
            "only for webhooks that name it: your webhook is the one it is about",
            use_inner_text=True,
        )


def _content_height(cell: Locator) -> float:
    """The height of a cell's text, not of the cell (a row's cells are all as tall)."""
    return float(
        cell.evaluate(
            """td => {
                const range = document.createRange();
                range.selectNodeContents(td);
                return range.getBoundingClientRect().height;
            }"""
        )
    )


def _line_height(locator: Locator) -> float:
    return float(locator.evaluate("el => parseFloat(getComputedStyle(el).lineHeight)"))


def _event_names(server: Server, key: str) -> list[str]:
    listed = server.api("GET", "/v2/events/", key)
    return [str(event["event"]) for event in listed["events"]]
