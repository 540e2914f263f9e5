"""The event loop the CLI's async commands run on (serve, worker, the operator commands)."""

from __future__ import annotations

import asyncio
import gc
import sys
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["run_loop"]

T = TypeVar("T")
_YOUNG_COLLECTION_AFTER = 10_000  # net allocations of container objects (Python's: 700)


def run_loop(main: Coroutine[Any, Any, T]) -> T:
    """Runs `main` on uvloop (uvicorn[standard] brings it) or asyncio's own loop.

    `serve` builds its uvicorn.Server inside this loop, so uvicorn's own loop choice never
    applies: this is where the server and every worker get uvloop. Measured with the
    benchmarks (docs/benchmarks/earlier-rounds.md).

    The GIL switch interval drops from 5 ms to 0.5 ms: a helper thread done waiting (the
    SQLite commit's fsync, see store/sqlite_connector.py) otherwise waits up to 5 ms for the
    busy loop to let it return, holding the only write connection meanwhile (measured at
    700 publishes/s: p99 publish-to-receipt 98.7 ms at 5 ms, 4.5 ms at 0.5 ms).

    The cyclic garbage collector runs its youngest generation after 10,000 net container
    allocations instead of 700: a claim holds ~1,000 deliveries of a few objects each, so
    at 700 a drain collected several times per claim, tracing what was in flight and
    promoting it towards the full collections (measured in process, start-up frozen as
    `settle_heap` does: 0.11 s of collections in a 20,000-delivery drain, ~5 us per
    delivery; none at 10,000). Garbage that only a collection frees (reference cycles)
    waits longer, a few MB at most; everything else is freed by reference counting as ever.
    """
    sys.setswitchinterval(0.0005)
    gc.set_threshold(_YOUNG_COLLECTION_AFTER, *gc.get_threshold()[1:])
    try:
        import uvloop
    except ImportError:  # pragma: no cover - a slimmer install without uvicorn[standard]
        return asyncio.run(main)
    return uvloop.run(main)
