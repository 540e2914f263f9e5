"""The dashboard's plumbing: state, the signed-in visit, rendering, headers, errors, CSRF.

Every page is a module-level endpoint (routes.py lists them) that takes the dashboard, the
signed-in visit and, if it changes anything, the CSRF-checked form as dependencies (deps.py),
calls the services, and renders a template. Errors the services or the dependencies raise
become pages here, in one place (`DashboardRoute`), so an endpoint never formats an error.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi.routing import APIRoute
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from hookcast.dashboard import session as sessions
from hookcast.dashboard.filters import install_filters
from hookcast.domain.errors import Forbidden, HookcastError, NotFound, Unauthorized
from hookcast.domain.models import Permission
from hookcast.domain.portal import PortalSettings, logo_origin
from hookcast.page_security import PAGE_HEADERS, page_headers
from hookcast.ports import Clock
from hookcast.services import Caller, Services

__all__ = ["CsrfFailed", "Dashboard", "DashboardRoute", "SignInRequired", "Visit"]

NOTICES: Mapping[str, str] = {
    "signed_out": "You are signed out.",
    "created": "Saved.",
    "updated": "Your changes are saved.",
    "enabled": "The webhook is enabled.",
    "disabled": "The webhook is disabled: new events are held for it, not sent, until it is "
    "enabled and you deliver them.",
    "enabled_delivered": "The webhook is enabled, and its held events are on their way.",
    "enabled_discarded": "The webhook is enabled, and its held events are discarded.",
    "held_delivered": "The held events are on their way, oldest first.",
    "held_discarded": "The held events are discarded: they will not be sent.",
    "deleted": "The webhook and its delivery log are deleted.",
    "test_sent": "A test event is on its way: its delivery is the first in the log, and "
    "updates here as it is sent.",
    "example_sent": "The example is on its way: its delivery is the first in the log, and "
    "updates here as it is sent.",
    "contact_saved": "The contact address is saved.",
    "retried": "This delivery will be sent again now: it updates here as it is sent.",
    "site_created": "The property is created.",
    "site_renamed": "The property is renamed.",
    "site_deleted": "The property is deleted.",
    "key_revoked": "The API key is revoked.",
}


# Why a visitor is back at the sign-in page. Codes, not text, travel in the URL, so nobody
# can make the sign-in page display a message of their own.
SIGNIN_REASONS: Mapping[str, str] = {
    "expired": "Your session has expired: sign in again.",
    "revoked": "The API key of your session was revoked: sign in again.",
    "signed_out": "You are signed out.",
}


_EPOCH = datetime.fromtimestamp(0, UTC)  # reading a cookie "then": its expiry aside


class SignInRequired(Exception):
    """No valid session: the visitor is sent to the sign-in page (`reason` a SIGNIN_REASONS
    code, or "" for a first visit)."""

    def __init__(self, reason: str = "") -> None:
        super().__init__(reason)
        self.reason = reason


class CsrfFailed(Exception):
    """A form posted without its session's CSRF token: refused with the 403 page, or with
    `answer` when the form has a page of its own to say so (the sign-in form)."""

    def __init__(self, answer: Response | None = None) -> None:
        super().__init__("CSRF token missing or wrong")
        self.answer = answer


@dataclass(frozen=True, slots=True)
class Visit:
    """A signed-in request: who is calling and the session they hold."""

    caller: Caller
    session: sessions.Session
    brand: PortalSettings | None = None  # a portal session's: the platform's look

    @property
    def can_write(self) -> bool:
        return self.caller.may(Permission.WRITE)

    @property
    def is_admin(self) -> bool:
        return self.caller.may(Permission.ADMIN)

    @property
    def can_manage_platform(self) -> bool:
        """Properties and account settings: editors and admins, never a portal session."""
        return self.caller.may(Permission.PLATFORM)


@dataclass(frozen=True)
class Dashboard:
    services: Services
    signing_key: bytes
    clock: Clock
    templates: Environment
    secure_cookies: bool = False  # Secure even over plain HTTP: TLS ends at a proxy in front
    previous_keys: tuple[bytes, ...] = ()  # what they signed is still accepted, until it expires

    @classmethod
    def build(
        cls,
        services: Services,
        *,
        signing_key: bytes,
        clock: Clock,
        secure_cookies: bool = False,
        previous_keys: Sequence[bytes] = (),
    ) -> Dashboard:
        env = Environment(
            loader=PackageLoader("hookcast.dashboard", "templates"),
            autoescape=select_autoescape(["html", "svg"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        install_filters(env)
        return cls(services, signing_key, clock, env, secure_cookies, tuple(previous_keys))

    def now(self) -> datetime:
        return self.clock()

    def session(self, request: Request) -> sessions.Session | None:
        """The request's session, if its cookie is genuine and unexpired."""
        return sessions.read_session(
            request, key=self.signing_key, now=self.now(), previous=self.previous_keys
        )

    def ended_portal_session(self, request: Request) -> sessions.Session | None:
        """The portal session of a genuine cookie (signed with one of the keys), expired or
        not: a customer whose session ended is told so in words meant for them."""
        session = sessions.read_session(
            request, key=self.signing_key, now=_EPOCH, previous=self.previous_keys
        )
        return session if session is not None and session.portal else None

    def cookie_secure(self, request: Request) -> bool:
        """Whether cookies set in answer to `request` carry the Secure flag."""
        return self.secure_cookies or request.url.scheme == "https"

    async def visit(self, request: Request) -> Visit:
        """The signed-in caller, re-checked against the store on every request."""
        session = self.session(request)
        if session is None:
            raise SignInRequired("expired" if sessions.COOKIE in request.cookies else "")
        if await self.services.auth.signed_out(session.id):
            raise SignInRequired("signed_out")
        try:
            key_caller = await self.services.auth.resume(session.account_id, session.key_id)
        except Unauthorized:
            raise SignInRequired("revoked") from None
        if session.portal:
            # A portal session acts with the role the link granted, never the admin's own.
            caller = Caller(session.account_id, session.role, key_id=None, portal=True)
            brand = await self.services.portal.settings(caller)
            request.state.logo_origin = logo_origin(brand.logo)
            request.state.brand = brand  # error pages of the portal wear it too
            return Visit(caller, session, brand)
        return Visit(key_caller, session)

    def render(
        self,
        request: Request,
        template: str,
        visit: Visit | None,
        *,
        status: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        code = request.query_params.get("notice", "")
        notice = NOTICES.get(code)
        context.setdefault("brand", getattr(request.state, "brand", None))
        html = self.templates.get_template(template).render(
            request=request,
            visit=visit,
            notice=notice,
            notice_code=code if notice else None,  # where a page shows it (webhook.html)
            path=request.url.path,
            **context,
        )
        return HTMLResponse(html, status_code=status)

    def error_page(
        self,
        request: Request,
        *,
        status: int,
        title: str,
        message: str,
        back: bool = True,
        theme: str = "",
    ) -> Response:
        """The error page, with the menu if the request's visit was established (a 403 or
        404 for someone signed in leaves them a way on, in the portal as elsewhere); `back`
        False: no link to the webhooks (a customer's broken portal link leads to no page of
        theirs, and the sign-in form is the operator's); `theme` the scheme a portal link
        named, for a page shown without its session."""
        visit: Visit | None = getattr(request.state, "visit", None)
        return self.render(
            request,
            "error.html",
            visit,
            status=status,
            title=title,
            message=message,
            back=back,
            theme=theme,
        )


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)  # 303: the browser follows with a GET


Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class DashboardRoute(APIRoute):
    """A page's route: gives its endpoint's dependencies the application's dashboard
    (`app.state.dashboard`, deps.py), turns HookCast's errors into pages and adds security
    headers. The dashboard comes from the application, not from the route, so that one set
    of routes, analysed once per process, serves every application built on it (app.py)."""

    def get_route_handler(self) -> Handler:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            dashboard: Dashboard = request.app.state.dashboard
            request.state.dashboard = dashboard
            try:
                response = await _translated(dashboard, original, request)
            except HTTPException as exc:
                if exc.status_code == 429:  # the rate limit (deps.py): for a person
                    response = _too_many_requests(dashboard, request, exc)
                else:
                    response = await _as_the_app_answers(request, exc)
            for name, value in _headers(dashboard, request).items():
                response.headers.setdefault(name, value)
            # Pages can show secrets: never keep them in a shared or back-button cache.
            response.headers.setdefault("Cache-Control", "no-store")
            return response

        return handler


