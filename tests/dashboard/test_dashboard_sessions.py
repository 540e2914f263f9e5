"""Signing in and out, sessions, CSRF, roles and account scoping."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
from board import BASE_URL, Board, admin_of, csrf_of

from hookcast.cli.runtime import Runtime
from hookcast.config import Settings
from hookcast.dashboard.session import COOKIE, SIGNIN_COOKIE
from hookcast.domain.models import Role


async def test_nothing_is_visible_signed_out(board: Board) -> None:
    for path in ("/webhooks", "/events", "/properties", "/keys", "/event-types"):
        response = await board.client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"] == f"/?next={path.replace('/', '%2F')}"


async def test_an_admin_signs_in_and_gets_a_protected_session_cookie(board: Board) -> None:
    response = await board.sign_in(board.admin)

    assert response.status_code == 303
    assert response.headers["location"] == "/webhooks"
    cookie = next(
        value
        for name, value in response.headers.multi_items()
        if name == "set-cookie" and value.startswith("hookcast_session=")
    ).lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "max-age=43200" in cookie  # 12 hours
    page = await board.client.get("/webhooks")
    assert page.status_code == 200
    assert "No webhooks yet" in page.text


async def test_a_wrong_key_is_refused_with_a_clear_message(board: Board) -> None:
    response = await board.sign_in("hck_not-a-real-key")
    assert response.status_code == 401
    assert "That API key is not valid" in response.text
    assert (await board.client.get("/webhooks")).status_code == 303


async def test_a_publisher_key_is_refused_with_a_clear_message(board: Board) -> None:
    response = await board.sign_in(await board.key(Role.PUBLISHER))
    assert response.status_code == 403
    assert "Publisher keys can only publish events" in response.text
    assert "hookcast_session" not in response.headers.get("set-cookie", "")


async def test_the_sign_in_address_reloaded_leads_to_the_form(board: Board) -> None:
    # After a refused key the address bar shows /signin, where the form posted.
    response = await board.client.get("/signin")
    assert response.status_code == 303
    assert response.headers["location"] == "/"


async def test_sign_in_needs_the_forms_own_token(board: Board) -> None:
    response = await board.client.post("/signin", data={"api_key": board.admin, "csrf": "x"})
    assert response.status_code == 403
    assert "The sign-in form expired" in response.text


async def test_signing_out_ends_the_session(board: Board) -> None:
    await board.sign_in(board.admin)
    response = await board.post("/signout")
    assert response.status_code == 303
    assert response.headers["location"] == "/?reason=signed_out"
    assert (await board.client.get("/webhooks")).status_code == 303
    assert "You are signed out." in (await board.client.get("/?reason=signed_out")).text


async def test_a_post_without_the_csrf_token_changes_nothing(board: Board) -> None:
    await board.sign_in(board.admin)
    for token in (None, "forged"):
        data = {"name": "Main"} if token is None else {"name": "Main", "csrf": token}
        response = await board.client.post("/properties", data=data)
        assert response.status_code == 403
        assert "This form has expired" in response.text
    page = await board.client.get("/properties")
    assert "No properties yet" in page.text


async def test_a_viewer_sees_but_cannot_change(board: Board) -> None:
    site_id = await board.site()
    webhook = await board.webhook(site_id)
    await board.sign_in(await board.key(Role.VIEWER))

    page = await board.client.get("/webhooks")
    assert webhook.name in page.text
    assert 'href="/webhooks/new"' not in page.text
    assert "You can look around but not change anything" in page.text
    for path, data in (
        ("/properties", {"name": "Other"}),
        (f"/webhooks/{webhook.id}/enabled", {"enabled": "false"}),
        (f"/webhooks/{webhook.id}/delete", {}),
        (f"/webhooks/{webhook.id}/test", {}),
    ):
        response = await board.post(path, data)
        assert response.status_code == 403, path
        assert "Your role cannot do this" in response.text
    assert (await board.client.get("/webhooks/new")).status_code == 403
    still = await board.runtime.services.webhooks.get(admin_of(board), webhook.id)
    assert still.enabled


async def test_an_editor_cannot_reach_admin_pages(board: Board) -> None:
    await board.sign_in(await board.key(Role.EDITOR))
    assert (await board.client.get("/keys")).status_code == 403
    assert (await board.client.get("/portal-links")).status_code == 403
    assert 'href="/keys"' not in (await board.client.get("/webhooks")).text


async def test_another_accounts_webhook_is_not_found(board: Board) -> None:
    other = await board.runtime.services.accounts.create_account("Rival")
    theirs = await board.webhook(await board.site("Rival001", other.id), other.id)
    await board.sign_in(board.admin)

    for path in (f"/webhooks/{theirs.id}", f"/webhooks/{theirs.id}/edit"):
        response = await board.client.get(path)
        assert response.status_code == 404, path
        assert theirs.name not in response.text
    assert (await board.post(f"/webhooks/{theirs.id}/delete")).status_code == 404
    assert theirs.name not in (await board.client.get("/webhooks")).text


async def test_revoking_the_key_ends_its_sessions(board: Board) -> None:
    secret = await board.key(Role.EDITOR)
    await board.sign_in(secret)
    caller = await board.runtime.services.auth.authenticate(secret)
    assert caller.key_id is not None
    await board.runtime.services.accounts.revoke_key(admin_of(board), caller.key_id)

    response = await board.client.get("/webhooks")
    assert response.status_code == 303
    assert "reason=revoked" in response.headers["location"]


async def test_a_tampered_session_cookie_is_ignored(board: Board) -> None:
    await board.sign_in(await board.key(Role.VIEWER))
    token = board.client.cookies["hookcast_session"]
    payload, _, mac = token.partition(".")
    changed = payload[:-1] + ("A" if payload[-1] != "A" else "B")
    board.client.cookies.clear()
    board.client.cookies.set("hookcast_session", f"{changed}.{mac}")
    assert (await board.client.get("/webhooks")).status_code == 303


async def test_pages_carry_security_headers_and_stay_out_of_the_openapi_schema(
    board: Board,
) -> None:
    await board.sign_in(board.admin)
    for response in (await board.client.get("/webhooks"), await board.client.get("/")):
        csp = response.headers["content-security-policy"]
        assert "default-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp
        assert "'unsafe-inline'" not in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "same-origin"
    schema = (await board.client.get("/openapi.json")).json()
    assert all(
        path.startswith("/v2") or path in {"/healthz", "/readyz", "/metrics"}
        for path in schema["paths"]
    )
    assert (await board.client.get("/healthz")).status_code == 200
    css = await board.client.get("/static/app.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert (await board.client.get("/static/..%2Fweb.py")).status_code == 404


async def test_the_api_still_answers_json_beside_the_dashboard(board: Board) -> None:
    response = await board.client.get("/v2/webhooks/", headers={"Authorization": board.admin})
    assert response.status_code == 200
    assert response.json()["webhooks"] == []


async def test_a_copied_cookie_stops_working_on_every_server_once_signed_out(board: Board) -> None:
    await board.sign_in(board.admin)
    copied = {COOKIE: board.client.cookies[COOKIE]}
    async with _server(board.runtime.settings, copied) as other:
        assert (await other.get("/webhooks")).status_code == 200

        assert (await board.post("/signout")).status_code == 303

        for server in (other, board.client):
            server.cookies.update(copied)  # the copy, replayed after the sign-out
            refused = await server.get("/webhooks")
            assert refused.status_code == 303
            assert refused.headers["location"].startswith("/?")
    await board.sign_in(board.admin)  # signing in again gives a new session that works
    assert (await board.client.get("/webhooks")).status_code == 200


@contextlib.asynccontextmanager
async def _server(
    settings: Settings, cookies: dict[str, str], *, base_url: str = BASE_URL
) -> AsyncIterator[httpx.AsyncClient]:
    """Another server process on the same database, with a browser holding `cookies`."""
    runtime = await Runtime.open(settings)
    try:
        transport = httpx.ASGITransport(app=runtime.app(with_worker=False))
        async with httpx.AsyncClient(
            transport=transport, base_url=base_url, cookies=cookies
        ) as client:
            yield client
    finally:
        await runtime.store.close()


def _session_cookie(response: httpx.Response) -> str:
    return next(
        value.lower()
        for name, value in response.headers.multi_items()
        if name == "set-cookie" and value.startswith(f"{COOKIE}=")
    )


async def _sign_in(client: httpx.AsyncClient, secret: str) -> httpx.Response:
    form = await client.get("/")
    # Sent by hand: a client on plain HTTP keeps a Secure cookie to itself, as a browser
    # (which would be on HTTPS, talking to the proxy) would not.
    token = form.cookies[SIGNIN_COOKIE]
    return await client.post(
        "/signin",
        data={"api_key": secret, "csrf": csrf_of(form)},
        headers={"Cookie": f"{SIGNIN_COOKIE}={token}"},
    )


async def test_the_cookie_is_secure_over_https_and_when_configured_behind_a_proxy(
    board: Board,
) -> None:
    over_http = _session_cookie(await board.sign_in(board.admin))
    assert "secure" not in over_http.split("; ")

    # TLS ends at a proxy that forwards plain HTTP: the setting marks the cookie Secure.
    behind_proxy = board.runtime.settings.model_copy(update={"cookie_secure": True})
    async with _server(behind_proxy, {}) as proxied:
        assert "secure" in _session_cookie(await _sign_in(proxied, board.admin)).split("; ")
    async with _server(board.runtime.settings, {}, base_url="https://hookcast.test") as https:
        assert "secure" in _session_cookie(await _sign_in(https, board.admin)).split("; ")
