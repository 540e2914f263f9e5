"""/v2/webhooks/: create, list, get, patch, delete, reveal and rotate the secret."""

from __future__ import annotations

import base64
import dataclasses
import re
from datetime import UTC, datetime
from typing import Any

from harness import SITE_ID, WEBHOOK_URL, Api, assert_error, webhook_metadata

from hookcast.domain.models import RetryPolicySpec, Role

ID = re.compile(r"^[A-Za-z0-9]{8}$")


def parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, f"{value!r} has no UTC offset"
    return parsed


def keys_anywhere(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {key for item in value.values() for key in keys_anywhere(item)}
    if isinstance(value, list):
        return {key for item in value for key in keys_anywhere(item)}
    return set()


async def test_create_answers_jw_shape_with_secret(api: Api) -> None:
    await api.site(SITE_ID)
    metadata = webhook_metadata([SITE_ID])
    response = await api.call("POST", "/v2/webhooks/", json={"metadata": metadata})

    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {
        "id",
        "created",
        "last_modified",
        "metadata",
        "relationships",
        "schema",
        "secret",
        "type",
    }
    assert ID.match(body["id"])
    assert parse_time(body["created"]) == parse_time(body["last_modified"])
    for name in ("name", "description", "webhook_url", "events", "site_ids"):
        assert body["metadata"][name] == metadata[name]
    assert body["metadata"]["enabled"] is True
    assert body["metadata"]["timeout_seconds"] == 10
    assert body["relationships"] == {}
    assert body["schema"] is None
    assert body["type"] == "webhook"
    assert body["secret"].startswith("whsec_")
    assert len(base64.b64decode(body["secret"].removeprefix("whsec_"), validate=True)) >= 24


async def test_get_matches_create_without_the_secret(api: Api) -> None:
    await api.site(SITE_ID)
    created = await api.webhook([SITE_ID])

    response = await api.call("GET", f"/v2/webhooks/{created['id']}/")

    assert response.status_code == 200
    body = response.json()
    assert body == {name: value for name, value in created.items() if name != "secret"}
    assert created["secret"] not in response.text


async def test_secret_never_in_get_or_list(api: Api) -> None:
    await api.site(SITE_ID)
    created = await api.webhook([SITE_ID])
    rotated = (await api.call("POST", f"/v2/webhooks/{created['id']}/secret/rotate/")).json()

    for path in (
        f"/v2/webhooks/{created['id']}/",
        "/v2/webhooks/",
        f"/v2/webhooks/{created['id']}",
    ):
        response = await api.call("GET", path)
        assert response.status_code == 200
        assert not {"secret", "previous_secret"} & keys_anywhere(response.json()), path
        for value in (created["secret"], rotated["secret"]):
            assert value not in response.text, path
            assert value.removeprefix("whsec_") not in response.text, path


async def test_list_pages_and_sorts(api: Api) -> None:
    await api.site(SITE_ID)
    ids = [(await api.webhook([SITE_ID], name=name))["id"] for name in ("b", "c", "a")]

    default = await api.call("GET", "/v2/webhooks/")
    assert default.status_code == 200
    body = default.json()
    assert set(body) == {"page", "page_length", "total", "webhooks"}
    assert (body["page"], body["page_length"], body["total"]) == (1, 10, 3)
    assert [hook["id"] for hook in body["webhooks"]] == ids[::-1]  # created:dsc

    ascending = (await api.call("GET", "/v2/webhooks/", params={"sort": "created:asc"})).json()
    assert [hook["id"] for hook in ascending["webhooks"]] == ids
    by_name = (await api.call("GET", "/v2/webhooks/", params={"sort": "name:asc"})).json()
    assert [hook["metadata"]["name"] for hook in by_name["webhooks"]] == ["a", "b", "c"]

    pages = []
    for number in (1, 2, 3):
        page = await api.call(
            "GET", "/v2/webhooks/", params={"page": number, "page_length": 2, "sort": "created:asc"}
        )
        assert page.status_code == 200
        pages.append(page.json())
    assert [(p["page"], p["page_length"], p["total"]) for p in pages] == [
        (1, 2, 3),
        (2, 2, 3),
        (3, 2, 3),
    ]
    assert [[hook["id"] for hook in p["webhooks"]] for p in pages] == [ids[:2], ids[2:], []]


async def test_list_filters_by_event_and_site(api: Api) -> None:
    other_site = await api.site("OtherS1t", name="Other")
    await api.site(SITE_ID)
    media = await api.webhook([SITE_ID], events=["media_available"])
    channel = await api.webhook([SITE_ID], events=["channel_active", "channel_idle"])
    both_sites = await api.webhook([SITE_ID, other_site], events=["channel_idle"])

    async def listed(**params: str) -> set[str]:
        response = await api.call("GET", "/v2/webhooks/", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["total"] == len(body["webhooks"])
        return {hook["id"] for hook in body["webhooks"]}

    assert await listed(events="media_available") == {media["id"]}
    assert await listed(events="channel_idle") == {channel["id"], both_sites["id"]}
    assert await listed(events="track_created") == set()
    assert await listed(site_id=other_site) == {both_sites["id"]}
    assert await listed(site_id=SITE_ID) == {media["id"], channel["id"], both_sites["id"]}
    assert await listed(site_id=other_site, events="media_available") == set()


async def test_patch_changes_only_given_fields(api: Api) -> None:
    await api.site(SITE_ID)
    created = await api.webhook([SITE_ID])
    before = (await api.call("GET", f"/v2/webhooks/{created['id']}/")).json()

    response = await api.call(
        "PATCH",
        f"/v2/webhooks/{created['id']}/",
        json={
            "metadata": {
                "description": "Only this changes",
                "events": ["media_available", "media_deleted"],
            }
        },
    )

    assert response.status_code == 200, response.text
    after = response.json()
    assert after["metadata"] == {
        **before["metadata"],
        "description": "Only this changes",
        "events": ["media_available", "media_deleted"],
    }
    assert after["created"] == before["created"]
    assert parse_time(after["last_modified"]) > parse_time(before["last_modified"])
    assert "secret" not in after
    assert (await api.call("GET", f"/v2/webhooks/{created['id']}/")).json() == after


async def test_patch_name_keeps_url_and_disable_gives_reason(api: Api) -> None:
    await api.site(SITE_ID)
    created = await api.webhook([SITE_ID])

    renamed = await api.call(
        "PATCH",
        f"/v2/webhooks/{created['id']}",
        json={"metadata": {"name": "Renamed", "enabled": False}},
    )

    assert renamed.status_code == 200, renamed.text
    metadata = renamed.json()["metadata"]
    assert metadata["name"] == "Renamed"
    assert metadata["webhook_url"] == WEBHOOK_URL
    assert metadata["enabled"] is False
    assert metadata["disabled_reason"]


async def test_delete_then_gone(api: Api) -> None:
    await api.site(SITE_ID)
    created = await api.webhook([SITE_ID])

    deleted = await api.call("DELETE", f"/v2/webhooks/{created['id']}/")
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert_error(await api.call("GET", f"/v2/webhooks/{created['id']}/"), 404)
    assert_error(await api.call("DELETE", f"/v2/webhooks/{created['id']}/"), 404)
    assert (await api.call("GET", "/v2/webhooks/")).json()["total"] == 0


async def test_reveal_secret_is_admin_only(api: Api) -> None:
    await api.site(SITE_ID)
    created = await api.webhook([SITE_ID])
    path = f"/v2/webhooks/{created['id']}/secret/"

    revealed = await api.call("GET", path)
    assert revealed.status_code == 200
    assert revealed.json()["secret"] == created["secret"]
    for role in (Role.EDITOR, Role.PUBLISHER, Role.VIEWER):
        response = await api.call("GET", path, key=await api.key(role))
        assert_error(response, 403)
        assert created["secret"] not in response.text


async def test_rotate_keeps_the_old_secret_for_a_grace_period(api: Api) -> None:
    await api.site(SITE_ID)
    created = await api.webhook([SITE_ID])

    response = await api.call("POST", f"/v2/webhooks/{created['id']}/secret/rotate/")

    assert response.status_code == 200, response.text
    rotated = response.json()
    assert rotated["secret"].startswith("whsec_")
    assert rotated["secret"] != created["secret"]
    assert rotated["previous_secret"] == created["secret"]
    assert parse_time(rotated["previous_secret_expires"]) > datetime.now(UTC)
    revealed = (await api.call("GET", f"/v2/webhooks/{created['id']}/secret/")).json()
    assert revealed["secret"] == rotated["secret"]
    assert revealed["previous_secret"] == created["secret"]
    editor = await api.call(
        "POST", f"/v2/webhooks/{created['id']}/secret/rotate/", key=await api.key(Role.EDITOR)
    )
    assert_error(editor, 403)
    after = (await api.call("GET", f"/v2/webhooks/{created['id']}/secret/")).json()
    assert after["secret"] == rotated["secret"]


async def test_every_route_answers_with_and_without_slash(api: Api) -> None:
    for slash in ("", "/"):
        await check_routes(api, slash)


async def check_routes(api: Api, slash: str) -> None:
    site = await api.site(name="Slash")
    responses = []

    async def call(method: str, path: str, **kw: Any) -> Any:
        response = await api.call(method, path.rstrip("/") + slash, **kw)
        responses.append((method, path, response))
        return response

    created = await call("POST", "/v2/webhooks/", json={"metadata": webhook_metadata([site])})
    hook = created.json()["id"]
    expected = [
        (await call("GET", "/v2/webhooks/"), 200),
        (await call("GET", f"/v2/webhooks/{hook}/"), 200),
        (await call("PATCH", f"/v2/webhooks/{hook}/", json={"metadata": {"name": "x"}}), 200),
        (await call("GET", f"/v2/webhooks/{hook}/secret/"), 200),
        (await call("POST", f"/v2/webhooks/{hook}/secret/rotate/"), 200),
        (await call("GET", f"/v2/webhooks/{hook}/deliveries/"), 200),
        (await call("POST", "/v2/sites/", json={"metadata": {"name": "Another"}}), 201),
        (await call("GET", f"/v2/sites/{site}/"), 200),
        (await call("GET", "/v2/event_types/"), 200),
        (await call("GET", "/v2/event_types/media_available/"), 200),
        (await call("GET", "/v2/api_keys/"), 200),
        (
            await call(
                "POST",
                "/v2/events/",
                json={"event": "media_available", "site_id": site, "media_id": "MNYaMSQl"},
            ),
            202,
        ),
        (await call("DELETE", f"/v2/webhooks/{hook}/"), 204),
    ]
    assert created.status_code == 201, created.text
    for response, status in expected:
        assert response.status_code == status, (response.request.url, response.text)
    for method, path, response in responses:
        assert not 300 <= response.status_code < 400, (method, path)
        assert "location" not in response.headers, (method, path)


async def test_a_schedule_saved_before_the_retry_limits_does_not_block_other_changes(
    api: Api,
) -> None:
    await api.site(SITE_ID)
    hook = await api.webhook([SITE_ID])
    stored = await api.runtime.store.get_webhook(api.account_id, hook["id"])
    assert stored is not None
    legacy = RetryPolicySpec("custom", (0.0,) * 25)  # allowed before, over the limits now
    await api.runtime.store.update_webhook(
        dataclasses.replace(stored, retry_policy=legacy), stored.last_modified
    )
    path = f"/v2/webhooks/{hook['id']}/"

    paused = await api.call("PATCH", path, json={"metadata": {"enabled": False}})
    assert paused.status_code == 200, paused.text
    assert paused.json()["metadata"]["retry_policy"] == [0] * 25
    changed = await api.call("PATCH", path, json={"metadata": {"retry_policy": [0] * 25}})
    assert "between 1 and 10 delays" in assert_error(changed, 400, "invalid_body")


async def test_ordering_is_off_by_default_and_can_be_asked_for(api: Api) -> None:
    await api.site(SITE_ID)
    created = await api.webhook([SITE_ID])
    assert created["metadata"]["ordering"] == "none"
    path = f"/v2/webhooks/{created['id']}/"

    ordered = await api.call("PATCH", path, json={"metadata": {"ordering": "resource"}})

    assert ordered.status_code == 200, ordered.text
    assert ordered.json()["metadata"]["ordering"] == "resource"
    assert (await api.call("GET", path)).json()["metadata"]["ordering"] == "resource"


async def test_an_unknown_ordering_is_a_clear_400(api: Api) -> None:
    await api.site(SITE_ID)
    metadata = {**webhook_metadata([SITE_ID]), "ordering": "media"}

    response = await api.call("POST", "/v2/webhooks/", json={"metadata": metadata})

    description = assert_error(response, 400, "invalid_body")
    for named in ('"none"', '"resource"', "'media'"):  # the choices, and what was wrong
        assert named in description
    created = await api.webhook([SITE_ID])
    wrong_type = await api.call(
        "PATCH", f"/v2/webhooks/{created['id']}/", json={"metadata": {"ordering": 1}}
    )
    assert wrong_type.status_code == 400, wrong_type.text


async def test_latest_wins_and_maximum_ages_are_off_by_default_and_can_be_set(api: Api) -> None:
    await api.site(SITE_ID)
    created = await api.webhook([SITE_ID])
    assert (created["metadata"]["coalesce"], created["metadata"]["max_age_seconds"]) == (False, {})
    path = f"/v2/webhooks/{created['id']}/"

    changes = {"coalesce": True, "max_age_seconds": {"channel_active": 600}}
    changed = await api.call("PATCH", path, json={"metadata": changes})

    assert changed.status_code == 200, changed.text
    metadata = (await api.call("GET", path)).json()["metadata"]
    assert (metadata["coalesce"], metadata["max_age_seconds"]) == (True, {"channel_active": 600})
    cleared = await api.call("PATCH", path, json={"metadata": {"max_age_seconds": None}})
    assert cleared.json()["metadata"]["max_age_seconds"] == {}


async def test_a_mistyped_event_is_refused_with_what_it_probably_meant(api: Api) -> None:
    await api.site(SITE_ID)
    metadata = {**webhook_metadata([SITE_ID]), "events": ["media_availble", "nothing_like"]}
    response = await api.call("POST", "/v2/webhooks/", json={"metadata": metadata})
    says = assert_error(response, 400, "invalid_body")
    assert says == (
        "unknown event(s) for the jwplayer format: media_availble (did you mean "
        "media_available?), nothing_like; the format's 37 events are listed by GET "
        '/v2/event_types/ and at /event-types on the dashboard, and "*" subscribes to every '
        "event"
    ), says
    # Another format's name is answered with this format's.
    other = {**metadata, "format": "flowplayer", "events": ["media_available"]}
    response = await api.call("POST", "/v2/webhooks/", json={"metadata": other})
    says = assert_error(response, 400, "invalid_body")
    assert says.startswith(
        "unknown event(s) for the flowplayer format: media_available (jwplayer's name; "
        "flowplayer's is VIDEO_READY); the format's "
    ), says


async def test_a_wrong_maximum_age_or_coalesce_is_a_clear_400(api: Api) -> None:
    await api.site(SITE_ID)
    for wrong, says in (
        ({"max_age_seconds": {"channel_on": 600}}, "unknown event 'channel_on'"),
        ({"max_age_seconds": {"channel_active": 0}}, "between 1 and 604800 seconds"),
        ({"max_age_seconds": {"channel_active": "10m"}}, "whole number of seconds"),
        ({"max_age_seconds": [600]}, "max_age_seconds"),
        ({"coalesce": "yes"}, "coalesce"),
    ):
        metadata = {**webhook_metadata([SITE_ID]), **wrong}
        response = await api.call("POST", "/v2/webhooks/", json={"metadata": metadata})
        assert says in assert_error(response, 400, "invalid_body"), wrong
