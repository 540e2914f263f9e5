"""The security headers of every HTML page HookCast serves (the dashboard, the portal, the
API's documentation pages), in one place so no page is served with a weaker policy by
accident.

No inline script or style anywhere: everything comes from HookCast's own origin, so an
injected <script> or style attribute does nothing even if escaping were ever missed.

Only a portal page opened from a link (or account) that names the origins allowed to frame
it gets a policy of its own (`page_headers`): those origins as frame-ancestors, and the
platform's logo's origin as an image source. Everything else keeps frame-ancestors 'none'.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = ["PAGE_HEADERS", "page_headers"]


def _policy(frame_ancestors: str, img_src: str) -> str:
    return (
        f"default-src 'self'; script-src 'self'; style-src 'self'; img-src {img_src}; "
        f"form-action 'self'; base-uri 'none'; object-src 'none'; "
        f"frame-ancestors {frame_ancestors}"
    )


_COMMON: Mapping[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # portal tokens in URLs never leak to other sites
}

PAGE_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": _policy("'none'", "'self' data:"),
    **_COMMON,
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate CSP 2
}


def page_headers(
    *, frame_ancestors: Sequence[str] = (), img_origins: Sequence[str] = ()
) -> Mapping[str, str]:
    """The headers of a portal page that `frame_ancestors` (validated origins) may frame and
    that shows images from `img_origins` (validated origins) too. No X-Frame-Options when
    framing is allowed: it cannot name origins, and CSP's frame-ancestors overrides it in
    every browser that supports CSP 2."""
    img_src = " ".join(["'self'", "data:", *img_origins])
    if not frame_ancestors:
        return {**PAGE_HEADERS, "Content-Security-Policy": _policy("'none'", img_src)}
    return {
        "Content-Security-Policy": _policy(" ".join(frame_ancestors), img_src),
        **_COMMON,
    }