def _too_many_requests(dashboard: Dashboard, request: Request, exc: HTTPException) -> Response:
    """The rate limit's 429 as a page with its Retry-After, in the portal's brand and frame
    as its other errors (the API's JSON, which it was until review 10, showed raw there)."""
    headers = exc.headers or {}
    wait = headers.get("Retry-After", "1")
    response = dashboard.error_page(
        request,
        status=429,
        title="Too many requests",
        message="This session made more requests than the server allows (or its account "
        f"did, across all its keys and sessions); try again in {wait} "
        f"second{'' if wait == '1' else 's'}.",
    )
    response.headers.update(headers)
    return response


async def _as_the_app_answers(request: Request, exc: HTTPException) -> Response:
    """An HTTP error raised by a page (the catch-all's 404 or 405 for a program) answered by
    the application's own handler (the API's error format), so it still gets page headers."""
    answer = request.app.exception_handlers.get(HTTPException)
    if answer is None:
        raise exc
    response: Response = await answer(request, exc)
    return response


def _headers(dashboard: Dashboard, request: Request) -> Mapping[str, str]:
    """The operator dashboard's strict headers, or a portal session's: framed by the origins
    its link allowed, showing the platform's logo."""
    frame: Sequence[str] | None = getattr(request.state, "frame_ancestors", None)
    if frame is None:  # not the page opening a portal link: the session's, if a portal's
        session = dashboard.session(request)
        if session is None or not session.portal:
            return PAGE_HEADERS
        frame = session.frame_ancestors
    logo = getattr(request.state, "logo_origin", None)
    return page_headers(frame_ancestors=frame, img_origins=[logo] if logo else [])


