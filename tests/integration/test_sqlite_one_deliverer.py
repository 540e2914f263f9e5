"""On SQLite one process delivers: a second delivering process started on the same file is
refused before it takes anything back (its worker would take back every lease of the first,
which sends those deliveries a second time), while API servers (`serve --no-worker`) may run
beside it, and a restart after a kill -9 delivers everything.

Real `hookcast serve` / `hookcast worker` processes on one SQLite file, a receiver answering
slowly so that deliveries are in flight when the second process starts."""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from delivery_harness import Deployment, Processes, ServerProcess, processes
from receivers import DEADLINE, Receiver, answer
from test_delivery_guarantees import kill_mid_delivery, media_events, publish_over_http

from hookcast.delivery.options import MIN_LEASE_SECONDS
from support.waiting import eventually

COUNT = 40
CONCURRENCY = 8
ENV = {"HOOKCAST_WORKER_CONCURRENCY": str(CONCURRENCY)}
REFUSAL = "another process delivers from this SQLite file"
REPLACED = "another process took over delivery from this database"
# SQLite only: one process delivering from a file is what is tested.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@dataclass
class Delivering:
    """A `serve` (`first`) with deliveries of `ids` in flight to `receiver`, more queued."""

    hookcast: Deployment
    procs: Processes
    receiver: Receiver
    first: ServerProcess
    ids: list[str]
    hook_id: str

    async def all_received_once(self, more: list[str] | None = None) -> None:
        ids = set(self.ids) | set(more or [])
        await self.receiver.wait_for_events(ids, timeout=4 * DEADLINE)
        await self.receiver.stays_quiet(1.0, count=len(self.receiver.received))
        assert self.receiver.duplicates() == 0, self.first.log_tail()
        assert "found dead" not in self.first.log.read_text()


@asynccontextmanager
async def delivering(
    database_url: str,
    directory: Path,
    *,
    answer_after: float,
    env: dict[str, str] | None = None,
    **hook: object,
) -> AsyncIterator[Delivering]:
    async with (
        Deployment.open(database_url) as hookcast,
        processes(database_url, directory, **ENV, **(env or {})) as procs,
    ):
        receiver = await hookcast.receiver(answer(200, delay=answer_after))
        created = await hookcast.hook_for(receiver, **hook)
        first = procs.serve()
        await first.wait_ready()
        ids = await publish_over_http(first, hookcast, media_events(COUNT, hookcast.site_id))
        await eventually(
            lambda: receiver.in_flight > 0,
            message=lambda: f"nothing in flight:\n{first.log_tail()}",
        )
        yield Delivering(hookcast, procs, receiver, first, ids, created["id"])


@pytest.mark.timeout(120)
@pytest.mark.parametrize("command", ["serve", "worker"])
async def test_a_second_delivering_process_is_refused_and_nothing_is_sent_twice(
    database_url: str, tmp_path: Path, command: str
) -> None:
    async with delivering(database_url, tmp_path, answer_after=1.0) as run:
        second = run.procs.serve() if command == "serve" else run.procs.worker()

        assert await second.wait_exit(3 * DEADLINE) == 1, second.log_tail()
        refusal = [line for line in second.log.read_text().splitlines() if REFUSAL in line]
        assert refusal, second.log_tail()
        assert "--no-worker" in refusal[0]
        assert "hookcast.db" in refusal[0]
        assert "Traceback" not in second.log.read_text()
        await run.all_received_once()
        assert run.first.process.poll() is None


@pytest.mark.timeout(120)
async def test_a_second_serve_on_the_first_ones_port_takes_nothing_from_it(
    database_url: str, tmp_path: Path
) -> None:
    async with delivering(database_url, tmp_path, answer_after=1.0) as run:
        assert run.first.port is not None
        second = run.procs.serve_on(run.first.port)

        assert await second.wait_exit(3 * DEADLINE) == 1, second.log_tail()
        await run.all_received_once()


@pytest.mark.timeout(120)
async def test_an_api_server_runs_beside_the_delivering_serve(
    database_url: str, tmp_path: Path
) -> None:
    async with delivering(database_url, tmp_path, answer_after=1.0) as run:
        api_only = run.procs.serve("--no-worker")
        await api_only.wait_ready()
        events = media_events(5, run.hookcast.site_id)
        more = await publish_over_http(api_only, run.hookcast, events)

        await run.all_received_once(more)
        assert api_only.process.poll() is None
        assert REFUSAL not in api_only.log.read_text()


@pytest.mark.timeout(120)
async def test_a_restart_right_after_kill_9_delivers_everything(
    database_url: str, tmp_path: Path
) -> None:
    async with delivering(database_url, tmp_path, answer_after=0.5) as run:
        await kill_mid_delivery(run.first, run.receiver, after=1)

        restarted = run.procs.serve()
        await restarted.wait_ready()
        await run.receiver.wait_for_events(set(run.ids), timeout=4 * DEADLINE)
        assert restarted.process.poll() is None, restarted.log_tail()
        assert REFUSAL not in restarted.log.read_text()


@pytest.mark.timeout(240)
async def test_a_serve_stopped_past_the_check_and_its_successor_send_each_delivery_once(
    database_url: str, tmp_path: Path
) -> None:
    """A first serve stands still (SIGSTOP: a GC pause, a disk stall, a suspended VM) with
    deliveries in flight and queued; a second starts, finds it dead and delivers. Resumed,
    the first sends nothing more and stops, saying why; its requests in flight at the stop
    are recorded by it, not sent again by the second. The webhook's timeout (30 s) outlasts
    the stop (the second's start: 5-11 s here): a request the stopped process's loop finds
    timed out when it resumes is retried, as with no second process (docs/operations.md).

    The leases are the shortest allowed (40 s) and the wait for all 40 deliveries to succeed
    outlasts them: had the first not recorded its requests in flight, the second would send
    them again when their leases expire, within the wait (a quiet window of a few seconds
    after the receiver had each once ended before that)."""
    lease = {"HOOKCAST_LEASE_SECONDS": str(int(MIN_LEASE_SECONDS))}
    async with delivering(
        database_url, tmp_path, answer_after=1.0, env=lease, timeout_seconds=30
    ) as run:
        run.first.process.send_signal(signal.SIGSTOP)
        try:
            second = run.procs.serve()
            await eventually(
                lambda: "took" in second.log.read_text(),  # took over, or took back
                timeout=3 * DEADLINE,
                message=lambda: f"the second did not take over:\n{second.log_tail()}",
            )
        finally:
            run.first.process.send_signal(signal.SIGCONT)

        await run.hookcast.wait_for_status(
            run.hook_id, "succeeded", COUNT, timeout=MIN_LEASE_SECONDS + 3 * DEADLINE
        )
        delivered = await run.hookcast.deliveries(run.hook_id, page_length=100)
        assert {item["attempts"] for item in delivered["deliveries"]} == {1}
        assert run.receiver.duplicates() == 0, second.log_tail()
        assert set(run.ids) <= set(run.receiver.event_ids())
        assert await run.first.wait_exit(DEADLINE) == 1, run.first.log_tail()
        assert REPLACED in run.first.log.read_text()
        assert second.process.poll() is None, second.log_tail()
