"""The event loop the CLI's async commands run on (serve, worker, the operator commands)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["run_loop"]

T = TypeVar("T")


def run_loop(main: Coroutine[Any, Any, T]) -> T:
    """Runs `main` on uvloop (uvicorn[standard] brings it) or asyncio's own loop.

    `serve` builds its uvicorn.Server inside this loop, so uvicorn's own loop choice never
    applies: this is where the server and every worker get uvloop. Measured with the
    benchmarks (docs/benchmarks.md).

    The GIL switch interval drops from 5 ms to 0.5 ms: a helper thread done waiting (the
    SQLite commit's fsync, see store/sqlite_connector.py) otherwise waits up to 5 ms for the
    busy loop to let it return, holding the only write connection meanwhile (measured at
    700 publishes/s: p99 publish-to-receipt 98.7 ms at 5 ms, 4.5 ms at 0.5 ms).
    """
    sys.setswitchinterval(0.0005)
    try:
        import uvloop
    except ImportError:  # pragma: no cover - a slimmer install without uvicorn[standard]
        return asyncio.run(main)
    return uvloop.run(main)
