"""POST /v2/events/, answered before FastAPI's middleware stack and routing.

Publishing is the one route called for every event a platform emits, often thousands of
times a second. Through FastAPI it cost about 0.3 ms of routing, dependency solving and body
and response validation per call on top of the publish itself; and even as a middleware
inside FastAPI it went through six more ASGI layers per request (FastAPI's and Starlette's
entry points, their server-error, telemetry and body-limit middlewares, the security
headers' and request rules' wrappers of `send` and `receive`). `HookcastAPI` (app.py) hands
the request to this handler first, which does only what the route needs, with the same rules
every other route has: the request rules (413, 415: middleware.checked_body), the security
headers (security_headers.py), HookCast's error format, and a logged 500 for an unexpected
error (errors.unexpected), then the exception re-raised to the server as Starlette's
server-error middleware does. The FastAPI route in routes/events.py stays for the OpenAPI
document, which FastAPI generates from routes; both call `EventService` and answer errors
through errors.answer, so what they accept and how they fail is the service's to decide.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import ClassVar

import orjson
from starlette.exceptions import HTTPException
from starlette.types import Message, Receive, Scope, Send

from hookcast.api.errors import (
    INVALID_JSON,
    Refused,
    answer,
    error_body,
    response_headers,
    unexpected,
)
from hookcast.api.middleware import checked_body
from hookcast.api.ratelimit import RateLimiter
from hookcast.api.security_headers import security_headers
from hookcast.domain.errors import HookcastError, LimitExceeded
from hookcast.services import Services
from hookcast.services.json_syntax import surely_not_json

__all__ = ["PublishEndpoint"]

_PATHS = frozenset({"/v2/events", "/v2/events/"})  # with and without the trailing slash
_JSON = (b"content-type", b"application/json")


class PublishEndpoint:
    def __init__(
        self,
        *,
        services: Services,
        limiter: RateLimiter | None,
        max_body_bytes: int,
        refused: Refused,
    ) -> None:
        """`refused` counts each error answer (never a 202: publishing does no more work)."""
        self._services = services
        self._limiter = limiter
        self._max_body_bytes = max_body_bytes
        self._refused = refused

    @staticmethod
    def handles(scope: Scope) -> bool:
        """Whether this is a publish request (any other goes through FastAPI)."""
        return scope["type"] == "http" and scope["method"] == "POST" and scope["path"] in _PATHS

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        tracer = self._services.events.tracer  # None unless tracing is configured
        if tracer is None:  # not tracing: nothing more than the untraced path
            await self._answer(scope, receive, send)
            return
        # The publish request's span is current while the fan-out runs (its parent); the
        # publisher's own traceparent header, if any, is its parent in turn.
        trace = tracer.publish_request(_header(scope, b"traceparent"))
        status = 500  # unless answered: an exception escaping to the server's error handler
        try:
            status = await self._answer(scope, receive, send)
        finally:
            trace.finish(status_code=status)

    async def _answer(self, scope: Scope, receive: Receive, send: Send) -> int:
        """Publishes the request's body and answers it; returns the status answered."""
        secured = security_headers(scope)
        answered = 0  # the status once the response has started

        async def answering(message: Message) -> None:
            nonlocal answered
            if message["type"] == "http.response.start":
                answered = message["status"]
            await send(message)

        try:
            body = await checked_body(
                scope,
                receive,
                answering,
                max_bytes=self._max_body_bytes,
                refused=self._refused,
                headers=secured,
            )
            if body is not None:
                await self._respond(scope, body, answering, secured)
            return answered
        except Exception as exc:
            if not answered:  # as Starlette's ServerErrorMiddleware: a 500, then re-raised
                status, code, description = unexpected(exc)
                self._refused(status)
                await _send(send, status, error_body(code, description), secured)
            raise

    async def _respond(
        self, scope: Scope, body: bytes, send: Send, secured: Sequence[tuple[bytes, bytes]]
    ) -> None:
        try:
            await _send(send, 202, await self._publish(scope, body), secured)
        except (HookcastError, HTTPException) as exc:
            status, code, description, own = answer(exc)
            self._refused(status)
            headers = [*_encoded(response_headers(status, own)), *secured]
            await _send(send, status, error_body(code, description), headers)

    async def _publish(self, scope: Scope, body: bytes) -> bytes:
        events = self._services.events
        caller = await events.publisher(_header(scope, b"authorization"))
        if self._limiter is not None:
            self._limiter.check_caller(caller)
        try:
            events.check_body(body)  # before parsing: what the parse would make is bounded
        except LimitExceeded:
            # Not JSON is the parser's error under the count too. Off the loop: 0.27-0.63 s
            # for 5 MB of `[]` at load 8-11, which held the loop 0.29-0.64 s when called on
            # it, 30-52 ms at most in a thread (its bytes methods hold the GIL one by one).
            if await asyncio.to_thread(surely_not_json, body):
                raise _InvalidJson() from None
            raise
        try:
            raw = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise _InvalidJson() from None
        return orjson.dumps({"event_ids": await events.publish(caller, raw)})


class _InvalidJson(HookcastError):
    code: ClassVar[str] = INVALID_JSON[0]

    def __init__(self) -> None:
        super().__init__(INVALID_JSON[1])


def _header(scope: Scope, wanted: bytes) -> str | None:
    """The first value of a (lower-case) header."""
    for name, value in scope["headers"]:
        if name == wanted:
            return bytes(value).decode("latin-1")
    return None


async def _send(
    send: Send, status: int, content: bytes, headers: Sequence[tuple[bytes, bytes]]
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [_JSON, (b"content-length", str(len(content)).encode()), *headers],
        }
    )
    await send({"type": "http.response.body", "body": content})


def _encoded(headers: Mapping[str, str]) -> list[tuple[bytes, bytes]]:
    return [(name.lower().encode(), value.encode("latin-1")) for name, value in headers.items()]
