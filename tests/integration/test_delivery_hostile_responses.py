"""A receiver's response cannot break recording: what it answers is stored, made storable,
on SQLite and on PostgreSQL (which refuses NUL in text)."""

from __future__ import annotations

from aiohttp import web
from delivery_harness import Deployment
from receivers import answer

R = "\ufffd"


async def nul_and_invalid_utf8(_number: int, _request: web.Request) -> web.StreamResponse:
    return web.Response(status=200, body=b"ok\x00\xff\xfe end", content_type="text/plain")


async def test_a_response_with_nul_and_invalid_utf8_is_recorded_replaced(
    hookcast: Deployment,
) -> None:
    hostile = await hookcast.receiver(nul_and_invalid_utf8)
    hostile_hook = await hookcast.hook_for(hostile)
    # Another webhook's outcome is recorded with it: one bad row must not hold it back.
    plain = await hookcast.receiver(answer(200, body="fine"))
    plain_hook = await hookcast.hook_for(plain)
    hookcast.start_worker()

    (event_id,) = await hookcast.publish({"event": "media_available", "media_id": "MNYaMSQl"})

    (delivery,) = await hookcast.wait_for_status(hostile_hook["id"], "succeeded", 1)
    (other,) = await hookcast.wait_for_status(plain_hook["id"], "succeeded", 1)
    (attempt,) = delivery["attempt_log"]
    assert delivery["event_id"] == other["event_id"] == event_id
    assert attempt["status_code"] == 200
    assert attempt["response_body"] == f"ok{R}{R}{R} end"
    assert other["attempt_log"][0]["response_body"] == "fine"
    assert [len(hostile.received), len(plain.received)] == [1, 1]
