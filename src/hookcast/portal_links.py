"""Portal links: a signed, time-limited URL that opens the dashboard for one account with
the editor or viewer role, so a platform can hand its customer a self-service page. A link
may name the origins allowed to frame the portal it opens (a platform embedding it).

Made by the dashboard's Portal links page and by `POST /v2/portal_links/`, so it lives
outside both entry points.

The link carries the account, the role, the admin key that made it and the expiry, all under
one HMAC; nothing is stored, so a link cannot be listed or revoked one by one. Revoking the
admin key that made it ends every link (and every session opened with one).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from hookcast import tokens
from hookcast.domain.errors import ValidationFailed
from hookcast.domain.models import Role
from hookcast.domain.portal import frame_ancestors as valid_frame_ancestors

__all__ = [
    "DURATIONS",
    "PORTAL_ROLES",
    "PortalLink",
    "PortalLinkInvalid",
    "make_link",
    "read_link",
]

_PURPOSE = "portal"
PORTAL_ROLES = (Role.EDITOR, Role.VIEWER)
# What the admin picks from; 1 hour to 7 days keeps a leaked link's damage short.
DURATIONS: dict[str, timedelta] = {
    "1h": timedelta(hours=1),
    "8h": timedelta(hours=8),
    "24h": timedelta(days=1),
    "3d": timedelta(days=3),
    "7d": timedelta(days=7),
}


@dataclass(frozen=True, slots=True)
class PortalLink:
    account_id: str
    role: Role
    issuer_key_id: str
    expires: datetime
    frame_ancestors: tuple[str, ...] | None = None  # None: the account's default


class PortalLinkInvalid(Exception):
    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status, self.title, self.message = status, title, message


def make_link(
    key: bytes,
    *,
    account_id: str,
    role: object,
    issuer_key_id: str,
    duration: object,
    now: datetime,
    frame_ancestors: object = None,
) -> tuple[str, datetime]:
    """A portal token and its expiry; `ValidationFailed` names a bad role, duration or
    origin. `frame_ancestors` (origins) may frame the portal; None: the account's default."""
    if not key:  # an app built without the dashboard's key must not sign forgeable links
        raise ValueError("portal links need a signing key")
    if role not in [r.value for r in PORTAL_ROLES]:
        raise ValidationFailed("Choose the editor or the viewer role.", field="role")
    if not isinstance(duration, str) or duration not in DURATIONS:
        raise ValidationFailed("Choose how long the link works.", field="duration")
    expires = now + DURATIONS[duration]
    claims: dict[str, object] = {"a": account_id, "r": role, "k": issuer_key_id}
    if frame_ancestors is not None:
        claims["f"] = list(valid_frame_ancestors(frame_ancestors))
    return tokens.sign(key, purpose=_PURPOSE, claims=claims, expires=expires), expires


def read_link(
    key: bytes, token: str, *, now: datetime, previous: Sequence[bytes] = ()
) -> PortalLink:
    """The link `token` stands for, signed with `key` or one of the `previous` keys;
    `PortalLinkInvalid` says why not."""
    try:
        claims = tokens.verify(key, purpose=_PURPOSE, token=token, now=now, previous=previous)
        link = PortalLink(
            account_id=str(claims["a"]),
            role=Role(claims["r"]),
            issuer_key_id=str(claims["k"]),
            expires=datetime.fromtimestamp(claims["x"], now.tzinfo),
            frame_ancestors=(
                None if claims.get("f") is None else tuple(str(o) for o in claims["f"])
            ),
        )
    except tokens.InvalidToken as exc:
        if exc.expired:
            raise PortalLinkInvalid(
                410,
                "This link has expired",
                "Portal links work for a limited time. Ask whoever sent it for a new one.",
            ) from None
        raise _forged() from None
    except (KeyError, ValueError):
        raise _forged() from None
    if link.role not in PORTAL_ROLES:
        raise _forged()
    return link


def _forged() -> PortalLinkInvalid:
    return PortalLinkInvalid(
        400,
        "This link is not valid",
        "The link is incomplete or was changed. Copy the whole link again, or ask for a new one.",
    )
