"""`HttpSender.start`: a request begun without a coroutine (the worker's common path: an idle
kept-alive connection with a free slot), against raw loopback servers (raw_servers.py). It
must end as `send` would have (status, body, error text, the connection kept or closed, the
slot given back), tell its caller once, and leave to `send` only what it cannot start at
once or what must be sent again: a request written to a kept connection the server had
already closed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from raw_servers import OK, Peer, answer, open_sender, post, raw_server, response, start

from hookcast.domain.addresses import parse_networks
from support.waiting import DEADLINE


async def test_started_requests_share_the_kept_connection_and_end_as_a_send_would() -> None:
    created = response("201 Created", b"yes")
    async with raw_server(answer(created)) as server, open_sender() as sender:
        url = f"http://127.0.0.1:{server.port}/hook"
        assert start(sender, url) is None  # no connection kept yet: `send` opens one
        first = await post(sender, url)
        outcomes = []
        for _ in range(5):
            started = start(sender, url)
            assert started is not None
            outcomes.append(await asyncio.wait_for(started.outcome, DEADLINE))

    assert (first.status_code, first.response_body) == (201, "yes")
    assert [(o.status_code, o.response_body, o.error) for o in outcomes if o] == [
        (201, "yes", None)
    ] * 5
    assert server.connections == 1
    assert len(server.requests) == 6


async def test_a_start_on_a_connection_the_server_had_closed_asks_to_send_again() -> None:
    async def drops_the_second_request(peer: Peer) -> None:
        await peer.request()
        await peer.send(OK)
        if peer.number == 0:
            await peer.request()  # timed out by the server just as the request arrived
            return
        await answer(OK)(peer)

    async with raw_server(drops_the_second_request) as server, open_sender() as sender:
        url = f"http://127.0.0.1:{server.port}/hook"
        await post(sender, url)
        started = start(sender, url)
        assert started is not None
        told = await asyncio.wait_for(started.outcome, DEADLINE)
        again = await post(sender, url)  # what the worker does with None, not cancelled

    assert told is None
    assert not started.exchange.cancelled()
    assert (again.status_code, again.error) == (200, None)
    assert server.connections == 2


async def test_a_started_response_cut_after_its_first_bytes_is_an_outcome() -> None:
    async def starts_the_second_answer(peer: Peer) -> None:
        await peer.request()
        await peer.send(OK)
        await peer.request()
        await peer.send(b"HTTP/1.1 50")

    async with raw_server(starts_the_second_answer) as server, open_sender() as sender:
        url = f"http://127.0.0.1:{server.port}/hook"
        await post(sender, url)
        started = start(sender, url)
        assert started is not None
        cut = await asyncio.wait_for(started.outcome, DEADLINE)

    assert cut is not None
    assert (cut.status_code, cut.error) == (
        None,
        "the server closed the connection without a response",
    )


async def test_a_started_request_timing_out_closes_its_connection_and_frees_its_slot() -> None:
    closed = asyncio.Event()

    async def stalls_the_second_body(peer: Peer) -> None:
        await peer.request()
        await peer.send(OK)
        if peer.number == 0:
            await peer.request()
            await peer.send(response("200 OK", b"a" * 100)[:-90])  # the rest never comes
            await peer.wait_for_eof()
            closed.set()
            return
        await answer(OK)(peer)

    # One slot: were the timed-out request's slot kept, the next send would wait for it.
    async with (
        raw_server(stalls_the_second_body) as server,
        open_sender(per_host_limit=1) as sender,
    ):
        url = f"http://127.0.0.1:{server.port}/hook"
        await post(sender, url)
        started = start(sender, url, timeout=0.3)
        assert started is not None
        stalled = await asyncio.wait_for(started.outcome, DEADLINE)
        await asyncio.wait_for(closed.wait(), DEADLINE)
        after = await post(sender, url, timeout=2.0)

    assert stalled is not None
    assert (stalled.status_code, stalled.response_body) == (200, "a" * 10)
    assert stalled.error == "timed out reading the response body"
    assert (after.status_code, after.error) == (200, None)
    assert server.connections == 2


async def test_a_cancelled_start_closes_its_connection_and_frees_its_slot() -> None:
    received = asyncio.Event()
    closed = asyncio.Event()

    async def holds_the_second(peer: Peer) -> None:
        await peer.request()
        await peer.send(OK)
        if peer.number == 0:
            await peer.request()
            received.set()
            await peer.wait_for_eof()  # never answers: cancelled meanwhile
            closed.set()
            return
        await answer(OK)(peer)

    async with (
        raw_server(holds_the_second) as server,
        open_sender(per_host_limit=1) as sender,
    ):
        url = f"http://127.0.0.1:{server.port}/hook"
        await post(sender, url)
        # Its deadline past DEADLINE: only the cancellation can close the connection in time.
        started = start(sender, url, timeout=2 * DEADLINE)
        assert started is not None
        await asyncio.wait_for(received.wait(), DEADLINE)
        started.exchange.cancel()
        told = await asyncio.wait_for(started.outcome, DEADLINE)
        await asyncio.wait_for(closed.wait(), DEADLINE)
        after = await post(sender, url, timeout=2.0)

    assert told is None
    assert started.exchange.cancelled()
    assert (after.status_code, after.error) == (200, None)
    assert server.connections == 2


async def test_what_start_leaves_to_send() -> None:
    """No idle connection, every slot taken, or an address whose verdict is not kept yet
    (the guard's refusal is `send`'s to tell): not started."""
    waiting = asyncio.Event()

    async def holds_the_second(peer: Peer) -> None:
        await peer.request()
        await peer.send(OK)
        await peer.request()
        waiting.set()
        await peer.wait_for_eof()

    async with raw_server(holds_the_second) as server:
        url = f"http://127.0.0.1:{server.port}/hook"
        async with open_sender(per_host_limit=1) as sender:
            await post(sender, url)
            busy = start(sender, url, timeout=2 * DEADLINE)
            assert busy is not None
            await asyncio.wait_for(waiting.wait(), DEADLINE)
            assert start(sender, url) is None  # its one slot is taken
            busy.exchange.cancel()
            assert await asyncio.wait_for(busy.outcome, DEADLINE) is None
        async with open_sender(allowed=parse_networks("::1/128")) as refusing:
            assert start(refusing, url) is None  # 127.0.0.1 not judged yet
            refused = await post(refusing, url)
            assert start(refusing, url) is None  # judged: refused, as `send` says

    assert refused.error is not None
    assert refused.error.startswith("refused by the SSRF guard")


SCENARIOS = [
    test_started_requests_share_the_kept_connection_and_end_as_a_send_would,
    test_a_start_on_a_connection_the_server_had_closed_asks_to_send_again,
    test_a_started_request_timing_out_closes_its_connection_and_frees_its_slot,
    test_a_cancelled_start_closes_its_connection_and_frees_its_slot,
]


@pytest.mark.parametrize(
    "scenario", SCENARIOS, ids=lambda test: test.__name__.removeprefix("test_")
)
def test_on_uvloop(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    uvloop = pytest.importorskip("uvloop")
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(scenario())
