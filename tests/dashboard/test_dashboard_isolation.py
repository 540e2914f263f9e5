"""Tenant isolation, roles, CSRF and session expiry on every dashboard route, table-driven
from the dashboard's own router: a route added without a row in TABLE fails the test.

The API's matrix is tests/integration/test_security_isolation.py; this is its counterpart for
the pages, with sessions instead of keys. The sessions (personas): the admin, editor and
viewer of account A; portal-link sessions (editor, viewer) of A; the admin of account B; a
signed-out visitor; A's admin with a genuinely signed but expired cookie; and a genuinely
signed cookie pairing account A with B's key. For every route:

- account B reaches none of A's resources: 404 on a path naming one, listings and forms
  without them, a form naming A's property refused, a portal link only ever for B;
- a role below the route's gets the 403 page, a portal session never more than its link's;
- signed-out, expired and mismatched sessions are sent to sign in;
- a POST without the session's CSRF token (none, empty, forged, another session's) is a 403;
- every response carries the CSP (frame-ancestors 'none'), nosniff and no-store headers, and
  A's webhook secret appears in none of them;
- after every request, both accounts' state (webhooks with their secrets, properties, keys,
  events, deliveries with their attempts) is exactly what it was, unless the request was one
  allowed to change it.

A positive control keeps the table honest: the weakest persona a row allows succeeds on it
(on fresh resources when it changes them), so a 404 or 403 above is never just a wrong path
or a wrong row. The database is not what is tested here: SQLite only.
"""

from __future__ import annotations

import itertools
import re
import sqlite3
from collections.abc import Mapping
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from board import BASE_URL, WEBHOOK_URL, Board, csrf_of
from fastapi import FastAPI
from fastapi.routing import APIRoute

from hookcast import portal_links as portal
from hookcast import tokens
from hookcast.dashboard import dashboard_router, install_dashboard
from hookcast.dashboard import session as sessions
from hookcast.domain.models import Role
from hookcast.ports import PageRequest
from hookcast.services import Caller

EDITOR, VIEWER, ADMIN = Role.EDITOR, Role.VIEWER, Role.ADMIN
RANK = {VIEWER: 0, EDITOR: 1, ADMIN: 2}
SIGNIN_TOKEN = "sign-in-form-token-of-this-browser"
ALL = PageRequest(1, 500)
_LINK = re.compile(r"/portal/([A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+)")


@dataclass(frozen=True)
class Row:
    role: Role | None  # the weakest role the route allows; None: no session needed
    scoped: bool = False  # the path names one of A's resources: B gets 404
    body: Mapping[str, Any] | None = None  # the form posted (with {placeholders})
    query: Mapping[str, str] | None = None
    ok: int = 200  # the status for the weakest allowed persona (the positive control)
    outsider: int = 404  # B's admin's status when the path names none of A's resources
    outsider_body: Mapping[str, Any] | None = None  # what B posts instead, if not `body`
    outsider_changes_b: bool = False  # B's request may change B's own state (never A's)
    platform: bool = False  # the platform's set-up: refused to every portal session


def _webhook_form(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "Made here",
        "description": "",
        "webhook_url": WEBHOOK_URL,
        "site_ids": ["{site_id}"],
        "events": ["media_available"],
        "tag": "",
        "conditions": "",
        "retry_policy": "standard",
        "retry_delays": "",
        "timeout_seconds": "10",
        "enabled": "on",
        **overrides,
    }


