"""api.video's management API (`/auth`, `/webhooks`), so that api.video's official clients
manage HookCast webhooks by changing only their host: the HookCast app mounts this one
under `PREFIX`, e.g. `host = "http://127.0.0.1:8000/apivideo"`.

It is an application of its own, not a router of HookCast's: its errors are api.video's
problem documents (problems.py), its 404s too, and its OpenAPI document is separate
(`/apivideo/openapi.json`), so neither API's shapes leak into the other's.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from hookcast.api.apivideo import problems
from hookcast.api.apivideo.auth import Authenticator, random_key
from hookcast.api.apivideo.rate_headers import RateLimitHeaders
from hookcast.api.apivideo.routes import ApiVideoState, router
from hookcast.api.errors import Refused
from hookcast.api.middleware import ClientGone, read_body, replay
from hookcast.api.ratelimit import RateLimiter
from hookcast.api.responses import OrjsonResponse
from hookcast.ports import Clock
from hookcast.services import Services
from hookcast.shared_routes import include_once

__all__ = ["PREFIX", "create_apivideo_app", "random_key"]

PREFIX = "/apivideo"


def create_apivideo_app(
    services: Services,
    *,
    token_key: bytes,
    clock: Clock,
    max_body_bytes: int,
    refused: Refused,
    limiter: RateLimiter | None = None,
) -> FastAPI:
    """The api.video API over `services`; its tokens are signed with `token_key`, its error
    answers counted with `refused`."""
    app = FastAPI(
        title="HookCast: api.video management API",
        version="0.1.0",
        description="api.video's webhook management API; see docs/formats.md.",
        default_response_class=OrjsonResponse,
        redirect_slashes=False,
        # The document only (/apivideo/openapi.json): HookCast's /docs pages are the ones
        # served offline under the dashboard's CSP.
        docs_url=None,
        redoc_url=None,
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.apivideo = ApiVideoState(
        services=services,
        authenticator=Authenticator(services, key=token_key, clock=clock),
        limiter=limiter,
    )
    # Not include_router: it would analyse the routes again per application (shared_routes).
    include_once(app, router, default_response_class=OrjsonResponse)
    problems.install(app, refused=refused)
    app.add_middleware(BodyLimit, max_body_bytes=max_body_bytes, refused=refused)
    app.add_middleware(RateLimitHeaders)
    return app


class BodyLimit:
    """Refuses a body longer than `max_body_bytes` with a 413 problem, before routing, as
    HookCast's own API does (its RequestRules answer in HookCast's error shape)."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, refused: Refused) -> None:
        self._app = app
        self._max = max_body_bytes
        self._refused = refused

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self._app(scope, receive, send)
            return
        try:
            body = await read_body(receive, self._max)
        except ClientGone:  # no one to answer, and only part of a body to handle
            return
        if body is None:
            title = f"The request body is larger than {self._max} bytes."
            response = problems.problem_response(413, [problems.Problem(problems.NO_TYPE, title)])
            self._refused(413)
            await response(scope, receive, send)
            return
        await self._app(scope, replay(body), send)
