"""The dashboard's query strings and form fields built to break it are the first page or
the form's own error, never a 500 with a logged traceback. `serve` over real HTTP: an
in-process client would raise the exception instead of showing what a browser gets."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from harness import cli_env, serve, webhook_metadata

# str.isdigit() is true of both, int() refuses both (attack 10: each was a 500).
NOT_INT = ["\u00b2", "9" * 5000]


def _csrf(page: httpx.Response) -> str:
    assert page.status_code == 200, page.text
    return page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]


@pytest.mark.timeout(90)
def test_page_numbers_and_max_ages_int_refuses_are_no_500(tmp_path: Path) -> None:
    env = cli_env(f"sqlite+aiosqlite:///{tmp_path / 'hookcast.db'}")
    with (
        serve(env, tmp_path) as server,
        httpx.Client(base_url=server.url, timeout=10) as browser,
    ):
        admin = server.admin_key()
        auth = {"Authorization": f"Bearer {admin}"}
        site = browser.post("/v2/sites/", json={"metadata": {"name": "Main"}}, headers=auth)
        assert site.status_code == 201, site.text
        site_id = site.json()["id"]
        hook = browser.post(
            "/v2/webhooks/", json={"metadata": webhook_metadata([site_id])}, headers=auth
        )
        assert hook.status_code == 201, hook.text
        form = {"api_key": admin, "csrf": _csrf(browser.get("/")), "next": "/webhooks"}
        assert browser.post("/signin", data=form).status_code == 303

        for page in ("/webhooks", "/events", "/properties", f"/webhooks/{hook.json()['id']}"):
            for number in NOT_INT:
                shown = browser.get(page, params={"page": number})
                assert shown.status_code == 200, (page, number[:8], shown.status_code)
        csrf = _csrf(browser.get("/webhooks/new"))
        for seconds in NOT_INT:
            created = browser.post(
                "/webhooks",
                data={
                    "csrf": csrf,
                    "name": "Live",
                    "webhook_url": "https://93.184.215.14/hooks",
                    "site_ids": [site_id],
                    "events": ["channel_active"],
                    "retry_policy": "standard",
                    "timeout_seconds": "10",
                    "max_age_seconds": f"channel_active={seconds}",
                },
            )
            assert created.status_code == 400, created.status_code
            assert 'id="max_age_seconds-error"' in created.text
    assert "Traceback" not in server.stderr()
