"""Two pages as a reader meets them: Event types, 45 events in groups that open, and API
keys, whose list stands under a heading of its own."""

from __future__ import annotations

import pytest
from live import WIDTHS, Receiver, Server
from playwright.sync_api import Browser, expect
from test_layout import box_of, signed_in

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
