"""/v2/account/: settings of the caller's account. The Flowplayer organization secret signs
every Flowplayer-format webhook of the account; until it is set their deliveries are held."""

from __future__ import annotations

from fastapi import APIRouter

from hookcast.api.deps import CallerDep, ServicesDep
from hookcast.api.json_route import OrjsonRoute
from hookcast.api.models import (
    AUTHENTICATED,
    WITH_BODY,
    ContactOut,
    FlowplayerSecretOut,
    error_responses,
)
from hookcast.api.schemas import ContactIn, FlowplayerSecretIn

router = APIRouter(prefix="/v2/account", tags=["Account"], route_class=OrjsonRoute)


@router.get(
    "/flowplayer_secret/",
    summary="Reveal the Flowplayer organization secret (admin)",
    responses=error_responses(403, *AUTHENTICATED),
)
async def reveal_flowplayer_secret(services: ServicesDep, caller: CallerDep) -> FlowplayerSecretOut:
    return FlowplayerSecretOut(secret=await services.accounts.reveal_flowplayer_secret(caller))


@router.put(
    "/flowplayer_secret/",
    summary="Set the Flowplayer organization secret (a value of your own)",
    responses=error_responses(*WITH_BODY, 403, *AUTHENTICATED),
)
async def set_flowplayer_secret(
    body: FlowplayerSecretIn, services: ServicesDep, caller: CallerDep
) -> FlowplayerSecretOut:
    secret = await services.accounts.set_flowplayer_secret(caller, body.secret)
    return FlowplayerSecretOut(secret=secret)


@router.post(
    "/flowplayer_secret/rotate/",
    summary="Replace the Flowplayer organization secret with a new random one",
    responses=error_responses(*WITH_BODY, 403, *AUTHENTICATED),
)
async def rotate_flowplayer_secret(services: ServicesDep, caller: CallerDep) -> FlowplayerSecretOut:
    return FlowplayerSecretOut(secret=await services.accounts.set_flowplayer_secret(caller))


@router.get(
    "/contact/",
    summary="The address HookCast e-mails about the account's webhooks",
    responses=error_responses(*AUTHENTICATED),
)
async def get_contact(services: ServicesDep, caller: CallerDep) -> ContactOut:
    return ContactOut(email=await services.accounts.contact_email(caller))


@router.put(
    "/contact/",
    summary="Set the address HookCast e-mails before a webhook is disabled (admin)",
    description="HookCast e-mails it a webhook's disable warning, its disable and its recovery "
    "when an SMTP server is configured (HOOKCAST_SMTP_URL). `null` or an empty string: none.",
    responses=error_responses(*WITH_BODY, 403, *AUTHENTICATED),
)
async def set_contact(body: ContactIn, services: ServicesDep, caller: CallerDep) -> ContactOut:
    return ContactOut(email=await services.accounts.set_contact_email(caller, body.email))
