"""FastAPI dependencies: the services bundle, the authenticated caller, pagination."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Query, Request

from hookcast.api.ratelimit import RateLimiter
from hookcast.ports import PageRequest
from hookcast.services import Caller, Services

MAX_PAGE_LENGTH = 1000


# Dependencies are `async def` even when they never await: FastAPI runs a plain `def`
# dependency in a worker thread, two thread hops per request for a dictionary lookup.


async def get_services(request: Request) -> Services:
    return _services(request)


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


Authorization = Annotated[
    str | None,
    Header(description="Your API secret, as `<secret>` or `Bearer <secret>`"),
]


async def get_caller(request: Request, authorization: Authorization = None) -> Caller:
    return _limited(request, await _services(request).auth.authenticate(authorization))


async def get_publisher(request: Request, authorization: Authorization = None) -> Caller:
    """The caller of POST /v2/events/, whose key the publish itself checks as it commits."""
    return _limited(request, await _services(request).events.publisher(authorization))


def _limited(request: Request, caller: Caller) -> Caller:
    limiter: RateLimiter | None = getattr(request.app.state, "rate_limiter", None)
    if limiter is not None:
        limiter.check(caller.key_id or caller.account_id)  # 429 with Retry-After
    return caller


async def get_page(
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_length: Annotated[int, Query(ge=1, le=MAX_PAGE_LENGTH)] = 10,
) -> PageRequest:
    return PageRequest(page=page, page_length=page_length)


ServicesDep = Annotated[Services, Depends(get_services)]
CallerDep = Annotated[Caller, Depends(get_caller)]
PublisherDep = Annotated[Caller, Depends(get_publisher)]
PageDep = Annotated[PageRequest, Depends(get_page)]
