"""PostgreSQL: the notices a recording will tell, foreseen before its lock pass.

A recording's lock pass share-locks the accounts' webhooks only for the notices it was
told to cover (store/operational.py `lock_standing`); which notices a batch tells is known
once the pass has read the standing, and a batch telling one it did not cover rolled back
and was recorded again. In a drain where an endpoint flaps that was one recording in three
to five (docs/benchmarks/postgres-delivery.md, "A recording's notices in its lock pass"). So the
store keeps each webhook's standing as it last knew it, from a claim (which reads it) or from its
own recording (which changed it), and names the webhooks whose health would tell something
against it. A wrong guess stays safe: one foreseen and not told widens the pass for
nothing; one told and not foreseen is recorded again, as before.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from hookcast.domain.health import WebhookHealth
from hookcast.domain.models import Webhook
from hookcast.domain.operational import Standing, notices_for, standing_after

__all__ = ["ForeseenNotices"]

# Webhooks whose standing is kept at most; past it all are forgotten (each is learnt again
# from its next claim or recording), as store/claimed_webhooks.py keeps its webhooks.
_KEPT = 10_000


class ForeseenNotices:
    """Each webhook's standing as this process last knew it, and the recordings it tells."""

    def __init__(self) -> None:
        self._known: dict[str, Standing] = {}

    def claimed(self, webhooks: Iterable[Webhook]) -> None:
        """Claimed deliveries' webhooks, with their standing as the claim read it."""
        for webhook in webhooks:
            standing = Standing(
                webhook.id, enabled=webhook.enabled, failing_since=webhook.failing_since
            )
            self._keep(standing)

    def recorded(self, standing: Mapping[str, Standing], health: Sequence[WebhookHealth]) -> None:
        """A committed recording: `health` applied over the `standing` its pass read."""
        for change in health:
            before = standing.get(change.webhook_id)
            if before is not None:
                self._keep(standing_after(before, change))

    def telling(self, health: Sequence[WebhookHealth]) -> frozenset[str]:
        """The webhooks of `health` a notice would be told about, by what is known."""
        return frozenset(
            change.webhook_id
            for change in health
            if (known := self._known.get(change.webhook_id)) is not None
            and notices_for(known, change)
        )

    def _keep(self, standing: Standing) -> None:
        if len(self._known) >= _KEPT and standing.webhook_id not in self._known:
            self._known.clear()
        self._known[standing.webhook_id] = standing
