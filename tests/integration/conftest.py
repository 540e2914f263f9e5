"""Fixtures for the integration tests; the helpers they use are in harness.py."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from harness import Api, open_api


@pytest.fixture
async def api(database_url: str) -> AsyncIterator[Api]:
    """The in-process app on a fresh database (SQLite and PostgreSQL), with an admin key."""
    async with open_api(database_url) as opened:
        yield opened
