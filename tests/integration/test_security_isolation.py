"""Tenant isolation and roles on every Management API route, table-driven from the app's own
route list (its OpenAPI document): a route added without a row here fails the test.

For each route: another account's admin key reaches none of this account's resources (404
on a resource path; a listing without them), and the role just below the one the route
needs is refused with 403. Afterwards every resource is still there, unchanged.
The dashboard's pages have their own matrix: tests/dashboard/test_dashboard_isolation.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness import Api

from hookcast.domain.models import Role

ROLES = (Role.VIEWER, Role.PUBLISHER, Role.EDITOR, Role.ADMIN)  # weakest first
NOW = "2026-01-01T00:00:00+00:00"


@dataclass(frozen=True)
class Row:
    role: Role  # the weakest role the route allows
    scoped: bool  # the path names one of the account's resources: another account gets 404
    body: dict[str, Any] | None = None


def _webhook_body() -> dict[str, Any]:
    return {
        "metadata": {
            "name": "h",
            "webhook_url": "https://receiver.example.com/h",
            "events": ["media_available"],
            "site_ids": ["{site_id}"],
        }
    }


TABLE: dict[tuple[str, str], Row] = {
    ("POST", "/v2/webhooks/"): Row(Role.EDITOR, False, _webhook_body()),
    ("GET", "/v2/webhooks/"): Row(Role.VIEWER, False),
    # Not scoped: another account's JWK Set lists its keys, never this account's webhook.
    ("GET", "/v2/webhooks/jwks.json/"): Row(Role.VIEWER, False),
    ("GET", "/v2/webhooks/{webhook_id}/"): Row(Role.VIEWER, True),
    ("PATCH", "/v2/webhooks/{webhook_id}/"): Row(Role.EDITOR, True, {"metadata": {"name": "x"}}),
    ("DELETE", "/v2/webhooks/{webhook_id}/"): Row(Role.EDITOR, True),
    ("GET", "/v2/webhooks/{webhook_id}/secret/"): Row(Role.ADMIN, True),
    ("POST", "/v2/webhooks/{webhook_id}/secret/rotate/"): Row(Role.ADMIN, True),
    ("GET", "/v2/webhooks/{webhook_id}/deliveries/"): Row(Role.VIEWER, True),
    ("POST", "/v2/webhooks/{webhook_id}/test/"): Row(Role.EDITOR, True),
    ("POST", "/v2/webhooks/{webhook_id}/recover/"): Row(Role.EDITOR, True, {"since": NOW}),
    ("POST", "/v2/webhooks/{webhook_id}/replay/"): Row(Role.EDITOR, True, {"since": NOW}),
    ("POST", "/v2/webhooks/{webhook_id}/held/deliver/"): Row(Role.EDITOR, True),
    ("POST", "/v2/webhooks/{webhook_id}/held/discard/"): Row(Role.EDITOR, True),
    ("POST", "/v2/sites/"): Row(Role.EDITOR, False, {"metadata": {"name": "s"}}),
    ("GET", "/v2/sites/"): Row(Role.VIEWER, False),
    ("GET", "/v2/sites/{site_id}/"): Row(Role.VIEWER, True),
    ("PATCH", "/v2/sites/{site_id}/"): Row(Role.EDITOR, True, {"metadata": {"name": "x"}}),
    ("DELETE", "/v2/sites/{site_id}/"): Row(Role.EDITOR, True),
    ("POST", "/v2/api_keys/"): Row(
        Role.ADMIN, False, {"metadata": {"name": "k", "role": "viewer"}}
    ),
    ("GET", "/v2/api_keys/"): Row(Role.ADMIN, False),
    ("DELETE", "/v2/api_keys/{key_id}/"): Row(Role.ADMIN, True),
    ("GET", "/v2/event_types/"): Row(Role.VIEWER, False),
    ("GET", "/v2/event_types/{name}/"): Row(Role.VIEWER, False),
    ("POST", "/v2/events/"): Row(
        Role.PUBLISHER,
        False,
        {"event": "media_available", "site_id": "{site_id}", "media_id": "MNYaMSQl"},
    ),
    ("GET", "/v2/events/"): Row(Role.VIEWER, False),
    ("GET", "/v2/deliveries/{delivery_id}/"): Row(Role.VIEWER, True),
    ("POST", "/v2/deliveries/{delivery_id}/retry/"): Row(Role.EDITOR, True),
    # The caller's own account: another account's key sets or reads its own secret only.
    ("GET", "/v2/account/flowplayer_secret/"): Row(Role.ADMIN, False),
    ("PUT", "/v2/account/flowplayer_secret/"): Row(
        Role.EDITOR, False, {"secret": "their organization secret"}
    ),
    ("POST", "/v2/account/flowplayer_secret/rotate/"): Row(Role.EDITOR, False),
    # The contact address: another account's admin sets its own account's only.
    ("GET", "/v2/account/contact/"): Row(Role.VIEWER, False),
    ("PUT", "/v2/account/contact/"): Row(Role.ADMIN, False, {"email": "them@example.com"}),
    # The portal: another account's admin brands and links its own account only.
    ("GET", "/v2/account/portal/"): Row(Role.VIEWER, False),
    ("PUT", "/v2/account/portal/"): Row(Role.ADMIN, False, {"name": "Their brand"}),
    ("POST", "/v2/portal_links/"): Row(Role.ADMIN, False, {"role": "viewer", "duration": "1h"}),
}


async def _api_routes(api: Api) -> set[tuple[str, str]]:
    document = (await api.call("GET", "/openapi.json", key=None)).json()
    return {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        if path.startswith("/v2/")
        for method in operations
    }


async def _resources(api: Api) -> dict[str, str]:
    """One of each resource in the first account, by path parameter name."""
    site_id = await api.site()
    # Signing with Ed25519, so the account's JWK Set names it (and another account's must not).
    hook = await api.webhook(
        [site_id], webhook_url="https://receiver.example.com/h", signing="ed25519"
    )
    key = await api.call("POST", "/v2/api_keys/", json={"metadata": {"role": "viewer"}})
    published = await api.call(
        "POST",
        "/v2/events/",
        json={"event": "media_available", "site_id": site_id, "media_id": "MNYaMSQl"},
    )
    assert published.status_code == 202, published.text
    log = await api.call("GET", f"/v2/webhooks/{hook['id']}/deliveries/")
    (delivery,) = log.json()["deliveries"]
    return {
        "webhook_id": hook["id"],
        "site_id": site_id,
        "key_id": key.json()["id"],
        "delivery_id": delivery["id"],
        "name": "media_available",
    }


def _fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**ids) if "{" in value else value
    if isinstance(value, list):
        return [_fill(item, ids) for item in value]
    if isinstance(value, dict):
        return {name: _fill(item, ids) for name, item in value.items()}
    return value


async def test_every_api_route_has_a_row(api: Api) -> None:
    routes = await _api_routes(api)
    assert routes - set(TABLE) == set(), "add a row to TABLE for each new route"
    assert set(TABLE) - routes == set(), "TABLE names routes the app no longer has"


async def test_other_accounts_reach_nothing_and_weaker_roles_are_refused(api: Api) -> None:
    ids = await _resources(api)
    other = await api.runtime.services.accounts.create_account("Other Broadcasting")
    outsider = await api.key(Role.ADMIN, account_id=other.id)
    await api.call(
        "POST", "/v2/sites/", key=outsider, json={"metadata": {"name": "theirs"}}
    )  # the other account is not empty either
    problems: list[str] = []
    for (method, template), row in sorted(TABLE.items()):
        path, body = template.format(**ids), _fill(row.body, ids)
        # Another account: 404 on our resources; its listings never show them.
        answer = await api.call(method, path, key=outsider, json=body)
        if row.scoped and answer.status_code != 404:
            problems.append(f"{method} {template} as another account: {answer.status_code}")
        if not row.scoped and "{site_id}" in str(row.body):
            # Naming our site in a publish or a new webhook is an unknown site for them.
            if answer.status_code != 400:
                problems.append(f"{method} {template} with our site: {answer.status_code}")
        elif not row.scoped and method == "GET":
            leaked = [
                name for name, value in ids.items() if name != "name" and value in answer.text
            ]
            if leaked:
                problems.append(f"{method} {template} shows another account {leaked}")
        # The role just below the route's: 403, before anything happens.
        weaker = ROLES.index(row.role) - 1
        if weaker >= 0:
            answer = await api.call(method, path, key=await api.key(ROLES[weaker]), json=body)
            if answer.status_code != 403:
                problems.append(f"{method} {template} as {ROLES[weaker]}: {answer.status_code}")
    assert problems == []

    for check in (
        f"/v2/webhooks/{ids['webhook_id']}/",
        f"/v2/sites/{ids['site_id']}/",
        f"/v2/deliveries/{ids['delivery_id']}/",
    ):
        assert (await api.call("GET", check)).status_code == 200, check
    keys = (await api.call("GET", "/v2/api_keys/")).json()["api_keys"]
    assert ids["key_id"] in {key["id"] for key in keys}
    webhook = (await api.call("GET", f"/v2/webhooks/{ids['webhook_id']}/")).json()
    assert webhook["metadata"]["name"] != "x"
    ours = await api.call("GET", "/v2/account/flowplayer_secret/")
    assert ours.json() == {"secret": None}  # the other account set only its own
    brand = await api.call("GET", "/v2/account/portal/")
    assert brand.json()["name"] is None  # the other account branded only its own portal
    contact = await api.call("GET", "/v2/account/contact/")
    assert contact.json() == {"email": None}  # the other account set only its own address
