"""How the remote commands print for people: times in UTC with their zone, tables that fit
an 80-column terminal (rich folds only the columns marked to fold, and `shorten` keeps a long
cell to a few words instead of a tall cell)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from rich import box
from rich.console import Console
from rich.table import Table

__all__ = ["console", "kv_table", "shorten", "table", "when", "when_exact"]


def console() -> Console:
    """stdout, without rich's guesses at colouring numbers and URLs."""
    return Console(highlight=False)


def when(value: datetime | None) -> str:
    """`2026-12-05 08:55 UTC` (minutes: what a person reads in a table), or "-"."""
    if value is None:
        return "-"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def when_exact(value: datetime | None) -> str:
    """`2026-12-05 08:55:08 UTC`, for one resource's details."""
    if value is None:
        return "-"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def shorten(text: str | None, width: int) -> str:
    """One line of at most `width` characters, "…" where it was cut; "-" for nothing."""
    flat = " ".join((text or "").split())
    if not flat:
        return "-"
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def table(title: str, columns: Sequence[str], *, fold: Sequence[str] = ()) -> Table:
    """A borderless table: columns in `fold` wrap, the others keep their cells on one line."""
    grid = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for column in columns:
        folds = column in fold
        grid.add_column(column, overflow="fold" if folds else "ellipsis", no_wrap=not folds)
    return grid


def kv_table(title: str, rows: Sequence[tuple[str, str]]) -> Table:
    """One resource: a name column and a value column that folds."""
    grid = Table(show_header=False, title=title, title_justify="left", box=box.SIMPLE)
    grid.add_column("field", style="bold", no_wrap=True)
    grid.add_column("value", overflow="fold")
    for name, value in rows:
        grid.add_row(name, value)
    return grid
