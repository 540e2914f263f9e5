"""Wake-ups between processes on one SQLite file.

PostgreSQL carries them in LISTEN/NOTIFY; SQLite has nothing of the kind, so an API server
(`serve --no-worker`, or an operator command) publishing into the file that another
process's worker waits on would leave that worker asleep until its next look, up to
`idle_wait_seconds`. Instead the waiting process binds a Unix datagram socket named after
the file, in Linux's abstract namespace (no file to clean up; gone with the process), and
the others send it an empty datagram after each commit that makes deliveries due. Like any
wake-up it is a hint: lost, refused (nobody bound, another network namespace) or dropped
because the receiver's buffer is full (it is woken already), it costs latency only.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import socket
from collections.abc import Callable
from pathlib import Path

__all__ = ["FileWakeup"]

_log = logging.getLogger(__name__)


class FileWakeup:
    """The wake-ups of the processes on the SQLite file at `path`."""

    def __init__(self, path: Path) -> None:
        digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:40]
        self._address = f"\0hookcast-wakeup-{digest}"
        self._sender: socket.socket | None = None
        self._listener: socket.socket | None = None

    def tell(self) -> None:
        """Wakes the process waiting on this file, if there is one (non-blocking)."""
        sender = self._sender
        if sender is None:
            sender = self._sender = _datagram_socket()
        with contextlib.suppress(OSError):  # nobody listening, or woken already
            sender.sendto(b"", self._address)

    def listen(self, woken: Callable[[], None]) -> bool:
        """Calls `woken` on the running loop for each wake-up another process sends; False
        if another process listens already (on SQLite only one process delivers)."""
        listener = _datagram_socket()
        try:
            listener.bind(self._address)
        except OSError as exc:
            listener.close()
            _log.info("another process waits on this SQLite file (%s): polling instead", exc)
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
        sender, self._sender = self._sender, None
        if sender is not None:
            sender.close()


def _datagram_socket() -> socket.socket:
    made = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    made.setblocking(False)
    return made


def _drain(listener: socket.socket, woken: Callable[[], None]) -> None:
    """Reads every datagram waiting (many senders' wake-ups are one), then wakes once."""
    with contextlib.suppress(BlockingIOError):
        while True:
            listener.recv(1)
    woken()
