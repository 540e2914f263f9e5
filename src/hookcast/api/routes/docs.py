"""The API's documentation pages, /docs (Swagger UI) and /redoc, served whole by HookCast.

FastAPI's own pages load Swagger UI, ReDoc and fonts from CDNs, so they are blank on a
network without internet and leak every visit to third parties. Here the scripts come from
the `fastapi-offline` package (installed from PyPI; nothing copied into this repository),
the start-up scripts are files of HookCast's own, and the pages carry the dashboard's
Content-Security-Policy: no inline script, nothing from another origin. Both follow the
reader's colour scheme as the dashboard does, live: Swagger UI with its own dark styles
(swagger-init.js), ReDoc with a theme object (redoc-init.js) and redoc.css for the rest; in
the light scheme swagger.css and redoc.css darken what the tools' own colours left under
WCAG AA.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from importlib.resources import files

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, Response

from hookcast.page_security import PAGE_HEADERS

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

ASSETS = "/docs/assets"

# name -> (package, media type)
_ASSETS: Mapping[str, tuple[str, str]] = {
    "swagger-ui-bundle.js": ("fastapi_offline", "text/javascript"),
    "swagger-ui.css": ("fastapi_offline", "text/css"),
    "redoc.standalone.js": ("fastapi_offline", "text/javascript"),
    "favicon.png": ("fastapi_offline", "image/png"),
    "swagger-init.js": ("hookcast.api", "text/javascript"),
    "redoc-init.js": ("hookcast.api", "text/javascript"),
    "redoc.css": ("hookcast.api", "text/css"),
    "swagger.css": ("hookcast.api", "text/css"),
}

# Swagger UI sets element styles from script (CSSOM, which style-src 'self' allows), so /docs
# carries the dashboard's policy unchanged. ReDoc's styled-components writes <style> elements,
# which need 'unsafe-inline' for styles (never for scripts: script-src stays 'self'), and it
# builds its search index in a worker made from a blob: URL.
_POLICY = PAGE_HEADERS["Content-Security-Policy"]
_SWAGGER_HEADERS = dict(PAGE_HEADERS)
_REDOC_HEADERS = {
    **PAGE_HEADERS,
    "Content-Security-Policy": _POLICY.replace(
        "style-src 'self'", "style-src 'self' 'unsafe-inline'"
    )
    + "; worker-src 'self' blob:",
}


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    return _page(
        title="HookCast API",
        root=root,
        body=(
            f'<div id="swagger-ui" data-openapi="{root}/openapi.json"></div>'
            f'<script src="{root}{ASSETS}/swagger-ui-bundle.js"></script>'
            f'<script src="{root}{ASSETS}/swagger-init.js"></script>'
        ),
        styles=(
            f'<link rel="stylesheet" href="{root}{ASSETS}/swagger-ui.css">'
            f'<link rel="stylesheet" href="{root}{ASSETS}/swagger.css">'
        ),
        headers=_SWAGGER_HEADERS,
    )


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    return _page(
        title="HookCast API reference",
        root=root,
        body=(
            f'<div id="redoc" data-openapi="{root}/openapi.json"></div>'
            f'<script src="{root}{ASSETS}/redoc.standalone.js"></script>'
            f'<script src="{root}{ASSETS}/redoc-init.js"></script>'
        ),
        styles=f'<link rel="stylesheet" href="{root}{ASSETS}/redoc.css">',
        headers=_REDOC_HEADERS,
    )


@router.get(ASSETS + "/{name}")
async def asset(name: str) -> Response:
    if name not in _ASSETS:
        return Response("not found", status_code=404, media_type="text/plain")
    media_type = _ASSETS[name][1]
    return Response(
        _read(name),
        media_type=media_type,
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


@cache
def _read(name: str) -> bytes:
    package = _ASSETS[name][0]
    return files(package).joinpath("static", name).read_bytes()


def _page(
    *, title: str, root: str, body: str, styles: str, headers: Mapping[str, str]
) -> HTMLResponse:
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title>"
        f'<link rel="icon" type="image/png" href="{root}{ASSETS}/favicon.png">{styles}'
        f"</head><body>{body}</body></html>"
    )
    return HTMLResponse(html, headers=dict(headers))
