"""Who may do what: API keys, the two Authorization forms, roles on every route, and the
wall between accounts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness import SITE_ID, Api, assert_error, webhook_metadata

from hookcast.domain.models import Role
from hookcast.services import Caller
from hookcast.services.accounts import MAX_API_KEYS_PER_ACCOUNT

ALL = frozenset(Role)
WRITERS = frozenset({Role.ADMIN, Role.EDITOR})
PUBLISHERS = frozenset({Role.ADMIN, Role.EDITOR, Role.PUBLISHER})
ADMIN = frozenset({Role.ADMIN})
EVENT = {"event": "media_available", "site_id": SITE_ID, "media_id": "MNYaMSQl"}

# (method, path, body, roles allowed). Paths use the app's own parameter names, so the table
# is checked against the routes the app really has.
ROUTES: list[tuple[str, str, Any, frozenset[Role]]] = [
    ("GET", "/v2/webhooks/", None, ALL),
    ("POST", "/v2/webhooks/", {"metadata": webhook_metadata([SITE_ID])}, WRITERS),
    ("GET", "/v2/webhooks/jwks.json/", None, ALL),
    ("GET", "/v2/webhooks/{webhook_id}/", None, ALL),
    ("PATCH", "/v2/webhooks/{webhook_id}/", {"metadata": {"name": "Renamed"}}, WRITERS),
    ("DELETE", "/v2/webhooks/{webhook_id}/", None, WRITERS),
    ("GET", "/v2/webhooks/{webhook_id}/secret/", None, ADMIN),
    ("POST", "/v2/webhooks/{webhook_id}/secret/rotate/", None, ADMIN),
    ("GET", "/v2/webhooks/{webhook_id}/deliveries/", None, ALL),
    ("POST", "/v2/webhooks/{webhook_id}/test/", None, WRITERS),
    ("POST", "/v2/webhooks/{webhook_id}/recover/", {"since": "2024-01-01T00:00:00Z"}, WRITERS),
    ("POST", "/v2/webhooks/{webhook_id}/held/deliver/", None, WRITERS),
    ("POST", "/v2/webhooks/{webhook_id}/held/discard/", None, WRITERS),
    ("POST", "/v2/webhooks/{webhook_id}/replay/", {"since": "2024-01-01T00:00:00Z"}, WRITERS),
    ("GET", "/v2/sites/", None, ALL),
    ("POST", "/v2/sites/", {"metadata": {"name": "New"}}, WRITERS),
    ("GET", "/v2/sites/{site_id}/", None, ALL),
    ("PATCH", "/v2/sites/{site_id}/", {"metadata": {"name": "Renamed"}}, WRITERS),
    ("DELETE", "/v2/sites/{site_id}/", None, WRITERS),
    ("GET", "/v2/api_keys/", None, ADMIN),
    ("POST", "/v2/api_keys/", {"metadata": {"name": "ci", "role": "viewer"}}, ADMIN),
    ("DELETE", "/v2/api_keys/{key_id}/", None, ADMIN),
    ("GET", "/v2/account/flowplayer_secret/", None, ADMIN),
    ("PUT", "/v2/account/flowplayer_secret/", {"secret": "organization secret"}, WRITERS),
    ("POST", "/v2/account/flowplayer_secret/rotate/", None, WRITERS),
    ("GET", "/v2/account/contact/", None, ALL),
    ("PUT", "/v2/account/contact/", {"email": "oncall@example.com"}, ADMIN),
    ("GET", "/v2/account/portal/", None, ALL),
    ("PUT", "/v2/account/portal/", {"name": "Acme"}, ADMIN),
    ("POST", "/v2/portal_links/", {"role": "viewer", "duration": "1h"}, ADMIN),
    ("GET", "/v2/event_types/", None, ALL),
    ("GET", "/v2/event_types/{name}/", None, ALL),
    ("POST", "/v2/events/", EVENT, PUBLISHERS),
    ("GET", "/v2/events/", None, ALL),
    ("GET", "/v2/deliveries/{delivery_id}/", None, ALL),
    ("POST", "/v2/deliveries/{delivery_id}/retry/", None, WRITERS),
]


@dataclass
class Fresh:
    """Makes each resource a request needs, new for every request (DELETE eats them)."""

    api: Api

    async def fill(self, path: str) -> str:
        services = self.api.runtime.services
        admin = Caller(account_id=self.api.account_id, role=Role.ADMIN)
        values: dict[str, str] = {"name": "media_available"}
        if "{webhook_id}" in path or "{delivery_id}" in path:
            values["webhook_id"] = (await self.api.webhook([SITE_ID]))["id"]
        if "{delivery_id}" in path:
            sent = await services.deliveries.send_test(admin, values["webhook_id"])
            values["delivery_id"] = sent.delivery_id
        if "{site_id}" in path:
            values["site_id"] = (await services.sites.create(admin, name="Disposable")).id
        if "{key_id}" in path:
            issued = await services.accounts.issue_key(self.api.account_id, role=Role.VIEWER)
            values["key_id"] = issued.key.id
        return path.format(**values)


async def v2_routes(api: Api) -> set[tuple[str, str]]:
    """Every (method, path) of /v2, as the app's OpenAPI document lists them."""
    document = (await api.call("GET", "/openapi.json", key=None)).json()
    return {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        if path.startswith("/v2")
        for method in operations
    }


