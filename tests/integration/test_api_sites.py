"""/v2/sites/: properties, with ids a platform may choose, shared by webhooks."""

from __future__ import annotations

import re

from harness import SITE_ID, Api, assert_error, webhook_metadata

from hookcast.domain.models import Role


async def test_create_with_and_without_own_id(api: Api) -> None:
    chosen = await api.call(
        "POST", "/v2/sites/", json={"id": SITE_ID, "metadata": {"name": "Main"}}
    )
    generated = await api.call("POST", "/v2/sites", json={"metadata": {"name": "Second"}})

    assert chosen.status_code == 201, chosen.text
    assert chosen.json()["id"] == SITE_ID
    assert chosen.json()["metadata"] == {"name": "Main"}
    assert chosen.json()["type"] == "site"
    assert generated.status_code == 201, generated.text
    assert re.fullmatch(r"[A-Za-z0-9]{8}", generated.json()["id"])
    assert generated.json()["id"] != SITE_ID


async def test_bad_id_is_refused(api: Api) -> None:
    for bad_id in ("1A23bCD", "1A23bCD45", "1A23-CD4", "", "1A23 CD4", "ÄA23bCD4", 12345678):
        response = await api.call(
            "POST", "/v2/sites/", json={"id": bad_id, "metadata": {"name": "Main"}}
        )
        assert_error(response, 400)
    assert (await api.call("GET", "/v2/sites/")).json()["total"] == 0


async def test_duplicate_id_conflicts_within_an_account_only(api: Api) -> None:
    # Unique across accounts until review12: another account could take a platform's
    # property id first (the platform then got a 409 for its own id, which told it the id
    # was someone's). Each account's sites are now its own, their events too.
    mine = await api.site(SITE_ID, name="Mine")
    hook = await api.webhook([mine])
    other = await api.runtime.services.accounts.create_account("Other")
    other_admin = await api.key(Role.ADMIN, account_id=other.id)

    again = await api.call("POST", "/v2/sites/", json={"id": SITE_ID, "metadata": {"name": "x"}})
    theirs = await api.call(
        "POST", "/v2/sites/", json={"id": SITE_ID, "metadata": {"name": "y"}}, key=other_admin
    )
    event = {"event": "media_available", "site_id": SITE_ID, "media_id": "Media001"}
    published = await api.call("POST", "/v2/events/", json=event, key=other_admin)

    assert_error(again, 409)
    assert theirs.status_code == 201, theirs.text
    assert "Mine" not in theirs.text
    assert published.status_code == 202, published.text
    assert (await api.call("GET", f"/v2/sites/{SITE_ID}/")).json()["metadata"]["name"] == "Mine"
    seen = await api.call("GET", f"/v2/sites/{SITE_ID}/", key=other_admin)
    assert seen.json()["metadata"]["name"] == "y"
    assert (await api.call("GET", "/v2/events/")).json()["total"] == 0
    log = await api.call("GET", f"/v2/webhooks/{hook['id']}/deliveries/")
    assert log.json()["total"] == 0
    assert (await api.call("DELETE", f"/v2/sites/{SITE_ID}/", key=other_admin)).status_code == 204
    kept = await api.call("GET", f"/v2/webhooks/{hook['id']}/")
    assert kept.json()["metadata"]["site_ids"] == [SITE_ID]


async def test_list_get_rename_delete(api: Api) -> None:
    first = await api.site(SITE_ID, name="Main")
    second = await api.site(name="Second")

    listed = await api.call("GET", "/v2/sites/", params={"page_length": 1})
    assert listed.status_code == 200
    body = listed.json()
    assert (body["page"], body["page_length"], body["total"]) == (1, 1, 2)
    assert len(body["sites"]) == 1
    page_two = (await api.call("GET", "/v2/sites/", params={"page_length": 1, "page": 2})).json()
    assert {body["sites"][0]["id"], page_two["sites"][0]["id"]} == {first, second}

    got = await api.call("GET", f"/v2/sites/{first}/")
    assert got.status_code == 200
    assert got.json()["metadata"]["name"] == "Main"

    renamed = await api.call("PATCH", f"/v2/sites/{first}/", json={"metadata": {"name": "New"}})
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["metadata"]["name"] == "New"
    assert renamed.json()["created"] == got.json()["created"]
    assert (await api.call("GET", f"/v2/sites/{first}")).json()["metadata"]["name"] == "New"

    deleted = await api.call("DELETE", f"/v2/sites/{first}/")
    assert deleted.status_code == 204
    assert_error(await api.call("GET", f"/v2/sites/{first}/"), 404)
    assert_error(await api.call("DELETE", f"/v2/sites/{first}/"), 404)
    remaining = (await api.call("GET", "/v2/sites/")).json()
    assert [site["id"] for site in remaining["sites"]] == [second]


async def test_deleting_a_site_removes_it_from_webhooks(api: Api) -> None:
    await api.site(SITE_ID)
    other = await api.site(name="Other")
    hook = await api.webhook([SITE_ID, other])

    assert (await api.call("DELETE", f"/v2/sites/{SITE_ID}/")).status_code == 204

    after = (await api.call("GET", f"/v2/webhooks/{hook['id']}/")).json()
    assert after["metadata"]["site_ids"] == [other]
    by_site = (await api.call("GET", "/v2/webhooks/", params={"site_id": SITE_ID})).json()
    assert by_site["total"] == 0
    # The webhook still accepts changes that do not touch its sites.
    renamed = await api.call(
        "PATCH", f"/v2/webhooks/{hook['id']}/", json={"metadata": {"name": "Still here"}}
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["metadata"]["site_ids"] == [other]


async def test_webhook_with_unknown_site_is_refused_naming_it(api: Api) -> None:
    await api.site(SITE_ID)

    response = await api.call(
        "POST", "/v2/webhooks/", json={"metadata": webhook_metadata([SITE_ID, "Nope1234"])}
    )

    description = assert_error(response, 400)
    assert "Nope1234" in description
    assert (await api.call("GET", "/v2/webhooks/")).json()["total"] == 0


async def test_another_accounts_site_is_unknown(api: Api) -> None:
    other = await api.runtime.services.accounts.create_account("Other")
    other_admin = await api.key(Role.ADMIN, account_id=other.id)
    theirs = await api.site("Their5it", name="Theirs", key=other_admin)

    response = await api.call(
        "POST", "/v2/webhooks/", json={"metadata": webhook_metadata([theirs])}
    )

    assert theirs in assert_error(response, 400)


async def test_webhook_whose_only_site_was_deleted_stays_editable(api: Api) -> None:
    await api.site(SITE_ID)
    hook = await api.webhook([SITE_ID])
    assert (await api.call("DELETE", f"/v2/sites/{SITE_ID}/")).status_code == 204

    disabled = await api.call(
        "PATCH", f"/v2/webhooks/{hook['id']}/", json={"metadata": {"enabled": False}}
    )

    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["metadata"]["site_ids"] == []
    assert disabled.json()["metadata"]["enabled"] is False
    moved = await api.call(
        "PATCH",
        f"/v2/webhooks/{hook['id']}/",
        json={"metadata": {"site_ids": [await api.site(name="New home")]}},
    )
    assert moved.status_code == 200, moved.text