async def _translated(dashboard: Dashboard, original: Handler, request: Request) -> Response:
    try:
        return await original(request)
    except SignInRequired as exc:
        ended = dashboard.ended_portal_session(request)
        if ended is not None:
            return await _portal_session_ended(dashboard, request, ended)
        response = redirect(_signin_url(request, exc.reason))
        sessions.clear_cookie(response)
        return response
    except CsrfFailed as exc:
        if exc.answer is not None:
            return exc.answer
        return dashboard.error_page(
            request,
            status=403,
            title="This form has expired",
            message=(
                "The form was not sent from this session. Go back, reload the page and try again."
            ),
        )
    except Forbidden as exc:
        return dashboard.error_page(
            request,
            status=403,
            title="Not allowed",
            message=f"Your role cannot do this: {exc.description}.",
        )
    except NotFound as exc:
        return dashboard.error_page(
            request, status=404, title="Not found", message=f"{_sentence(exc.description)}"
        )
    except HookcastError as exc:
        return dashboard.error_page(
            request, status=400, title="That did not work", message=_sentence(exc.description)
        )


async def _portal_session_ended(
    dashboard: Dashboard, request: Request, ended: sessions.Session
) -> Response:
    """A customer whose portal session expired, was signed out or lost its link's key gets
    words for them, in the platform's brand and its frame, never the operator's sign-in."""
    customer = Caller(ended.account_id, ended.role, key_id=None, portal=True)
    request.state.frame_ancestors = ended.frame_ancestors
    response = dashboard.render(
        request,
        "portal_signed_out.html",
        None,
        status=401,
        brand=await dashboard.services.portal.settings(customer),
        ended=True,
        theme=ended.theme,
    )
    sessions.clear_cookie(response, framed=bool(ended.frame_ancestors))
    return response


def _signin_url(request: Request, reason: str) -> str:
    params = {"next": request.url.path} if request.method == "GET" else {}
    if reason:
        params["reason"] = reason
    return "/?" + urlencode(params) if params else "/"


def safe_next(value: object) -> str:
    """Where to go after signing in: a path on this site only (no open redirect)."""
    if isinstance(value, str) and value.startswith("/") and not value.startswith(("//", "/\\")):
        return value
    return "/webhooks"


def _sentence(text: str) -> str:
    text = text.strip()
    return (text[:1].upper() + text[1:]).rstrip(".") + "." if text else text
