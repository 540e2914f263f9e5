"""The noisy-neighbour loads: account A publishes poison events to webhooks that misbehave in
every way an account can arrange, while account B publishes steadily to one fast webhook and
the run times each of B's events from the moment its publish request was sent until B's
receiver got it.

A's events are at the publish limits: `data` nested exactly as deep as publish accepts,
bodies just under its size limit, lists that A's conditions (`$in` over thousands of
members, and one over objects that runs out of its visit budget) walk through. A's webhooks:
slow endpoints answering at their timeout, one answering 500 with NUL bytes and invalid
UTF-8, a name whose first address is dead, and names whose DNS never answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import itertools
import json
import math
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from chaos import tenants
from chaos.deployment import Deployment
from chaos.dns import BLACK_HOLE, dead_address
from chaos.ledger import Ledger
from chaos.load import make_event
from chaos.receivers import Fault, Receiver
from hookcast.services.events import MAX_DATA_BYTES, MAX_DATA_DEPTH

# A's host whose first address drops connections and whose second answers.
DEAD_FIRST = "dead-first.test"
DEAD_FIRST_ADDRESSES = ("127.0.0.2", "127.0.0.1")
SLOW_ENDPOINTS = 5  # as in issue 14's report: 5 slow endpoints of one account
BLACK_HOLE_NAMES = 3
# A request's head to A's receivers: HookCast's `Authorization: Bearer <JWT>` holds the whole
# body, so a poison event's head is about 350 KB.
_HEAD_LIMIT = 1024 * 1024
_TAGS = [f"t{n}" for n in range(5000)]  # walked by $in: within one evaluation's budget
# An $in operand as big as a condition may be (100 parts), matching only the last tag.
_MEMBERS = [*(f"u{n}" for n in range(90)), _TAGS[-1]]


# --- A ---------------------------------------------------------------------------------------


def poison_data() -> dict[str, Any]:
    """`data` at the publish limits: exactly MAX_DATA_DEPTH levels deep (the next level is
    refused) and about 2 KiB under MAX_DATA_BYTES."""
    deep: dict[str, Any] = {"bottom": True}
    for _ in range(MAX_DATA_DEPTH - 2):  # `data` is the first level, `deep` the second
        deep = {"d": deep}
    data: dict[str, Any] = {
        "tags": _TAGS,
        "items": [{"k": -n} for n in range(2000)],
        "deep": deep,
        "blob": "",
    }
    room = MAX_DATA_BYTES - 2048 - len(json.dumps(data, separators=(",", ":")))
    data["blob"] = "\u00e9x" * (room // 3)  # two bytes and one as UTF-8
    return data


# The conditions A's webhooks carry: set lookups over a big list that match, and a
# comparison of objects with objects that runs out of its visit budget (never matches).
MATCHING = {"data.tags": {"$in": _MEMBERS}, "data.deep.d.d.d": {"$exists": True}}
OVER_BUDGET = {"data.items": {"$in": [{"k": n} for n in range(1, 30)]}}


@dataclass
class NoisyWebhooks:
    """A's webhooks: how many each poison event matches, and how to heal their faults."""

    matching: int
    receivers: list[Receiver]
    dns_answers: dict[str, Sequence[str]]  # the loopback DNS server's, read at each query

    def heal(self) -> None:
        """The slow and NUL-answering receivers answer at once, the black-hole names get
        the live receiver's address: what A had accepted can then all be delivered."""
        for receiver in self.receivers:
            receiver.delay, receiver.faulty = 0.0, False
        for n in range(BLACK_HOLE_NAMES):
            self.dns_answers[f"n{n}{BLACK_HOLE}"] = ("127.0.0.1",)


