"""Security headers on every response HookCast's API gives (pages of the dashboard may set
stricter ones of their own; these never replace a header a route set)."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["SecurityHeaders"]

_ALWAYS = (
    ("X-Content-Type-Options", "nosniff"),  # a JSON body is never sniffed into HTML
    ("Referrer-Policy", "no-referrer"),
)
# API answers may carry secrets (a new webhook's, a revealed one): never cache or frame them.
_API = (("Cache-Control", "no-store"), ("X-Frame-Options", "DENY"))
# Over HTTPS (directly, or from a proxy in HOOKCAST_FORWARDED_ALLOW_IPS saying so): browsers
# use only HTTPS for this host for a year, so the session cookie never crosses plain HTTP.
# Not includeSubDomains: other hosts under the same domain are the operator's to decide.
# Over plain HTTP browsers ignore the header, and a local set-up must keep working.
_HTTPS = (("Strict-Transport-Security", "max-age=31536000"),)


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, api_prefix: str = "/v2") -> None:
        self._app = app
        self._prefix = api_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        extra: tuple[tuple[str, str], ...] = (
            _ALWAYS + _API if scope["path"].startswith(self._prefix) else _ALWAYS
        )
        if scope.get("scheme") == "https":
            extra += _HTTPS

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in extra:
                    headers.setdefault(name, value)
            await send(message)

        await self._app(scope, receive, send_with_headers)
