"""Every dashboard route in one table: method, path, endpoint (the pages' modules hold the
endpoints; deps.py the session and CSRF dependencies they take).

Order matters where paths overlap: /webhooks/new before /webhooks/{webhook_id}, and the
catch-all for wrong addresses last, so it answers only what no other route does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from hookcast.dashboard import deps
from hookcast.dashboard.pages import (
    assets,
    auth,
    delivery_log,
    events,
    keys,
    not_found,
    portal_links,
    sites,
    webhook_detail,
    webhooks,
)
from hookcast.domain.catalog import EVENT_TYPES_PAGE

__all__ = ["CSRF_CHECKS", "ROUTES", "Page", "csrf_checked", "unchecked_routes"]


class Page(NamedTuple):
    method: str
    path: str
    endpoint: Callable[..., Any]


ROUTES: tuple[Page, ...] = (
    # Signing in and out, and opening a portal link.
    Page("GET", "/", auth.signin_page),
    Page("GET", "/signin", auth.to_signin_page),
    Page("POST", "/signin", auth.signin),
    Page("POST", "/signout", auth.signout),
    Page("GET", "/portal/{token}", auth.open_portal),
    # Webhooks: the list, create, edit, delete.
    Page("GET", "/webhooks", webhooks.list_webhooks),
    Page("GET", "/webhooks/new", webhooks.new_webhook),
    Page("POST", "/webhooks", webhooks.create_webhook),
    Page("GET", "/webhooks/{webhook_id}/edit", webhooks.edit_webhook),
    Page("POST", "/webhooks/{webhook_id}/edit", webhooks.update_webhook),
    Page("GET", "/webhooks/{webhook_id}/delete", webhooks.confirm_delete),
    Page("POST", "/webhooks/{webhook_id}/delete", webhooks.delete_webhook),
    Page("POST", "/account/flowplayer_secret", webhooks.set_flowplayer_secret),
    # One webhook: its page, log and the actions on it.
    Page("GET", "/webhooks/{webhook_id}", webhook_detail.show_webhook),
    Page("GET", "/webhooks/{webhook_id}/log.json", delivery_log.log_state),
    Page("POST", "/webhooks/{webhook_id}/enabled", webhook_detail.toggle),
    Page("POST", "/webhooks/{webhook_id}/held/deliver", webhook_detail.deliver_held),
    Page("POST", "/webhooks/{webhook_id}/held/discard", webhook_detail.discard_held),
    Page("POST", "/webhooks/{webhook_id}/secret", webhook_detail.reveal_secret),
    Page("POST", "/webhooks/{webhook_id}/secret/rotate", webhook_detail.rotate_secret),
    Page("POST", "/webhooks/{webhook_id}/test", webhook_detail.send_test),
    Page("POST", "/webhooks/{webhook_id}/recover", webhook_detail.recover),
    Page("POST", "/webhooks/{webhook_id}/replay", webhook_detail.replay),
    Page("POST", "/deliveries/{delivery_id}/retry", webhook_detail.retry),
    # Events and the event catalog.
    Page("GET", "/events", events.list_events),
    # Errors about unknown event names point to this page by its path (catalog.py).
    Page("GET", EVENT_TYPES_PAGE, events.event_types),
    Page("POST", EVENT_TYPES_PAGE + "/{event_name}/send", events.send_example),
    # Properties, API keys, portal links.
    Page("GET", "/properties", sites.list_sites),
    Page("POST", "/properties", sites.create_site),
    Page("POST", "/properties/{site_id}/rename", sites.rename_site),
    Page("POST", "/properties/{site_id}/delete", sites.delete_site),
    Page("GET", "/keys", keys.list_keys),
    Page("POST", "/keys", keys.create_key),
    Page("POST", "/keys/{key_id}/revoke", keys.revoke_key),
    Page("POST", "/account/contact", keys.set_contact),
    Page("GET", "/portal-links", portal_links.portal_form),
    Page("POST", "/portal-links", portal_links.create_link),
    Page("POST", "/portal-settings", portal_links.save_settings),
    # Files, then the page for a wrong address: last.
    Page("GET", "/static/{name}", assets.static),
    Page("GET", "/favicon.ico", assets.favicon),
    Page("GET", "/theme/{colour}.css", assets.theme),
    Page("GET", "/{path:path}", not_found.not_found),
)

# The dependencies that refuse a form without its CSRF token: the session's, the sign-out's
# (which also accepts a session already ended) and the sign-in form's (a double-submit cookie).
CSRF_CHECKS: frozenset[Callable[..., Any]] = frozenset(
    {deps.checked_form, deps.signout_visit, auth.signin_form}
)
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


def csrf_checked(route: APIRoute) -> bool:
    """Whether the route's dependencies include a CSRF check (at any depth)."""
    return any(call in CSRF_CHECKS for call in _calls(route.dependant))


def unchecked_routes(routes: list[Any]) -> list[str]:
    """The routes that change something (an unsafe method) without a CSRF check."""
    return [
        f"{method} {route.path}"
        for route in routes
        if isinstance(route, APIRoute) and not csrf_checked(route)
        for method in sorted((route.methods or set()) - _SAFE)
    ]


def _calls(dependant: Dependant) -> Iterator[Any]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)
