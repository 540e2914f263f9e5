"""Dashboard sessions: who is signed in, kept in a signed cookie, with a CSRF token.

The cookie holds the account, role and API key id (never the key's secret), a random
per-session CSRF token and an expiry. It is HttpOnly (no script reads it) and SameSite=Lax
(other sites' forms do not send it); every POST must also carry the CSRF token in its body.

A portal session that other origins may frame is the exception: a browser never sends a
SameSite=Lax cookie to a page in a cross-site iframe, so its cookie is SameSite=None, Secure
(browsers keep Secure cookies over HTTPS, and over http://localhost or 127.0.0.1) and
Partitioned (CHIPS: stored under the framing site, so it works where third-party cookies are
blocked, and no other site's frame of the portal shares it).
Other sites' forms then do send it, and the CSRF token in every POST is what refuses them:
it is random per session, lives in the signed cookie and the page, and no other origin can
read either.
Signing out records the session's id in the database (store/sessions.py): every server
refuses a copy of the cookie from then on.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from starlette.requests import Request
from starlette.responses import Response

from hookcast import tokens
from hookcast.domain.models import Role

__all__ = [
    "COOKIE",
    "SESSION_LENGTH",
    "SIGNIN_COOKIE",
    "Session",
    "clear_cookie",
    "read_session",
    "same_token",
    "set_cookie",
]

COOKIE = "hookcast_session"
SIGNIN_COOKIE = "hookcast_signin"  # double-submit token of the sign-in form (login CSRF)
SESSION_LENGTH = timedelta(hours=12)
_PURPOSE = "session"


@dataclass(frozen=True, slots=True)
class Session:
    account_id: str
    role: Role
    key_id: str  # the API key signed in with, or for a portal link, the admin key that made it
    csrf: str
    expires: datetime
    portal: bool = False
    frame_ancestors: tuple[str, ...] = ()  # a portal session's framing origins
    # A portal session's colour scheme as its link's `?theme=` fixed it ("light" or "dark"),
    # else "" (the reader's system decides).
    theme: str = ""

    @property
    def id(self) -> str:
        """What the server knows a session by once signed out: a digest of its random CSRF
        token (the token itself, which forms must carry, is never stored)."""
        return hashlib.sha256(f"hookcast-session.{self.csrf}".encode()).hexdigest()

    @classmethod
    def start(
        cls,
        *,
        account_id: str,
        role: Role,
        key_id: str,
        expires: datetime,
        portal: bool = False,
        frame_ancestors: tuple[str, ...] = (),
        theme: str = "",
    ) -> Session:
        csrf = secrets.token_urlsafe(32)
        return cls(account_id, role, key_id, csrf, expires, portal, frame_ancestors, theme)


def read_session(
    request: Request, *, key: bytes, now: datetime, previous: Sequence[bytes] = ()
) -> Session | None:
    """The request's session if its cookie is genuine (signed with `key` or one of the
    `previous` keys) and unexpired, else None."""
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    try:
        claims = tokens.verify(key, purpose=_PURPOSE, token=token, now=now, previous=previous)
        return Session(
            account_id=str(claims["a"]),
            role=Role(claims["r"]),
            key_id=str(claims["k"]),
            csrf=str(claims["c"]),
            expires=datetime.fromtimestamp(claims["x"], now.tzinfo),
            portal=bool(claims.get("p")),
            frame_ancestors=tuple(str(origin) for origin in claims.get("f", ())),
            theme=str(claims.get("t", "")),
        )
    except (tokens.InvalidToken, KeyError, ValueError):
        return None


def set_cookie(
    response: Response, *, key: bytes, session: Session, now: datetime, secure: bool
) -> None:
    claims: dict[str, object] = {
        "a": session.account_id,
        "r": session.role.value,
        "k": session.key_id,
        "c": session.csrf,
        "p": int(session.portal),
    }
    if session.frame_ancestors:
        claims["f"] = list(session.frame_ancestors)
    if session.theme:
        claims["t"] = session.theme
    value = tokens.sign(key, purpose=_PURPOSE, claims=claims, expires=session.expires)
    response.set_cookie(
        COOKIE,
        value,
        max_age=max(0, int((session.expires - now).total_seconds())),
        path="/",
        httponly=True,
        # Framed by another site: sent only if SameSite=None, which browsers require Secure.
        samesite="none" if session.frame_ancestors else "lax",
        secure=secure or bool(session.frame_ancestors),
    )
    if session.frame_ancestors:
        _partitioned(response)


def clear_cookie(response: Response, *, framed: bool = False) -> None:
    """Deletes the session cookie (`framed`: as a framed portal session's, which a browser
    accepts in a cross-site iframe)."""
    if framed:
        response.set_cookie(
            COOKIE,
            "",
            max_age=0,
            path="/",
            httponly=True,
            samesite="none",
            secure=True,
            partitioned=True,
        )
    else:
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax")


def _partitioned(response: Response) -> None:
    """Marks the cookie just set Partitioned (CHIPS): kept per top-level site, so browsers
    that block third-party cookies (Chromium's incognito profiles, Safari, Firefox) still
    keep it in the platform's frame. By hand: Python's http.cookies knows the attribute only
    from 3.14 on."""
    name, value = response.raw_headers[-1]
    response.raw_headers[-1] = (name, value + b"; Partitioned")


def same_token(given: object, expected: str) -> bool:
    """Constant-time comparison of a submitted CSRF token with the expected one."""
    return isinstance(given, str) and bool(given) and hmac.compare_digest(given, expected)
