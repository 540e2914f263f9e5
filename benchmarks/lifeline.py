"""Children that die with the process that started them (Linux's PR_SET_PDEATHSIG).

A test run or a benchmark interrupted by SIGTERM (a CI job cancelled, `timeout`) ends
without its `finally` blocks: the PostgreSQL servers, `hookcast serve` processes and nginx
it started lived on, orphans holding ports and CPU. A child started with
`preexec_fn=dies_with_parent(sig)` is sent `sig` by the kernel when the thread that started
it ends, however it ends; `sig` is the child's own clean stop (SIGINT for PostgreSQL's fast
shutdown, SIGTERM for `serve` and nginx). Start children from a thread that outlives them
(the main thread, or one that waits for them)."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable

__all__ = ["die_with_parent", "dies_with_parent"]

_PR_SET_PDEATHSIG = 1


def die_with_parent(sig: signal.Signals = signal.SIGTERM, *, parent: int | None = None) -> None:
    """This process is sent `sig` when its parent (`parent`, if it is known) ends. Nothing
    off Linux. If the parent has ended already, `sig` is sent now."""
    if not sys.platform.startswith("linux"):
        return
    # A shell's background job ignores SIGINT, and its children inherit that: the signal
    # would then stop nothing.
    signal.signal(sig, signal.SIG_DFL)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if parent is not None and os.getppid() != parent:  # it ended before the prctl
        os.kill(os.getpid(), sig)


def dies_with_parent(sig: signal.Signals = signal.SIGTERM) -> Callable[[], None]:
    """A `preexec_fn` for subprocess.Popen: the child is sent `sig` when this process (the
    thread calling Popen) ends. Run after Popen's `user`/`group` change, which would clear
    it (prctl(2)); kept across the exec."""
    parent = os.getpid()
    return lambda: die_with_parent(sig, parent=parent)