TABLE: dict[tuple[str, str], Row] = {
    # Public: no session needed. The sign-in form has its own double-submit token.
    ("GET", "/"): Row(None, outsider=303),
    ("GET", "/signin"): Row(None, ok=303, outsider=303),  # to the form at /
    ("POST", "/signin"): Row(
        None,
        body={"api_key": "{viewer_secret}", "next": "/webhooks", "csrf": SIGNIN_TOKEN},
        ok=303,
        outsider=403,  # B's browser has no sign-in cookie for this form
    ),
    ("POST", "/signout"): Row(None, ok=303, outsider=303, outsider_changes_b=True),
    ("GET", "/portal/{token}"): Row(None, ok=303, outsider=303),
    ("GET", "/static/{name}"): Row(None, outsider=200),
    ("GET", "/favicon.ico"): Row(None, outsider=200),
    ("GET", "/{path}"): Row(None, ok=404, outsider=404),  # no such page
    ("GET", "/theme/{colour}.css"): Row(None, outsider=200),
    # Webhooks.
    ("GET", "/webhooks"): Row(VIEWER, outsider=200),
    ("GET", "/webhooks/new"): Row(EDITOR, outsider=200),
    ("POST", "/webhooks"): Row(EDITOR, body=_webhook_form(), outsider=400),  # A's property
    ("GET", "/webhooks/{webhook_id}"): Row(VIEWER, scoped=True),
    ("GET", "/webhooks/{webhook_id}/log.json"): Row(VIEWER, scoped=True),
    ("GET", "/webhooks/{webhook_id}/edit"): Row(EDITOR, scoped=True),
    ("POST", "/webhooks/{webhook_id}/edit"): Row(
        EDITOR, scoped=True, body=_webhook_form(name="Hijacked"), ok=303
    ),
    ("GET", "/webhooks/{webhook_id}/delete"): Row(EDITOR, scoped=True),
    ("POST", "/webhooks/{webhook_id}/delete"): Row(EDITOR, scoped=True, ok=303),
    ("POST", "/webhooks/{webhook_id}/enabled"): Row(
        EDITOR, scoped=True, body={"enabled": "false"}, ok=303
    ),
    ("POST", "/webhooks/{webhook_id}/secret"): Row(ADMIN, scoped=True),
    ("POST", "/webhooks/{webhook_id}/secret/rotate"): Row(ADMIN, scoped=True),
    ("POST", "/webhooks/{webhook_id}/test"): Row(EDITOR, scoped=True, ok=303),
    ("POST", "/webhooks/{webhook_id}/recover"): Row(
        EDITOR, scoped=True, body={"since": "2024-01-01T00:00"}
    ),
    ("POST", "/webhooks/{webhook_id}/replay"): Row(
        EDITOR, scoped=True, body={"since": "2024-01-01T00:00", "confirm": "yes"}
    ),
    ("POST", "/webhooks/{webhook_id}/held/deliver"): Row(EDITOR, scoped=True, ok=303),
    ("POST", "/webhooks/{webhook_id}/held/discard"): Row(EDITOR, scoped=True, ok=303),
    ("POST", "/deliveries/{delivery_id}/retry"): Row(EDITOR, scoped=True, ok=303),
    # The account's Flowplayer organization secret: B sets B's own, never A's. It signs every
    # Flowplayer-format webhook of the account: an account setting, never a portal's.
    ("POST", "/account/flowplayer_secret"): Row(
        EDITOR,
        body={"secret": "an organization secret"},
        outsider=200,
        outsider_changes_b=True,
        platform=True,
    ),
    # Events.
    ("GET", "/events"): Row(VIEWER, query={"site_id": "{site_id}"}, outsider=200),
    ("GET", "/event-types"): Row(VIEWER, outsider=200),
    ("POST", "/event-types/{event_name}/send"): Row(
        EDITOR, body={"webhook_id": "{webhook_id}"}, ok=303
    ),
    # Properties. B makes a property of its own, and A's are untouched. (B naming A's
    # property id made B's own of that id since review12, as in the API, where
    # tests/integration/test_api_sites.py checks it: here B's rename and delete of that id,
    # sorted after, would then find B's own.)
    ("GET", "/properties"): Row(VIEWER, outsider=200),
    ("POST", "/properties"): Row(
        EDITOR,
        body={"name": "Made here"},
        ok=303,
        outsider=303,
        outsider_body={"name": "Hijacked"},
        outsider_changes_b=True,
        platform=True,
    ),
    ("POST", "/properties/{site_id}/rename"): Row(
        EDITOR, scoped=True, body={"name": "Hijacked"}, ok=303, platform=True
    ),
    ("POST", "/properties/{site_id}/delete"): Row(EDITOR, scoped=True, ok=303, platform=True),
    # API keys and portal links: admins only. B's admin may make them, for B alone.
    ("GET", "/keys"): Row(ADMIN, outsider=200),
    ("POST", "/keys"): Row(
        ADMIN, body={"name": "sneaky", "role": "admin"}, outsider=200, outsider_changes_b=True
    ),
    ("POST", "/keys/{key_id}/revoke"): Row(ADMIN, scoped=True, ok=303),
    ("POST", "/account/contact"): Row(
        ADMIN,
        body={"email": "oncall@acme.example"},
        ok=303,
        outsider=303,
        outsider_changes_b=True,
    ),
    ("GET", "/portal-links"): Row(ADMIN, outsider=200),
    ("POST", "/portal-settings"): Row(
        ADMIN, body={"name": "Acme Video"}, outsider=200, outsider_changes_b=True
    ),
    ("POST", "/portal-links"): Row(ADMIN, body={"role": "editor", "duration": "1h"}, outsider=200),
}


