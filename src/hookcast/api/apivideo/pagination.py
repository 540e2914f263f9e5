"""api.video's `pagination` object: counts, and links to the pages around this one."""

from __future__ import annotations

from collections.abc import Callable

from hookcast.api.apivideo.schemas import Pagination, PaginationLink

__all__ = ["DEFAULT_PAGE_SIZE", "MAX_PAGE_SIZE", "pagination"]

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100


def pagination(
    *, current_page: int, page_size: int, items_total: int, uri: Callable[[int], str]
) -> Pagination:
    """The pagination of page `current_page`; `uri(n)` is the address of page n.

    An empty listing still has one (empty) page, so `first` and `last` always exist; a page
    past the last is answered empty, with no `next`."""
    pages_total = max(1, -(-items_total // page_size))
    on_page = max(0, min(page_size, items_total - (current_page - 1) * page_size))
    rels = [("self", current_page), ("first", 1)]
    if 1 < current_page <= pages_total + 1:
        rels.append(("previous", current_page - 1))
    if current_page < pages_total:
        rels.append(("next", current_page + 1))
    rels.append(("last", pages_total))
    return Pagination(
        currentPage=current_page,
        pageSize=page_size,
        pagesTotal=pages_total,
        itemsTotal=items_total,
        currentPageItems=on_page,
        links=[PaginationLink(rel=rel, uri=uri(page)) for rel, page in rels],
    )
