"""The api.video routes: `/auth/api-key`, `/auth/refresh` and `/webhooks`, over the same
services as `/v2/webhooks/`: a webhook made here is an ordinary HookCast webhook."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response

from hookcast.api.apivideo import rate_headers, webhooks
from hookcast.api.apivideo.auth import Authenticator, IssuedTokens
from hookcast.api.apivideo.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, pagination
from hookcast.api.apivideo.schemas import (
    AccessToken,
    AuthenticatePayload,
    RefreshTokenPayload,
    Webhook,
    WebhooksCreationPayload,
    WebhooksListResponse,
)
from hookcast.api.json_route import OrjsonRoute
from hookcast.api.ratelimit import RateLimiter
from hookcast.ports import PageRequest
from hookcast.services import Caller, Services

__all__ = ["ApiVideoState", "router"]

router = APIRouter(route_class=OrjsonRoute)


@dataclass(frozen=True, slots=True)
class ApiVideoState:
    """What the routes need, kept on the api.video app's state."""

    services: Services
    authenticator: Authenticator
    limiter: RateLimiter | None


def _state(request: Request) -> ApiVideoState:
    state: ApiVideoState = request.app.state.apivideo
    return state


async def _caller(
    request: Request,
    authorization: Annotated[
        str | None,
        Header(description="`Basic base64(<API key>:)` or `Bearer <access token>`"),
    ] = None,
) -> Caller:
    state = _state(request)
    caller = await state.authenticator.caller(authorization)
    try:
        return _counted(state, caller)
    finally:  # a 429 shows the headers too, with nothing remaining
        if state.limiter is not None:
            rate_headers.record(request, state.limiter.allowance(caller))


def _counted(state: ApiVideoState, caller: Caller) -> Caller:
    """`caller`, once its request is taken from its key's and its account's buckets (a 429
    past either limit)."""
    if state.limiter is not None:
        state.limiter.check_caller(caller)
    return caller


StateDep = Annotated[ApiVideoState, Depends(_state)]
CallerDep = Annotated[Caller, Depends(_caller)]


# Asking for tokens counts as a dashboard sign-in does (dashboard/deps.py): it reads the
# key's account and signs two tokens. Uncounted, one key got 1,000 token pairs in a burst
# from a server limiting it to bursts of 200 (attack 19).
@router.post("/auth/api-key", summary="Get a bearer token for an API key", tags=["Authentication"])
async def authenticate(body: AuthenticatePayload, state: StateDep) -> AccessToken:
    caller = await state.authenticator.api_key_holder(body.apiKey)
    return _access_token(state.authenticator.issue(_counted(state, caller)))


@router.post("/auth/refresh", summary="Get new tokens for a refresh token", tags=["Authentication"])
async def refresh(body: RefreshTokenPayload, state: StateDep) -> AccessToken:
    caller = await state.authenticator.refresh_token_holder(body.refreshToken)
    return _access_token(state.authenticator.issue(_counted(state, caller)))


def _access_token(issued: IssuedTokens) -> AccessToken:
    return AccessToken(
        expires_in=issued.expires_in,
        access_token=issued.access_token,
        refresh_token=issued.refresh_token,
    )


@router.post(
    "/webhooks",
    status_code=201,
    summary="Create a webhook",
    tags=["Webhooks"],
    response_model_exclude_none=True,
)
async def create_webhook(
    body: WebhooksCreationPayload, state: StateDep, caller: CallerDep
) -> Webhook:
    return await webhooks.create(state.services, caller, events=body.events, url=body.url)


@router.get(
    "/webhooks",
    summary="List webhooks, oldest first",
    tags=["Webhooks"],
    response_model_exclude_none=True,
)
async def list_webhooks(
    request: Request,
    state: StateDep,
    caller: CallerDep,
    events: Annotated[str | None, Query(max_length=256)] = None,
    current_page: Annotated[int, Query(alias="currentPage", ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(alias="pageSize", ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
) -> WebhooksListResponse:
    page = PageRequest(page=current_page, page_length=page_size)
    found, total = await webhooks.list_page(state.services, caller, page=page, event=events)
    return WebhooksListResponse(
        data=found,
        pagination=pagination(
            current_page=current_page,
            page_size=page_size,
            items_total=total,
            uri=lambda n: str(request.url.include_query_params(currentPage=n, pageSize=page_size)),
        ),
    )


@router.get(
    "/webhooks/{webhookId}",
    summary="Get a webhook",
    tags=["Webhooks"],
    response_model_exclude_none=True,
)
async def get_webhook(
    webhookId: str,  # noqa: N803 - api.video's parameter name, shown in the OpenAPI document
    state: StateDep,
    caller: CallerDep,
) -> Webhook:
    return await webhooks.get(state.services, caller, webhookId)


@router.delete(
    "/webhooks/{webhookId}", status_code=204, summary="Delete a webhook", tags=["Webhooks"]
)
async def delete_webhook(
    webhookId: str,  # noqa: N803
    state: StateDep,
    caller: CallerDep,
) -> Response:
    await webhooks.delete(state.services, caller, webhookId)
    # No body and no Content-Type: the Node client parses a body only when one is typed.
    return Response(status_code=204)
