"""Who is calling: API keys hashed at rest, callers scoped to one account and one role."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from hookcast.domain.errors import Forbidden, Unauthorized
from hookcast.domain.models import Permission, Role, role_allows
from hookcast.ports import Store


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated principal. Every use-case takes one and checks its permission."""

    account_id: str
    role: Role
    key_id: str | None = None
    # A customer in the portal: scoped to webhooks and deliveries whatever its role, so it
    # never creates, renames or deletes the platform's properties, keys or settings.
    portal: bool = False

    def require(self, permission: Permission) -> None:
        if self.portal and permission in _PLATFORM_ONLY:
            raise Forbidden(f"a portal session may not {_VERBS[permission]}")
        if not role_allows(self.role, permission):
            raise Forbidden(f"the {self.role.value} role may not {_VERBS[permission]}")

    def may(self, permission: Permission) -> bool:
        if self.portal and permission in _PLATFORM_ONLY:
            return False
        return role_allows(self.role, permission)


_PLATFORM_ONLY = frozenset({Permission.PLATFORM, Permission.ADMIN})


_VERBS = {
    Permission.READ: "read this account",
    Permission.PUBLISH: "publish events",
    Permission.WRITE: "change webhooks, properties or deliveries",
    Permission.PLATFORM: "create, rename or delete properties or change the account's settings",
    Permission.ADMIN: "manage API keys or reveal secrets",
}


def hash_secret(secret: str) -> str:
    """API key secrets are high-entropy random strings, so one SHA-256 is the right hash:
    a slow password hash would only slow every request without adding safety."""
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_authorization(header: str | None) -> str:
    """The secret from `Authorization: <secret>` (JW Player's curl) or `Bearer <secret>`."""
    if not header or not header.strip():
        raise Unauthorized("missing Authorization header: send 'Authorization: <API secret>'")
    value = header.strip()
    scheme, _, rest = value.partition(" ")
    if scheme.lower() == "bearer" and rest.strip():
        return rest.strip()
    return value


class AuthService:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def authenticate(self, authorization: str | None) -> Caller:
        secret = parse_authorization(authorization)
        key = await self._store.find_api_key(hash_secret(secret))
        if key is None:
            raise Unauthorized("invalid API key")
        return Caller(account_id=key.account_id, role=key.role, key_id=key.id)

    async def resume(self, account_id: str, key_id: str) -> Caller:
        """The caller behind a key already authenticated once (a dashboard session), if the
        key still exists: revoking a key ends every session opened with it."""
        for key in await self._store.list_api_keys(account_id):
            if key.id == key_id:
                return Caller(account_id=key.account_id, role=key.role, key_id=key.id)
        raise Unauthorized("the API key of this session was revoked")

    async def sign_out(
        self, caller: Caller, session_id: str, *, expires: datetime, now: datetime
    ) -> None:
        """Ends the caller's dashboard session on every server, although its cookie stays
        valid until `expires`: a copy of the cookie is refused from now on."""
        await self._store.sign_out_session(caller.account_id, session_id, expires=expires, now=now)

    async def signed_out(self, session_id: str) -> bool:
        """Whether the dashboard session `session_id` was signed out."""
        return await self._store.is_signed_out(session_id)
