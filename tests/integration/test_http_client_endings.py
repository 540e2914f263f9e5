"""How an exchange of the HTTP/1.1 client (delivery.http1) ends when it does not end with a
whole response in time: a timeout before or during the body, or a cancelled send. Each
closes its connection (the server sees it closed, the next request opens another), frees
its slot, and is recorded as before; and an exchange that did end in time leaves nothing
behind that the pool's one timer could later act on.

The exchange is one future settled by the connection or by the pool's timer, so these are
the endings that path has to get right without an `await` of its own to clean up after."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from raw_servers import OK, Peer, answer, open_sender, post, raw_server, response

from support.waiting import DEADLINE


def _first_then_answers(first: Callable[[Peer], Coroutine[Any, Any, None]]) -> Any:
    """A handler: the first connection gets `first`, every later one is answered OK."""

    async def handle(peer: Peer) -> None:
        if peer.number == 0:
            await first(peer)
            return
        await answer(OK)(peer)

    return handle


async def test_a_body_timeout_closes_the_connection_and_keeps_the_status() -> None:
    closed = asyncio.Event()

    async def stalls_mid_body(peer: Peer) -> None:
        await peer.request()
        await peer.send(response("200 OK", b"a" * 100)[:-90])  # the rest never comes
        await peer.wait_for_eof()
        closed.set()

    async with (
        raw_server(_first_then_answers(stalls_mid_body)) as server,
        open_sender() as sender,
    ):
        url = f"http://127.0.0.1:{server.port}/hook"
        stalled = await post(sender, url, timeout=0.3)
        await asyncio.wait_for(closed.wait(), DEADLINE)  # the client closed its side
        after = await post(sender, url)

    assert (stalled.status_code, stalled.response_body) == (200, "a" * 10)
    assert stalled.error == "timed out reading the response body"
    assert (after.status_code, after.error) == (200, None)
    assert server.connections == 2


async def test_a_head_timeout_closes_the_connection() -> None:
    closed = asyncio.Event()

    async def silent(peer: Peer) -> None:
        await peer.request()
        await peer.wait_for_eof()  # no response head: the client gives up and closes
        closed.set()

    async with raw_server(_first_then_answers(silent)) as server, open_sender() as sender:
        url = f"http://127.0.0.1:{server.port}/hook"
        timed_out = await post(sender, url, timeout=0.3)
        await asyncio.wait_for(closed.wait(), DEADLINE)
        after = await post(sender, url)

    assert (timed_out.status_code, timed_out.error) == (None, "timed out after 0.3 s")
    assert (after.status_code, after.error) == (200, None)
    assert server.connections == 2


@pytest.mark.parametrize("reused", [False, True], ids=["new", "reused"])
async def test_a_send_cancelled_before_its_head_closes_the_connection_and_frees_its_slot(
    reused: bool,
) -> None:
    received = asyncio.Event()
    closed = asyncio.Event()

    async def holds(peer: Peer) -> None:
        if reused:  # the first request answered: the cancelled one goes on a kept connection
            await peer.request()
            await peer.send(OK)
        await peer.request()
        received.set()
        await peer.wait_for_eof()  # never answers: the send is cancelled meanwhile
        closed.set()

    # One slot: were the cancelled send's slot not given back, the next send would wait
    # for it until its timeout.
    async with (
        raw_server(_first_then_answers(holds)) as server,
        open_sender(per_host_limit=1) as sender,
    ):
        url = f"http://127.0.0.1:{server.port}/hook"
        if reused:
            assert (await post(sender, url)).status_code == 200
        # Its deadline past DEADLINE: only the cancellation can close the connection in time.
        send = asyncio.create_task(post(sender, url, timeout=2 * DEADLINE))
        await asyncio.wait_for(received.wait(), DEADLINE)
        send.cancel()
        with pytest.raises(asyncio.CancelledError):
            await send
        await asyncio.wait_for(closed.wait(), DEADLINE)
        after = await post(sender, url, timeout=2.0)

    assert (after.status_code, after.error) == (200, None)
    assert server.connections == 2


async def test_an_answered_exchange_leaves_its_connection_to_the_next_past_its_deadline() -> None:
    # The answered request's deadline passes while its connection is idle, and the pool's
    # timer fires meanwhile (for the silent server's request): it must find nothing of
    # the answered exchange to time out, and the connection is reused.
    async def silent(peer: Peer) -> None:
        await peer.request()
        await peer.wait_for_eof()

    async with (
        raw_server(answer(OK)) as answering,
        raw_server(silent) as quiet,
        open_sender() as sender,
    ):
        url = f"http://127.0.0.1:{answering.port}/hook"
        first = await post(sender, url, timeout=0.2)
        waited = await post(sender, f"http://127.0.0.1:{quiet.port}/hook", timeout=0.4)
        second = await post(sender, url, timeout=0.2)

    assert (first.status_code, second.status_code) == (200, 200)
    assert waited.error == "timed out after 0.4 s"
    assert answering.connections == 1


UVLOOP_SCENARIOS = [
    test_a_body_timeout_closes_the_connection_and_keeps_the_status,
    test_a_head_timeout_closes_the_connection,
    test_an_answered_exchange_leaves_its_connection_to_the_next_past_its_deadline,
]


@pytest.mark.parametrize(
    "scenario", UVLOOP_SCENARIOS, ids=lambda test: test.__name__.removeprefix("test_")
)
def test_on_uvloop(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    uvloop = pytest.importorskip("uvloop")
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(scenario())


def test_a_cancelled_send_on_uvloop() -> None:
    uvloop = pytest.importorskip("uvloop")
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(
            test_a_send_cancelled_before_its_head_closes_the_connection_and_frees_its_slot(True)
        )
