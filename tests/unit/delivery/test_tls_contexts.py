"""Mutual-TLS contexts: made off the delivery loop, once per identity however many deliveries
ask at the same time, and kept per account so one tenant rotating certificates cannot push
out another's."""

from __future__ import annotations

import asyncio
import ssl
import threading
from datetime import UTC, datetime

import pytest

from hookcast.delivery.tls import TlsContexts
from hookcast.domain.models import ClientCertificate


def _certificate(name: str) -> ClientCertificate:
    return ClientCertificate(
        certificate_pem=f"cert {name}",
        private_key_pem=f"key {name}",
        fingerprint=name,
        subject=f"CN={name}",
        issuer="CN=test",
        not_after=datetime(2030, 1, 1, tzinfo=UTC),
    )


class Builder:
    """A ContextBuilder counting what it was asked to make; `gate` (if set) holds every
    build until released, and `started` tells the loop a build has begun."""

    def __init__(self, *, gate: threading.Event | None = None) -> None:
        self.gate = gate
        self.built: list[str] = []
        self.started: asyncio.Event | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    def __call__(self, certificate: ClientCertificate) -> ssl.SSLContext:
        assert threading.current_thread() is not threading.main_thread()
        self.built.append(certificate.fingerprint)
        if self.gate is not None:
            assert self.loop is not None
            assert self.started is not None
            self.loop.call_soon_threadsafe(self.started.set)
            assert self.gate.wait(timeout=10)
        return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


async def test_the_delivery_loop_keeps_running_while_a_context_is_made() -> None:
    gate = threading.Event()
    builder = Builder(gate=gate)
    builder.loop, builder.started = asyncio.get_running_loop(), asyncio.Event()
    contexts = TlsContexts(build=builder)
    try:
        first = asyncio.create_task(
            contexts.for_client(account="a", key="k", certificate=_certificate("k"))
        )
        second = asyncio.create_task(
            contexts.for_client(account="a", key="k", certificate=_certificate("k"))
        )
        # Set from the worker thread while it is held by the gate: the loop is free.
        await builder.started.wait()

        async def other_delivery() -> str:
            return "sent"

        assert await asyncio.create_task(other_delivery()) == "sent"
        assert not first.done()
        assert not second.done()
        gate.set()
        made = await first
        assert await second is made
    finally:
        gate.set()
        contexts.close()
    assert builder.built == ["k"]  # the same identity asked twice at once is made once


async def test_one_accounts_certificate_churn_does_not_evict_another_accounts_context() -> None:
    builder = Builder()
    contexts = TlsContexts(build=builder)
    try:
        quiet = await contexts.for_client(account="quiet", key="q", certificate=_certificate("q"))
        for n in range(300):  # more than the whole cache holds
            name = f"churn-{n}"
            await contexts.for_client(account="busy", key=name, certificate=_certificate(name))
        again = await contexts.for_client(account="quiet", key="q", certificate=_certificate("q"))
        recent = await contexts.for_client(
            account="busy", key="churn-299", certificate=_certificate("churn-299")
        )
        oldest = await contexts.for_client(
            account="busy", key="churn-0", certificate=_certificate("churn-0")
        )
    finally:
        contexts.close()
    assert again is quiet
    assert builder.built.count("q") == 1
    assert builder.built.count("churn-299") == 1  # the busy account keeps its recent ones
    assert builder.built.count("churn-0") == 2  # and evicts its own oldest
    assert recent is not oldest


async def test_a_failed_build_reaches_the_delivery_and_is_tried_again_next_time() -> None:
    attempts: list[str] = []

    def failing_once(certificate: ClientCertificate) -> ssl.SSLContext:
        attempts.append(certificate.fingerprint)
        if len(attempts) == 1:
            raise ssl.SSLError("bad key")
        return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)

    contexts = TlsContexts(build=failing_once)
    try:
        with pytest.raises(ssl.SSLError):
            await contexts.for_client(account="a", key="k", certificate=_certificate("k"))
        made = await contexts.for_client(account="a", key="k", certificate=_certificate("k"))
    finally:
        contexts.close()
    assert isinstance(made, ssl.SSLContext)
    assert attempts == ["k", "k"]
