"""The customer portal's settings: who may frame it, and the platform's brand it wears.

Pure validation, shared by portal links (one link's allow-list), the account's defaults and
every entry point, so an origin or a colour is checked the same way everywhere.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final
from urllib.parse import SplitResult, urlsplit

from hookcast.domain.errors import ValidationFailed

__all__ = [
    "MAX_FRAME_ANCESTORS",
    "MAX_LOGO_BYTES",
    "PortalSettings",
    "accent_colour",
    "frame_ancestors",
    "logo",
    "logo_origin",
    "platform_name",
]

MAX_FRAME_ANCESTORS: Final = 10  # a platform frames its portal from a few apps, not hundreds
MAX_LOGO_BYTES: Final = 32 * 1024  # an uploaded logo rides in every portal page
MAX_LOGO_URL: Final = 2048
_LOGO_TYPES: Final = ("image/png", "image/jpeg", "image/gif", "image/webp")  # no SVG: no script
_HEX: Final = re.compile(r"#[0-9a-fA-F]{6}")
_HOST: Final = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")


@dataclass(frozen=True, slots=True)
class PortalSettings:
    """An account's portal: its brand (None: HookCast's) and the origins that may frame it
    when a link names none of its own (empty: none may)."""

    name: str | None = None
    logo: str | None = None  # an https URL, or a small data: image
    accent: str | None = None  # "#rrggbb"
    frame_ancestors: tuple[str, ...] = ()


def frame_ancestors(raw: object, *, field: str = "frame_ancestors") -> tuple[str, ...]:
    """Origins (scheme://host[:port]) that may frame the portal: https, or http on a
    loopback host only (a plain-HTTP parent page anywhere else could be tampered with)."""
    if raw is None:
        return ()
    if isinstance(raw, str) or not isinstance(raw, Sequence):
        raise ValidationFailed(f"{field} must be a list of origins", field=field)
    if len(raw) > MAX_FRAME_ANCESTORS:
        raise ValidationFailed(
            f"{field} may name at most {MAX_FRAME_ANCESTORS} origins", field=field
        )
    origins: list[str] = []
    for item in raw:
        origin = _origin(item, field=field)
        if origin not in origins:
            origins.append(origin)
    return tuple(origins)


def _origin(raw: object, *, field: str) -> str:
    text = raw.strip() if isinstance(raw, str) else ""
    bad = ValidationFailed(
        f"{field}: {text or raw!r} is not an origin such as https://app.example.com "
        "(http only for localhost or a loopback address)",
        field=field,
    )
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise bad from None
    host = parts.hostname or ""
    if (
        parts.scheme not in ("https", "http")
        or not host
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or parts.username is not None
        or not (_HOST.fullmatch(host) or _is_ip(host))
        or (parts.scheme == "http" and not _loopback(host))
    ):
        raise bad
    shown = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{shown}" + (f":{port}" if port is not None else "")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    return _is_ip(host) and ipaddress.ip_address(host).is_loopback


def platform_name(raw: object) -> str | None:
    """The platform's name shown in the portal instead of HookCast's (blank: HookCast)."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if not isinstance(raw, str) or len(raw.strip()) > 60 or not raw.strip().isprintable():
        raise ValidationFailed("name must be at most 60 printable characters", field="name")
    return raw.strip()


def accent_colour(raw: object) -> str | None:
    """A hex colour, #rrggbb (blank: HookCast's blue)."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if not isinstance(raw, str) or not _HEX.fullmatch(raw.strip()):
        raise ValidationFailed("accent_colour must be a hex colour such as #1a73e8", field="accent")
    return raw.strip().lower()


def logo(raw: object) -> str | None:
    """An https URL of the logo, or a data: URL of a PNG, JPEG, GIF or WebP image of at
    most 32 KiB (blank: no logo)."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    text = raw.strip() if isinstance(raw, str) else ""
    if text.startswith("data:"):
        return _data_image(text)
    parts = urlsplit(text)
    host = parts.hostname or ""
    if (
        parts.scheme != "https"
        or not _has_port_or_none(parts)  # logo_origin reads it for every portal page
        or not (_HOST.fullmatch(host) or _is_ip(host))
        or parts.username is not None
        or len(text) > MAX_LOGO_URL
        or not text.isprintable()
        or " " in text
    ):
        raise ValidationFailed(
            "logo must be an https URL or a data: image (PNG, JPEG, GIF or WebP)", field="logo"
        )
    return text


def _has_port_or_none(parts: SplitResult) -> bool:
    try:
        parts.port  # noqa: B018 - read for its ValueError: not a number, or out of range
    except ValueError:
        return False
    return True


def _data_image(text: str) -> str:
    head, _, payload = text.partition(",")
    kind = head.removeprefix("data:").removesuffix(";base64")
    if not head.endswith(";base64") or kind not in _LOGO_TYPES:
        raise ValidationFailed(
            "a data: logo must be a base64 PNG, JPEG, GIF or WebP image", field="logo"
        )
    try:
        size = len(base64.b64decode(payload, validate=True))
    except (binascii.Error, ValueError):
        raise ValidationFailed("the data: logo is not valid base64", field="logo") from None
    if size > MAX_LOGO_BYTES:
        raise ValidationFailed(
            f"the logo must be at most {MAX_LOGO_BYTES // 1024} KiB", field="logo"
        )
    return text


def logo_origin(url: str | None) -> str | None:
    """The origin a logo loads from (for the page's img-src), None for a data: logo, or for
    one saved before `logo` read its port (every portal page answered 500)."""
    if url is None or url.startswith("data:"):
        return None
    parts = urlsplit(url)
    if not _has_port_or_none(parts):
        return None
    host = parts.hostname or ""
    shown = f"[{host}]" if ":" in host else host
    return f"https://{shown}" + (f":{parts.port}" if parts.port is not None else "")
