"""The relative links of Markdown pages (README.md, docs/), checked as GitHub renders them.

A link `[text](path#anchor)` that is not a URL must name a file that exists, relative to
the page; its anchor, where it has one, must be a heading of that page (or of the page it
names) as GitHub spells it: lower case, punctuation other than `-` and `_` dropped, spaces
as `-`, a repeated heading's anchor suffixed `-1`, `-2`... Links inside code (fenced
blocks and `spans`) are text, not links.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Link", "broken_links", "heading_anchors", "links"]

_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^#{1,6}\s+(?P<text>.+?)\s*#*\s*$")
_CODE_SPAN = re.compile(r"(`+).+?\1")
# `[text](target)` and `![alt](target)`; a target may carry a title after a space.
_LINK = re.compile(
    r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]"  # the text, which may hold [brackets]
    r"\((?P<target><[^>]*>|[^)\s]+)(?:\s+\"[^\"]*\")?\)"
)
_EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # http:, mailto:, ...


@dataclass(frozen=True, slots=True)
class Link:
    """One relative link of a page: the file it names ("" for the page itself) and anchor."""

    path: str
    anchor: str
    line: int


def _prose_lines(markdown: str) -> Iterable[tuple[int, str]]:
    """The page's lines outside fenced blocks, numbered from 1, code spans blanked."""
    fenced = False
    for number, line in enumerate(markdown.splitlines(), start=1):
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            yield number, _CODE_SPAN.sub("", line)


def _slug(heading: str) -> str:
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading: its text
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def heading_anchors(markdown: str) -> set[str]:
    """Every anchor GitHub gives the page's headings (and its explicit `<a id=...>`)."""
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    fenced = False
    for line in markdown.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            continue
        match = None if fenced else _HEADING.match(line)
        if match:
            slug = _slug(match.group("text").replace("`", ""))
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            anchors.add(slug if count == 0 else f"{slug}-{count}")
        anchors.update(re.findall(r"<a\s+(?:id|name)=\"([^\"]+)\"", line))
    return anchors


def links(markdown: str) -> list[Link]:
    """The page's relative links, in order: URLs and links in code left out."""
    found = []
    for number, line in _prose_lines(markdown):
        for match in _LINK.finditer(line):
            target = match.group("target").strip("<>")
            if _EXTERNAL.match(target):
                continue
            path, _, anchor = target.partition("#")
            found.append(Link(path=path, anchor=anchor, line=number))
    return found


def broken_links(root: Path, pages: Iterable[Path]) -> list[str]:
    """`page:line: target (why)` for each link of `pages` that leads nowhere."""
    broken = []
    for page in pages:
        for link in links(page.read_text(encoding="utf-8")):
            target = (page.parent / link.path).resolve() if link.path else page
            where = f"{page.relative_to(root)}:{link.line}: {link.path}#{link.anchor}"
            if not target.exists():
                broken.append(f"{where} (no such file)")
            elif link.anchor and not _has_anchor(target, link.anchor):
                broken.append(f"{where} (no such heading)")
    return broken


def _has_anchor(target: Path, anchor: str) -> bool:
    """Whether `anchor` is a heading of `target` (a page); any anchor of another file is."""
    if target.suffix != ".md":
        return True
    return anchor in heading_anchors(target.read_text(encoding="utf-8"))
