"""The dashboard's router: every page, its static files, and the page for a wrong address."""

from __future__ import annotations

from collections.abc import Sequence
from importlib.resources import files

from fastapi import APIRouter
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match

from hookcast.dashboard.pages import auth, events, keys, portal_links, sites, webhook_detail
from hookcast.dashboard.pages import webhooks as webhook_pages
from hookcast.dashboard.theme import accent_css
from hookcast.dashboard.web import Dashboard, SignInRequired, Visit, route_class
from hookcast.ports import Clock
from hookcast.services import Services

__all__ = ["create_dashboard"]

# A fixed set, so a request can never name any other file (no path traversal to think about).
_STATIC = {
    "app.css": "text/css; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}


def create_dashboard(
    services: Services,
    *,
    signing_key: bytes,
    clock: Clock,
    secure_cookies: bool = False,
    previous_keys: Sequence[bytes] = (),
) -> APIRouter:
    """Server-rendered pages at `/`, for inclusion after the API's routers. The routes stay
    out of the OpenAPI schema: they are pages, not API. `secure_cookies` marks cookies
    Secure even on requests that arrived over plain HTTP (from a TLS-ending proxy); cookies
    and portal links signed with one of `previous_keys` are still accepted."""
    dash = Dashboard.build(
        services,
        signing_key=signing_key,
        clock=clock,
        secure_cookies=secure_cookies,
        previous_keys=previous_keys,
    )
    router = APIRouter(include_in_schema=False, route_class=route_class(dash))
    for module in (auth, webhook_pages, webhook_detail, events, sites, keys, portal_links):
        module.add_routes(router, dash)
    _add_static(router)
    _add_theme(router)
    _add_not_found(router, dash)  # last: only what no other route answers
    return router


def _add_theme(router: APIRouter) -> None:
    @router.get("/theme/{colour}.css")
    async def theme(request: Request, colour: str) -> Response:
        """The portal's accent colour as a style sheet from HookCast's own origin: the CSP
        allows no inline style, and the colour is six hex digits or nothing."""
        css = accent_css(colour)
        if css is None:
            return Response("not found", status_code=404, media_type="text/plain")
        return Response(
            css,
            media_type="text/css; charset=utf-8",
            headers={"Cache-Control": "public, max-age=86400"},
        )


def _add_not_found(router: APIRouter, dash: Dashboard) -> None:
    @router.get("/{path:path}")
    async def not_found(request: Request, path: str) -> Response:
        """A page for a person who followed a wrong link; what the API would have answered
        for a program, or for any /v2 path."""
        if path.startswith("v2") or "text/html" not in request.headers.get("accept", ""):
            return _api_answer(request)
        try:
            visit: Visit | None = await dash.visit(request)  # signed in: the menu stays
        except SignInRequired:
            visit = None
        return dash.render(
            request,
            "error.html",
            visit,
            status=404,
            title="Page not found",
            message=f"There is no page at /{path}. Check the address, or go back to the webhooks.",
        )


def _api_answer(request: Request) -> Response:
    """404, or 405 when the path has a route for other methods (this GET route, matching
    any path, is taken before the router would answer 405). Raised, so the application's
    error handler answers in the API's error format (the dashboard does not import the API)."""
    routes = request.app.router.routes
    allowed = [
        method
        for method in ("DELETE", "PATCH", "POST", "PUT")
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    ]
    if allowed:
        raise HTTPException(405, "Method Not Allowed", headers={"Allow": ", ".join(allowed)})
    raise HTTPException(404, "Not Found")


def _add_static(router: APIRouter) -> None:
    contents = {
        name: files("hookcast.dashboard").joinpath("static", name).read_bytes() for name in _STATIC
    }

    @router.get("/favicon.ico")  # asked for by browsers (and pages such as /docs) unprompted
    async def favicon() -> Response:
        return Response(
            contents["favicon.svg"],
            media_type=_STATIC["favicon.svg"],
            headers={"Cache-Control": "public, max-age=86400"},
        )

    @router.get("/static/{name}")
    async def static(request: Request, name: str) -> Response:
        if name not in _STATIC:
            return Response("not found", status_code=404, media_type="text/plain")
        return Response(
            contents[name],
            media_type=_STATIC[name],
            headers={"Cache-Control": "public, max-age=300"},
        )
