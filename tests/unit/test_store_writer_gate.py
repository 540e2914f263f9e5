"""SQLite's writer turns across event loops (store/writer_gate.py): `serve`'s API and its
delivery thread each write through a store of their own, and take turns in arrival order
instead of polling for the file's lock."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager

import pytest

from hookcast.store.writer_gate import WriterGate, writer_gate

BOUND = 10.0  # seconds any wait in these tests may take before the test fails


@contextmanager
def other_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop running on a thread of its own (as serve's delivery thread's is)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield loop
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(BOUND)
        loop.close()


def test_one_gate_per_database_file() -> None:
    assert writer_gate("/tmp/a.db") is writer_gate("/tmp/../tmp/a.db")
    assert writer_gate("/tmp/a.db") is not writer_gate("/tmp/b.db")


async def test_a_writer_on_another_loop_waits_for_the_turn_and_gets_it_next() -> None:
    gate = WriterGate()
    order: list[str] = []
    await gate.acquire()

    async def other_writer() -> None:
        await gate.acquire()
        order.append("other")
        gate.release()

    with other_loop() as loop:
        waiting: Future[None] = asyncio.run_coroutine_threadsafe(other_writer(), loop)
        await asyncio.sleep(0.05)  # not synchronisation: it must not have written meanwhile
        assert order == []
        order.append("first")
        gate.release()
        await asyncio.wrap_future(waiting)
    assert order == ["first", "other"]
    assert not gate.locked()


async def test_turns_go_in_arrival_order_on_one_loop() -> None:
    gate = WriterGate()
    order: list[int] = []
    await gate.acquire()

    async def writer(number: int) -> None:
        await gate.acquire()
        order.append(number)
        gate.release()

    writers = []
    for number in range(3):
        writers.append(asyncio.create_task(writer(number)))
        await asyncio.sleep(0)  # each queues before the next starts
    gate.release()
    await asyncio.wait_for(asyncio.gather(*writers), BOUND)
    assert order == [0, 1, 2]


async def test_a_cancelled_wait_gives_its_turn_to_the_next() -> None:
    gate = WriterGate()
    await gate.acquire()
    impatient = asyncio.create_task(gate.acquire())
    await asyncio.sleep(0)
    patient = asyncio.create_task(gate.acquire())
    await asyncio.sleep(0)
    impatient.cancel()
    gate.release()
    with pytest.raises(asyncio.CancelledError):
        await impatient
    await asyncio.wait_for(patient, BOUND)
    assert gate.locked()
    gate.release()
    assert not gate.locked()
