"""Security headers on every response HookCast's API gives (pages of the dashboard may set
stricter ones of their own; these never replace a header a route set)."""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["SecurityHeaders", "security_headers"]

_ALWAYS = (
    (b"x-content-type-options", b"nosniff"),  # a JSON body is never sniffed into HTML
    (b"referrer-policy", b"no-referrer"),
)
# API answers may carry secrets (a new webhook's, a revealed one): never cache or frame them.
_API = ((b"cache-control", b"no-store"), (b"x-frame-options", b"DENY"))
# Over HTTPS (directly, or from a proxy in HOOKCAST_FORWARDED_ALLOW_IPS saying so): browsers
# use only HTTPS for this host for a year, so the session cookie never crosses plain HTTP.
# Not includeSubDomains: other hosts under the same domain are the operator's to decide.
# Over plain HTTP browsers ignore the header, and a local set-up must keep working.
_HTTPS = ((b"strict-transport-security", b"max-age=31536000"),)
# Encoded and combined once: these run on every response, publishes included.
_EXTRA = {
    (True, False): _ALWAYS + _API,
    (True, True): _ALWAYS + _API + _HTTPS,
    (False, False): _ALWAYS,
    (False, True): _ALWAYS + _HTTPS,
}


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, api_prefix: str = "/v2") -> None:
        self._app = app
        self._prefix = api_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        extra = security_headers(scope, api_prefix=self._prefix)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = with_defaults(message.get("headers", ()), extra)
            await send(message)

        await self._app(scope, receive, send_with_headers)


def security_headers(scope: Scope, *, api_prefix: str = "/v2") -> tuple[tuple[bytes, bytes], ...]:
    """The headers every response to this request carries unless it sets them itself."""
    return _EXTRA[scope["path"].startswith(api_prefix), scope.get("scheme") == "https"]


def with_defaults(
    headers: Iterable[tuple[bytes, bytes]], defaults: Iterable[tuple[bytes, bytes]]
) -> list[tuple[bytes, bytes]]:
    """`headers`, then each of `defaults` (lower-case names) whose name none of them has."""
    listed = list(headers)
    present = {name.lower() for name, _ in listed}
    listed.extend(header for header in defaults if header[0] not in present)
    return listed
