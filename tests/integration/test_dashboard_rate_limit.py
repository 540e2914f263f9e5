"""The dashboard's and the portal's pages count against the API's rate limit, as the API's
own requests do: a portal user cannot load `serve` faster than a key may, and exhausting the
portal's bucket leaves the platform's admin key (which made the link) its own."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from harness import Server, cli_env, serve, webhook_metadata
from receivers import closed_port

BURST = 6  # HOOKCAST_RATE_LIMIT_BURST; the rate is 0.01 a second: no refill during the test


def _api(client: httpx.Client, method: str, path: str, key: str, **body: object) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"}
    return client.request(method, path, json=body or None, headers=headers)


@contextlib.contextmanager
def _limited(
    tmp_path: Path, **settings: str
) -> Iterator[tuple[Server, httpx.Client, httpx.Client]]:
    """`serve` on SQLite with the rate limit of BURST requests and no refill (and `settings`),
    with a client for the API and one for the browser's pages."""
    env = cli_env(
        f"sqlite+aiosqlite:///{tmp_path / 'hookcast.db'}",
        HOOKCAST_RATE_LIMIT_PER_SECOND="0.01",
        HOOKCAST_RATE_LIMIT_BURST=str(BURST),
        **settings,
    )
    with (
        serve(env, tmp_path) as server,
        httpx.Client(base_url=server.url, timeout=10) as api,
        httpx.Client(base_url=server.url, timeout=10) as browser,
    ):
        yield server, api, browser


def _csrf(page: httpx.Response) -> str:
    assert page.status_code == 200, page.text
    return page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]


@pytest.mark.timeout(90)
def test_a_portal_session_is_held_to_the_rate_limit_apart_from_the_admin_key(
    tmp_path: Path,
) -> None:
    with _limited(tmp_path, HOOKCAST_ALLOWED_NETWORKS="127.0.0.0/8") as (server, api, browser):
        admin = server.admin_key()
        site = _api(api, "POST", "/v2/sites/", admin, metadata={"name": "Main"})
        assert site.status_code == 201, site.text
        url = f"http://127.0.0.1:{closed_port()}/hook"
        metadata = webhook_metadata([site.json()["id"]], webhook_url=url)
        hook = _api(api, "POST", "/v2/webhooks/", admin, metadata=metadata)
        assert hook.status_code == 201, hook.text
        link = _api(api, "POST", "/v2/portal_links/", admin, role="editor", duration="1h")
        assert link.status_code == 201, link.text  # the admin key has used 3 of its 6

        opened = browser.get(httpx.URL(link.json()["url"]).raw_path.decode(), follow_redirects=True)
        csrf = _csrf(browser.get(f"/webhooks/{hook.json()['id']}"))
        statuses = [
            browser.post(f"/webhooks/{hook.json()['id']}/test", data={"csrf": csrf}).status_code
            for _ in range(BURST)
        ]

        # The link opened, the two pages shown (the portal's first, the webhook's) and the
        # tests sent share one bucket of 6: the last three tests are refused, and say when
        # to come back.
        assert opened.status_code == 200, opened.text
        assert statuses == [303, 303, 303, 429, 429, 429], statuses
        refused = browser.post(f"/webhooks/{hook.json()['id']}/test", data={"csrf": csrf})
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) >= 1
        # A page in the portal's frame, as its other errors are (review 10: it was the API's
        # JSON, shown raw to the customer).
        assert refused.headers["content-type"].startswith("text/html"), refused.text
        assert "<h1>Too many requests</h1>" in refused.text
        assert "try again in" in refused.text
        assert "frame-ancestors" in refused.headers["content-security-policy"]
        # The admin key's own bucket is untouched by its portal's customer.
        listed = _api(api, "GET", "/v2/webhooks/", admin)
        assert listed.status_code == 200, listed.text


