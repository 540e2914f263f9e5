"""Every relative link of README.md and docs/ leads to a file, and to a heading of it where
it names one (tests/support/doc_links.py): a reader who follows one lands where it says."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.doc_links import Link, broken_links, heading_anchors, links

REPO = Path(__file__).resolve().parents[2]


def test_every_relative_link_of_the_readme_and_docs_leads_somewhere() -> None:
    pages = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]

    assert broken_links(REPO, pages) == []


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("## How long `make bench` takes", "how-long-make-bench-takes"),
        ("### PostgreSQL's work per delivery (target 2)", "postgresqls-work-per-delivery-target-2"),
        ("### Where a publish waits at 2,000/s", "where-a-publish-waits-at-2000s"),
        ("#### One event costs 3-4\N{MULTIPLICATION SIGN} a batch", "one-event-costs-3-4-a-batch"),
        ("## Where the drain's µs go", "where-the-drains-µs-go"),
        ("# At 50/s: one claimer (branch `lowrate`)", "at-50s-one-claimer-branch-lowrate"),
    ],
)
def test_a_headings_anchor_is_spelled_as_github_spells_it(heading: str, anchor: str) -> None:
    assert heading_anchors(heading) == {anchor}


def test_a_repeated_heading_gets_a_numbered_anchor_and_code_is_not_a_heading() -> None:
    page = "## Tenth pass\n\n```sh\n# not a heading\n```\n\n## Tenth pass\n"

    assert heading_anchors(page) == {"tenth-pass", "tenth-pass-1"}


def test_links_in_prose_are_read_and_urls_and_code_are_not() -> None:
    page = (
        "See [runs](benchmarks/runs.md#the-harness) and [here](#top).\n"
        "Not [a URL](https://example.com/x.md) nor `[code](nowhere.md)`.\n"
        "```md\n[fenced](nowhere.md)\n```\n"
        "![plot](img/latency.png)\n"
    )

    assert links(page) == [
        Link(path="benchmarks/runs.md", anchor="the-harness", line=1),
        Link(path="", anchor="top", line=1),
        Link(path="img/latency.png", anchor="", line=6),
    ]


def test_a_missing_file_and_a_missing_heading_are_each_reported(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Other\n\n## Kept\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n\n[ok](other.md#kept) [gone](moved.md) [stale](other.md#moved) [self](#page)\n",
        encoding="utf-8",
    )

    assert broken_links(tmp_path, [page]) == [
        "page.md:3: moved.md# (no such file)",
        "page.md:3: other.md#moved (no such heading)",
    ]
