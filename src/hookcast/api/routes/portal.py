"""/v2/portal_links/ and /v2/account/portal/: the customer portal through the API, so a
platform can hand each customer a fresh link from its own back end, and brand the portal.

A link is made by the same code as the dashboard's Portal links page (hookcast.portal_links)
and signed with the same key, so the dashboard opens it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from hookcast import portal_links
from hookcast.api.deps import CallerDep, ServicesDep
from hookcast.api.json_route import OrjsonRoute
from hookcast.api.models import AUTHENTICATED, WITH_BODY, error_responses
from hookcast.domain.portal import MAX_FRAME_ANCESTORS, PortalSettings

router = APIRouter(prefix="/v2", tags=["Portal"], route_class=OrjsonRoute)

_ORIGINS = (
    "Origins (https://host[:port], or http for localhost and loopback addresses) that may "
    f"show the portal in an iframe, at most {MAX_FRAME_ANCESTORS}"
)


class PortalLinkIn(BaseModel):
    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "role": "editor",
                    "duration": "24h",
                    "frame_ancestors": ["https://app.example.com"],
                }
            ]
        },
    )
    role: Literal["editor", "viewer"] = Field(
        description="editor: manage webhooks and deliveries; viewer: read only"
    )
    duration: Literal["1h", "8h", "24h", "3d", "7d"] = Field(
        description="How long the link (and a session it opens) works"
    )
    frame_ancestors: list[str] | None = Field(
        default=None,
        description=f"{_ORIGINS}; omitted: the account's default (PUT /v2/account/portal/)",
    )


class PortalLinkOut(BaseModel):
    url: str = Field(description="Opens the portal without an API key; keep it secret")
    expires: datetime = Field(description="When the link stops working")
    role: Literal["editor", "viewer"] = Field(description="What the customer may do with it")
    frame_ancestors: list[str] | None = Field(
        description="The origins the link allows to frame it; null: the account's default"
    )


class PortalSettingsIn(BaseModel):
    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Acme Video",
                    "logo": "https://cdn.example.com/acme.png",
                    "accent_colour": "#0f766e",
                    "frame_ancestors": ["https://app.example.com"],
                }
            ]
        },
    )
    name: str | None = Field(
        default=None, max_length=60, description="Shown instead of HookCast; null: HookCast"
    )
    logo: str | None = Field(
        default=None,
        description="An https URL, or a data: URL of a PNG, JPEG, GIF or WebP image of at "
        "most 32 KiB; null: none",
    )
    accent_colour: str | None = Field(
        default=None, pattern=r"^#[0-9a-fA-F]{6}$", description="#rrggbb; null: HookCast's"
    )
    frame_ancestors: list[str] = Field(
        default_factory=list, description=f"{_ORIGINS}, for links that name none"
    )


class PortalSettingsOut(BaseModel):
    name: str | None = Field(description="Shown instead of HookCast; null: HookCast")
    logo: str | None = Field(description="The logo's https or data: URL; null: none")
    accent_colour: str | None = Field(description="#rrggbb; null: HookCast's")
    frame_ancestors: list[str] = Field(
        description="The origins that may frame the portal for links that name none"
    )

    @classmethod
    def of(cls, settings: PortalSettings) -> PortalSettingsOut:
        return cls(
            name=settings.name,
            logo=settings.logo,
            accent_colour=settings.accent,
            frame_ancestors=list(settings.frame_ancestors),
        )


@router.post(
    "/portal_links/",
    summary="Make a portal link (admin)",
    status_code=201,
    responses=error_responses(*WITH_BODY, 403, *AUTHENTICATED),
)
async def create_portal_link(
    body: PortalLinkIn, request: Request, services: ServicesDep, caller: CallerDep
) -> PortalLinkOut:
    await services.portal.authorize_link(caller)
    if caller.key_id is None:  # never: API callers always hold a key
        raise RuntimeError("a portal link needs the key that makes it")
    key: bytes = request.app.state.portal_key
    now = services.portal.now()
    token, expires = portal_links.make_link(
        key,
        account_id=caller.account_id,
        role=body.role,
        issuer_key_id=caller.key_id,
        duration=body.duration,
        now=now,
        frame_ancestors=body.frame_ancestors,
    )
    link = portal_links.read_link(key, token, now=now)  # the origins as validated
    return PortalLinkOut(
        url=str(request.base_url).rstrip("/") + f"/portal/{token}",
        expires=expires,
        role=body.role,
        frame_ancestors=None if link.frame_ancestors is None else list(link.frame_ancestors),
    )


@router.get(
    "/account/portal/",
    summary="The portal's brand and default embedding origins",
    responses=error_responses(403, *AUTHENTICATED),
)
async def get_portal_settings(services: ServicesDep, caller: CallerDep) -> PortalSettingsOut:
    return PortalSettingsOut.of(await services.portal.settings(caller))


@router.put(
    "/account/portal/",
    summary="Set the portal's brand and default embedding origins (admin)",
    responses=error_responses(*WITH_BODY, 403, *AUTHENTICATED),
)
async def set_portal_settings(
    body: PortalSettingsIn, services: ServicesDep, caller: CallerDep
) -> PortalSettingsOut:
    saved = await services.portal.update(
        caller,
        name=body.name,
        logo=body.logo,
        accent=body.accent_colour,
        frame_ancestors=body.frame_ancestors,
    )
    return PortalSettingsOut.of(saved)
