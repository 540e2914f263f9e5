"""What a real `hookcast serve` shows on /metrics when it refuses requests, and when its
SQLite database takes reads but no writes (a full disk)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from harness import SITE_ID, Server, cli_env, serve
from ops_support import Scrape

from chaos import diskfs
from support.waiting import wait_until

EVENT = {"event": "media_available", "site_id": SITE_ID, "media_id": "MNYaMSQl"}
JSON = {"Content-Type": "application/json"}


def _scrape(server: Server) -> Scrape:
    return Scrape(httpx.get(server.url + "/metrics", timeout=10, trust_env=False).text)


def _refused(scrape: Scrape, api: str, status: str, reason: str) -> float:
    return scrape.value("hookcast_api_refused_total", api=api, status=status, reason=reason)


def test_refused_requests_are_counted_by_api_status_and_reason(tmp_path: Path) -> None:
    # A burst of 3, one token back every 1,000 s: the fourth request of the key is refused.
    env = cli_env(
        f"sqlite:///{tmp_path / 'hookcast.db'}",
        HOOKCAST_RATE_LIMIT_PER_SECOND="0.001",
        HOOKCAST_RATE_LIMIT_BURST="3",
    )
    with serve(env, tmp_path) as server:
        admin = {"Authorization": server.admin_key(), **JSON}
        with httpx.Client(base_url=server.url, trust_env=False, timeout=10) as http:
            broken = [http.post("/v2/events/", content=b"{", headers=admin) for _ in range(4)]
            stranger = http.get("/v2/webhooks/")
            apivideo_stranger = http.get("/apivideo/webhooks")
        scrape = _scrape(server)
    assert [answer.status_code for answer in broken] == [400, 400, 400, 429]
    assert (stranger.status_code, apivideo_stranger.status_code) == (401, 401)
    assert _refused(scrape, "publish", "400", "invalid") == 3
    assert _refused(scrape, "publish", "429", "rate_limited") == 1
    assert _refused(scrape, "publish", "503", "unavailable") == 0
    assert _refused(scrape, "management", "401", "unauthenticated") == 1
    assert _refused(scrape, "apivideo", "401", "unauthenticated") == 1
    assert scrape.value("hookcast_database_writable") == 1


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 MB file system to fill (tmpfs or a loop-mounted image: root only)."""
    mount = tmp_path / "disk"
    reason = diskfs.mount_small_fs(mount, 16)
    if reason is not None:
        pytest.skip(reason)
    try:
        yield mount
    finally:
        diskfs.unmount(mount)


def test_a_full_disk_shows_as_refused_publishes_and_a_database_not_writable(
    tmp_path: Path, small_disk: Path
) -> None:
    env = cli_env(f"sqlite:///{small_disk / 'hookcast.db'}")
    with (
        serve(env, tmp_path) as server,
        httpx.Client(base_url=server.url, trust_env=False, timeout=30) as http,
    ):
        admin = {"Authorization": server.admin_key()}
        assert (
            http.post(
                "/v2/sites/", json={"id": SITE_ID, "metadata": {"name": "Main"}}, headers=admin
            ).status_code
            == 201
        )
        ballast = small_disk / "ballast"
        diskfs.fill(ballast)
        batch = {"events": [{**EVENT, "data": {"pad": "x" * 2000}}] * 200}

        def refused() -> httpx.Response | None:
            answer = http.post("/v2/events/", json=batch, headers=admin)
            return answer if answer.status_code == 503 else None

        full = wait_until(refused, timeout=60, message="no publish was refused on a full disk")

        def not_writable() -> Scrape | None:
            scrape = _scrape(server)
            return scrape if scrape.value("hookcast_database_writable") == 0 else None

        scrape = wait_until(not_writable, timeout=60, message="the database stayed writable")
        assert scrape.value("hookcast_database_up") == 1  # reads still work
        assert _refused(scrape, "publish", "503", "unavailable") >= 1
        ballast.unlink()

        def writable() -> bool:
            return _scrape(server).value("hookcast_database_writable") == 1

        wait_until(writable, timeout=60, message="the database never said writable again")
    assert full.headers["Retry-After"]
