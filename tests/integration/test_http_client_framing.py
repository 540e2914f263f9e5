"""Where one response ends: bytes nobody asked for never reach a later exchange.

A keep-alive connection is reused only when what arrived on it was exactly one response to
the one request sent. Each server here misbehaves on purpose: two responses in one write,
bytes while the connection is idle, a status line llhttp parses but HTTP does not allow.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from raw_servers import OK, Peer, answer, open_sender, post, raw_server, response

from support.waiting import eventually


async def test_two_responses_in_one_write_are_not_merged() -> None:
    both = response("500 Internal Server Error", b"fail") + response("200 OK", b"ok")

    async def answers_the_first_request_twice(peer: Peer) -> None:
        if peer.number == 0:
            await peer.request()
            await peer.send(both)
        await answer(OK)(peer)

    async with raw_server(answers_the_first_request_twice) as server, open_sender() as sender:
        url = f"http://127.0.0.1:{server.port}/hook"
        first = await post(sender, url)
        await eventually(lambda: server.open == 0, message="the connection is still open")
        second = await post(sender, url)

    assert (first.status_code, first.response_body) == (500, "fail")
    assert (second.status_code, second.response_body, second.error) == (200, "ok", None)
    assert server.connections == 2  # the desynchronised connection was not reused


async def test_bytes_on_an_idle_connection_close_it() -> None:
    async def answers_then_starts_another(peer: Peer) -> None:
        await peer.request()
        await peer.send(OK)
        await peer.send(b"HTTP/1.1 204 No Con")  # unasked for, while the client is idle
        await answer(OK)(peer)

    async with raw_server(answers_then_starts_another) as server, open_sender() as sender:
        url = f"http://127.0.0.1:{server.port}/hook"
        first = await post(sender, url)
        await eventually(lambda: server.open == 0, message="the connection is still open")
        second = await post(sender, url, timeout=1.0)

    assert (first.status_code, second.status_code, second.error) == (200, 200, None)
    assert server.connections == 2


@pytest.mark.parametrize("status", ["000 Zero", "099 Low", "600 High", "999 Nine"])
async def test_a_status_outside_100_to_599_is_an_invalid_response(status: str) -> None:
    async with raw_server(answer(response(status, b"ok"))) as server, open_sender() as sender:
        outcome = await post(sender, f"http://127.0.0.1:{server.port}/hook")

    assert outcome.status_code is None
    code = int(status.split()[0])
    assert outcome.error == f"invalid HTTP response: status {code} is not in 100-599"


@pytest.mark.parametrize("status", ["100 Continue", "599 Edge"])
async def test_the_edges_of_the_status_range(status: str) -> None:
    final = response("599 Edge", b"edge")
    sent = (response(status) + final) if status.startswith("100") else final
    async with raw_server(answer(sent)) as server, open_sender() as sender:
        outcome = await post(sender, f"http://127.0.0.1:{server.port}/hook")

    assert (outcome.status_code, outcome.response_body, outcome.error) == (599, "edge", None)


async def test_a_response_cut_short_leaves_no_connection_to_reuse() -> None:
    async def cuts_the_first_body(peer: Peer) -> None:
        if peer.number == 0:
            await peer.request()
            await peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort")
            return  # closes with 5 of the 10 bytes sent
        await answer(OK)(peer)

    async with raw_server(cuts_the_first_body) as server, open_sender() as sender:
        url = f"http://127.0.0.1:{server.port}/hook"
        first = await post(sender, url)
        second = await post(sender, url)

    assert first.error == "the connection closed before the response body was complete"
    assert (second.status_code, second.error) == (200, None)
    assert server.connections == 2


@pytest.mark.parametrize(
    "scenario",
    [test_two_responses_in_one_write_are_not_merged, test_bytes_on_an_idle_connection_close_it],
    ids=lambda test: test.__name__.removeprefix("test_"),
)
def test_on_uvloop(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    uvloop = pytest.importorskip("uvloop")  # hookcast serve and worker run on it
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(scenario())
