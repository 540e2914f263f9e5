"""The `board` fixture: the real app (API + dashboard) on a fresh SQLite database."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from board import BASE_URL, Board

from hookcast.cli.runtime import Runtime, secret_key
from hookcast.config import Settings
from hookcast.dashboard import dashboard_key


@pytest.fixture
async def board(_sqlite_template: Path, tmp_path: Path) -> AsyncIterator[Board]:
    path = tmp_path / "hookcast.db"
    shutil.copyfile(_sqlite_template, path)
    settings = Settings(database_url=f"sqlite:///{path}", secret_key="test-secret-key")
    runtime = await Runtime.open(settings)
    try:
        first = await runtime.services.accounts.bootstrap_admin_key()
        assert first is not None
        app = runtime.app(with_worker=False)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            yield Board(
                runtime=runtime,
                client=client,
                account_id=first.key.account_id,
                admin=first.secret,
                signing_key=dashboard_key(secret_key(settings)),
            )
    finally:
        await runtime.store.close()