async def test_roles_on_every_route(api: Api) -> None:
    await api.site(SITE_ID)
    assert {(method, path) for method, path, _, _ in ROUTES} == await v2_routes(api)
    fresh = Fresh(api)
    wrong = []
    for method, template, body, allowed in ROUTES:
        for role in Role:
            path = await fresh.fill(template)
            response = await api.call(method, path, json=body, key=await api.key(role))
            if role in allowed and not 200 <= response.status_code < 300:
                wrong.append((role.value, method, path, response.status_code, response.text))
            if role not in allowed:
                if response.status_code != 403:
                    wrong.append((role.value, method, path, response.status_code, "want 403"))
                else:
                    assert_error(response, 403)
    assert wrong == []


async def test_both_authorization_forms_and_bad_keys(api: Api) -> None:
    for header in (
        api.admin,
        f"Bearer {api.admin}",
        f"bearer {api.admin}",
        f"  Bearer   {api.admin} ",
    ):
        response = await api.call(
            "GET", "/v2/webhooks/", key=None, headers={"Authorization": header}
        )
        assert response.status_code == 200, (header, response.text)

    for header in (
        "",
        "Bearer",
        "Bearer ",
        "wrong",
        f"Bearer {api.admin}x",
        f"{api.admin[:-1]}",
        f"Basic {api.admin}",
    ):
        response = await api.call(
            "GET", "/v2/webhooks/", key=None, headers={"Authorization": header}
        )
        assert_error(response, 401)
    assert_error(await api.call("GET", "/v2/webhooks/", key=None), 401)
    assert_error(
        await api.call(
            "POST", "/v2/webhooks/", key=None, json={"metadata": webhook_metadata([SITE_ID])}
        ),
        401,
    )
    assert_error(await api.call("POST", "/v2/events/", key="wrong", json=EVENT), 401)


async def test_publisher_publishes_but_does_not_manage(api: Api) -> None:
    await api.site(SITE_ID)
    publisher = await api.key(Role.PUBLISHER)

    for header in (publisher, f"Bearer {publisher}"):
        published = await api.call(
            "POST", "/v2/events/", key=None, json=EVENT, headers={"Authorization": header}
        )
        assert published.status_code == 202, published.text
        assert list(published.json()) == ["event_ids"]
        assert len(published.json()["event_ids"]) == 1
    listed = (await api.call("GET", "/v2/events/", key=publisher)).json()
    assert listed["total"] == 2

    assert_error(
        await api.call(
            "POST", "/v2/webhooks/", key=publisher, json={"metadata": webhook_metadata([SITE_ID])}
        ),
        403,
    )
    assert (await api.call("GET", "/v2/webhooks/")).json()["total"] == 0
    viewer = await api.key(Role.VIEWER)
    assert_error(await api.call("POST", "/v2/events/", key=viewer, json=EVENT), 403)
    assert_error(
        await api.call("POST", "/v2/sites/", key=viewer, json={"metadata": {"name": "x"}}), 403
    )
    assert (await api.call("GET", "/v2/sites/")).json()["total"] == 1


async def test_editor_cannot_manage_keys(api: Api) -> None:
    editor = await api.key(Role.EDITOR)

    assert_error(await api.call("GET", "/v2/api_keys/", key=editor), 403)
    assert_error(
        await api.call("POST", "/v2/api_keys/", key=editor, json={"metadata": {"role": "admin"}}),
        403,
    )
    keys = (await api.call("GET", "/v2/api_keys/")).json()["api_keys"]
    assert [key["metadata"]["role"] for key in keys].count("admin") == 1


async def test_api_keys_create_list_revoke(api: Api) -> None:
    created = await api.call(
        "POST", "/v2/api_keys/", json={"metadata": {"name": "encoder", "role": "publisher"}}
    )
    assert created.status_code == 201, created.text
    key = created.json()
    assert key["metadata"] == {"name": "encoder", "role": "publisher"}
    secret = key["secret"]
    await api.site(SITE_ID)
    assert (await api.call("POST", "/v2/events/", key=secret, json=EVENT)).status_code == 202

    listed = await api.call("GET", "/v2/api_keys")
    assert listed.status_code == 200
    body = listed.json()
    assert {item["id"] for item in body["api_keys"]} >= {key["id"]}
    assert body["total"] == len(body["api_keys"]) == 2
    assert all("secret" not in item and "secret_hash" not in item for item in body["api_keys"])
    assert secret not in listed.text
    assert api.admin not in listed.text

    revoked = await api.call("DELETE", f"/v2/api_keys/{key['id']}/")
    assert revoked.status_code == 204
    assert_error(await api.call("GET", "/v2/webhooks/", key=secret), 401)
    assert_error(await api.call("POST", "/v2/events/", key=secret, json=EVENT), 401)
    assert_error(await api.call("DELETE", f"/v2/api_keys/{key['id']}/"), 404)
    assert (await api.call("GET", "/v2/api_keys/")).json()["total"] == 1


