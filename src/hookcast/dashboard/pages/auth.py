"""Signing in with an API key, signing out, and opening a portal link."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated

from fastapi import Depends
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from hookcast import portal_links as portal
from hookcast.dashboard import session as sessions
from hookcast.dashboard.deps import DashDep, SignOutDep, count_session_start
from hookcast.dashboard.theme import portal_theme
from hookcast.dashboard.web import (
    SIGNIN_REASONS,
    CsrfFailed,
    Dashboard,
    Visit,
    redirect,
    safe_next,
)
from hookcast.domain.errors import Unauthorized
from hookcast.domain.models import Role
from hookcast.services import Caller

PUBLISHER_REFUSED = (
    "Publisher keys can only publish events, so they cannot open the dashboard. "
    "Sign in with an admin, editor or viewer key."
)
WRONG_KEY = "That API key is not valid. Check that you pasted all of it, or ask an admin for one."


async def signin_page(request: Request, dash: DashDep) -> Response:
    if dash.session(request) is not None:
        return redirect("/webhooks")
    reason = SIGNIN_REASONS.get(request.query_params.get("reason", ""))
    return _signin_form(request, dash, info=reason)


async def to_signin_page() -> Response:
    """GET /signin: the address bar after a refused sign-in (the form posts there). Reloaded
    or typed, it answered "There is no page at /signin"; the form is at /."""
    return redirect("/")


async def signin_form(request: Request, dash: DashDep) -> FormData:
    """The sign-in form, once its token matches this browser's sign-in cookie (no login
    CSRF): there is no session yet, so a double-submit cookie stands in for it."""
    form = await request.form()
    expected = request.cookies.get(sessions.SIGNIN_COOKIE, "")
    if not sessions.same_token(form.get("csrf"), expected):
        error = "The sign-in form expired. Please try again."
        raise CsrfFailed(_signin_form(request, dash, error=error, status=403))
    return form


async def signin(
    request: Request, dash: DashDep, form: Annotated[FormData, Depends(signin_form)]
) -> Response:
    secret = form.get("api_key")
    try:
        caller = await dash.services.auth.authenticate(secret if isinstance(secret, str) else None)
    except Unauthorized:
        return _signin_form(request, dash, error=WRONG_KEY, status=401)
    if caller.role is Role.PUBLISHER or caller.key_id is None:
        return _signin_form(request, dash, error=PUBLISHER_REFUSED, status=403)
    count_session_start(request, key_id=caller.key_id, account_id=caller.account_id, portal=False)
    now = dash.now()
    session = sessions.Session.start(
        account_id=caller.account_id,
        role=caller.role,
        key_id=caller.key_id,
        expires=now + sessions.SESSION_LENGTH,
    )
    return _signed_in(request, dash, session, now, safe_next(form.get("next")))


async def signout(request: Request, dash: DashDep, visit: SignOutDep) -> Response:
    if visit is not None:
        # Server-side too: a copy of the cookie must not outlive the sign-out.
        session = visit.session
        await dash.services.auth.sign_out(
            visit.caller, session.id, expires=session.expires, now=dash.now()
        )
        if session.portal:
            return _portal_signed_out(request, dash, visit)
    response = redirect("/?reason=signed_out")
    sessions.clear_cookie(response)
    return response


async def open_portal(request: Request, token: str, dash: DashDep) -> Response:
    now = dash.now()
    # An expired or broken link's page keeps the scheme the link asks for, as its session
    # would have: a dark app framing it showed a white box in its place.
    theme = portal_theme(request.query_params.get("theme"))
    try:
        link = portal.read_link(dash.signing_key, token, now=now, previous=dash.previous_keys)
        # The admin key that made the link must still exist: revoking it ends the link.
        await dash.services.auth.resume(link.account_id, link.issuer_key_id)
    except portal.PortalLinkInvalid as exc:
        return dash.error_page(
            request,
            status=exc.status,
            title=exc.title,
            message=exc.message,
            back=False,
            theme=theme,
        )
    except Unauthorized:
        return dash.error_page(
            request,
            status=410,
            title="This link was revoked",
            message="The key that created this portal link no longer exists. Ask for a new link.",
            back=False,
            theme=theme,
        )
    count_session_start(request, key_id=link.issuer_key_id, account_id=link.account_id, portal=True)
    origins = link.frame_ancestors
    if origins is None:  # the link names none: the account's default, read now
        customer = Caller(link.account_id, link.role, portal=True)
        origins = (await dash.services.portal.settings(customer)).frame_ancestors
    session = sessions.Session.start(
        account_id=link.account_id,
        role=link.role,
        key_id=link.issuer_key_id,
        expires=min(link.expires, now + sessions.SESSION_LENGTH),
        portal=True,
        frame_ancestors=origins,
        theme=theme,
    )
    request.state.frame_ancestors = origins  # this answer's headers (web._headers)
    return _signed_in(request, dash, session, now, "/webhooks")


def _portal_signed_out(request: Request, dash: Dashboard, visit: Visit) -> Response:
    """Words for the platform's customer, not an operator: no sign-in form, no CLI. Rendered
    here, not redirected to, so a framed portal's page may still be framed."""
    response = dash.render(
        request,
        "portal_signed_out.html",
        None,
        brand=visit.brand,
        portal=True,
        theme=visit.session.theme,
    )
    sessions.clear_cookie(response, framed=bool(visit.session.frame_ancestors))
    return response


def _signin_form(
    request: Request,
    dash: Dashboard,
    *,
    error: str | None = None,
    info: str | None = None,
    status: int = 200,
) -> Response:
    token = secrets.token_urlsafe(32)
    response = dash.render(
        request,
        "signin.html",
        None,
        status=status,
        csrf=token,
        error=error,
        info=info,
        next=safe_next(request.query_params.get("next")),
    )
    response.set_cookie(
        sessions.SIGNIN_COOKIE,
        token,
        max_age=3600,
        path="/signin",
        httponly=True,
        samesite="strict",
        secure=dash.cookie_secure(request),
    )
    return response


def _signed_in(
    request: Request, dash: Dashboard, session: sessions.Session, now: datetime, target: str
) -> Response:
    response = redirect(target)
    sessions.set_cookie(
        response, key=dash.signing_key, session=session, now=now, secure=dash.cookie_secure(request)
    )
    response.delete_cookie(sessions.SIGNIN_COOKIE, path="/signin")
    return response
