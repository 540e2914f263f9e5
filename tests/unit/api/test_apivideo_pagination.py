"""api.video's pagination: counts and the links around a page."""

from __future__ import annotations

import pytest

from hookcast.api.apivideo.pagination import pagination


def uri(page: int) -> str:
    return f"/webhooks?currentPage={page}"


@pytest.mark.parametrize(
    ("current", "size", "total", "pages", "on_page", "rels"),
    [
        (1, 25, 0, 1, 0, ["self", "first", "last"]),
        (1, 25, 25, 1, 25, ["self", "first", "last"]),
        (1, 25, 26, 2, 25, ["self", "first", "next", "last"]),
        (2, 25, 26, 2, 1, ["self", "first", "previous", "last"]),
        (2, 10, 35, 4, 10, ["self", "first", "previous", "next", "last"]),
        (4, 10, 35, 4, 5, ["self", "first", "previous", "last"]),
        (5, 10, 35, 4, 0, ["self", "first", "previous", "last"]),  # one past the last page
        (9, 10, 35, 4, 0, ["self", "first", "last"]),  # far past it: no page is next to it
    ],
)
def test_pagination(
    current: int, size: int, total: int, pages: int, on_page: int, rels: list[str]
) -> None:
    shown = pagination(current_page=current, page_size=size, items_total=total, uri=uri)
    assert (shown.currentPage, shown.pageSize, shown.itemsTotal) == (current, size, total)
    assert (shown.pagesTotal, shown.currentPageItems) == (pages, on_page)
    assert [link.rel for link in shown.links] == rels


def test_the_links_point_at_their_pages() -> None:
    shown = pagination(current_page=2, page_size=10, items_total=35, uri=uri)
    assert {link.rel: link.uri for link in shown.links} == {
        "self": uri(2),
        "first": uri(1),
        "previous": uri(1),
        "next": uri(3),
        "last": uri(4),
    }
