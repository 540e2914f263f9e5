"""/v2/webhooks/: JW Player's webhook resource, plus secrets, tests and recovery."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from hookcast.api.deps import CallerDep, PageDep, ServicesDep, WebhookId
from hookcast.api.json_route import OrjsonRoute
from hookcast.api.models import (
    AUTHENTICATED,
    WITH_BODY,
    DeliveryList,
    HeldDelivered,
    HeldDiscarded,
    JwkSetOut,
    Recovered,
    Replayed,
    SecretOut,
    TestSent,
    WebhookCreated,
    WebhookList,
    WebhookOut,
    WouldReplay,
    error_responses,
)
from hookcast.api.schemas import Recover, Replay, WebhookCreate, WebhookPatch, patch_changes
from hookcast.services import DeliveryFilter

router = APIRouter(prefix="/v2/webhooks", tags=["Webhooks"], route_class=OrjsonRoute)


@router.post(
    "/",
    status_code=201,
    summary="Create a webhook (the secret is in this response)",
    responses=error_responses(*WITH_BODY, 403, 409, *AUTHENTICATED),
)
async def create_webhook(
    body: WebhookCreate, services: ServicesDep, caller: CallerDep
) -> WebhookCreated:
    # Unset fields are left out, so the format's defaults (retry policy, timeout) apply.
    metadata = body.metadata.model_dump(exclude_unset=True)
    return WebhookCreated.from_domain(await services.webhooks.create(caller, metadata))


@router.get(
    "/",
    summary="List webhooks",
    responses=error_responses(400, *AUTHENTICATED),
)
async def list_webhooks(
    services: ServicesDep,
    caller: CallerDep,
    page: PageDep,
    sort: Annotated[
        str,
        Query(description="<field>:<asc|dsc>, field one of created, last_modified, name"),
    ] = "created:dsc",
    events: Annotated[
        str | None,
        Query(
            description="Only webhooks that would receive this catalog event: those naming it "
            'and those on ["*"] in a format that has a name for it ("*": only those on ["*"])'
        ),
    ] = None,
    site_id: Annotated[
        str | None,
        Query(description='Only webhooks hearing this property (those on ["*"] included)'),
    ] = None,
    format: Annotated[str | None, Query(description="Only webhooks of this format")] = None,
) -> WebhookList:
    found = await services.webhooks.list(
        caller, page=page, sort=sort, event=events, site_id=site_id, format=format
    )
    return WebhookList.from_domain(found, page)


# Before "/{webhook_id}/", which would otherwise take "jwks.json" for a webhook id.
@router.get(
    "/jwks.json/",
    summary="The public keys of the account's ed25519 webhooks, as a JWK Set",
    responses=error_responses(*AUTHENTICATED),
)
async def webhook_jwks(services: ServicesDep, caller: CallerDep) -> JwkSetOut:
    return JwkSetOut.from_domain(await services.webhooks.public_keys(caller))


@router.get(
    "/{webhook_id}/",
    summary="Get a webhook (never its secret)",
    responses=error_responses(400, 404, *AUTHENTICATED),
)
async def get_webhook(
    webhook_id: WebhookId, services: ServicesDep, caller: CallerDep
) -> WebhookOut:
    return WebhookOut.from_domain(await services.webhooks.get(caller, webhook_id))


@router.patch(
    "/{webhook_id}/",
    summary="Update a webhook with partial metadata",
    responses=error_responses(*WITH_BODY, 403, 404, 409, *AUTHENTICATED),
)
async def update_webhook(
    webhook_id: WebhookId, body: WebhookPatch, services: ServicesDep, caller: CallerDep
) -> WebhookOut:
    hook = await services.webhooks.update(
        caller, webhook_id=webhook_id, changes=patch_changes(body)
    )
    return WebhookOut.from_domain(hook)


@router.delete(
    "/{webhook_id}/",
    status_code=204,
    summary="Delete a webhook and its log",
    responses=error_responses(400, 403, 404, 409, *AUTHENTICATED),
)
async def delete_webhook(
    webhook_id: WebhookId, services: ServicesDep, caller: CallerDep
) -> Response:
    await services.webhooks.delete(caller, webhook_id)
    return Response(status_code=204)


@router.get(
    "/{webhook_id}/secret/",
    summary="Reveal the signing secret (admin)",
    responses=error_responses(400, 403, 404, *AUTHENTICATED),
)
async def reveal_secret(
    webhook_id: WebhookId, services: ServicesDep, caller: CallerDep
) -> SecretOut:
    return SecretOut.from_domain(await services.webhooks.reveal_secret(caller, webhook_id))


@router.post(
    "/{webhook_id}/secret/rotate/",
    summary="Rotate the signing secret (admin)",
    responses=error_responses(*WITH_BODY, 403, 404, 409, *AUTHENTICATED),
)
async def rotate_secret(
    webhook_id: WebhookId, services: ServicesDep, caller: CallerDep
) -> SecretOut:
    return SecretOut.from_domain(await services.webhooks.rotate_secret(caller, webhook_id))


@router.get(
    "/{webhook_id}/deliveries/",
    summary="The delivery log, newest first",
    responses=error_responses(400, 404, *AUTHENTICATED),
)
async def list_deliveries(
    webhook_id: WebhookId,
    services: ServicesDep,
    caller: CallerDep,
    page: PageDep,
    status: Annotated[
        str | None,
        Query(description="pending, paused, succeeded, failed, held or discarded"),
    ] = None,
    event: Annotated[str | None, Query(description="Only events of this type")] = None,
    event_id: Annotated[str | None, Query(description="Only this event's delivery")] = None,
    resource_id: Annotated[
        str | None, Query(description="Only events holding this id (media_id, channel_id...)")
    ] = None,
    since: Annotated[
        str | None, Query(description="Created at or after this ISO 8601 time (UTC if no offset)")
    ] = None,
    until: Annotated[str | None, Query(description="Created before this ISO 8601 time")] = None,
) -> DeliveryList:
    find = DeliveryFilter(event_id=event_id, resource_id=resource_id, since=since, until=until)
    found = await services.deliveries.list(
        caller, webhook_id, page=page, status=status, event=event, find=find
    )
    return DeliveryList.from_domain(found, page)


@router.post(
    "/{webhook_id}/test/",
    status_code=202,
    summary="Send a webhook_test event",
    responses=error_responses(*WITH_BODY, 403, 404, 409, *AUTHENTICATED),
)
async def send_test(webhook_id: WebhookId, services: ServicesDep, caller: CallerDep) -> TestSent:
    return TestSent.from_domain(await services.deliveries.send_test(caller, webhook_id))


@router.post(
    "/{webhook_id}/recover/",
    status_code=202,
    summary="Resend every failed delivery since a time",
    responses=error_responses(*WITH_BODY, 403, 404, 409, *AUTHENTICATED),
)
async def recover(
    webhook_id: WebhookId, body: Recover, services: ServicesDep, caller: CallerDep
) -> Recovered:
    count = await services.deliveries.recover(caller, webhook_id=webhook_id, since=body.since)
    return Recovered(recovered=count)


@router.post(
    "/{webhook_id}/replay/",
    status_code=202,
    summary="Resend every finished delivery of a time range (or count them: dry_run)",
    responses=error_responses(*WITH_BODY, 403, 404, 409, *AUTHENTICATED),
)
async def replay(
    webhook_id: WebhookId, body: Replay, services: ServicesDep, caller: CallerDep
) -> Replayed | WouldReplay:
    count = await services.deliveries.replay(
        caller,
        webhook_id=webhook_id,
        since=body.since,
        until=body.until,
        resource_id=body.resource_id,
        event=body.event,
        dry_run=body.dry_run,
    )
    return WouldReplay(would_replay=count) if body.dry_run else Replayed(replayed=count)


@router.post(
    "/{webhook_id}/held/deliver/",
    status_code=202,
    summary="Send the deliveries held while the webhook was disabled (409 while disabled)",
    responses=error_responses(*WITH_BODY, 403, 404, 409, *AUTHENTICATED),
)
async def deliver_held(
    webhook_id: WebhookId, services: ServicesDep, caller: CallerDep
) -> HeldDelivered:
    return HeldDelivered(delivered=await services.deliveries.deliver_held(caller, webhook_id))


@router.post(
    "/{webhook_id}/held/discard/",
    summary="Discard the deliveries held while the webhook was disabled",
    responses=error_responses(*WITH_BODY, 403, 404, 409, *AUTHENTICATED),
)
async def discard_held(
    webhook_id: WebhookId, services: ServicesDep, caller: CallerDep
) -> HeldDiscarded:
    return HeldDiscarded(discarded=await services.deliveries.discard_held(caller, webhook_id))