@dataclass(frozen=True)
class Persona:
    name: str
    role: Role | None  # the role in account A; None: not A's (B, signed out, expired)
    cookie: str | None
    csrf: str = ""


@dataclass
class World:
    board: Board
    a: str
    b: str
    ids: dict[str, str]  # A's resources, by placeholder name
    secret: str  # A's webhook's signing secret: no refused request may show it
    markers: dict[str, str]  # A's data that nothing B or a stranger gets may contain
    b_admin: str  # B's admin key, to sign B in again after B signs out
    personas: dict[str, Persona] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Persona:
        return self.personas[name]


# --- the world -----------------------------------------------------------------------------


async def _resources(board: Board, account_id: str, site_id: str, name: str) -> dict[str, str]:
    """One of each resource in an account: property, webhook, event with its delivery, key."""
    admin = Caller(account_id, ADMIN)
    services = board.runtime.services
    await services.sites.create(admin, name=f"{name} property", site_id=site_id)
    webhook = await board.webhook(
        site_id, account_id, name=f"{name} hook", webhook_url=f"{WEBHOOK_URL}/{site_id}"
    )
    media_id = site_id[::-1]
    publisher = Caller(account_id, Role.PUBLISHER)
    (event_id,) = await services.events.publish(
        publisher, {"event": "media_available", "site_id": site_id, "media_id": media_id}
    )
    log = await services.deliveries.list(admin, webhook.id, page=ALL)
    (record,) = log.items
    key = await services.accounts.issue_key(account_id, role=VIEWER)
    return {
        "site_id": site_id,
        "site_name": f"{name} property",
        "webhook_id": webhook.id,
        "webhook_name": webhook.name,
        "webhook_url": webhook.webhook_url,
        "secret": webhook.secret,
        "event_id": event_id,
        "media_id": media_id,
        "delivery_id": record.delivery.id,
        "key_id": key.key.id,
    }


_fresh_sites = (f"F{n:07d}" for n in itertools.count())


async def _fresh(world: World) -> dict[str, str]:
    """New resources in A for a positive control that changes or deletes them."""
    fresh = await _resources(world.board, world.a, next(_fresh_sites), "Fresh")
    return {**world.ids, **fresh}


async def _session(board: Board, secret: str) -> tuple[str, str]:
    signed_in = await board.sign_in(secret)
    assert signed_in.status_code == 303, signed_in.text
    return board.client.cookies[sessions.COOKIE], await board.csrf()


def _portal_link(board: Board, issuer_key_id: str, role: str) -> str:
    """A link as A's admin makes one on /portal-links (that page's own row checks it)."""
    token, _ = portal.make_link(
        board.signing_key,
        account_id=board.account_id,
        role=role,
        issuer_key_id=issuer_key_id,
        duration="8h",
        now=datetime.now(UTC),
    )
    return token


async def _portal_session(board: Board, token: str) -> tuple[str, str]:
    board.client.cookies.clear()
    opened = await board.client.get(f"/portal/{token}")
    assert opened.status_code == 303, opened.text
    return board.client.cookies[sessions.COOKIE], await board.csrf()


def _resigned(board: Board, cookie: str, *, expires: datetime, **changes: Any) -> str:
    """A genuinely signed session cookie: the claims of `cookie`, changed."""
    claims = tokens.verify(
        board.signing_key, purpose="session", token=cookie, now=datetime.now(UTC)
    )
    claims = {name: value for name, value in claims.items() if name != "x"} | changes
    return tokens.sign(board.signing_key, purpose="session", claims=claims, expires=expires)