async def noisy_webhooks(
    a: Deployment,
    stack: contextlib.AsyncExitStack,
    timeout: int,
    dns_answers: dict[str, Sequence[str]],
) -> NoisyWebhooks:
    """A's webhooks (each on its own receiver, which never parses bodies), their names
    looked up through the DNS server answering `dns_answers`. The dead first address lasts
    as long as `stack`."""
    hooks: list[tuple[str, str, Mapping[str, Any]]] = []
    quiet = {"count_pairs": False, "head_limit": _HEAD_LIMIT}
    for n in range(SLOW_ENDPOINTS):
        slow = await a.receiver(delay=float(timeout), **quiet)  # ~at the timeout
        hooks.append((f"slow-{n}", slow.url, MATCHING))
    nul = await a.receiver(fault=Fault.NUL_500, fault_rate=1.0, **quiet)
    nul.faulty = True
    hooks.append(("nul-500", nul.url, MATCHING))
    live = await a.receiver(**quiet)
    stack.enter_context(dead_address(DEAD_FIRST_ADDRESSES[0], live.port))
    hooks.append(("dead-first", f"http://{DEAD_FIRST}:{live.port}/hook", MATCHING))
    for n in range(BLACK_HOLE_NAMES):
        hooks.append((f"black-hole-{n}", f"http://n{n}{BLACK_HOLE}:{live.port}/hook", MATCHING))
    hooks.append(("over-budget", live.url, OVER_BUDGET))
    # At once: creating a black-hole one waits for its lookup to time out.
    await asyncio.gather(
        *(a.webhook_to(url, name, timeout=timeout, conditions=cond) for name, url, cond in hooks)
    )
    return NoisyWebhooks(len(hooks) - 1, a.receivers, dns_answers)


@dataclass
class PoisonPublisher:
    """Publishes batches of poison events as account A until stopped."""

    a: Deployment
    run: str
    batch: int
    pause: float
    accepted: list[str] = field(default_factory=list)  # event ids
    refused: dict[int, int] = field(default_factory=dict)

    async def publish(self, stop: asyncio.Event) -> None:
        data = json.dumps(poison_data(), separators=(",", ":"), ensure_ascii=False)
        # Encoded once: the runner's loop also times B, and a 2 MB json.dumps would show.
        head = f'{{"event":"media_available","site_id":"{self.a.site_id}","media_id":"MDPOISON"'
        timeout = aiohttp.ClientTimeout(total=60)
        headers = {"Authorization": f"Bearer {self.a.api_key}", "Content-Type": "application/json"}
        numbers = itertools.count()
        async with aiohttp.ClientSession(timeout=timeout, headers=headers) as client:
            while not stop.is_set():
                ids = [f"{self.run}-{next(numbers)}" for _ in range(self.batch)]
                events = [f'{head},"event_id":"{event_id}","data":{data}}}' for event_id in ids]
                body = ('{"events":[' + ",".join(events) + "]}").encode()
                await self._post(client, body, ids)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.pause)

    async def _post(self, client: aiohttp.ClientSession, body: bytes, ids: list[str]) -> None:
        url = self.a.api_urls()[0] + "/v2/events/"
        try:
            async with client.post(url, data=body) as response:
                await response.read()
                status = response.status
        except (aiohttp.ClientError, OSError, TimeoutError):
            status = 0  # no answer
        if status == 202:
            self.accepted += ids
        else:
            self.refused[status] = self.refused.get(status, 0) + 1


# --- B ---------------------------------------------------------------------------------------


@dataclass
class SteadyPublisher:
    """Publishes one event per request at a steady rate (open loop: a slow answer does not
    slow the next request down), recording when each request was sent."""

    b: Deployment
    run: str
    rate: float
    rng: random.Random
    sent: dict[str, float] = field(default_factory=dict)  # event id -> when its POST began
    _numbers: itertools.count[int] = field(default_factory=itertools.count)

    async def publish_for(self, seconds: float) -> list[str]:
        """Publishes for `seconds`; returns the ids of the events it sent, once all their
        requests were answered (or given up)."""
        began, ids = time.monotonic(), []
        tasks: set[asyncio.Task[None]] = set()
        timeout = aiohttp.ClientTimeout(total=30)
        headers = {"Authorization": f"Bearer {self.b.api_key}"}
        async with aiohttp.ClientSession(timeout=timeout, headers=headers) as client:
            for n in itertools.count():
                at = began + n / self.rate
                if at - began >= seconds:
                    break
                await asyncio.sleep(max(0.0, at - time.monotonic()))
                event = make_event(self.run, next(self._numbers), self.b.site_id, self.rng)
                ids.append(event["event_id"])
                self.sent[event["event_id"]] = time.monotonic()
                self.b.ledger.offer(event)
                task = asyncio.create_task(self._publish(client, event))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            await asyncio.gather(*tasks)
        return ids

    async def _publish(self, client: aiohttp.ClientSession, event: dict[str, Any]) -> None:
        ledger = self.b.ledger
        for _ in range(20):  # bounded: a refused or unanswered request is tried again
            urls = self.b.api_urls()
            try:
                async with client.post(urls[0] + "/v2/events/", json={"events": [event]}) as r:
                    status, body = r.status, await r.text()
            except (aiohttp.ClientError, OSError, TimeoutError):
                ledger.unknown += 1
                await asyncio.sleep(0.2)
                continue
            if status == 202:
                ledger.accept(event["event_id"], time.monotonic())
                return
            ledger.refused[status] += 1
            if status != 503:
                ledger.violation(f"B's publish answered {status}: {body[:200]!r}")
                return
            await asyncio.sleep(0.2)


