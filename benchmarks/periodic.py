"""One thread that calls a sampler's `sample` every so often until stopped: what the CPU and
the RSS samplers share (benchmarks/proc_cpu.py, benchmarks/procs.py)."""

from __future__ import annotations

import threading
from collections.abc import Callable


class Periodic:
    """Calls `action` every `interval` s on a daemon thread named `name`, from `start()`
    until `stop()` (which waits for the thread, bounded)."""

    def __init__(self, action: Callable[[], None], *, interval: float, name: str) -> None:
        self._action = action
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self._action()

    def start(self) -> None:
        """Starts calling `action`, the first time one interval from now."""
        self._thread.start()

    def stop(self) -> None:
        """No further call; returns once the thread ended (or after 5 s)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
