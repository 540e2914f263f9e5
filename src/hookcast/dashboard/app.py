"""The dashboard's router: every page of routes.py, refusing to start with a route that
changes something without a CSRF check."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter

from hookcast.dashboard.routes import ROUTES, unchecked_routes
from hookcast.dashboard.web import Dashboard, route_class
from hookcast.ports import Clock
from hookcast.services import Services

__all__ = ["create_dashboard"]


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
    for page in ROUTES:
        router.add_api_route(page.path, page.endpoint, methods=[page.method])
    if unchecked := unchecked_routes(router.routes):
        raise RuntimeError(f"dashboard routes without a CSRF check: {', '.join(unchecked)}")
    return router
