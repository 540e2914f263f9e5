"""Sites (JW Player's properties)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hookcast.domain.errors import NotFound
from hookcast.domain.models import Site
from hookcast.ports import Page, PageRequest
from hookcast.store.rows import site_from_row, site_values
from hookcast.store.sql import IDS, count, paginate
from hookcast.store.tables import sites

__all__ = [
    "create_site",
    "delete_site",
    "existing_site_ids",
    "get_site",
    "list_sites",
    "update_site",
]


async def create_site(conn: AsyncConnection, site: Site) -> None:
    await conn.execute(insert(sites).values(site_values(site)))


async def get_site(conn: AsyncConnection, account_id: str, site_id: str) -> Site | None:
    query = select(sites).where(sites.c.account_id == account_id, sites.c.id == site_id)
    row = (await conn.execute(query)).first()
    return None if row is None else site_from_row(row._mapping)


async def list_sites(conn: AsyncConnection, account_id: str, page: PageRequest) -> Page[Site]:
    mine = sites.c.account_id == account_id
    query = select(sites).where(mine).order_by(sites.c.created, sites.c.id)
    rows = (await conn.execute(paginate(query, page))).mappings()
    items = [site_from_row(row) for row in rows]
    return Page(items=items, total=await count(conn, sites, mine))


async def update_site(conn: AsyncConnection, site: Site) -> None:
    result = await conn.execute(
        update(sites)
        .where(sites.c.account_id == site.account_id, sites.c.id == site.id)
        .values(name=site.name, last_modified=site.last_modified)
    )
    if result.rowcount == 0:
        raise NotFound(f"site {site.id} not found")


async def delete_site(conn: AsyncConnection, account_id: str, site_id: str) -> bool:
    # webhook_sites rows go with it (ON DELETE CASCADE): the site leaves every webhook.
    result = await conn.execute(
        delete(sites).where(sites.c.account_id == account_id, sites.c.id == site_id)
    )
    return result.rowcount > 0


async def existing_site_ids(
    conn: AsyncConnection, account_id: str, site_ids: Sequence[str]
) -> set[str]:
    if not site_ids:
        return set()
    params = {"account_id": account_id, "ids": list(set(site_ids))}
    return set((await conn.scalars(_SITES_IN_ACCOUNT, params)).all())


# Built once: checked for every publish (see sql.IDS).
_SITES_IN_ACCOUNT = select(sites.c.id).where(
    sites.c.account_id == bindparam("account_id"),
    sites.c.id.in_(IDS),
)
