"""The security headers of every HTML page HookCast serves (the dashboard, the portal, the
API's documentation pages), in one place so no page is served with a weaker policy by
accident.

No inline script or style anywhere: everything comes from HookCast's own origin, so an
injected <script> or style attribute does nothing even if escaping were ever missed.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["PAGE_HEADERS"]

PAGE_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # portal tokens in URLs never leak to other sites
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate CSP 2
}
