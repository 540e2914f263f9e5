"""`serve`'s uvicorn server ticks once a second instead of ten times (an idle `serve` woke
ten times a second for nothing), and a stop wakes it at once rather than at its next tick."""

from __future__ import annotations

import asyncio
import signal

import pytest
import uvicorn
from starlette.applications import Starlette

from hookcast.cli import serving
from hookcast.cli.serving import AnnouncingServer


def _server() -> AnnouncingServer:
    config = uvicorn.Config(Starlette(), log_config=None)
    return AnnouncingServer(config, lambda _url: [])


@pytest.fixture
def hour_long_ticks(monkeypatch: pytest.MonkeyPatch) -> None:
    """A tick far longer than any test: only a wake-up can end the loop in time."""
    monkeypatch.setattr(serving, "_TICK_SECONDS", 3600.0)


@pytest.mark.usefixtures("hour_long_ticks")
async def test_a_signal_ends_the_main_loop_without_waiting_for_the_next_tick() -> None:
    server = _server()
    loop = asyncio.get_running_loop()
    loop.call_later(0.01, server.handle_exit, signal.SIGTERM, None)  # as uvicorn's handler

    await asyncio.wait_for(server.main_loop(), timeout=10)

    assert server.should_exit


@pytest.mark.usefixtures("hour_long_ticks")
async def test_a_failed_delivery_thread_ends_the_main_loop_at_once() -> None:
    server = _server()
    asyncio.get_running_loop().call_later(0.01, server.stop_failed, "the delivery thread died")

    await asyncio.wait_for(server.main_loop(), timeout=10)

    assert server.failure == "the delivery thread died"


async def test_each_tick_renews_the_date_header() -> None:
    server = _server()
    server.should_exit = True  # one tick, then the loop ends

    await server.main_loop()

    assert [name for name, _ in server.server_state.default_headers] == [b"date"]
