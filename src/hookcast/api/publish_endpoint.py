"""POST /v2/events/, answered before FastAPI's routing.

Publishing is the one route called for every event a platform emits, often hundreds of
times a second. Through FastAPI it cost about 0.3 ms of routing, dependency solving and body
and response validation per call on top of the publish itself; this handler does only what
the route needs: read the body, authenticate, rate-limit, publish, answer. create_app
installs it inside the request rules (trailing slash, 413, 415) and security headers, which
apply as to any route. The FastAPI route in routes/events.py stays for the OpenAPI
document, which FastAPI generates from routes; both call `EventService` and answer errors
through errors.answer, so what they accept and how they fail is the service's to decide.
"""

from __future__ import annotations

from collections.abc import Mapping

import orjson
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from hookcast.api.errors import INVALID_JSON, answer, error_body, response_headers
from hookcast.api.ratelimit import RateLimiter
from hookcast.domain.errors import HookcastError
from hookcast.services import Services

__all__ = ["PublishEndpoint"]

PATH = "/v2/events/"  # RequestRules adds the trailing slash before this handler sees the path
_JSON = (b"content-type", b"application/json")


class PublishEndpoint:
    def __init__(self, app: ASGIApp, *, services: Services, limiter: RateLimiter | None) -> None:
        self._app = app
        self._services = services
        self._limiter = limiter
        self._tracer = services.events.tracer  # None unless tracing is configured

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self._app(scope, receive, send)
            return
        tracer = self._tracer
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
        body = await _body(receive)
        headers: Mapping[str, str] = {}
        try:
            status, content = 202, await self._publish(scope, body)
        except (HookcastError, HTTPException) as exc:
            status, code, description, own = answer(exc)
            headers, content = response_headers(status, own), error_body(code, description)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    _JSON,
                    (b"content-length", str(len(content)).encode()),
                    *_encoded(headers),
                ],
            }
        )
        await send({"type": "http.response.body", "body": content})
        return status

    async def _publish(self, scope: Scope, body: bytes) -> bytes:
        events = self._services.events
        caller = await events.publisher(_header(scope, b"authorization"))
        if self._limiter is not None:
            self._limiter.check(caller.key_id or caller.account_id)
        try:
            raw = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise _InvalidJson() from None
        return orjson.dumps({"event_ids": await events.publish(caller, raw)})


class _InvalidJson(HookcastError):
    code = INVALID_JSON[0]

    def __init__(self) -> None:
        super().__init__(INVALID_JSON[1])


def _header(scope: Scope, wanted: bytes) -> str | None:
    """The first value of a (lower-case) header."""
    for name, value in scope["headers"]:
        if name == wanted:
            return bytes(value).decode("latin-1")
    return None


async def _body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _encoded(headers: Mapping[str, str]) -> list[tuple[bytes, bytes]]:
    return [(name.lower().encode(), value.encode("latin-1")) for name, value in headers.items()]
