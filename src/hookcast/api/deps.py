"""FastAPI dependencies: the services bundle, the authenticated caller, pagination."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Query, Request

from hookcast.api.ratelimit import RateLimiter
from hookcast.ports import PageRequest
from hookcast.services import Caller, Services

MAX_PAGE_LENGTH = 1000


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def get_caller(
    request: Request,
    authorization: Annotated[
        str | None,
        Header(description="Your API secret, as `<secret>` or `Bearer <secret>`"),
    ] = None,
) -> Caller:
    caller = await get_services(request).auth.authenticate(authorization)
    limiter: RateLimiter | None = getattr(request.app.state, "rate_limiter", None)
    if limiter is not None:
        limiter.check(caller.key_id or caller.account_id)  # 429 with Retry-After
    return caller


def get_page(
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_length: Annotated[int, Query(ge=1, le=MAX_PAGE_LENGTH)] = 10,
) -> PageRequest:
    return PageRequest(page=page, page_length=page_length)


ServicesDep = Annotated[Services, Depends(get_services)]
CallerDep = Annotated[Caller, Depends(get_caller)]
PageDep = Annotated[PageRequest, Depends(get_page)]