async def _world(board: Board) -> World:
    services = board.runtime.services
    ids = await _resources(board, board.account_id, "A1pha001", "Alpha")
    other = await services.accounts.create_account("Bravo Broadcasting")
    await _resources(board, other.id, "Bravo001", "Bravo")  # B is not empty either
    b_admin = (await services.accounts.issue_key(other.id, role=ADMIN)).secret
    viewer_secret = await board.key(VIEWER)
    admin_key_id = str((await services.auth.authenticate(board.admin)).key_id)
    ids |= {
        "token": _portal_link(board, admin_key_id, "viewer"),
        "name": "app.css",
        "path": "no/such/page",
        "colour": "1a73e8",
        "event_name": "media_available",
        "viewer_secret": viewer_secret,
    }
    markers = {
        name: value
        for name, value in ids.items()
        if name not in {"token", "name", "path", "event_name", "viewer_secret", "secret"}
    } | {"account_id": board.account_id, "admin_key_id": admin_key_id}
    world = World(board, board.account_id, other.id, ids, ids["secret"], markers, b_admin)

    personas = world.personas
    for name, role, secret in (
        ("admin A", ADMIN, board.admin),
        ("editor A", EDITOR, await board.key(EDITOR)),
        ("viewer A", VIEWER, viewer_secret),
        ("admin B", None, b_admin),
    ):
        cookie, csrf = await _session(board, secret)
        personas[name] = Persona(name, role, cookie, csrf)
    for role in (EDITOR, VIEWER):
        token = _portal_link(board, admin_key_id, role.value)
        cookie, csrf = await _portal_session(board, token)
        name = f"portal {role.value} A"
        personas[name] = Persona(name, role, cookie, csrf)
    personas["signed out"] = Persona("signed out", None, None)

    # Genuinely signed cookies, so only what changed is refused: A's admin's session with
    # its expiry passed (its CSRF token still matches), and A's account with B's key.
    admin_a = personas["admin A"]
    now = datetime.now(UTC)
    expired = _resigned(board, admin_a.cookie or "", expires=now - timedelta(seconds=1))
    personas["expired admin A"] = Persona("expired admin A", None, expired, admin_a.csrf)
    b_key = await services.auth.authenticate(b_admin)
    mixed = _resigned(board, admin_a.cookie or "", expires=now + timedelta(hours=1), k=b_key.key_id)
    personas["A with B's key"] = Persona("A with B's key", None, mixed, admin_a.csrf)
    # The control: the same re-signing with a live expiry and A's own key is accepted.
    control = _resigned(board, admin_a.cookie or "", expires=now + timedelta(hours=1))
    controlled = await _call(world, Persona("control", ADMIN, control), "GET", "/webhooks")
    assert controlled.status_code == 200
    board.client.cookies.clear()
    return world


# --- requests and checks -------------------------------------------------------------------


def _fill(value: Any, ids: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**ids) if "{" in value else value
    if isinstance(value, list):
        return [_fill(item, ids) for item in value]
    if isinstance(value, Mapping):
        return {name: _fill(item, ids) for name, item in value.items()}
    return value


async def _call(
    world: World,
    persona: Persona,
    method: str,
    path: str,
    *,
    data: Mapping[str, Any] | None = None,
    params: Mapping[str, str] | None = None,
    csrf: str | None = None,  # None: the persona's own token
    omit_csrf: bool = False,
    cookies: Mapping[str, str] | None = None,
) -> httpx.Response:
    """One request as a browser holding only this persona's cookie. Every response must carry
    the security headers, whoever asked and whatever the answer."""
    client = world.board.client
    client.cookies.clear()
    if persona.cookie:
        client.cookies.set(sessions.COOKIE, persona.cookie)
    for name, value in (cookies or {}).items():
        client.cookies.set(name, value)
    form: dict[str, Any] | None = None
    if method == "POST":
        form = {} if omit_csrf else {"csrf": persona.csrf if csrf is None else csrf}
        form |= dict(data or {})
    response = await client.request(method, path, data=form, params=params)
    client.cookies.clear()
    _assert_security_headers(response, f"{method} {path} as {persona.name}")
    return response


def _assert_security_headers(response: httpx.Response, what: str) -> None:
    headers = response.headers
    csp = headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in csp, what
    assert "default-src 'self'" in csp, what
    assert "'unsafe-inline'" not in csp, what
    assert headers.get("x-content-type-options") == "nosniff", what
    assert headers.get("x-frame-options") == "DENY", what
    if "/static/" not in what and "/favicon.ico" not in what and "/theme/" not in what:
        assert headers.get("cache-control") == "no-store", what


