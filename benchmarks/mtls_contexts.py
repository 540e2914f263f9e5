"""python -m benchmarks.mtls_contexts: what a new mutual-TLS client certificate costs.

Two figures, each as main did it beside how it is done now, in interleaved rounds:

- the time to make one client context: `ssl.create_default_context()` plus the certificate
  (main) against delivery.tls_trust's context plus the certificate;
- the delivery loop's longest stall while `--certificates` new certificates are asked for at
  once (an editor rotating every webhook's certificate, then one publish): main made each
  context on the loop; now TlsContexts makes them in its worker thread. A ticker coroutine
  measures the gaps between its turns.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import ssl
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from benchmarks.config import TESTS
from hookcast.delivery.tls import TlsContexts, _load_client_certificate
from hookcast.delivery.tls_trust import decide_client_trust
from hookcast.domain.models import ClientCertificate
from hookcast.services.client_certificates import parse_client_certificate


def _certificates(count: int) -> list[ClientCertificate]:
    """`count` client certificates of one test CA (the suite's, tests/support), as the API
    stores them."""
    sys.path.insert(0, str(TESTS))
    from support.certificates import make_pki  # type: ignore[import-not-found,unused-ignore]

    now = datetime.datetime.now(datetime.UTC)
    with tempfile.TemporaryDirectory(prefix="hookcast-mtls-") as directory:
        pki = make_pki(Path(directory))
    made = []
    for n in range(count):
        parsed = parse_client_certificate(pki.client(f"client-{n}").as_metadata(), now=now)
        assert parsed is not None
        made.append(parsed)
    return made


def _main_build(certificate: ClientCertificate) -> ssl.SSLContext:
    context = ssl.create_default_context()
    _load_client_certificate(context, certificate)
    return context


def _per_context_ms(
    build: Callable[[ClientCertificate], object], certs: Sequence[ClientCertificate]
) -> float:
    started = time.perf_counter()
    for certificate in certs:
        build(certificate)
    return (time.perf_counter() - started) / len(certs) * 1000


async def _worst_gap_ms(work: Callable[[], object]) -> tuple[float, float]:
    """The longest gap between a ticker's turns while `work` runs, and the work's time."""
    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticking = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    started = time.perf_counter()
    result = work()
    if asyncio.iscoroutine(result):
        await result
    elapsed = time.perf_counter() - started
    done.set()
    await ticking
    return max(gaps) * 1000, elapsed * 1000


async def _stalls(certs: Sequence[ClientCertificate]) -> list[tuple[float, float]]:
    """(worst gap, time) for: main's way, the worker thread's, and no work (the machine's
    own scheduling noise over a window as long as the worker's run)."""

    def on_the_loop() -> None:
        for certificate in certs:
            _main_build(certificate)

    contexts = TlsContexts()
    await contexts.for_client(account="warm", key="warm", certificate=certs[0])  # trust decided

    async def off_the_loop() -> None:
        await asyncio.gather(
            *(contexts.for_client(account="a", key=c.fingerprint, certificate=c) for c in certs)
        )

    try:
        main, now = await _worst_gap_ms(on_the_loop), await _worst_gap_ms(off_the_loop)
        idle = await _worst_gap_ms(lambda: asyncio.sleep(now[1] / 1000))
        return [main, now, idle]
    finally:
        contexts.close()


def _line(name: str, values: Sequence[float]) -> str:
    spread = f"{min(values):.2f}-{max(values):.2f}, n={len(values)}"
    return f"{name}: median {statistics.median(values):.2f} ms ({spread})"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--certificates", type=int, default=20)
    args = parser.parse_args(argv)
    certs = _certificates(args.certificates)
    trust = decide_client_trust(ca_file=None)
    print(f"trust: capath={trust.capath}")

    def now_build(certificate: ClientCertificate) -> None:
        _load_client_certificate(trust.new_context(), certificate)

    main_ms, now_ms, ratios = [], [], []
    gaps: list[list[float]] = [[], [], []]
    totals: list[list[float]] = [[], [], []]
    for _ in range(args.rounds):
        main_ms.append(_per_context_ms(_main_build, certs))
        now_ms.append(_per_context_ms(now_build, certs))
        ratios.append(main_ms[-1] / now_ms[-1])
        for n, (gap, total) in enumerate(asyncio.run(_stalls(certs))):
            gaps[n].append(gap)
            totals[n].append(total)
    print(_line("context, main", main_ms))
    print(_line("context, now", now_ms))
    print(f"ratio main/now per round: {', '.join(f'{r:.0f}x' for r in ratios)}")
    new = f"{args.certificates} new certificates"
    print(_line(f"loop's worst stall, {new}, main", gaps[0]))
    print(_line(f"loop's worst stall, {new}, now", gaps[1]))
    print(_line("loop's worst stall, no work, as long", gaps[2]))
    print(_line(f"all {new} made, main", totals[0]))
    print(_line(f"all {new} made, now", totals[1]))


if __name__ == "__main__":
    main()
