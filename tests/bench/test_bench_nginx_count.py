"""The throughput receiver's count is exact: what nginx logged in a stretch, read the moment
the stretch ends (its access log is buffered), is every request it answered, duplicates and
unsigned requests told apart."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from pathlib import Path

import pytest
from benchmarks.nginx import Nginx, nginx_binary
from benchmarks.procs import HOST, Children

pytestmark = pytest.mark.skipif(nginx_binary() is None, reason="nginx is not installed")


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[Nginx]:
    children = Children(tmp_path)
    try:
        yield Nginx(children, tmp_path)
    finally:
        children.stop_all()


def _post(connection: http.client.HTTPConnection, path: str, headers: dict[str, str]) -> None:
    connection.request("POST", path, body=b"{}", headers=headers)
    response = connection.getresponse()
    response.read()
    assert response.status == 204


def test_a_stretch_counts_every_request_nginx_answered_at_once(nginx: Nginx) -> None:
    connection = http.client.HTTPConnection(HOST, nginx.port, timeout=10)
    signed = {"X-Hookcast-Signature": "00"}
    with nginx.stretch("first") as first:
        for number in range(500):
            _post(connection, "/hook/0", {"webhook-id": f"d{number}", **signed})
        _post(connection, "/hook/0", {"webhook-id": "d7", **signed})  # sent twice
        _post(connection, "/hook/1", {"webhook-id": "d7"})  # another webhook, unsigned
    with nginx.stretch("second") as second:
        _post(connection, "/hook/0", {"webhook-id": "e1", **signed})
    connection.close()

    (arrived,) = first
    assert (arrived.requests, arrived.distinct, arrived.duplicates) == (502, 501, 1)
    assert arrived.unsigned == 1
    # The next stretch starts from an empty log: nothing of the first is counted again.
    assert (second[0].requests, second[0].distinct) == (1, 1)
