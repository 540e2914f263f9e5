"""api.video's webhook resource over HookCast's webhook service.

A webhook made here is an ordinary HookCast webhook of format `apivideo`: it is listed by
`/v2/webhooks/` and the dashboard, and its deliveries are in the delivery log. Its name is
its URL (api.video's webhooks have none), `webhookId` is the HookCast id, and it hears every
property (site) of the account, including those created after it (`site_ids: ["*"]`). Only
`apivideo`-format webhooks are seen here: the others belong to `/v2/webhooks/`, and are a
404 to this API.

`signatureSecret` is in the answer to its creation, as on `/v2/webhooks/`; in later reads
only for keys that may reveal secrets (admin): api.video has no roles, and HookCast's do
not let a viewer or an editor read a secret back.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC

from hookcast.api.apivideo.problems import Problem, ProblemError
from hookcast.api.apivideo.schemas import Webhook
from hookcast.domain import models
from hookcast.domain.errors import NotFound, ValidationFailed
from hookcast.domain.formats import FORMATS
from hookcast.domain.models import ALL_SITES, Permission
from hookcast.ports import PageRequest
from hookcast.services import Caller, Services

__all__ = ["FORMAT", "create", "delete", "get", "list_page"]

FORMAT = FORMATS["apivideo"]
_NAME_LENGTH = 256  # the longest webhook name HookCast keeps


async def create(services: Services, caller: Caller, *, events: Sequence[str], url: str) -> Webhook:
    metadata = {
        "name": url[:_NAME_LENGTH],
        "webhook_url": url,
        "events": list(events),
        # api.video has no properties: its webhooks hear every one, those created later too.
        "site_ids": [ALL_SITES],
    }
    made = await services.webhooks.create(caller, metadata, format=FORMAT.name)
    return _shown(made, with_secret=True)


async def get(services: Services, caller: Caller, webhook_id: str) -> Webhook:
    return _shown(await _ours(services, caller, webhook_id), with_secret=_reveals(caller))


async def list_page(
    services: Services, caller: Caller, *, page: PageRequest, event: str | None
) -> tuple[list[Webhook], int]:
    """One page of the caller's api.video webhooks, oldest first, and how many there are;
    `event` is an api.video event name."""
    try:
        found = await services.webhooks.list(
            caller, page=page, sort="created:asc", event=event, format=FORMAT.name
        )
    except ValidationFailed as exc:  # an unknown event name: the query is at fault
        title = "A query parameter is invalid."
        raise ProblemError(
            400, [Problem("request-invalid-query-parameter", title, "events")]
        ) from exc
    reveal = _reveals(caller)
    return [_shown(hook, with_secret=reveal) for hook in found.items], found.total


async def delete(services: Services, caller: Caller, webhook_id: str) -> None:
    caller.require(Permission.WRITE)  # a viewer learns nothing, not even whether it exists
    await _ours(services, caller, webhook_id)
    await services.webhooks.delete(caller, webhook_id)


async def _ours(services: Services, caller: Caller, webhook_id: str) -> models.Webhook:
    hook = await services.webhooks.get(caller, webhook_id)
    if hook.format != FORMAT.name:
        raise NotFound(f"webhook {webhook_id!r} was not found", field="webhookId")
    return hook


def _reveals(caller: Caller) -> bool:
    return caller.may(Permission.ADMIN)


def _shown(hook: models.Webhook, *, with_secret: bool) -> Webhook:
    return Webhook(
        webhookId=hook.id,
        createdAt=hook.created.astimezone(UTC).isoformat(timespec="seconds"),
        events=list(FORMAT.to_own(hook.events)),
        url=hook.webhook_url,
        signatureSecret=hook.secret if with_secret else None,
    )
