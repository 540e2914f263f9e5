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


# Bodies past the limit that are not JSON, each as a client's mistake makes it: the end cut
# off, a trailing or a missing comma, a quote too many, a key that is not a string, a value
# JSON has no word for, a byte outside UTF-8.
_BROKEN = [
    lambda body: body[:-1],
    lambda body: body[:-2] + b",]}",
    lambda body: body.replace(b"},{", b"}{", 1),
    lambda body: body.replace(b'"media_id"', b'"media_id""', 1),
    lambda body: body.replace(b'"title"', b"title", 1),
    lambda body: body.replace(b'"M1"', b"NaN", 1),
    lambda body: body.replace(b'"M1"', b'"M\xff"', 1),
    lambda body: body.replace(b"[[]", b"[[]:", 1),
]


@pytest.mark.parametrize("broken", range(len(_BROKEN)))
async def test_a_body_past_the_limit_that_is_not_json_is_answered_as_not_json(
    api: Api, broken: int
) -> None:
    # Before: 400 limit_exceeded, which says the body is JSON and only too large, when
    # the client's error was its JSON (under the limit the same body is invalid_json).
    hook = await api.webhook([SITE_ID])
    body = orjson.dumps({"events": [_event(n, 5) for n in range(7)]})  # 58 of 50
    assert "limit_exceeded" in (await _publish(api, body)).text

    refused = await _publish(api, _BROKEN[broken](body))

    assert_error(refused, 400, "invalid_json")
    assert await _stored(api, hook["id"]) == (0, 0)


async def test_a_json_body_past_the_limit_stays_limit_exceeded_whatever_its_strings_hold(
    api: Api,
) -> None:
    # Brackets, quotes, escapes and other scripts in strings, numbers of every form, and
    # whitespace JSON allows between tokens: the body is JSON, so its count is what is said.
    event = _event(0, 50)
    event["data"].update(
        {
            "quoted": 'a "[q]" \\ \\\\" {}',
            "escaped": "\u00e9\u4e2d\U0001f600\n\t\x7f/",
            "numbers": [0, -0.0, 1.5e300, -12, 3e-7, True, False, None],
            "": {"nested": [{}, [], {"k": []}]},
        }
    )
    body = orjson.dumps({"events": [event]}, option=orjson.OPT_INDENT_2)
    escaped = {"é": b"\\u00e9", "\U0001f600": b"\\ud83d\\ude00", "/": b"\\/"}
    for char, escape in escaped.items():
        body = body.replace(char.encode(), escape)
    for escape in escaped.values():
        assert escape in body

    refused = await _publish(api, body)

    assert "this publish holds" in assert_error(refused, 400, "limit_exceeded")
