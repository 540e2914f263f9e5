"""Portal links: signed, time-limited, scoped to one account and a lesser role."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import UTC, datetime, timedelta

from board import Board

from hookcast import portal_links as portal
from hookcast import tokens
from hookcast.dashboard import session as sessions
from hookcast.domain.catalog import EVENT_TYPES
from hookcast.domain.formats import FORMATS, TEST_EVENT
from hookcast.domain.models import Role
from hookcast.services import Caller


async def _link(board: Board, role: str = "viewer") -> str:
    await board.sign_in(board.admin)
    page = await board.post("/portal-links", {"role": role, "duration": "1h"})
    found = re.search(
        r'id="portal-link" class="secret">http://hookcast\.test(/portal/[^<]+)<', page.text
    )
    assert found, page.text
    board.client.cookies.clear()
    return found.group(1)


async def test_a_portal_link_opens_a_scoped_view_without_a_key(board: Board) -> None:
    mine = await board.webhook(await board.site())
    other = await board.runtime.services.accounts.create_account("Rival")
    theirs = await board.webhook(await board.site("Rival001", other.id), other.id, name="Theirs")
    link = await _link(board)

    opened = await board.client.get(link)
    assert opened.status_code == 303
    page = await board.client.get("/webhooks")
    assert mine.name in page.text
    assert theirs.name not in page.text
    assert "this link gives read-only access" in page.text
    assert (await board.client.get(f"/webhooks/{theirs.id}")).status_code == 404
    assert (await board.post(f"/webhooks/{mine.id}/test")).status_code == 403
    assert (await board.client.get("/keys")).status_code == 403


async def test_an_editor_portal_link_may_change_webhooks(board: Board) -> None:
    mine = await board.webhook(await board.site())
    await board.client.get(await _link(board, role="editor"))
    response = await board.post(f"/webhooks/{mine.id}/enabled", {"enabled": "false"})
    assert response.status_code == 303


async def test_a_flowplayer_webhook_tells_a_portal_customer_who_sets_its_secret(
    board: Board,
) -> None:
    """Held until the account's Flowplayer secret is set: a portal customer may not set it
    and sees no form for it, so the alert names who can instead of linking to that form."""
    held = await board.webhook(await board.site(), format="flowplayer", events=["VIDEO_READY"])
    await board.client.get(await _link(board, role="editor"))

    alert = re.search(
        r'<p class="small" id="unsigned">(.*?)</p>',
        (await board.client.get(f"/webhooks/{held.id}")).text,
    )

    assert alert is not None
    assert "href" not in alert[1]
    assert "until you set it" not in alert[1]
    assert "held until the team that gave you this page sets it" in alert[1]


async def test_a_flowplayer_webhook_tells_a_viewer_who_sets_its_secret(board: Board) -> None:
    held = await board.webhook(await board.site(), format="flowplayer", events=["VIDEO_READY"])
    await board.sign_in(await board.key(Role.VIEWER))

    alert = re.search(
        r'<p class="small" id="unsigned">(.*?)</p>',
        (await board.client.get(f"/webhooks/{held.id}")).text,
    )

    assert alert is not None
    assert "held until an editor or admin sets it" in alert[1]


def _expired_link(board: Board) -> str:
    """A viewer's portal link of the board's account, an hour past its expiry."""
    link, _ = portal.make_link(
        board.signing_key,
        account_id=board.account_id,
        role="viewer",
        issuer_key_id="whatever",
        duration="1h",
        now=datetime.now(UTC) - timedelta(hours=2),
    )
    return link


async def test_expired_and_forged_links_get_a_clear_error_page(board: Board) -> None:
    response = await board.client.get(f"/portal/{_expired_link(board)}")
    assert response.status_code == 410
    assert "This link has expired" in response.text

    link = await _link(board)
    forged = link[:-2] + ("AA" if not link.endswith("AA") else "BB")
    response = await board.client.get(forged)
    assert response.status_code == 400
    assert "This link is not valid" in response.text
    assert "hookcast_session" not in response.headers.get("set-cookie", "")
    # No way into the operator's sign-in form from a customer's broken link.
    assert "Back to webhooks" not in response.text

    elsewhere = tokens.sign(
        b"another server's key" * 2,
        purpose="portal",
        claims={"a": board.account_id, "r": "editor", "k": "x"},
        expires=datetime.now(UTC) + timedelta(hours=1),
    )
    assert (await board.client.get(f"/portal/{elsewhere}")).status_code == 400


async def test_a_session_cookie_is_not_a_portal_link(board: Board) -> None:
    await board.sign_in(board.admin)
    session_token = board.client.cookies["hookcast_session"]
    board.client.cookies.clear()
    assert (await board.client.get(f"/portal/{session_token}")).status_code == 400


async def test_revoking_the_issuing_key_ends_its_links(board: Board) -> None:
    secret = await board.key(Role.ADMIN)
    await board.sign_in(secret)
    page = await board.post("/portal-links", {"role": "viewer", "duration": "24h"})
    link = re.search(r"http://hookcast\.test(/portal/[^<]+)<", page.text)
    assert link
    issuer = await board.runtime.services.auth.authenticate(secret)
    assert issuer.key_id
    await board.runtime.services.accounts.revoke_key(
        Caller(board.account_id, Role.ADMIN), issuer.key_id
    )
    board.client.cookies.clear()
    response = await board.client.get(link.group(1))
    assert response.status_code == 410
    assert "This link was revoked" in response.text


async def test_only_editor_or_viewer_links_for_bounded_durations(board: Board) -> None:
    await board.sign_in(board.admin)
    admin_link = await board.post("/portal-links", {"role": "admin", "duration": "1h"})
    assert admin_link.status_code == 400
    assert "Choose the editor or the viewer role." in admin_link.text
    forever = await board.post("/portal-links", {"role": "viewer", "duration": "365d"})
    assert forever.status_code == 400


async def test_links_and_sessions_signed_before_the_passphrase_kdf_still_work(
    board: Board,
) -> None:
    # Before the KDF, the dashboard's key came from one SHA-256 of HOOKCAST_SECRET_KEY (the
    # board's is "test-secret-key"): what it signed stays valid until it expires.
    sha256_key = base64.urlsafe_b64encode(hashlib.sha256(b"test-secret-key").digest())
    old_key = tokens.dashboard_key(sha256_key)
    assert old_key != board.signing_key
    admin = await board.runtime.services.auth.authenticate(board.admin)
    link, _ = portal.make_link(
        old_key,
        account_id=board.account_id,
        role="viewer",
        issuer_key_id=str(admin.key_id),
        duration="1h",
        now=datetime.now(UTC),
    )
    opened = await board.client.get(f"/portal/{link}")
    assert opened.status_code == 303, opened.text
    assert (await board.client.get("/webhooks")).status_code == 200
    # The session it opened is signed with the new key.
    cookie = board.client.cookies["hookcast_session"]
    tokens.verify(board.signing_key, purpose="session", token=cookie, now=datetime.now(UTC))


async def _framed_link(board: Board, origins: str) -> str:
    await board.sign_in(board.admin)
    page = await board.post(
        "/portal-links", {"role": "editor", "duration": "1h", "frame_ancestors": origins}
    )
    found = re.search(
        r'id="portal-link" class="secret">http://hookcast\.test(/portal/[^<]+)<', page.text
    )
    assert found, page.text
    assert "may be framed by https://app.example.com" in page.text
    board.client.cookies.clear()
    return found.group(1)


async def test_a_link_naming_origins_opens_pages_those_origins_may_frame(board: Board) -> None:
    await board.webhook(await board.site())
    link = await _framed_link(board, "https://app.example.com\n\nhttp://localhost:3000\n")

    opened = await board.client.get(link)
    cookie = opened.headers["set-cookie"]
    assert "SameSite=none" in cookie or "samesite=none" in cookie.lower()
    assert "Secure" in cookie
    assert "Partitioned" in cookie
    # httpx keeps Secure cookies for https only; a browser keeps them on loopback too.
    board.client.cookies.set(sessions.COOKIE, cookie.split(";")[0].split("=", 1)[1])
    page = await board.client.get("/webhooks")
    csp = page.headers["content-security-policy"]
    assert "frame-ancestors https://app.example.com http://localhost:3000" in csp
    assert "x-frame-options" not in page.headers
    # A customer who pokes at an operator page gets an error page, still frameable.
    refused = await board.client.get("/keys")
    assert refused.status_code == 403
    assert "frame-ancestors https://app.example.com" in refused.headers["content-security-policy"]
    # The operator's own pages are never framed.
    board.client.cookies.clear()
    await board.sign_in(board.admin)
    operator = await board.client.get("/webhooks")
    assert "frame-ancestors 'none'" in operator.headers["content-security-policy"]
    assert operator.headers["x-frame-options"] == "DENY"


async def test_a_bad_origin_is_refused_on_the_portal_links_page(board: Board) -> None:
    await board.sign_in(board.admin)
    page = await board.post(
        "/portal-links",
        {"role": "editor", "duration": "1h", "frame_ancestors": "http://evil.example"},
    )
    assert page.status_code == 400
    assert "is not an origin" in page.text
    assert 'id="portal-link"' not in page.text


async def test_the_brand_an_admin_saves_is_what_the_portal_shows(board: Board) -> None:
    await board.sign_in(board.admin)
    bad = await board.post("/portal-settings", {"name": "Acme", "accent": "teal"})
    assert bad.status_code == 400
    assert "hex colour" in bad.text
    saved = await board.post(
        "/portal-settings",
        {"name": "Acme Video", "accent": "#0F766E", "logo": "https://cdn.example.com/a.png"},
    )
    assert "The portal settings are saved." in saved.text
    operator = await board.client.get("/webhooks")
    assert "Acme Video" not in operator.text  # the operator keeps HookCast's look
    board.client.cookies.clear()

    await board.client.get(await _link(board))
    portal_page = await board.client.get("/webhooks")
    assert "<title>Webhooks · Acme Video</title>" in portal_page.text
    assert 'href="/theme/0f766e.css"' in portal_page.text
    assert "HookCast" not in portal_page.text
    assert (
        "img-src 'self' data: https://cdn.example.com;"
        in portal_page.headers["content-security-policy"]
    )
    theme = await board.client.get("/theme/0f766e.css")
    assert "--accent: light-dark(#0f766e, " in theme.text


async def test_a_portal_links_theme_lasts_its_session_and_takes_nothing_else(
    board: Board,
) -> None:
    link = await _link(board)
    for asked, shown in (("dark", ' data-theme="dark"'), ("light", ' data-theme="light"')):
        board.client.cookies.clear()
        await board.client.get(f"{link}?theme={asked}")
        page = (await board.client.get("/events")).text  # a later page of the session
        assert f'<html lang="en"{shown}>' in page, asked
    for other in ("", "?theme=auto", '?theme="><script>'):
        board.client.cookies.clear()
        await board.client.get(link + other)
        assert '<html lang="en">' in (await board.client.get("/events")).text, other


async def test_a_portal_links_theme_holds_on_the_pages_without_its_session(
    board: Board,
) -> None:
    """Signed out, the session ended, the link expired or broken: each page keeps the scheme
    the link asked for, where it followed the reader's system while the session did not."""
    dark = ' data-theme="dark"'
    link = await _link(board)
    await board.client.get(f"{link}?theme=dark")
    cookie = board.client.cookies[sessions.COOKIE]
    signed_out = await board.post("/signout", {})
    assert "You are signed out" in signed_out.text
    assert f'<html lang="en"{dark}>' in signed_out.text

    board.client.cookies.set(sessions.COOKIE, _ended(board, cookie))
    page = await board.client.get("/webhooks")
    assert "Your session has ended" in page.text
    assert f'<html lang="en"{dark}>' in page.text

    board.client.cookies.clear()
    expired = _expired_link(board)
    for broken, title in ((expired, "This link has expired"), ("x.y", "This link is not valid")):
        for asked, shown in (("dark", dark), ("light", ' data-theme="light"'), ("sepia", "")):
            page = await board.client.get(f"/portal/{broken}?theme={asked}")
            assert title in page.text
            assert f'<html lang="en"{shown}>' in page.text, (title, asked)


