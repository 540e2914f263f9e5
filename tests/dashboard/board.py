"""Helpers for the dashboard tests (the `board` fixture is in conftest.py).

The dashboard in-process: the real app (API + dashboard) on a fresh SQLite database, driven
through httpx's ASGI transport like a browser without JavaScript (cookies, forms, redirects).

Store behaviour is covered on both databases by tests/contract; these tests are about the
pages, so one backend is enough.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx

from hookcast.cli.runtime import Runtime
from hookcast.domain.models import Role, Webhook
from hookcast.services import Caller

BASE_URL = "http://hookcast.test"
# A public IP literal: the create-time URL check needs no DNS, and no test connects to it.
WEBHOOK_URL = "https://93.184.215.14/hooks"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Board:
    runtime: Runtime
    client: httpx.AsyncClient
    account_id: str
    admin: str
    signing_key: bytes

    async def key(self, role: Role, account_id: str | None = None) -> str:
        issued = await self.runtime.services.accounts.issue_key(
            account_id or self.account_id, role=role
        )
        return issued.secret

    async def sign_in(self, secret: str) -> httpx.Response:
        """Signs in as a browser would: load the form, post it back with its token."""
        self.client.cookies.clear()
        form = await self.client.get("/")
        return await self.client.post(
            "/signin", data={"api_key": secret, "csrf": csrf_of(form), "next": "/webhooks"}
        )

    async def csrf(self) -> str:
        return csrf_of(await self.client.get("/webhooks"))

    async def post(self, path: str, data: dict[str, Any] | None = None) -> httpx.Response:
        """A form post with the session's CSRF token."""
        return await self.client.post(path, data={"csrf": await self.csrf(), **(data or {})})

    async def site(self, site_id: str = "1A23bCD4", account_id: str | None = None) -> str:
        operator = Caller(account_id or self.account_id, Role.ADMIN)
        return (
            await self.runtime.services.sites.create(operator, name="Main site", site_id=site_id)
        ).id

    async def webhook(self, site_id: str, account_id: str | None = None, **extra: Any) -> Webhook:
        operator = Caller(account_id or self.account_id, Role.ADMIN)
        metadata = {
            "name": "Encoder hook",
            "webhook_url": WEBHOOK_URL,
            "events": ["media_available"],
            "site_ids": [site_id],
            **extra,
        }
        return await self.runtime.services.webhooks.create(operator, metadata)


def csrf_of(response: httpx.Response) -> str:
    found = _CSRF.search(response.text)
    assert found, f"no CSRF field on the page ({response.status_code})"
    return found.group(1)


def admin_of(board: Board) -> Caller:
    return Caller(board.account_id, Role.ADMIN)