def latencies(ledger: Ledger, sent: Mapping[str, float], ids: Sequence[str]) -> dict[str, Any]:
    """B's publish-to-receipt seconds for `ids` (p50, p99, max) and how many arrived; and
    the two parts of the p99: send to 202 (publishing), 202 to receipt (delivering)."""
    pairs = [
        (event_id, hook)
        for event_id in ids
        for hook in ledger.matching.get(event_id, ())
        if (event_id, hook) in ledger.first_ack
    ]
    total = sorted(ledger.first_ack[pair] - sent[pair[0]] for pair in pairs)
    figures: dict[str, Any] = {"sent": len(ids), "received": len(total)}
    if total:
        answered = [(e, h) for e, h in pairs if e in ledger.accepted]
        publishing = sorted(ledger.accepted[e] - sent[e] for e, _ in answered) or [math.nan]
        delivering = sorted(ledger.first_ack[(e, h)] - ledger.accepted[e] for e, h in answered)
        figures.update(
            p50_s=round(_quantile(total, 0.50), 4),
            p99_s=round(_quantile(total, 0.99), 4),
            max_s=round(total[-1], 4),
            publish_p99_s=round(_quantile(publishing, 0.99), 4),
            deliver_p99_s=round(_quantile(delivering or [math.nan], 0.99), 4),
        )
    return figures


def _quantile(ordered: Sequence[float], q: float) -> float:
    """The nearest-rank quantile: the smallest value with at least q of them at or below."""
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def loop_seconds(pids: Sequence[int]) -> tuple[float, float]:
    """For the processes' main threads (where the event loop runs): seconds on a CPU, and
    seconds spent ready to run but waiting for one (the kernel's schedstat; a process that
    is gone counts 0). The second is what a machine too busy to run the loop costs it."""
    return _schedstat([f"/proc/{pid}/schedstat" for pid in pids])


def process_seconds(pids: Sequence[int]) -> tuple[float, float]:
    """The same for every thread of the processes: `serve`'s delivery loop runs on a thread
    of its own (cli/delivery_thread.py), and its SQLite commits and DNS lookups on helper
    threads, none of which the main thread's figures include. On SQLite with A active the
    main thread ran 0.03-0.04 s per s and waited 0.38-0.44 s: it looked idle, while the
    process as a whole ran 0.15 s per s and waited 1.3 s for a CPU (docs/reliability.md,
    "Noisy neighbour"). A thread that ended between two readings is not counted."""
    return _schedstat([task for pid in pids for task in glob.glob(f"/proc/{pid}/task/*/schedstat")])


def _schedstat(paths: Sequence[str]) -> tuple[float, float]:
    on_cpu = waiting = 0
    for path in paths:
        with contextlib.suppress(OSError, ValueError):
            with open(path) as stat:
                ran, waited, _slices = stat.read().split()
            on_cpu, waiting = on_cpu + int(ran), waiting + int(waited)
    return on_cpu / 1e9, waiting / 1e9


# --- what A cost HookCast -----------------------------------------------------------------------

_ATTEMPTS = (
    "SELECT w.name, coalesce(a.error, 'HTTP ' || a.status_code), count(a.id)"
    " FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id"
    " JOIN attempts a ON a.delivery_id = d.id"
    " WHERE d.account_id = {param} GROUP BY 1, 2 ORDER BY 1, 2"
)


async def attempts_of(database_url: str, account_id: str) -> dict[str, dict[str, int]]:
    """Per webhook name of the account: its attempts recorded, counted by outcome (the
    error, or `HTTP <status>`)."""
    found: dict[str, dict[str, int]] = {}
    for hook, outcome, count in await tenants.fetch(database_url, _ATTEMPTS, account_id):
        found.setdefault(str(hook), {})[str(outcome)] = int(count)
    return found
