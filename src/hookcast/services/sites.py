"""Properties (JW Player's sites): events are published for one, webhooks subscribe to them."""

from __future__ import annotations

import dataclasses

from hookcast.domain.errors import NotFound, ValidationFailed
from hookcast.domain.ids import is_resource_id, new_resource_id
from hookcast.domain.models import Permission, Site
from hookcast.ports import Clock, Page, PageRequest, Store
from hookcast.services import validation as v
from hookcast.services.auth import Caller


class SiteService:
    def __init__(self, store: Store, *, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def create(self, caller: Caller, *, name: object, site_id: object = None) -> Site:
        """A caller may choose the id, so a platform keeps the property ids it already has."""
        caller.require(Permission.PLATFORM)
        now = self._clock()
        site = Site(
            id=_site_id(site_id),
            account_id=caller.account_id,
            name=v.text(name, field="name", max_length=256),
            created=now,
            last_modified=now,
        )
        await self._store.create_site(site)
        return site

    async def get(self, caller: Caller, site_id: str) -> Site:
        caller.require(Permission.READ)
        site = await self._store.get_site(caller.account_id, site_id)
        if site is None:
            raise NotFound(f"site {site_id!r} was not found")
        return site

    async def list(self, caller: Caller, page: PageRequest) -> Page[Site]:
        caller.require(Permission.READ)
        return await self._store.list_sites(caller.account_id, page)

    async def rename(self, caller: Caller, *, site_id: str, name: object) -> Site:
        caller.require(Permission.PLATFORM)
        site = await self.get(caller, site_id)
        renamed = dataclasses.replace(
            site, name=v.text(name, field="name", max_length=256), last_modified=self._clock()
        )
        await self._store.update_site(renamed)
        return renamed

    async def delete(self, caller: Caller, site_id: str) -> None:
        """Deletes the property; webhooks stop receiving its events (their other sites stay)."""
        caller.require(Permission.PLATFORM)
        if not await self._store.delete_site(caller.account_id, site_id):
            raise NotFound(f"site {site_id!r} was not found")


def _site_id(raw: object) -> str:
    if raw is None:
        return new_resource_id()
    if not isinstance(raw, str) or not is_resource_id(raw):
        raise ValidationFailed("site id must be exactly 8 letters or digits", field="id")
    return raw
