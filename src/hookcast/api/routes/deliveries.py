"""/v2/deliveries/{id}/: one delivery with its attempts, and a manual retry."""

from __future__ import annotations

from fastapi import APIRouter

from hookcast.api.deps import CallerDep, DeliveryId, ServicesDep
from hookcast.api.json_route import OrjsonRoute
from hookcast.api.models import AUTHENTICATED, WITH_BODY, DeliveryOut, error_responses

router = APIRouter(prefix="/v2/deliveries", tags=["Deliveries"], route_class=OrjsonRoute)


@router.get(
    "/{delivery_id}/",
    summary="A delivery with every attempt",
    responses=error_responses(400, 404, *AUTHENTICATED),
)
async def get_delivery(
    delivery_id: DeliveryId, services: ServicesDep, caller: CallerDep
) -> DeliveryOut:
    return DeliveryOut.from_domain(await services.deliveries.get(caller, delivery_id))


@router.post(
    "/{delivery_id}/retry/",
    status_code=202,
    summary="Send a delivery again now",
    description="Any status: a failed delivery is retried; a succeeded one is sent again "
    "with the same event id (a receiver that skips ids it has seen ignores it); a pending "
    "one goes now instead of at its next attempt.",
    responses=error_responses(*WITH_BODY, 403, 404, 409, *AUTHENTICATED),
)
async def retry_delivery(
    delivery_id: DeliveryId, services: ServicesDep, caller: CallerDep
) -> DeliveryOut:
    return DeliveryOut.from_domain(await services.deliveries.retry(caller, delivery_id))
