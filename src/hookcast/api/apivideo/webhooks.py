"""api.video's webhook resource over HookCast's webhook service.

A webhook made here is an ordinary HookCast webhook: it is listed by `/v2/webhooks/` and
the dashboard, and its deliveries are in the delivery log. Its name is its URL (api.video's
webhooks have none), `webhookId` is the HookCast id, and it hears every property (site) of
the account.

`signatureSecret` is in the answer to its creation, as on `/v2/webhooks/`; in later reads
only for keys that may reveal secrets (admin): api.video has no roles, and HookCast's do
not let a viewer or an editor read a secret back.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC

from hookcast.api.apivideo.schemas import Webhook
from hookcast.domain import models
from hookcast.domain.errors import ValidationFailed
from hookcast.domain.models import Permission
from hookcast.ports import PageRequest
from hookcast.services import Caller, Services

__all__ = ["create", "delete", "get", "list_page"]

_NAME_LENGTH = 256  # the longest webhook name HookCast keeps
_MAX_SITES = 1000  # the most site_ids a webhook takes


async def create(services: Services, caller: Caller, *, events: Sequence[str], url: str) -> Webhook:
    metadata = {
        "name": url[:_NAME_LENGTH],
        "webhook_url": url,
        "events": list(events),
        "site_ids": await _every_site(services, caller),
    }
    return _shown(await services.webhooks.create(caller, metadata), with_secret=True)


async def get(services: Services, caller: Caller, webhook_id: str) -> Webhook:
    return _shown(await services.webhooks.get(caller, webhook_id), with_secret=_reveals(caller))


async def list_page(
    services: Services, caller: Caller, *, page: PageRequest, event: str | None
) -> tuple[list[Webhook], int]:
    """One page of the caller's webhooks, oldest first, and how many there are in all."""
    found = await services.webhooks.list(caller, page=page, sort="created:asc", event=event)
    reveal = _reveals(caller)
    return [_shown(hook, with_secret=reveal) for hook in found.items], found.total


async def delete(services: Services, caller: Caller, webhook_id: str) -> None:
    await services.webhooks.delete(caller, webhook_id)


async def _every_site(services: Services, caller: Caller) -> list[str]:
    """api.video has no properties: its webhooks hear every property the account has when
    the webhook is made (a property added later is added to it in the dashboard or with
    PATCH /v2/webhooks/{id}/)."""
    sites = await services.sites.list(caller, PageRequest(page=1, page_length=_MAX_SITES))
    if not sites.items:
        raise ValidationFailed(
            "the account has no property yet: create one (POST /v2/sites/ or the dashboard) "
            "before its webhooks, which hear every property of the account",
            field="url",
        )
    return [site.id for site in sites.items]


def _reveals(caller: Caller) -> bool:
    return caller.may(Permission.ADMIN)


def _shown(hook: models.Webhook, *, with_secret: bool) -> Webhook:
    return Webhook(
        webhookId=hook.id,
        createdAt=hook.created.astimezone(UTC).isoformat(timespec="seconds"),
        events=list(hook.events),
        url=hook.webhook_url,
        signatureSecret=hook.secret if with_secret else None,
    )
