"""The customer portal's settings: the platform's brand and who may frame the portal.

Admins set them (dashboard settings page, `PUT /v2/account/portal/`); every portal page
reads them, so a customer sees the platform's name, logo and colour, never HookCast's.
"""

from __future__ import annotations

from datetime import datetime

from hookcast.domain import portal as rules
from hookcast.domain.errors import NotFound
from hookcast.domain.models import Permission
from hookcast.domain.portal import PortalSettings
from hookcast.ports import Clock, Store
from hookcast.services.auth import Caller

__all__ = ["PortalService"]


class PortalService:
    def __init__(self, store: Store, *, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def now(self) -> datetime:
        """The time links are made at (the services' clock)."""
        return self._clock()

    async def settings(self, caller: Caller) -> PortalSettings:
        """The caller's account's portal settings (every role may read them: the portal
        itself shows them)."""
        caller.require(Permission.READ)
        return await self._store.get_portal_settings(caller.account_id)

    async def update(
        self,
        caller: Caller,
        *,
        name: object = None,
        logo: object = None,
        accent: object = None,
        frame_ancestors: object = None,
    ) -> PortalSettings:
        """Replaces the account's portal settings (blank values: HookCast's defaults)."""
        caller.require(Permission.ADMIN)
        settings = PortalSettings(
            name=rules.platform_name(name),
            logo=rules.logo(logo),
            accent=rules.accent_colour(accent),
            frame_ancestors=rules.frame_ancestors(frame_ancestors),
        )
        if not await self._store.set_portal_settings(caller.account_id, settings):
            raise NotFound(f"account {caller.account_id!r} was not found")
        return settings

    async def authorize_link(self, caller: Caller) -> None:
        """Only an admin makes portal links (a portal session never does)."""
        caller.require(Permission.ADMIN)
