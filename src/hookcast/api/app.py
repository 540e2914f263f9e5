"""The FastAPI application factory: routers, error format, request rules."""

from __future__ import annotations

import functools
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from hookcast.api import errors
from hookcast.api.apivideo import PREFIX, create_apivideo_app, random_key
from hookcast.api.middleware import RequestRules
from hookcast.api.operations import Operations
from hookcast.api.publish_endpoint import PublishEndpoint
from hookcast.api.ratelimit import RateLimiter
from hookcast.api.responses import OrjsonResponse
from hookcast.api.routes import (
    account,
    catalog,
    deliveries,
    docs,
    events,
    health,
    keys,
    metrics,
    portal,
    sites,
    webhooks,
)
from hookcast.api.security_headers import SecurityHeaders
from hookcast.ports import Clock
from hookcast.services import Services
from hookcast.shared_routes import include_once

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]

DESCRIPTION = """HookCast's Management API, shaped like JW Player's Management API v2.

Authenticate with `Authorization: <API secret>` or `Authorization: Bearer <API secret>`.
Errors are `{"errors": [{"code": "...", "description": "..."}]}` with a 4xx status.

api.video's management API is under `/apivideo` (its own document: `/apivideo/openapi.json`)."""


# The groups /docs and /redoc list, in this order, each with what it is for: each route names
# its group (`tags=`). Named by the routers alone they read in lower case ("api keys") with an
# empty section under each heading in ReDoc.
TAGS = (
    (
        "Webhooks",
        "Endpoints that receive events: create, list, change, test, their delivery "
        "log, secrets, held events and replays.",
    ),
    ("Events", "Publish events (one or a batch; `202` once stored) and find them again."),
    ("Deliveries", "One delivery's attempts, and sending it again."),
    ("Event types", "The catalog: every event's name, description and example body."),
    ("Sites", "Properties (JW Player's sites): a webhook subscribes to some or all of them."),
    ("API keys", "The account's keys and their roles (admin key)."),
    ("Account", "The account's settings: its contact address, its Flowplayer secret."),
    ("Portal", "Signed links to the customer portal, and how it looks."),
    ("Operations", "Health checks and metrics, for load balancers and Prometheus."),
)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class HookcastAPI(FastAPI):
    """FastAPI, with publish requests (POST /v2/events/) handed to `publish_endpoint` before
    FastAPI's middleware stack: the one route called for every event skips the layers only
    the other routes need (api/publish_endpoint.py applies the rules they share)."""

    publish_endpoint: PublishEndpoint | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = self.publish_endpoint
        if endpoint is not None and endpoint.handles(scope):
            await endpoint(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def create_app(
    services: Services,
    *,
    max_body_bytes: int,
    lifespan: Lifespan | None = None,
    operations: Operations | None = None,
    apivideo_key: bytes | None = None,
    clock: Clock = _utc_now,
    portal_key: bytes = b"",
) -> HookcastAPI:
    """HookCast's API, with api.video's mounted under /apivideo. `apivideo_key` signs the
    api.video API's tokens: derived from the server's secret key so that every server takes
    every other's; without it, a random key of this process alone."""
    app = HookcastAPI(
        title="HookCast",
        version="0.1.0",
        description=DESCRIPTION,
        openapi_tags=[{"name": name, "description": text} for name, text in TAGS],
        lifespan=lifespan,
        default_response_class=OrjsonResponse,
        redirect_slashes=False,
        # FastAPI's own OpenTelemetry looked up the global providers on every request (4% of
        # a server's time at 800 publishes/s); HookCast's metrics are Prometheus, /metrics.
        # /docs and /redoc are HookCast's own pages (routes/docs.py): FastAPI's load from CDNs.
        docs_url=None,
        redoc_url=None,
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.services = services
    # Signs portal links made through the API, as the dashboard signs its own (the same key).
    app.state.portal_key = portal_key
    app.state.operations = operations = operations or Operations()
    app.state.rate_limiter = limiter = (
        RateLimiter(
            per_second=operations.rate_limit_per_second,
            burst=operations.rate_limit_burst,
            account_per_second=operations.account_rate_limit_per_second,
            account_burst=operations.account_rate_limit_burst,
        )
        if operations.rate_limit_per_second > 0 or operations.account_rate_limit_per_second > 0
        else None
    )
    modules = (
        webhooks,
        sites,
        keys,
        account,
        portal,
        catalog,
        events,
        deliveries,
        health,
        metrics,
        docs,
    )
    # Not include_router: it would analyse the routes again per application (shared_routes).
    include_once(app, *(module.router for module in modules), default_response_class=OrjsonResponse)
    # Each error answer counted by the API it came from (hookcast_api_refused_total).
    refused = functools.partial(operations.metrics.on_refused, "management")
    apivideo = create_apivideo_app(
        services,
        token_key=apivideo_key or random_key(),
        clock=clock,
        max_body_bytes=max_body_bytes,
        refused=functools.partial(operations.metrics.on_refused, "apivideo"),
        limiter=limiter,
    )
    app.mount(PREFIX, apivideo)
    errors.install(app, refused=refused)
    _document_errors_as_raised(app)
    app.publish_endpoint = PublishEndpoint(
        services=services,
        limiter=limiter,
        max_body_bytes=max_body_bytes,
        refused=functools.partial(operations.metrics.on_refused, "publish"),
    )
    app.add_middleware(RequestRules, max_body_bytes=max_body_bytes, refused=refused)
    # Added last, so outermost: the 413 and 415 answers of RequestRules get the headers too.
    app.add_middleware(SecurityHeaders)
    return app


def _document_errors_as_raised(app: FastAPI) -> None:
    """FastAPI documents a 422 with its own error shape on every route with parameters, but
    errors.py answers invalid requests with a 400 in HookCast's shape (which each route
    declares): drop the 422s so the document lists only statuses the API can send."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            for operations in document.get("paths", {}).values():
                for operation in operations.values():
                    operation.get("responses", {}).pop("422", None)
            schemas = document.get("components", {}).get("schemas", {})
            for name in ("HTTPValidationError", "ValidationError"):
                schemas.pop(name, None)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