def _ended(board: Board, cookie: str) -> str:
    """The session cookie `cookie` signed again as it would be had it ended a minute ago."""
    claims = tokens.verify(
        board.signing_key, purpose="session", token=cookie, now=datetime.now(UTC)
    )
    return tokens.sign(
        board.signing_key,
        purpose="session",
        claims={name: value for name, value in claims.items() if name != "x"},
        expires=datetime.now(UTC) - timedelta(minutes=1),
    )


async def test_a_customer_whose_session_ended_is_told_in_their_words(board: Board) -> None:
    await board.sign_in(board.admin)
    await board.post("/portal-settings", {"name": "Acme Video"})
    board.client.cookies.clear()
    await board.client.get(await _link(board))
    cookie = board.client.cookies[sessions.COOKIE]
    board.client.cookies.set(sessions.COOKIE, _ended(board, cookie))

    page = await board.client.get("/webhooks")

    assert page.status_code == 401
    assert "Your session has ended" in page.text
    assert "ask Acme Video for a new one" in page.text
    assert "hookcast" not in page.text.lower().replace("/static/", "")
    assert "API key" not in page.text


def _renamed_event(format_name: str) -> tuple[str, str]:
    """A catalog event the format delivers under a name of its own: (catalog, own)."""
    wire = FORMATS[format_name]
    return next(
        (catalog, own)
        for catalog, own in wire.names.items()
        if catalog != own and catalog != TEST_EVENT
    )


