"""The dashboard's FastAPI dependencies: the dashboard itself, the signed-in visit, and the
CSRF-checked form (the API's `ServicesDep`, `CallerDep` in api/deps.py, for pages).

A page that changes something takes its form as `CsrfFormDep` (or, for signing in and out,
one of the other checks routes.CSRF_CHECKS names): the token is checked before the endpoint runs, so
no endpoint can forget it, and routes.py refuses to add an unsafe route without one.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from starlette.datastructures import FormData
from starlette.requests import Request

from hookcast.dashboard import session as sessions
from hookcast.dashboard.web import CsrfFailed, Dashboard, SignInRequired, Visit

__all__ = [
    "CsrfFormDep",
    "DashDep",
    "SignOutDep",
    "VisitDep",
    "checked_form",
    "count_session_start",
    "get_dashboard",
    "get_visit",
    "signout_visit",
]


def get_dashboard(request: Request) -> Dashboard:
    """The dashboard the route belongs to (its route class puts it on the request)."""
    dash: Dashboard = request.state.dashboard
    return dash


DashDep = Annotated[Dashboard, Depends(get_dashboard)]


async def get_visit(request: Request, dash: DashDep) -> Visit:
    """Who is signed in; SignInRequired (answered with the sign-in page) if nobody is. The
    request counts against the API's rate limit (a 429 with Retry-After past it)."""
    visit = await dash.visit(request)
    request.state.visit = visit  # an error page of this request keeps the menu
    _count(request, visit)
    return visit


def _count(request: Request, visit: Visit) -> None:
    """Counts a signed-in page against the API's rate limits (api/ratelimit.py, on the
    app's state: the dashboard does not import the API): an operator's against the key
    signed in with; a portal session's against a bucket of its account's portal sessions,
    not the admin key that made the link (its customer must not exhaust the platform's
    key); either against its account's bucket too, as the account's API requests are.
    Uncounted, a portal user sent 1,000 test events in 6.9 s, all accepted."""
    session = visit.session
    count_session_start(
        request, key_id=session.key_id, account_id=session.account_id, portal=session.portal
    )


def count_session_start(request: Request, *, key_id: str, account_id: str, portal: bool) -> None:
    """Counts a session about to start (a sign-in, a portal link opened) as `_count` counts
    its pages: each session's sign-out writes a row (the session refused until it expires),
    and sign-out itself is never refused, so counting the starts bounds those rows by the
    limit (attack 10: uncounted, a client signing in and out in a loop wrote 575 in 10 s
    through a key of 1 request a second)."""
    limiter = getattr(request.app.state, "rate_limiter", None)
    if limiter is not None:
        limiter.check(f"portal:{account_id}" if portal else key_id, account=account_id)


VisitDep = Annotated[Visit, Depends(get_visit)]


async def checked_form(request: Request, visit: VisitDep) -> FormData:
    """The posted form, once its CSRF token matches the session's (else the 403 page)."""
    return await _matching(request, visit)


CsrfFormDep = Annotated[FormData, Depends(checked_form)]


async def signout_visit(request: Request, dash: DashDep) -> Visit | None:
    """The session to end, its form's CSRF token checked; None if there is none left to end
    (signing out twice is no error, and there is nothing to protect). Not counted against
    the rate limit (`_count`): a person shown "Too many requests" must still be able to
    leave, from that page's own sign-out form."""
    try:
        visit = await dash.visit(request)
    except SignInRequired:
        return None
    await _matching(request, visit)
    return visit


SignOutDep = Annotated[Visit | None, Depends(signout_visit)]


async def _matching(request: Request, visit: Visit) -> FormData:
    form = await request.form()
    if not sessions.same_token(form.get("csrf"), visit.session.csrf):
        raise CsrfFailed
    return form
