"""No dashboard route that changes something can exist without a CSRF check: found by
walking the routes the app serves, and shown by posting to each of them without a token.

The isolation matrix (test_dashboard_isolation.py) also posts forged and foreign tokens to
its table's rows; these tests need no table, so a new route is covered the moment it exists.
"""

from __future__ import annotations

import re

import pytest
from board import Board
from fastapi import APIRouter
from fastapi.routing import APIRoute

from hookcast.dashboard import dashboard_router
from hookcast.dashboard import session as sessions
from hookcast.dashboard.deps import CsrfFormDep, DashDep, VisitDep
from hookcast.dashboard.routes import unchecked_routes

_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def _unsafe_paths(board: Board) -> list[str]:
    router = dashboard_router()  # the router every app includes at /
    return sorted(
        route.path
        for route in router.routes
        if isinstance(route, APIRoute) and route.methods and route.methods & _UNSAFE
    )


async def test_every_route_that_changes_something_checks_the_csrf_token(board: Board) -> None:
    router = dashboard_router()
    assert unchecked_routes(router.routes) == []
    assert len(_unsafe_paths(board)) >= 20  # the walk saw the dashboard's forms


async def _forgot_it(webhook_id: str, dash: DashDep, visit: VisitDep) -> None:
    raise AssertionError("never called: the route is refused before it is served")


async def _checked(webhook_id: str, dash: DashDep, visit: VisitDep, _: CsrfFormDep) -> None:
    raise AssertionError("never called")


@pytest.mark.parametrize("method", ["POST", "DELETE"])
def test_the_walk_finds_a_route_that_forgot_the_check(method: str) -> None:
    router = APIRouter()
    router.add_api_route("/webhooks/{webhook_id}/forgot", _forgot_it, methods=[method])
    router.add_api_route("/webhooks/{webhook_id}/checked", _checked, methods=[method])
    router.add_api_route("/webhooks/{webhook_id}", _forgot_it, methods=["GET"])
    assert unchecked_routes(router.routes) == [f"{method} /webhooks/{{webhook_id}}/forgot"]


async def test_a_post_without_a_token_is_refused_on_every_route(board: Board) -> None:
    await board.sign_in(board.admin)
    await board.csrf()  # a genuine session, whose token the posts below leave out
    refused = []
    for template in _unsafe_paths(board):
        path = re.sub(r"\{[^}]+\}", "Abc12345", template)  # the check comes before any lookup
        answer = await board.client.post(path, data={"name": "x", "webhook_id": "Abc12345"})
        expected = "sign-in form expired" if path == "/signin" else "This form has expired"
        if answer.status_code == 403 and expected in answer.text:
            refused.append(template)
        assert sessions.COOKIE not in answer.headers.get("set-cookie", ""), path
    assert refused == _unsafe_paths(board)
    assert (await board.client.get("/webhooks")).status_code == 200  # still signed in