async def test_an_account_mints_a_bounded_number_of_keys(api: Api) -> None:
    # Each key has its own rate-limit bucket, and a dashboard request reads every key of
    # its account: unbounded, one admin could mint keys for as many buckets as it liked.
    room = MAX_API_KEYS_PER_ACCOUNT - 1  # the admin key the account has
    for _ in range(room - 1):
        await api.runtime.services.accounts.issue_key(api.account_id, role=Role.PUBLISHER)
    create = {"metadata": {"role": "publisher"}}
    last = await api.call("POST", "/v2/api_keys/", json=create)
    assert last.status_code == 201, last.text

    refused = await api.call("POST", "/v2/api_keys/", json=create)

    assert "at most" in assert_error(refused, 400, "limit_exceeded")
    assert (await api.call("GET", "/v2/api_keys/")).json()["total"] == MAX_API_KEYS_PER_ACCOUNT
    revoked = await api.call("DELETE", f"/v2/api_keys/{last.json()['id']}/")
    assert revoked.status_code == 204
    assert (await api.call("POST", "/v2/api_keys/", json=create)).status_code == 201


async def test_api_key_with_unknown_role_is_refused(api: Api) -> None:
    response = await api.call("POST", "/v2/api_keys/", json={"metadata": {"role": "root"}})

    assert "role" in assert_error(response, 400)
    assert (await api.call("GET", "/v2/api_keys/")).json()["total"] == 1


async def test_another_accounts_resources_are_not_found(api: Api) -> None:
    other = await api.runtime.services.accounts.create_account("Other")
    theirs = await api.key(Role.ADMIN, account_id=other.id)
    site = await api.site("Th3irS1t", name="Their secret property", key=theirs)
    hook = await api.webhook([site], name="Their secret hook", key=theirs)
    test = await api.call("POST", f"/v2/webhooks/{hook['id']}/test/", key=theirs)
    assert test.status_code == 202, test.text
    delivery = test.json()["delivery_id"]
    their_key = (await api.call("GET", "/v2/api_keys/", key=theirs)).json()["api_keys"][0]["id"]

    attempts = [
        ("GET", f"/v2/webhooks/{hook['id']}/", None),
        ("PATCH", f"/v2/webhooks/{hook['id']}/", {"metadata": {"name": "mine now"}}),
        ("GET", f"/v2/webhooks/{hook['id']}/secret/", None),
        ("POST", f"/v2/webhooks/{hook['id']}/secret/rotate/", None),
        ("GET", f"/v2/webhooks/{hook['id']}/deliveries/", None),
        ("POST", f"/v2/webhooks/{hook['id']}/test/", None),
        ("POST", f"/v2/webhooks/{hook['id']}/recover/", {"since": "2024-01-01T00:00:00Z"}),
        ("DELETE", f"/v2/webhooks/{hook['id']}/", None),
        ("GET", f"/v2/sites/{site}/", None),
        ("PATCH", f"/v2/sites/{site}/", {"metadata": {"name": "mine now"}}),
        ("DELETE", f"/v2/sites/{site}/", None),
        ("GET", f"/v2/deliveries/{delivery}/", None),
        ("POST", f"/v2/deliveries/{delivery}/retry/", None),
        ("DELETE", f"/v2/api_keys/{their_key}/", None),
    ]
    for method, path, body in attempts:
        response = await api.call(method, path, json=body)
        assert_error(response, 404)
        for private in ("Their secret", hook["secret"]):
            assert private not in response.text, (method, path)

    for path in ("/v2/webhooks/", "/v2/sites/", "/v2/events/", "/v2/api_keys/"):
        response = await api.call("GET", path)
        assert response.status_code == 200
        assert "Their secret" not in response.text
        assert hook["id"] not in response.text
        assert site not in response.text
    # Nothing of theirs changed.
    still = (await api.call("GET", f"/v2/webhooks/{hook['id']}/secret/", key=theirs)).json()
    assert still["secret"] == hook["secret"]
    assert (await api.call("GET", f"/v2/sites/{site}/", key=theirs)).status_code == 200
    assert (await api.call("GET", "/v2/webhooks/", key=theirs)).json()["total"] == 1
    assert (await api.call("GET", "/v2/api_keys/", key=theirs)).json()["total"] == 1


async def test_publishing_to_another_accounts_site_is_refused(api: Api) -> None:
    other = await api.runtime.services.accounts.create_account("Other")
    theirs = await api.key(Role.ADMIN, account_id=other.id)
    await api.site(SITE_ID, key=theirs)

    response = await api.call("POST", "/v2/events/", json=EVENT)

    assert SITE_ID in assert_error(response, 400)
    assert (await api.call("GET", "/v2/events/", key=theirs)).json()["total"] == 0
