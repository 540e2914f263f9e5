"""Wake-ups between processes on one SQLite file.

PostgreSQL carries them in LISTEN/NOTIFY; SQLite has nothing of the kind, so an API server
(`serve --no-worker`, or an operator command) publishing into the file that another
process's worker waits on would leave that worker asleep until its next look, up to
`idle_wait_seconds`. Instead the waiting process binds a Unix datagram socket at a file
beside the database (`<database>-wakeup`, as permissive as the database file:
store/socket_file.py), and the others send it an empty datagram after each commit that
makes deliveries due. Like any wake-up it is a hint: lost, refused (nobody bound) or
dropped because the receiver's queue is full (it is woken already), it costs
latency only; a process that cannot bind the file (a read-only directory, a file someone
else made there) says so once and polls.

It was an abstract-namespace socket (no file) until review 8 found that any local process
could bind its name first, making the worker poll, or flood it: abstract sockets have no
permissions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable
from pathlib import Path

from hookcast.store.socket_file import Refused, SocketFile, Taken

__all__ = ["SUFFIX", "FileWakeup"]

_log = logging.getLogger(__name__)

SUFFIX = "-wakeup"  # beside SQLite's own -wal and -shm files
# Datagrams read per readiness callback. Linux queues at most net.unix.max_dgram_qlen (10
# by default) datagrams on the socket and refuses senders beyond that (the tell ignores it:
# the process is woken already), so wake-ups coalesce in the kernel; this bounds a callback
# where the sysctl is raised. Measured (benchmarks/wakeup_flood.py, 1 and 3 senders as
# fast as they can for 5 s, load ~5): the listener spent 0.26-0.48 s of CPU a second and
# its loop's longest gap was 14-40 ms, as with the abstract socket before (12-32 ms); only
# a process that may write the database can send now.
_DRAIN_AT_MOST = 64


class FileWakeup:
    """The wake-ups of the processes on the SQLite file at `path`."""

    def __init__(self, path: Path) -> None:
        self._file = SocketFile(path, SUFFIX)
        self._sender: socket.socket | None = None
        self._listener: socket.socket | None = None

    @property
    def path(self) -> Path:
        """The socket file."""
        return self._file.path

    def tell(self) -> None:
        """Wakes the process waiting on this file, if there is one (non-blocking)."""
        if not self._file.trusted():  # nobody listens, or the file is not one we made
            return
        sender = self._sender
        if sender is None:
            sender = self._sender = _datagram_socket()
        with contextlib.suppress(OSError, Refused):  # gone since, or woken already
            sender.sendto(b"", self._file.address())

    def listen(self, woken: Callable[[], None]) -> bool:
        """Calls `woken` on the running loop for each wake-up another process sends; False
        if another process listens already (on SQLite only one process delivers) or the
        socket file cannot be made (said once, in the log: this store then polls)."""
        listener = _datagram_socket()
        try:
            self._file.bind(listener)
        except Taken as exc:
            listener.close()
            _log.info("another process waits on this SQLite file (%s): polling instead", exc)
            return False
        except Refused as exc:
            listener.close()
            _log.warning(
                "no wake-ups from other processes on this SQLite file (%s): polling instead, "
                "so their publishes wait up to a second to be delivered",
                exc,
            )
            return False
        asyncio.get_running_loop().add_reader(listener.fileno(), _drain, listener, woken)
        self._listener = listener
        return True

    def close(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(RuntimeError):  # the loop has closed: nothing to remove
                asyncio.get_running_loop().remove_reader(listener.fileno())
            listener.close()
        self._file.unbind()
        sender, self._sender = self._sender, None
        if sender is not None:
            sender.close()


def _datagram_socket() -> socket.socket:
    made = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    made.setblocking(False)
    return made


def _drain(listener: socket.socket, woken: Callable[[], None]) -> None:
    """Reads the datagrams waiting, at most _DRAIN_AT_MOST (many senders' wake-ups are
    one; the rest, if a flood left more, at the loop's next turn), then wakes once."""
    with contextlib.suppress(BlockingIOError):
        for _ in range(_DRAIN_AT_MOST):
            listener.recv(1)
    woken()
