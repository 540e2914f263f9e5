"""The arrays and objects a publish may hold, through the HTTP API: counted in the request's
body before it is parsed (HOOKCAST_MAX_CONTAINERS_PER_PUBLISH) and in each event's data
(HOOKCAST_MAX_CONTAINERS_PER_EVENT); past either the publish is refused whole with
`400 limit_exceeded` and nothing is stored. A 5 MB body of `[]` parsed into 1.6 million
lists held the API's event loop for seconds and the process's memory grew by 0.8 GB per
publish (attack 15)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from harness import SITE_ID, Api, assert_error, open_api

from hookcast.ports import DeliveryQuery, EventQuery

PER_PUBLISH = 50
PER_EVENT = 20


@pytest.fixture
async def api(database_url: str) -> AsyncIterator[Api]:
    async with open_api(
        database_url,
        max_containers_per_publish=PER_PUBLISH,
        max_containers_per_event=PER_EVENT,
    ) as opened:
        await opened.site(SITE_ID)
        yield opened


def _event(n: int, arrays: int) -> dict[str, Any]:
    """An event whose data holds `arrays` empty arrays under "x", and strings of brackets
    (which are not arrays): 3 + `arrays` arrays and objects with its envelope."""
    data = {"title": "[[{{ ]}", "x": [[]] * arrays, "note": '\\"[{'}
    return {"event": "media_available", "site_id": SITE_ID, "media_id": f"M{n}", "data": data}


async def _stored(api: Api, webhook_id: str) -> tuple[int, int]:
    """The account's events stored and the deliveries made to `webhook_id`."""
    events = await api.runtime.store.list_events(EventQuery(account_id=api.account_id))
    query = DeliveryQuery(account_id=api.account_id, webhook_id=webhook_id)
    return events.total, (await api.runtime.store.list_deliveries(query)).total


async def _publish(api: Api, body: bytes) -> Any:
    headers = {"Content-Type": "application/json"}
    return await api.call("POST", "/v2/events/", content=body, headers=headers)


async def test_a_publish_at_its_limit_of_arrays_and_objects_is_accepted(api: Api) -> None:
    hook = await api.webhook([SITE_ID])
    # {"events": [...]} is 2, each event 3 + 5: 2 + 6 x 8 = 50, the limit.
    body = orjson.dumps({"events": [_event(n, 5) for n in range(6)]})

    accepted = await _publish(api, body)

    assert accepted.status_code == 202, accepted.text
    assert await _stored(api, hook["id"]) == (6, 6)


async def test_a_publish_past_its_limit_of_arrays_and_objects_is_refused_whole(
    api: Api,
) -> None:
    hook = await api.webhook([SITE_ID])
    body = orjson.dumps({"events": [_event(n, 6 if n == 5 else 5) for n in range(6)]})

    refused = await _publish(api, body)

    says = assert_error(refused, 400, "limit_exceeded")
    assert f"this publish holds 51 arrays and objects; at most {PER_PUBLISH}" in says
    assert await _stored(api, hook["id"]) == (0, 0)
    # Counted before parsing: 2.5 million bytes of "[]" are refused for what they hold.
    refused = await _publish(api, b'{"events": [' + b"[]," * 1_250_000 + b"[]]}")
    assert "this publish holds 1250003 arrays and objects" in assert_error(
        refused, 400, "limit_exceeded"
    )


async def test_an_event_past_its_limit_of_arrays_and_objects_is_refused_whole(
    api: Api,
) -> None:
    hook = await api.webhook([SITE_ID])
    # Data is 2 + its arrays: 18 arrays make the limit of 20, 19 pass it.
    at_limit, past_it = _event(0, 18), _event(1, 19)

    refused = await _publish(api, orjson.dumps({"events": [at_limit, past_it]}))

    says = assert_error(refused, 400, "limit_exceeded")
    assert f"events[1].data holds 21 arrays and objects; at most {PER_EVENT}" in says
    assert await _stored(api, hook["id"]) == (0, 0)

    accepted = await _publish(api, orjson.dumps(at_limit))

    assert accepted.status_code == 202, accepted.text
    assert await _stored(api, hook["id"]) == (1, 1)
