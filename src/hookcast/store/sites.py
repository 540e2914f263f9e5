"""Sites (JW Player's properties)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, delete, insert, select, update

from hookcast.domain.errors import NotFound
from hookcast.domain.models import Site
from hookcast.ports import Page, PageRequest
from hookcast.store.connector import Transaction
from hookcast.store.rows import site_from_row, site_values
from hookcast.store.sql import count, in_list, paginate
from hookcast.store.statement import Statement
from hookcast.store.tables import sites

__all__ = [
    "create_site",
    "delete_site",
    "existing_site_ids",
    "get_site",
    "list_sites",
    "update_site",
]


async def create_site(tx: Transaction, site: Site) -> None:
    await tx.execute(_INSERT, site_values(site))


async def get_site(tx: Transaction, *, account_id: str, site_id: str) -> Site | None:
    rows = await tx.fetch_mappings(_SITE, {"account_id": account_id, "id": site_id})
    return site_from_row(rows[0]) if rows else None


async def list_sites(tx: Transaction, *, account_id: str, page: PageRequest) -> Page[Site]:
    mine = sites.c.account_id == account_id
    query = select(sites).where(mine).order_by(sites.c.created, sites.c.id)
    items = [site_from_row(row) for row in await tx.fetch_mappings(paginate(query, page))]
    return Page(items=items, total=await count(tx, sites, mine))


async def update_site(tx: Transaction, site: Site) -> None:
    values = {
        "b_account_id": site.account_id,
        "b_id": site.id,
        "b_name": site.name,
        "b_last_modified": site.last_modified,
    }
    if await tx.execute(_UPDATE, values) == 0:
        raise NotFound(f"site {site.id} not found")


async def delete_site(tx: Transaction, *, account_id: str, site_id: str) -> bool:
    # webhook_sites rows go with it (ON DELETE CASCADE): the site leaves every webhook.
    return await tx.execute(_DELETE, {"account_id": account_id, "id": site_id}) > 0


async def existing_site_ids(
    tx: Transaction, *, account_id: str, site_ids: Sequence[str]
) -> set[str]:
    if not site_ids:
        return set()
    values = {"account_id": account_id, "ids": list(set(site_ids))}
    return {site_id for (site_id,) in await tx.fetch_all(_SITES_IN_ACCOUNT, values)}


_THIS_SITE = (
    sites.c.account_id == bindparam("account_id"),
    sites.c.id == bindparam("id"),
)
_INSERT = Statement(lambda _: insert(sites))
_SITE = Statement(lambda _: select(sites).where(*_THIS_SITE))
_UPDATE = Statement(
    lambda _: (
        update(sites)
        .where(sites.c.account_id == bindparam("b_account_id"), sites.c.id == bindparam("b_id"))
        .values(
            name=bindparam("b_name", type_=sites.c.name.type),
            last_modified=bindparam("b_last_modified", type_=sites.c.last_modified.type),
        )
    )
)
_DELETE = Statement(lambda _: delete(sites).where(*_THIS_SITE))
# Checked for every publish.
_SITES_IN_ACCOUNT = Statement(
    lambda database: select(sites.c.id).where(
        sites.c.account_id == bindparam("account_id"), in_list(database, column=sites.c.id)
    )
)
