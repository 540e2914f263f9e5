"""/v2/sites/: properties; a platform may bring its own 8-character ids."""

from __future__ import annotations

from fastapi import APIRouter, Response

from hookcast.api.deps import CallerDep, PageDep, ServicesDep, SiteId
from hookcast.api.json_route import OrjsonRoute
from hookcast.api.models import AUTHENTICATED, WITH_BODY, SiteList, SiteOut, error_responses
from hookcast.api.schemas import SiteCreate, SitePatch

router = APIRouter(prefix="/v2/sites", tags=["Sites"], route_class=OrjsonRoute)


@router.post(
    "/",
    status_code=201,
    summary="Create a property",
    responses=error_responses(*WITH_BODY, 403, 409, *AUTHENTICATED),
)
async def create_site(body: SiteCreate, services: ServicesDep, caller: CallerDep) -> SiteOut:
    return SiteOut.from_domain(
        await services.sites.create(caller, name=body.metadata.name, site_id=body.id)
    )


@router.get(
    "/",
    summary="List properties",
    responses=error_responses(400, *AUTHENTICATED),
)
async def list_sites(services: ServicesDep, caller: CallerDep, page: PageDep) -> SiteList:
    return SiteList.from_domain(await services.sites.list(caller, page), page)


@router.get(
    "/{site_id}/",
    summary="Get a property",
    responses=error_responses(400, 404, *AUTHENTICATED),
)
async def get_site(site_id: SiteId, services: ServicesDep, caller: CallerDep) -> SiteOut:
    return SiteOut.from_domain(await services.sites.get(caller, site_id))


@router.patch(
    "/{site_id}/",
    summary="Rename a property",
    responses=error_responses(*WITH_BODY, 403, 404, 409, *AUTHENTICATED),
)
async def rename_site(
    site_id: SiteId, body: SitePatch, services: ServicesDep, caller: CallerDep
) -> SiteOut:
    return SiteOut.from_domain(
        await services.sites.rename(caller, site_id=site_id, name=body.metadata.name)
    )


@router.delete(
    "/{site_id}/",
    status_code=204,
    summary="Delete a property",
    responses=error_responses(400, 403, 404, 409, *AUTHENTICATED),
)
async def delete_site(site_id: SiteId, services: ServicesDep, caller: CallerDep) -> Response:
    await services.sites.delete(caller, site_id)
    return Response(status_code=204)
