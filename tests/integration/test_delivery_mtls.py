"""Mutual TLS against a loopback TLS server that demands a client certificate from its own
CA: HookCast presents a webhook's certificate and is let in; without one, or with one the
server's CA did not issue, it is refused, and a connection that presented one tenant's
certificate is never reused for a request without it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from raw_servers import BODY, OK, answer, open_sender, raw_server

from hookcast.domain.models import ClientCertificate
from hookcast.ports import OutboundRequest
from hookcast.services.client_certificates import parse_client_certificate
from support.certificates import ClientPem, Pki, make_pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("mtls"))


def _certificate(pem: ClientPem) -> ClientCertificate:
    parsed = parse_client_certificate(pem.as_metadata(), now=datetime.now(UTC))
    assert parsed is not None
    return parsed


def _request(port: int, certificate: ClientCertificate | None) -> OutboundRequest:
    return OutboundRequest(
        url=f"https://localhost:{port}/hooks",
        body=BODY,
        headers={"Content-Type": "application/json"},
        timeout_seconds=3.0,
        client_certificate=certificate,
    )


async def test_a_server_demanding_a_client_certificate_takes_the_webhooks_one(pki: Pki) -> None:
    async with (
        raw_server(answer(OK), tls=pki.server_context(require_client=True)) as server,
        open_sender(ca_file=str(pki.ca_file)) as sender,
    ):
        outcome = await sender.send(_request(server.port, _certificate(pki.client())))

    assert (outcome.status_code, outcome.error) == (200, None)
    assert len(server.requests) == 1


async def test_without_a_client_certificate_the_same_server_refuses_the_delivery(
    pki: Pki,
) -> None:
    async with (
        raw_server(answer(OK), tls=pki.server_context(require_client=True)) as server,
        open_sender(ca_file=str(pki.ca_file)) as sender,
    ):
        outcome = await sender.send(_request(server.port, None))

    assert outcome.status_code is None
    assert outcome.error is not None
    assert server.requests == []  # no request reached the application


async def test_a_connection_that_presented_a_certificate_serves_no_other_request(
    pki: Pki,
) -> None:
    # The pool keeps keep-alive connections per origin: were the authenticated one reused,
    # a webhook of another tenant to the same URL would ride this tenant's identity.
    async with (
        raw_server(answer(OK), tls=pki.server_context(require_client=True)) as server,
        open_sender(ca_file=str(pki.ca_file)) as sender,
    ):
        with_certificate = await sender.send(_request(server.port, _certificate(pki.client())))
        without = await sender.send(_request(server.port, None))

    assert with_certificate.status_code == 200
    assert without.status_code is None
    assert len(server.requests) == 1


async def test_a_certificate_from_another_ca_is_refused(pki: Pki, tmp_path: Path) -> None:
    stranger = make_pki(tmp_path).client("someone-else")
    async with (
        raw_server(answer(OK), tls=pki.server_context(require_client=True)) as server,
        open_sender(ca_file=str(pki.ca_file)) as sender,
    ):
        outcome = await sender.send(_request(server.port, _certificate(stranger)))

    assert outcome.status_code is None
    assert server.requests == []


async def test_the_extra_ca_bundle_is_what_lets_the_server_certificate_through(
    pki: Pki,
) -> None:
    async with (
        raw_server(answer(OK), tls=pki.server_context(require_client=False)) as server,
        open_sender() as sender,
    ):
        outcome = await sender.send(_request(server.port, None))

    assert outcome.error is not None
    assert outcome.error.startswith("TLS certificate of localhost refused")