async def test_the_portal_shows_each_webhooks_events_by_its_formats_names(board: Board) -> None:
    site_id = await board.site()
    admin = Caller(board.account_id, Role.ADMIN)
    await board.runtime.services.accounts.set_flowplayer_secret(admin, None)  # else held
    hooks = {}
    for name in ("apivideo", "flowplayer", "mediamanager", "standard"):
        catalog, own = _renamed_event(name)
        hook = await board.webhook(site_id, name=f"{name} hook", format=name, events=[own])
        await board.runtime.services.deliveries.send_example(admin, hook.id, catalog)
        hooks[name] = (hook.id, catalog, own)
    await board.client.get(await _link(board, role="editor"))

    for name, (hook_id, catalog, own) in hooks.items():
        log = (await board.client.get(f"/webhooks/{hook_id}")).text
        assert f'<span class="log-event">{own}</span>' in log, name
        assert f'<span class="log-event">{catalog}</span>' not in log, name
        assert f'aria-label="Send now {own} of' in log, name
        catalog_page = (await board.client.get("/event-types", params={"webhook": hook_id})).text
        headed = _headed_events(catalog_page)
        assert own in headed, name
        assert f'aria-label="Send example of {own} to' in catalog_page, name
        # Only what the format delivers, never a catalog (JW Player) name in its place.
        undelivered = [e for e in EVENT_TYPES if FORMATS[name].event_name(e) is None]
        for event in undelivered:
            assert event not in headed, (name, event)
        if undelivered:
            assert f"{len(undelivered)} other event types have no name" in catalog_page


def _headed_events(page: str) -> set[str]:
    """The event names the Event types page heads its rows with (their <wbr> hints out)."""
    return {
        name.replace("<wbr>", "") for name in re.findall(r"<h3><code[^>]*>(.*?)</code></h3>", page)
    }