def _state(world: World) -> dict[str, dict[str, list[str]]]:
    """Every row of every table in the store, by account ("A", "B", or "shared" for tables
    without an account column: attempts, webhook_sites, webhook_events). Read from the file
    directly: cheap enough to take after every request, and nothing can hide from it (an
    encrypted secret, an attempt, a rescheduled delivery, a key)."""
    path = world.board.runtime.settings.database_url.removeprefix("sqlite:///")
    owners = {world.a: "A", world.b: "B"}
    state: dict[str, dict[str, list[str]]] = {"A": {}, "B": {}, "shared": {}}
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        tables = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        for (table,) in tables:
            cursor = db.execute(f'SELECT * FROM "{table}"')  # the store's own table names
            columns = [column[0] for column in cursor.description]
            owner = "id" if table == "accounts" else "account_id"
            at = columns.index(owner) if owner in columns else None
            for row in cursor:
                part = "shared" if at is None else owners.get(row[at], "shared")
                state[part].setdefault(table, []).append(repr(row))
    for by_table in state.values():
        for rows in by_table.values():
            rows.sort()
    return state


def _echoed(response: httpx.Response, data: Mapping[str, Any] | None) -> str:
    """What the request itself said (its URL and form), which a page may repeat back."""
    return str(response.request.url) + repr(data)


def _leaks(world: World, response: httpx.Response, data: Mapping[str, Any] | None) -> list[str]:
    said = _echoed(response, data)
    return [
        name
        for name, value in world.markers.items()
        if value in response.text and value not in said
    ]


def _b_links(world: World, response: httpx.Response) -> list[str]:
    """Portal links on a page B sees that are for any account but B."""
    now = datetime.now(UTC)
    wrong = []
    for token in _LINK.findall(response.text):
        link = portal.read_link(world.board.signing_key, token, now=now)
        if link.account_id != world.b:
            wrong.append(token)
    return wrong


def _weaker(row: Row, persona: Persona) -> bool:
    if row.role is None or persona.role is None:
        return False
    # A portal editor manages webhooks, never the platform's properties.
    return RANK[persona.role] < RANK[row.role] or (row.platform and _is_portal(persona))


def _is_portal(persona: Persona) -> bool:
    return persona.name.startswith("portal ")


# --- the tests -----------------------------------------------------------------------------


def _dashboard_routes(board: Board) -> set[tuple[str, str]]:
    router = dashboard_router()  # the router every app includes at /
    routes: set[tuple[str, str]] = set()
    for route in router.routes:
        assert isinstance(route, APIRoute), f"not a page route: {route!r}"
        assert route.methods is not None  # FastAPI fills in GET when a route names none
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)  # "{path:path}": "{path}"
        routes |= {(method, path) for method in route.methods}
    return routes


async def test_every_dashboard_route_has_a_row(board: Board) -> None:
    routes = _dashboard_routes(board)
    assert routes - set(TABLE) == set(), "add a row to TABLE for each new dashboard route"
    assert set(TABLE) - routes == set(), "TABLE names routes the dashboard no longer has"


# Where a stranger with a session cookie is sent back to sign in, and why.
_REASONS = {"expired admin A": "expired", "A with B's key": "revoked"}


async def test_another_account_and_strangers_reach_nothing(board: Board) -> None:
    world = await _world(board)
    before = _state(world)
    problems: list[str] = []
    for (method, template), row in sorted(TABLE.items()):
        for who in ("admin B", "signed out", *_REASONS):
            outsider = who == "admin B"
            body = row.outsider_body if outsider and row.outsider_body else row.body
            data = _fill(body, world.ids)
            answer = await _call(
                world,
                world[who],
                method,
                template.format(**world.ids),
                data=data,
                params=_fill(row.query, world.ids),
            )
            what = f"{method} {template} as {who}: {answer.status_code}"
            after = _state(world)
            may_change = {"B"} if outsider and row.outsider_changes_b else set()
            if any(after[part] != before[part] for part in set(after) - may_change):
                problems.append(f"{what} changed the state")
            before = after
            if leaked := _leaks(world, answer, data):
                problems.append(f"{what} shows A's {leaked}")
            if world.secret in answer.text:
                problems.append(f"{what} shows A's webhook secret")
            if outsider and template == "/signout":
                # B's session ended on the server too: B signs in again for the next row.
                cookie, csrf = await _session(board, world.b_admin)
                world.personas[who] = Persona(who, None, cookie, csrf)
            if outsider:
                problems += _outsider_problems(world, row, answer, what)
            elif row.role is not None:
                problems += _sent_to_sign_in(world[who], answer, what)
            elif answer.status_code >= 500:
                problems.append(what)
    assert problems == []


