"""The clock every service and worker is given, so tests control time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

Clock = Callable[[], datetime]
"""Returns the current time, timezone-aware UTC. Injected so tests control time."""
