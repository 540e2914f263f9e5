"""api.video's rate-limit headers: every answer of its API to a request the rate limiter let
through carries `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Retry-After`
(its official Node client documents reading them from any call's `...WithResponseHeaders()`).

The auth dependency (routes.py) records what the caller has left with `record`; this ASGI
wrapper writes it into the answer, whatever the route or error handler made of it (a 204
with no body, a 404 problem), which a header set through FastAPI's `Response` parameter
would not reach. `/auth` records nothing: api.video does not rate-limit it.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hookcast.domain.ratelimit import Allowance

__all__ = ["RateLimitHeaders", "record"]

_STATE_KEY = "apivideo_allowance"


def record(request: Request, allowance: Allowance | None) -> None:
    """Keeps `allowance` for the answer to `request`."""
    setattr(request.state, _STATE_KEY, allowance)


class RateLimitHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        # The routes see copies of this scope, made after this line: the state dict they
        # write to is this one, so it must exist before them.
        state: dict[str, Any] = scope.setdefault("state", {})

        async def send_with_headers(message: Message) -> None:
            allowance = state.get(_STATE_KEY)
            if message["type"] == "http.response.start" and allowance is not None:
                headers = MutableHeaders(scope=message)
                headers["X-RateLimit-Limit"] = str(allowance.limit)
                headers["X-RateLimit-Remaining"] = str(allowance.remaining)
                # A 429 has it already, equal to its Retry-After (problems.py).
                headers.setdefault("X-RateLimit-Retry-After", str(allowance.retry_after))
            await send(message)

        await self._app(scope, receive, send_with_headers)
