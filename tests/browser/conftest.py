"""Fixtures for the browser tests: one server, one receiver and one Chromium per session; a
fresh browser context (no cookies) per test. Helpers are in live.py."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from live import (
    CHROMIUM,
    CHROMIUM_ARGS,
    WIDTHS,
    Receiver,
    Server,
    start_receiver,
    start_server,
    stop_server,
)
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright


@pytest.fixture(scope="session")
def receiver() -> Iterator[Receiver]:
    started = start_receiver()
    yield started
    started.server.shutdown()
    started.server.server_close()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    started = start_server(tmp_path_factory.mktemp("serve"))
    yield started
    stop_server(started)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Module scope, not session: while Playwright's sync API is active its event loop counts
    # as running in this thread, and pytest-asyncio could not run the async tests after it.
    if not Path(CHROMIUM).exists():
        missing = f"{CHROMIUM} is missing: `make test` installs Debian's chromium package"
        if os.environ.get("CI"):  # on CI a skip would pass the dashboard untested
            pytest.fail(missing)
        pytest.skip(missing)
    with sync_playwright() as playwright:
        # launch() always starts Chromium on a fresh temporary profile (user-data dir) of its
        # own and deletes it on close; Playwright refuses a --user-data-dir argument here.
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def context(browser: Browser, server: Server) -> Iterator[BrowserContext]:
    fresh = browser.new_context(base_url=server.url, viewport={"width": 1440, "height": 900})
    fresh.set_default_timeout(10_000)
    fresh.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    yield fresh
    fresh.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture(params=WIDTHS, ids=lambda width: f"{width}px")
def sized_page(browser: Browser, server: Server, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A page in a fresh context at each of the widths the dashboard is checked at: a test
    taking it runs once per width (`sized_page.viewport_size["width"]` says which)."""
    fresh = browser.new_context(
        base_url=server.url, viewport={"width": request.param, "height": 900}
    )
    fresh.set_default_timeout(10_000)
    yield fresh.new_page()
    fresh.close()
