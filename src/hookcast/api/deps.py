"""FastAPI dependencies: the services bundle, the authenticated caller, pagination."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.security import APIKeyHeader

from hookcast.api.ratelimit import RateLimiter
from hookcast.ports import PageRequest
from hookcast.services import Caller, Services

MAX_PAGE_LENGTH = 1000


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


# Declared as a security scheme, so /openapi.json says how to authenticate and the /docs
# page's "Authorize" button sends the key with "Try it out". Not auto_error: a missing or bad
# key is answered by the auth service, in the API's error format.
API_KEY = APIKeyHeader(
    name="Authorization",
    scheme_name="ApiKey",
    description="An API secret, as `<secret>` or `Bearer <secret>`: `hookcast keys create` "
    "or the dashboard's API keys page makes one. Its role (viewer, publisher, editor, admin) "
    "decides what it may do.",
    auto_error=False,
)


async def get_caller(
    request: Request,
    authorization: Annotated[str | None, Depends(API_KEY)],
) -> Caller:
    caller = await get_services(request).auth.authenticate(authorization)
    limiter: RateLimiter | None = getattr(request.app.state, "rate_limiter", None)
    if limiter is not None:
        limiter.check_caller(caller)  # 429 with Retry-After past the key's or account's limit
    return caller


def get_page(
    page: Annotated[int, Query(ge=1, le=1_000_000, description="The page, from 1")] = 1,
    page_length: Annotated[int, Query(ge=1, le=MAX_PAGE_LENGTH, description="Items per page")] = 10,
) -> PageRequest:
    return PageRequest(page=page, page_length=page_length)


# Path parameters, described once for every route that takes them.
WebhookId = Annotated[str, Path(description="The webhook's 8-character id")]
SiteId = Annotated[str, Path(description="The property's 8-character id")]
KeyId = Annotated[str, Path(description="The API key's id (not its secret)")]
DeliveryId = Annotated[str, Path(description="The delivery's id (dlv_...)")]
EventTypeName = Annotated[str, Path(description="A catalog event name, e.g. media_available")]

ServicesDep = Annotated[Services, Depends(get_services)]
CallerDep = Annotated[Caller, Depends(get_caller)]
PageDep = Annotated[PageRequest, Depends(get_page)]
