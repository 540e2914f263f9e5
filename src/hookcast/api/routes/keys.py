"""/v2/api_keys/: admin only. A key's secret is shown once, when it is created."""

from __future__ import annotations

from fastapi import APIRouter, Response

from hookcast.api.deps import CallerDep, KeyId, ServicesDep
from hookcast.api.json_route import OrjsonRoute
from hookcast.api.models import (
    AUTHENTICATED,
    WITH_BODY,
    ApiKeyCreated,
    ApiKeyList,
    error_responses,
)
from hookcast.api.schemas import ApiKeyCreate

router = APIRouter(prefix="/v2/api_keys", tags=["API keys"], route_class=OrjsonRoute)


@router.post(
    "/",
    status_code=201,
    summary="Create an API key with a role",
    responses=error_responses(*WITH_BODY, 403, 409, *AUTHENTICATED),
)
async def create_key(body: ApiKeyCreate, services: ServicesDep, caller: CallerDep) -> ApiKeyCreated:
    created = await services.accounts.create_key(
        caller, role=body.metadata.role, name=body.metadata.name
    )
    return ApiKeyCreated.from_new(created)


@router.get(
    "/",
    summary="List API keys (never their secrets)",
    responses=error_responses(403, *AUTHENTICATED),
)
async def list_keys(services: ServicesDep, caller: CallerDep) -> ApiKeyList:
    return ApiKeyList.from_domain(await services.accounts.list_keys(caller))


@router.delete(
    "/{key_id}/",
    status_code=204,
    summary="Revoke an API key",
    responses=error_responses(400, 403, 404, 409, *AUTHENTICATED),
)
async def revoke_key(key_id: KeyId, services: ServicesDep, caller: CallerDep) -> Response:
    await services.accounts.revoke_key(caller, key_id)
    return Response(status_code=204)