def _outsider_problems(world: World, row: Row, answer: httpx.Response, what: str) -> list[str]:
    problems = []
    expected = 404 if row.scoped else row.outsider
    if answer.status_code != expected:
        problems.append(f"{what}, expected {expected}")
    if wrong := _b_links(world, answer):
        problems.append(f"{what} made a portal link for another account {wrong}")
    return problems


def _sent_to_sign_in(persona: Persona, answer: httpx.Response, what: str) -> list[str]:
    """Sent to the sign-in page (saying why), with the dead or wrong cookie cleared."""
    location = answer.headers.get("location", "")
    if answer.status_code != 303 or not (location == "/" or location.startswith("/?")):
        return [f"{what} → {location!r}, expected the sign-in page"]
    problems = []
    reason = _REASONS.get(persona.name)
    if reason and f"reason={reason}" not in location:
        problems.append(f"{what} → {location!r}, expected reason={reason}")
    if persona.cookie and f'{sessions.COOKIE}=""' not in answer.headers.get("set-cookie", ""):
        problems.append(f"{what} did not clear the session cookie")
    return problems


async def test_weaker_roles_are_refused_and_portal_sessions_never_exceed_their_link(
    board: Board,
) -> None:
    world = await _world(board)
    before = _state(world)
    problems: list[str] = []
    refused = 0
    for (method, template), row in sorted(TABLE.items()):
        for persona in world.personas.values():
            if not _weaker(row, persona):
                continue
            data = _fill(row.body, world.ids)
            answer = await _call(
                world,
                persona,
                method,
                template.format(**world.ids),
                data=data,
                params=_fill(row.query, world.ids),
            )
            refused += 1
            what = f"{method} {template} as {persona.name}: {answer.status_code}"
            if answer.status_code != 403 or "Your role cannot do this" not in answer.text:
                problems.append(f"{what}, expected the 403 page")
            if world.secret in answer.text:
                problems.append(f"{what} shows the webhook secret")
            after = _state(world)
            if after != before:
                problems.append(f"{what} changed the state")
            before = after
    assert problems == []
    # viewer and portal viewer on every editor+ row, all four on every admin row, and the
    # portal editor on every platform row
    assert refused == 2 * sum(r.role is EDITOR for r in TABLE.values()) + 4 * sum(
        r.role is ADMIN for r in TABLE.values()
    ) + sum(r.platform for r in TABLE.values())


async def test_a_post_without_the_sessions_csrf_token_changes_nothing(board: Board) -> None:
    world = await _world(board)
    admin = world["admin A"]
    other_session = world["editor A"].csrf  # genuine, but another session's
    before = _state(world)
    problems: list[str] = []
    posts = [(t, row) for (m, t), row in sorted(TABLE.items()) if m == "POST" and t != "/signin"]
    for template, row in posts:
        path, data = template.format(**world.ids), _fill(row.body, world.ids)
        for label, token in (
            ("no token", None),
            ("an empty token", ""),
            ("a forged token", "forged-" + admin.csrf[7:]),
            ("another session's token", other_session),
        ):
            answer = await _call(
                world, admin, "POST", path, data=data, csrf=token, omit_csrf=token is None
            )
            what = f"POST {template} with {label}: {answer.status_code}"
            if answer.status_code != 403 or "This form has expired" not in answer.text:
                problems.append(f"{what}, expected the 403 page")
            if sessions.COOKIE in answer.headers.get("set-cookie", ""):
                problems.append(f"{what} touched the session cookie")  # no sign-out CSRF
            if world.secret in answer.text:
                problems.append(f"{what} shows the webhook secret")
            after = _state(world)
            if after != before:
                problems.append(f"{what} changed the state")
            before = after
    # The session survived every refused sign-out.
    assert (await _call(world, admin, "GET", "/webhooks")).status_code == 200

    # Sign-in: the form's token must match this browser's sign-in cookie (no login CSRF).
    sign_in = _fill(TABLE["POST", "/signin"].body, world.ids)
    stranger = world["signed out"]
    for label, cookie, token in (
        ("no cookie", None, SIGNIN_TOKEN),
        ("no token", SIGNIN_TOKEN, None),
        ("an empty token", SIGNIN_TOKEN, ""),
        ("another browser's token", "another-browsers-token", SIGNIN_TOKEN),
    ):
        answer = await _call(
            world,
            stranger,
            "POST",
            "/signin",
            data={name: value for name, value in sign_in.items() if name != "csrf"},
            csrf=token,
            omit_csrf=token is None,
            cookies={sessions.SIGNIN_COOKIE: cookie} if cookie else None,
        )
        what = f"POST /signin with {label}: {answer.status_code}"
        if answer.status_code != 403 or sessions.COOKIE in answer.headers.get("set-cookie", ""):
            problems.append(f"{what}, expected a 403 without a session")
    assert problems == []


