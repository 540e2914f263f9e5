"""The web dashboard: server-rendered pages over the same services as the API and the CLI."""

from __future__ import annotations

from hookcast.dashboard.app import dashboard_router, install_dashboard
from hookcast.tokens import dashboard_key

__all__ = ["dashboard_key", "dashboard_router", "install_dashboard"]
