"""The dashboard's static files, its favicon, and the portal's accent colour as CSS."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from starlette.responses import Response

from hookcast.dashboard.theme import accent_css

__all__ = ["favicon", "static", "theme"]

# A fixed set, so a request can never name any other file (no path traversal to think about).
_STATIC = {
    "app.css": "text/css; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}


@cache
def _contents(name: str) -> bytes:
    return files("hookcast.dashboard").joinpath("static", name).read_bytes()


async def theme(colour: str) -> Response:
    """The portal's accent colour as a style sheet from HookCast's own origin: the CSP
    allows no inline style, and the colour is six hex digits or nothing."""
    css = accent_css(colour)
    if css is None:
        return Response("not found", status_code=404, media_type="text/plain")
    return Response(
        css,
        media_type="text/css; charset=utf-8",
        headers={"Cache-Control": "public, max-age=86400"},
    )


async def favicon() -> Response:
    """Asked for by browsers (and pages such as /docs) unprompted."""
    return Response(
        _contents("favicon.svg"),
        media_type=_STATIC["favicon.svg"],
        headers={"Cache-Control": "public, max-age=86400"},
    )


async def static(name: str) -> Response:
    if name not in _STATIC:
        return Response("not found", status_code=404, media_type="text/plain")
    return Response(
        _contents(name),
        media_type=_STATIC[name],
        headers={"Cache-Control": "public, max-age=300"},
    )
