"""The answer to a path no other route takes: a page for a person, the API's error for a
program."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match

from hookcast.dashboard.deps import DashDep
from hookcast.dashboard.web import SignInRequired, Visit

__all__ = ["not_found"]


async def not_found(request: Request, path: str, dash: DashDep) -> Response:
    """A page for a person who followed a wrong link; what the API would have answered
    for a program, or for any /v2 path."""
    if path.startswith("v2") or "text/html" not in request.headers.get("accept", ""):
        return _api_answer(request)
    try:
        visit: Visit | None = await dash.visit(request)  # signed in: the menu stays
    except SignInRequired:
        visit = None
    return dash.render(
        request,
        "error.html",
        visit,
        status=404,
        title="Page not found",
        message=f"There is no page at /{path}. Check the address, or go back to the webhooks.",
    )


def _api_answer(request: Request) -> Response:
    """404, or 405 when the path has a route for other methods (this GET route, matching
    any path, is taken before the router would answer 405). Raised, so the application's
    error handler answers in the API's error format (the dashboard does not import the API)."""
    routes = request.app.router.routes
    allowed = [
        method
        for method in ("DELETE", "PATCH", "POST", "PUT")
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    ]
    if allowed:
        raise HTTPException(405, "Method Not Allowed", headers={"Allow": ", ".join(allowed)})
    raise HTTPException(404, "Not Found")
