"""Latest wins and time-to-live: which deliveries are no longer worth sending.

The rules, stated once here and followed by fan-out, the store and the worker:
- **Latest wins** (`Webhook.coalesce`). An `*_updated` event about a media or a live channel
  (its resource, domain/ordering.py) to a coalescing webhook carries a coalesce key: its type
  and resource (`coalesce_key`). Of one webhook's deliveries with one key, a newer one (higher
  sequence) supersedes an older one that is not sent yet: pending and not leased to a worker
  (due, or between retries), paused, or waiting its turn in an ordered chain. The older one
  ends SUPERSEDED and stays in the log. One leased to a worker at that moment is in flight and
  goes; if it then fails and would be retried, it is superseded instead (`retry_superseded`).
- **Time-to-live** (`Webhook.max_age_seconds`, event type → seconds). A delivery whose event
  happened (its `event_time`) longer ago than its type's limit when a worker is about to send
  it is not sent: it ends EXPIRED (`expired_by`).
Both final statuses finish an ordered chain's head like success does: the next one goes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from hookcast.domain.catalog import guess_for, where_listed
from hookcast.domain.errors import ValidationFailed
from hookcast.domain.formats import format_of
from hookcast.domain.formats.base import Format
from hookcast.domain.models import Event, EventFields, Webhook
from hookcast.domain.ordering import resource_key

__all__ = [
    "MAX_AGE_LIMIT",
    "UPDATE_SUFFIX",
    "CoalesceGroup",
    "coalesce_key",
    "expired_by",
    "newest_of_each",
    "parse_max_age",
    "retry_superseded",
]

UPDATE_SUFFIX = "_updated"
# The longest time-to-live: a week. Longer is no limit worth stating (deliveries are given
# up well before it by any retry policy), and a bound keeps typos such as 6000000 out.
MAX_AGE_LIMIT = 7 * 24 * 3600

CoalesceGroup = tuple[str, str]  # (webhook_id, coalesce key)


def coalesce_key(webhook: Webhook, event: Event) -> str | None:
    """ "media_updated|media:<id>" for an `*_updated` event about a resource to a coalescing
    webhook; None when latest-wins does not apply (the webhook does not coalesce, another
    event type, or an event with no resource or no sequence)."""
    if not webhook.coalesce or not event.type.endswith(UPDATE_SUFFIX) or event.sequence is None:
        return None
    key = resource_key(event)
    return None if key is None else f"{event.type}|{key}"


def newest_of_each(keyed: Iterable[tuple[CoalesceGroup, int]]) -> dict[CoalesceGroup, int]:
    """The highest sequence of each (webhook, coalesce key): the one delivery of the group
    that may go; every lower one of the group is superseded."""
    newest: dict[CoalesceGroup, int] = {}
    for group, sequence in keyed:
        if sequence > newest.get(group, sequence - 1):
            newest[group] = sequence
    return newest


def retry_superseded(*, sequence: int, newest_known: int | None) -> bool:
    """A coalescing delivery that failed and would be retried gives way when a newer one of
    its group (`newest_known`, the highest sequence stored for it) exists."""
    return newest_known is not None and newest_known > sequence


def expired_by(webhook: Webhook, event: EventFields, now: datetime) -> int | None:
    """The webhook's time-to-live for the event's type, in seconds, if the event is older
    than that at `now`; None if it may still be sent (no limit, or young enough)."""
    if not webhook.max_age_seconds:
        return None
    name = format_of(webhook).event_name(event.type)
    limit = webhook.max_age_seconds.get(name) if name is not None else None
    if limit is None:
        return None
    return limit if (now - event.event_time).total_seconds() > limit else None


def parse_max_age(raw: object, wire: Format) -> dict[str, int]:
    """`metadata.max_age_seconds` checked: an object from event names of `wire` (the
    webhook's format) to whole seconds, 1 to a week. Raises ValidationFailed."""
    field = "max_age_seconds"
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ValidationFailed(
            f'{field} must be an object of event name to seconds, e.g. {{"channel_active": 600}}',
            field=field,
        )
    known = wire.event_names()
    limits: dict[str, int] = {}
    for name, seconds in raw.items():
        if name not in known:
            raise ValidationFailed(
                f"{field}: unknown event {name!r} for the {wire.name} format"
                f"{guess_for(name, known)}; {where_listed(known, 'its')}",
                field=field,
            )
        if isinstance(seconds, bool) or not isinstance(seconds, int):
            raise ValidationFailed(f"{field}.{name} must be a whole number of seconds", field=field)
        if not 1 <= seconds <= MAX_AGE_LIMIT:
            raise ValidationFailed(
                f"{field}.{name} must be between 1 and {MAX_AGE_LIMIT} seconds (a week)",
                field=field,
            )
        limits[name] = seconds
    return limits
