"""The FastAPI application factory: routers, error format, request rules."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from fastapi import FastAPI

from hookcast.api import errors
from hookcast.api.middleware import RequestRules
from hookcast.api.responses import OrjsonResponse
from hookcast.api.routes import catalog, deliveries, events, health, keys, sites, webhooks
from hookcast.services import Services

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]

DESCRIPTION = """HookCast's Management API, shaped like JW Player's Management API v2.

Authenticate with `Authorization: <API secret>` or `Authorization: Bearer <API secret>`.
Errors are `{"errors": [{"code": "...", "description": "..."}]}` with a 4xx status."""


def create_app(
    services: Services, *, max_body_bytes: int, lifespan: Lifespan | None = None
) -> FastAPI:
    app = FastAPI(
        title="HookCast",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        default_response_class=OrjsonResponse,
        redirect_slashes=False,
    )
    app.state.services = services
    for module in (webhooks, sites, keys, catalog, events, deliveries, health):
        app.include_router(module.router)
    errors.install(app)
    app.add_middleware(RequestRules, max_body_bytes=max_body_bytes)
    return app
