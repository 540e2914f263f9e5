"""Routers' routes for every FastAPI application of the process, analysed once."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from starlette.responses import Response
from starlette.routing import BaseRoute

# By the routers' ids (an APIRouter is not hashable), each entry keeping its routers alive
# beside their routes, so that an id is never reused for another router.
_included: dict[
    tuple[tuple[int, ...], type[Response]], tuple[tuple[APIRouter, ...], tuple[BaseRoute, ...]]
] = {}


def include_once(app: FastAPI, *routers: APIRouter, default_response_class: type[Response]) -> None:
    """Adds to `app` what `app.include_router(router)` for each of `routers` would, for an
    application whose own router has no prefix, tags, dependencies or responses and answers
    with `default_response_class` by default (and for routers with no lifespan or startup
    and shutdown handlers, which include_router would have added to the application).

    FastAPI analyses an included route (a pydantic adapter per parameter and response) for
    each include: since 0.165 at the application's first request that reaches the router,
    55 ms of CPU per application for the API's routes on this VM (docs/benchmarks/suite-time.md,
    "How long `make test` takes", Round 4), which every in-process application of the suite and
    every `serve` start paid again. Included here once per process, into a router of this
    module's, the same routes then serve every application. FastAPI's
    `app.dependency_overrides` does not reach them (HookCast overrides none)."""
    key = (tuple(id(router) for router in routers), default_response_class)
    if key not in _included:
        holder = APIRouter(default_response_class=default_response_class)
        for router in routers:
            holder.include_router(router)
        _included[key] = (routers, tuple(holder.routes))
    app.router.routes.extend(_included[key][1])
