"""Input built to break the server (nesting past the serializers' limits, lone surrogates,
times that overflow) is a 400 in the API's error format, never a 500, and nothing is
stored."""

from __future__ import annotations

from typing import Any

import pytest
from harness import SITE_ID, Api, assert_error, webhook_metadata

from hookcast.domain.models import Role
from hookcast.ports import EventQuery
from hookcast.services.events import MAX_DATA_BYTES, MAX_DATA_DEPTH

EVENT = {"event": "media_available", "site_id": SITE_ID, "media_id": "Media001"}
JSON = {"Content-Type": "application/json"}


def nested(depth: int) -> str:
    """A `data` object `depth` levels deep (itself the first), as JSON text: deeper than
    Python's own json module could write it."""
    return '{"a":' * (depth - 1) + "{}" + "}" * (depth - 1)


def event_with(data: str, media_id: str = "Media001") -> str:
    envelope = f'"event": "media_available", "site_id": "{SITE_ID}", "media_id": "{media_id}"'
    return f'{{{envelope}, "data": {data}}}'


async def _raw(api: Api, method: str, path: str, body: str) -> Any:
    # The JSON escape itself: httpx's json= would refuse to encode a lone surrogate.
    return await api.call(method, path, content=body.encode(), headers=JSON)


async def _stored(api: Api) -> int:
    return (await api.runtime.store.list_events(EventQuery(account_id=api.account_id))).total


@pytest.mark.parametrize("depth", [MAX_DATA_DEPTH + 1, 254, 255, 1000])
async def test_data_nested_too_deep_to_deliver_is_400(api: Api, depth: int) -> None:
    await api.site(SITE_ID)
    one = await _raw(api, "POST", "/v2/events/", event_with(nested(depth)))
    assert "data" in assert_error(one, 400, "invalid_body")
    batch = f'{{"events": [{event_with("{}")}, {event_with(nested(depth), "Media002")}]}}'
    described = assert_error(await _raw(api, "POST", "/v2/events/", batch), 400)
    assert "events[1].data" in described
    assert await _stored(api) == 0


async def test_data_at_the_limits_is_accepted(api: Api) -> None:
    await api.site(SITE_ID)
    deep = await _raw(api, "POST", "/v2/events/", event_with(nested(MAX_DATA_DEPTH)))
    assert deep.status_code == 202, deep.text
    padding = MAX_DATA_BYTES - len('{"x":""}')
    big = await api.call("POST", "/v2/events/", json={**EVENT, "data": {"x": "y" * padding}})
    assert big.status_code == 202, big.text
    assert await _stored(api) == 2


async def test_data_over_the_size_limit_is_400(api: Api) -> None:
    await api.site(SITE_ID)
    data = {"x": "y" * MAX_DATA_BYTES}
    described = assert_error(
        await api.call("POST", "/v2/events/", json={**EVENT, "data": data}), 400
    )
    assert "data" in described
    assert await _stored(api) == 0


@pytest.mark.parametrize(
    "event_time",
    ["0001-01-01T00:00:00+14:00", "0001-01-01T00:00:00+00:01", "9999-12-31T23:59:59-14:00"],
)
async def test_an_event_time_that_overflows_in_utc_is_400(api: Api, event_time: str) -> None:
    await api.site(SITE_ID)
    published = await api.call("POST", "/v2/events/", json={**EVENT, "event_time": event_time})
    assert "event_time" in assert_error(published, 400, "invalid_body")
    assert await _stored(api) == 0


async def test_a_lone_surrogate_anywhere_in_a_body_is_400(api: Api) -> None:
    await api.site(SITE_ID)
    hook = await api.webhook([SITE_ID])
    metadata = webhook_metadata([SITE_ID])
    site = '{"metadata": {"name": "x\\ud800y"}}'
    assert_error(await _raw(api, "POST", "/v2/sites/", site), 400)
    assert_error(await _raw(api, "PATCH", f"/v2/sites/{SITE_ID}/", site), 400)
    for name, escaped in (
        ("name", '"x\\ud800y"'),
        ("description", '"\\udfff"'),
        ("conditions", '{"data.title": {"$eq": "\\ud800"}}'),
    ):
        fields = ", ".join(f'"{k}": "{v}"' for k, v in metadata.items() if isinstance(v, str))
        body = (
            f'{{"metadata": {{{fields}, "events": ["media_available"], '
            f'"site_ids": ["{SITE_ID}"], "{name}": {escaped}}}}}'
        )
        assert_error(await _raw(api, "POST", "/v2/webhooks/", body), 400)
        patch = f'{{"metadata": {{"{name}": {escaped}}}}}'
        assert_error(await _raw(api, "PATCH", f"/v2/webhooks/{hook['id']}/", patch), 400)
    event = f'{{"event": "media_available", "site_id": "{SITE_ID}", "media_id": "\\ud800"}}'
    assert_error(await _raw(api, "POST", "/v2/events/", event), 400)
    assert (await api.call("GET", "/v2/webhooks/")).json()["total"] == 1
    assert (await api.call("GET", f"/v2/sites/{SITE_ID}/")).json()["metadata"]["name"] == "Main"


@pytest.mark.parametrize("segment", ["²", "1" * 5000])
async def test_a_condition_path_segment_that_is_no_list_index_never_fails_a_publish(
    api: Api, segment: str
) -> None:
    """str.isdigit() is true of "²" and of 5,000 digits, which int() refuses: an editor's
    condition with such a segment made every publish with a list there a 500, the account's
    whole batch lost (attack 10). Such a segment is a key, which a list has not."""
    await api.site(SITE_ID)
    editor = await api.key(Role.EDITOR)
    odd = await api.webhook([SITE_ID], key=editor, conditions={f"data.tags.{segment}": "live"})
    first = await api.webhook([SITE_ID], key=editor, conditions={"data.tags.0": "live"})
    batch = {"events": [{**EVENT, "data": {"tags": ["live"]}}, {**EVENT, "media_id": "Media002"}]}
    published = await api.call("POST", "/v2/events/", json=batch)
    assert published.status_code == 202, published.text

    async def delivered(hook: dict[str, Any]) -> int:
        log = await api.call("GET", f"/v2/webhooks/{hook['id']}/deliveries/")
        assert log.status_code == 200, log.text
        return int(log.json()["total"])

    assert await delivered(odd) == 0
    assert await delivered(first) == 1
    assert await _stored(api) == 2
