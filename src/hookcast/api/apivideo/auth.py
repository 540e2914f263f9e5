"""Who is calling the api.video API: HTTP Basic with an API key, or a Bearer access token.

The tokens `/auth/api-key` and `/auth/refresh` hand out are stateless: signed
(hookcast.tokens) with a key derived from the server's secret key, so every server of a
deployment accepts them; they carry the account, the API key's id and an expiry, never a
secret. Each request still asks the store whether that key exists (`AuthService.resume`):
revoking a key ends its tokens at once, on every server, and the role is the key's own.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from hookcast import tokens
from hookcast.api.apivideo.problems import Problem, ProblemError
from hookcast.domain.errors import Unauthorized
from hookcast.ports import Clock
from hookcast.services import Caller, Services

__all__ = ["ACCESS_LIFETIME", "REFRESH_LIFETIME", "Authenticator", "IssuedTokens", "random_key"]

ACCESS_LIFETIME = timedelta(hours=1)  # api.video's expires_in: 3600
# The official Python client refreshes an hour's token ten seconds before it ends, for as
# long as it runs; a month leaves room for a client asleep over a weekend.
REFRESH_LIFETIME = timedelta(days=30)
_ACCESS = "apivideo-access"
_REFRESH = "apivideo-refresh"  # another purpose: a refresh token is no access token

_BAD_CREDENTIALS = ProblemError(
    400,
    [Problem("authentication-invalid-user-credentials", "The user credentials were incorrect.")],
)


def random_key() -> bytes:
    """A token key of this process alone (an app built without the server's secret key, as
    in tests): its tokens are refused by any other process."""
    return secrets.token_bytes(32)


@dataclass(frozen=True, slots=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    expires_in: int  # seconds


class Authenticator:
    """Turns an API key, a refresh token or an Authorization header into a `Caller`, and
    issues tokens to one."""

    def __init__(self, services: Services, *, key: bytes, clock: Clock) -> None:
        # The services, not their AuthService: an app is also built without any, only to
        # read its OpenAPI document.
        self._services = services
        self._key = key
        self._clock = clock

    async def api_key_holder(self, api_key: str) -> Caller:
        """The caller of a valid API key (tokens are then `issue`d to it); a 400 (as
        api.video answers) for anything else."""
        try:
            return await self._services.auth.authenticate(api_key)
        except Unauthorized:
            raise _BAD_CREDENTIALS from None

    async def refresh_token_holder(self, refresh_token: str) -> Caller:
        """The caller of a genuine, unexpired refresh token whose key still exists."""
        try:
            return await self._resume(refresh_token, purpose=_REFRESH)
        except (tokens.InvalidToken, Unauthorized):
            raise _BAD_CREDENTIALS from None

    async def caller(self, authorization: str | None) -> Caller:
        """The caller of `Authorization: Basic base64(<API key>:)` or `Bearer <access token>`
        (or `Bearer <API key>`, as api.video's own curl examples write it); 401 otherwise."""
        scheme, _, value = (authorization or "").strip().partition(" ")
        value = value.strip()
        if not scheme:
            raise _unauthorized(
                "authentication-missing-authorization-header", "Missing Authorization header."
            )
        if scheme.lower() == "basic" and value:
            return await self._key_caller(_basic_user(value))
        if scheme.lower() != "bearer" or not value:
            raise _unauthorized(
                "authentication-invalid-authorization-header-value",
                "Send 'Authorization: Basic <base64 of API key and colon>' or "
                "'Authorization: Bearer <access token>'.",
            )
        if "." not in value:  # API keys never hold a dot, tokens always do
            return await self._key_caller(value)
        try:
            return await self._resume(value, purpose=_ACCESS)
        except tokens.InvalidToken as exc:
            detail = "has expired" if exc.expired else "is invalid"
            raise _unauthorized(
                "authentication-invalid-access-token", f"The access token {detail}."
            ) from None
        except Unauthorized:
            raise _unauthorized(
                "authentication-invalid-access-token",
                "The API key this access token was issued for was revoked.",
            ) from None

    async def _key_caller(self, api_key: str) -> Caller:
        try:
            return await self._services.auth.authenticate(api_key)
        except Unauthorized:
            raise _unauthorized("authentication-invalid-api-key", "Invalid API key.") from None

    async def _resume(self, token: str, *, purpose: str) -> Caller:
        claims = tokens.verify(self._key, purpose=purpose, token=token, now=self._clock())
        account_id, key_id = claims.get("a"), claims.get("k")
        if not isinstance(account_id, str) or not isinstance(key_id, str):
            raise tokens.InvalidToken("the token is malformed")
        return await self._services.auth.resume(account_id, key_id)

    def issue(self, caller: Caller) -> IssuedTokens:
        """New access and refresh tokens for `caller`, an API key's."""
        assert caller.key_id is not None, "API key callers always have a key id"
        # "j", random: every token issued differs, also two asked for within one second.
        claims = {"a": caller.account_id, "k": caller.key_id, "j": secrets.token_urlsafe(6)}
        now = self._clock()
        return IssuedTokens(
            access_token=self._sign(_ACCESS, claims, now + ACCESS_LIFETIME),
            refresh_token=self._sign(_REFRESH, claims, now + REFRESH_LIFETIME),
            expires_in=int(ACCESS_LIFETIME.total_seconds()),
        )

    def _sign(self, purpose: str, claims: dict[str, str], expires: datetime) -> str:
        return tokens.sign(self._key, purpose=purpose, claims=claims, expires=expires)


def _basic_user(encoded: str) -> str:
    """The user name of Basic credentials: the API key (the password is empty, and ignored)."""
    try:
        decoded = base64.b64decode(encoded, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return ""
    return decoded.partition(":")[0]


def _unauthorized(kind: str, title: str) -> ProblemError:
    return ProblemError(401, [Problem(kind, title)], headers={"WWW-Authenticate": "Basic"})
