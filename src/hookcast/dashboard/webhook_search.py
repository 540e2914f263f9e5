"""The Webhooks page's search and summary: what a person with 30 or 300 webhooks asks first
("which ones fail?", "where is the Tokyo one?"). The state a row shows (healthy, held,
failing, disabled) is the one its badge says, so the summary's counts match the badges."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from hookcast.domain.formats import FORMATS
from hookcast.domain.models import Webhook, WebhookState

__all__ = [
    "SEARCHED_AT_MOST",
    "STATES",
    "WebhookSearch",
    "count_states",
    "shown_state",
    "waits_for_organization_secret",
]

# The page searches the account's newest webhooks in memory, as many as this; past it, the
# page says the search covers only these (the API's list pages through every one).
SEARCHED_AT_MOST = 1000
# The summary's order: what needs a person first.
STATES = ("failing", "disabled", "held", "healthy")


def shown_state(webhook: Webhook) -> str:
    """The badge the webhook's row shows: "held" for a healthy Flowplayer-format webhook
    without the account's organization secret (it sends nothing), else its state."""
    if webhook.state is WebhookState.HEALTHY and waits_for_organization_secret(webhook):
        return "held"
    return webhook.state.value


def waits_for_organization_secret(webhook: Webhook) -> bool:
    """Whether the webhook sends nothing for want of the account's organization secret (a
    Flowplayer-format one while none is set): its badge, its page's alert and its held
    deliveries' button all ask this (dashboard/filters.py makes it a template global)."""
    return FORMATS[webhook.format].organization_signed and not webhook.organization_secret


def count_states(webhooks: Iterable[Webhook]) -> dict[str, int]:
    """How many webhooks show each state, in STATES' order, the states none shows left out."""
    counts = Counter(shown_state(webhook) for webhook in webhooks)
    return {state: counts[state] for state in STATES if counts[state]}


@dataclass(frozen=True, slots=True)
class WebhookSearch:
    """What the page's search form asks for; an unknown state or format asks for nothing
    (a stale or hand-edited link shows every webhook, not an error)."""

    text: str = ""
    state: str | None = None
    format: str | None = None

    @classmethod
    def from_query(cls, params: Mapping[str, str]) -> WebhookSearch:
        state = params.get("state")
        format_name = params.get("format")
        return cls(
            text=params.get("q", "").strip()[:256],
            state=state if state in STATES else None,
            format=format_name if format_name in FORMATS else None,
        )

    @property
    def active(self) -> bool:
        return bool(self.text or self.state or self.format)

    def matches(self, webhook: Webhook) -> bool:
        """Name or URL containing the text (any case), and the state and format asked for."""
        if self.state is not None and shown_state(webhook) != self.state:
            return False
        if self.format is not None and webhook.format != self.format:
            return False
        wanted = self.text.casefold()
        return wanted in webhook.name.casefold() or wanted in webhook.webhook_url.casefold()

    def query(self, **changes: str | None) -> str:
        """The search as a query string ending in "&" (or empty), for page and summary
        links; `changes` replace fields (None drops one)."""
        fields = {"q": self.text, "state": self.state, "format": self.format, **changes}
        present = {name: value for name, value in fields.items() if value}
        return urlencode(present) + "&" if present else ""
