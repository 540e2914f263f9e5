"""The Management API (FastAPI)."""

from hookcast.api.app import create_app

__all__ = ["create_app"]
