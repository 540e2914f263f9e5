"""Fixtures for the integration tests; the helpers they use are in harness.py."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from delivery_harness import Deployment
from harness import Api, open_api


@pytest.fixture
async def api(database_url: str) -> AsyncIterator[Api]:
    """The in-process app on a fresh database (SQLite and PostgreSQL), with an admin key."""
    async with open_api(database_url) as opened:
        yield opened


@pytest.fixture
async def hookcast(database_url: str) -> AsyncIterator[Deployment]:
    """A HookCast deployment (runtime, receivers, webhooks) on a fresh database; modules that
    need SQLite only override it."""
    async with Deployment.open(database_url) as deployment:
        yield deployment
