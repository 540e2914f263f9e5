"""/v2/portal_links/ and /v2/account/portal/: portal links and the portal's brand through the
API, on SQLite and PostgreSQL."""

from __future__ import annotations

from harness import Api, assert_error

from hookcast.domain.models import Role

LINK = {"role": "editor", "duration": "1h", "frame_ancestors": ["https://app.example.com"]}


async def test_an_admin_makes_a_link_that_opens_a_framed_portal(api: Api) -> None:
    made = await api.call("POST", "/v2/portal_links/", json=LINK)

    assert made.status_code == 201, made.text
    body = made.json()
    assert body["url"].startswith("http://")
    assert "/portal/" in body["url"]
    assert body["frame_ancestors"] == ["https://app.example.com"]
    opened = await api.client.get(body["url"])  # the dashboard opens the API's link
    assert opened.status_code == 303, opened.text
    csp = opened.headers["content-security-policy"]
    assert "frame-ancestors https://app.example.com" in csp
    assert "x-frame-options" not in opened.headers
    cookie = opened.headers["set-cookie"].lower()
    assert "samesite=none" in cookie
    assert "secure" in cookie


async def test_origins_are_validated(api: Api) -> None:
    for origins in (
        ["http://app.example.com"],  # plain HTTP off loopback
        ["https://app.example.com/path"],
        ["javascript:alert(1)"],
        ["https://a b.example.com"],
        "https://app.example.com",  # not a list
        [f"https://app{i}.example.com" for i in range(11)],  # too many
    ):
        answer = await api.call(
            "POST", "/v2/portal_links/", json={**LINK, "frame_ancestors": origins}
        )
        assert_error(answer, 400)
    loopback = await api.call(
        "POST", "/v2/portal_links/", json={**LINK, "frame_ancestors": ["http://localhost:8080"]}
    )
    assert loopback.status_code == 201, loopback.text


async def test_only_an_admin_makes_links_or_brands_the_portal(api: Api) -> None:
    editor = await api.key(Role.EDITOR)
    assert_error(await api.call("POST", "/v2/portal_links/", key=editor, json=LINK), 403)
    assert_error(
        await api.call("PUT", "/v2/account/portal/", key=editor, json={"name": "Mine"}), 403
    )
    assert (await api.call("GET", "/v2/account/portal/", key=editor)).status_code == 200


async def test_the_portal_settings_are_saved_and_validated(api: Api) -> None:
    settings = {
        "name": "Acme Video",
        "logo": "https://cdn.example.com/acme.png",
        "accent_colour": "#0F766E",
        "frame_ancestors": ["https://app.example.com:8443"],
    }
    saved = await api.call("PUT", "/v2/account/portal/", json=settings)
    read = await api.call("GET", "/v2/account/portal/")

    assert saved.status_code == 200, saved.text
    assert read.json() == {**settings, "accent_colour": "#0f766e"}
    for bad in (
        {"accent_colour": "red"},
        {"logo": "http://cdn.example.com/acme.png"},
        {"logo": "data:image/svg+xml;base64,PHN2Zz48L3N2Zz4="},
        {"frame_ancestors": ["ftp://app.example.com"]},
    ):
        assert_error(await api.call("PUT", "/v2/account/portal/", json=bad), 400)
    assert (await api.call("GET", "/v2/account/portal/")).json() == read.json()
    # A link naming no origins takes the account's default when it is opened.
    made = await api.call("POST", "/v2/portal_links/", json={"role": "viewer", "duration": "1h"})
    assert made.json()["frame_ancestors"] is None
    opened = await api.client.get(made.json()["url"])
    assert (
        "frame-ancestors https://app.example.com:8443" in opened.headers["content-security-policy"]
    )
