"""Which deliveries a walk may pause: every one but a test or example a person sent.

A disabled webhook's deliveries are kept from its endpoint (paused) by a pause's walk
(store/pause_walk.py on SQLite, store/pause_postgres.py), by the start-up sweep that
finishes one cut short (store/cut_short.py, sql_store.py `finish_walks`), by a claim that
reaches one first (store/deliveries.py `park`) and by a checked publish a pause overtook
(store/deliveries.py `pause_made`); a resume makes every paused one pending again, a
test or example too: none is paused now, and one stored paused before (by a publish
grouped with a checked one, before `pause_made` asked) goes again.
A person's test or example is sent "even when the webhook is disabled"
(services/deliveries.py `send_example`): it is marked on the delivery (`by_hand`,
migration 0026), not told by time. A rule on `created` against the webhook's
`last_modified` paused a test sent before the disable and retried after it, and missed a
publish from a host whose clock ran ahead (made "after" the disable, committed before it),
which only the walk's pausing every published delivery keeps from its endpoint.
"""

from __future__ import annotations

from sqlalchemy import Boolean, ColumnElement, literal_column

__all__ = ["WALK_MAY_PAUSE", "walk_may_pause"]

# SQL of the condition on a `deliveries` row, for the statements written as text (SQLite's
# walk); `walk_may_pause()` for those built. No index holds `by_hand`: it is read from the
# rows an index already found (a webhook's, or the pending ones).
WALK_MAY_PAUSE = "NOT deliveries.by_hand"


def walk_may_pause() -> ColumnElement[bool]:
    """The delivery is one a walk, the sweep, a park or a publish may pause."""
    return literal_column(f"({WALK_MAY_PAUSE})", Boolean)
