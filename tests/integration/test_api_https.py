"""HTTPS: HSTS on every answer given over HTTPS (API and dashboard), and none over plain
HTTP, where a browser would ignore it and a local set-up must keep working."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from harness import Api, open_api

HSTS = "Strict-Transport-Security"


@pytest.fixture
async def api(database_url: str) -> Any:
    if not database_url.startswith("sqlite"):
        pytest.skip("exercises the HTTP layer, not the database: SQLite is enough")
    async with open_api(database_url) as opened:
        yield opened


@pytest.mark.parametrize("path", ["/healthz", "/v2/webhooks/", "/", "/openapi.json"])
async def test_hsts_is_sent_over_https_only(api: Api, path: str) -> None:
    transport = httpx.ASGITransport(app=api.runtime.app(with_worker=False))
    async with httpx.AsyncClient(transport=transport, base_url="https://hookcast.test") as tls:
        secure = await tls.get(path, headers={"Authorization": api.admin})
    assert secure.headers[HSTS] == "max-age=31536000"
    plain = await api.call("GET", path)
    assert HSTS not in plain.headers
