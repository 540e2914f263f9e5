"""The dashboard's router: every page of routes.py, refusing to start with a route that
changes something without a CSRF check."""

from __future__ import annotations

import functools
from collections.abc import Sequence

from fastapi import APIRouter, FastAPI
from starlette.responses import HTMLResponse

from hookcast.dashboard.routes import ROUTES, unchecked_routes
from hookcast.dashboard.web import Dashboard, DashboardRoute
from hookcast.ports import Clock
from hookcast.services import Services
from hookcast.shared_routes import include_once

__all__ = ["dashboard_router", "install_dashboard"]


@functools.cache
def dashboard_router() -> APIRouter:
    """Server-rendered pages at `/`, for inclusion after the API's routers; the routes stay
    out of the OpenAPI schema (they are pages, not API). Built once per process: FastAPI
    analyses each route's signature when it is made (42 routes, 40-75 ms of CPU), which every
    application built used to pay again, the suite's ~700 in-process applications included."""
    router = APIRouter(include_in_schema=False, route_class=DashboardRoute)
    for page in ROUTES:
        router.add_api_route(page.path, page.endpoint, methods=[page.method])
    if unchecked := unchecked_routes(router.routes):
        raise RuntimeError(f"dashboard routes without a CSRF check: {', '.join(unchecked)}")
    return router


def install_dashboard(
    app: FastAPI,
    services: Services,
    *,
    signing_key: bytes,
    clock: Clock,
    secure_cookies: bool = False,
    previous_keys: Sequence[bytes] = (),
) -> None:
    """Serves the dashboard over `services` from `app` (after the routers `app` has already:
    include the API's first). `secure_cookies` marks cookies Secure even on requests that
    arrived over plain HTTP (from a TLS-ending proxy); cookies and portal links signed with
    one of `previous_keys` are still accepted."""
    app.state.dashboard = Dashboard.build(
        services,
        signing_key=signing_key,
        clock=clock,
        secure_cookies=secure_cookies,
        previous_keys=previous_keys,
    )
    # Not include_router: it would analyse the routes again per application (shared_routes).
    # Every page returns a Response of its own: the default class answers none of them.
    include_once(app, dashboard_router(), default_response_class=HTMLResponse)