@pytest.mark.timeout(90)
@pytest.mark.parametrize("portal", [False, True], ids=["operator", "portal"])
def test_a_session_past_the_rate_limit_can_still_sign_out(tmp_path: Path, portal: bool) -> None:
    # A person told "too many requests" must be able to leave: sign-out is not counted.
    with _limited(tmp_path) as (server, api, browser):
        admin = server.admin_key()
        if portal:
            link = _api(api, "POST", "/v2/portal_links/", admin, role="editor", duration="1h")
            assert link.status_code == 201, link.text
            page = browser.get(
                httpx.URL(link.json()["url"]).raw_path.decode(), follow_redirects=True
            )
        else:
            form = browser.get("/")
            page = browser.post(
                "/signin",
                data={"api_key": admin, "csrf": _csrf(form), "next": "/webhooks"},
                follow_redirects=True,
            )
        assert page.status_code == 200, page.text
        pages = [browser.get("/webhooks") for _ in range(BURST)]
        refused = pages[-1]
        assert refused.status_code == 429, [r.status_code for r in pages]
        # The Too many requests page keeps the menu and its sign-out form.
        csrf = refused.text.split('action="/signout"', 1)[1].split('name="csrf" value="', 1)[1]
        csrf = csrf.split('"', 1)[0]

        kept = dict(browser.cookies)
        signed_out = browser.post("/signout", data={"csrf": csrf})

        # The operator's sign-in page, or the portal's "signed out" page.
        assert signed_out.status_code == (200 if portal else 303), signed_out.text
        assert not browser.cookies  # the session's cookie cleared
        # And ended on the server: the session's cookie, kept, no longer opens a page.
        browser.cookies.update(kept)
        assert browser.get("/webhooks").status_code == (401 if portal else 303)


@pytest.mark.timeout(90)
def test_a_sign_in_and_out_loop_writes_no_more_rows_than_the_limit_allows(tmp_path: Path) -> None:
    """Each sign-out writes a row (the session refused until it expires) and is never
    refused, so the sign-ins are what is counted: uncounted, one client signing in and out
    in a loop wrote 575 rows in 10 s through a key of 1 request a second (attack 10)."""
    with _limited(tmp_path) as (server, _, browser):
        admin = server.admin_key()
        answers = []
        for _ in range(3 * BURST):
            form = {"api_key": admin, "csrf": _csrf(browser.get("/")), "next": "/webhooks"}
            signed_in = browser.post("/signin", data=form)
            answers.append(signed_in.status_code)
            if signed_in.status_code == 303:
                # A page past the limit is a 429 that keeps its sign-out form: leave from it.
                page = browser.get("/webhooks")
                csrf = page.text.split('action="/signout"', 1)[1]
                csrf = csrf.split('name="csrf" value="', 1)[1].split('"', 1)[0]
                assert browser.post("/signout", data={"csrf": csrf}).status_code == 303
        assert answers.count(303) <= BURST, answers
        assert answers[-1] == 429, answers
        with sqlite3.connect(tmp_path / "hookcast.db") as db:
            (rows,) = db.execute("SELECT count(*) FROM revoked_sessions").fetchone()
        assert 0 < rows <= BURST, rows


@pytest.mark.timeout(90)
@pytest.mark.parametrize("portal", [False, True], ids=["operator", "portal"])
def test_sessions_count_against_their_accounts_rate_limit(tmp_path: Path, portal: bool) -> None:
    # The account's bucket (4, no refill) is far smaller than the key's or the portal's
    # (BURST): a session's pages spend it, and then the account's admin key is refused too.
    account_burst = 4
    with _limited(
        tmp_path,
        HOOKCAST_ACCOUNT_RATE_LIMIT_PER_SECOND="0.01",
        HOOKCAST_ACCOUNT_RATE_LIMIT_BURST=str(account_burst),
    ) as (server, api, browser):
        admin = server.admin_key()
        if portal:  # the link made (1 of the account's 4), then opened (2)
            link = _api(api, "POST", "/v2/portal_links/", admin, role="editor", duration="1h")
            assert link.status_code == 201, link.text
            start = browser.get(httpx.URL(link.json()["url"]).raw_path.decode())
        else:  # signed in (1 of 4); the sign-in form itself is not counted
            form = {"api_key": admin, "csrf": _csrf(browser.get("/")), "next": "/webhooks"}
            start = browser.post("/signin", data=form)
        assert start.status_code == 303, start.text
        pages = [browser.get("/webhooks").status_code for _ in range(account_burst)]
        refused_page = browser.get("/webhooks")
        refused_key = _api(api, "GET", "/v2/webhooks/", admin)

    used = 2 if portal else 1
    assert pages == [200] * (account_burst - used) + [429] * used, pages
    assert refused_page.status_code == 429
    assert "or its account did" in refused_page.text
    # The admin key has spent at most 2 of its own BURST: its account's bucket refused it.
    assert refused_key.status_code == 429, refused_key.text
    (error,) = refused_key.json()["errors"]
    assert error["description"].startswith("too many requests for this account"), error
    assert int(refused_key.headers["Retry-After"]) >= 1