async def test_the_weakest_allowed_persona_succeeds_on_every_row(board: Board) -> None:
    """The positive control: the rows' roles and paths are right, so the refusals above are
    refusals, not typos. Changes run on fresh resources."""
    world = await _world(board)
    problems: list[str] = []
    for (method, template), row in sorted(TABLE.items()):
        if row.role is None:
            personas = [world["signed out"]]
        else:
            personas = [
                p
                for p in world.personas.values()
                if p.role is row.role and not (row.platform and _is_portal(p))
            ]
        for persona in personas:
            # A change to one of A's resources runs on new ones: the next persona needs them.
            ids = await _fresh(world) if method == "POST" and row.scoped else world.ids
            cookies = {sessions.SIGNIN_COOKIE: SIGNIN_TOKEN} if template == "/signin" else None
            answer = await _call(
                world,
                persona,
                method,
                template.format(**ids),
                data=_fill(row.body, ids),
                params=_fill(row.query, ids),
                cookies=cookies,
            )
            what = f"{method} {template} as {persona.name}: {answer.status_code}"
            if answer.status_code != row.ok:
                problems.append(f"{what}, expected {row.ok}")
            # Only revealing shows a webhook's secret (rotating shows the new one).
            if (template == "/webhooks/{webhook_id}/secret") != (ids["secret"] in answer.text):
                problems.append(f"{what}: the secret is shown only by revealing it")
            if template == "/events" and ids["media_id"] not in answer.text:
                problems.append(f"{what} did not list A's event")
    assert problems == []


async def test_a_session_ends_after_12_hours_on_the_injected_clock(board: Board) -> None:
    now = [datetime.now(UTC)]
    app = FastAPI()
    install_dashboard(
        app, board.runtime.services, signing_key=board.signing_key, clock=lambda: now[0]
    )
    site = await board.site()
    admin = Caller(board.account_id, ADMIN)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=BASE_URL
    ) as client:
        form = await client.get("/")
        signed_in = await client.post(
            "/signin", data={"api_key": board.admin, "csrf": csrf_of(form), "next": "/webhooks"}
        )
        assert "max-age=43200" in signed_in.headers["set-cookie"].lower()
        cookie = client.cookies[sessions.COOKIE]

        now[0] += sessions.SESSION_LENGTH - timedelta(seconds=1)
        page = await client.get("/properties")
        assert page.status_code == 200
        csrf = csrf_of(page)

        now[0] += timedelta(seconds=2)
        for method, path, data in (
            ("GET", "/webhooks", None),
            ("POST", f"/properties/{site}/rename", {"csrf": csrf, "name": "Too late"}),
            ("POST", f"/properties/{site}/delete", {"csrf": csrf}),
            ("POST", "/keys", {"csrf": csrf, "role": "admin"}),
        ):
            client.cookies.clear()
            client.cookies.set(sessions.COOKIE, cookie)
            answer = await client.request(method, path, data=data)
            assert answer.status_code == 303, path
            assert "reason=expired" in answer.headers["location"], path
            _assert_security_headers(answer, f"{method} {path} expired")
        assert (await board.runtime.services.sites.get(admin, site)).name == "Main site"
        assert len(await board.runtime.services.accounts.list_keys(admin)) == 1
