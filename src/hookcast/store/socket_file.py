"""A Unix datagram socket bound at a file beside a database file, as permissive as it.

The file's permissions are what keeps other users out: Linux lets a process send to a Unix
socket bound at a path only if it may write that file, and reach it only if it may search
the directories above it. So the socket is made in the database's directory with the
database file's group and read/write bits (and its owner's): whoever may write the database
may send, nobody else. Only a socket file this process's user made is listened on, and
only one made by that user or the database file's owner is sent to: a file someone else
made at that name first, say in a world-writable directory, is left alone.

Binding handles what a file brings that the abstract namespace did not: a socket left by a
process killed without closing it (stale: nobody answers a connect) is replaced; one that
answers belongs to a live process and is not taken from it; the stale check, the unlink
and the bind happen under an exclusive flock of the directory, so two processes starting
at once do not each unlink the other's new socket. That lock is only ever tried for a
moment, never waited for: anyone who may read the directory may open it and hold its lock
(review 10: waited for, a user holding it hung the worker's event loop at its first wait
and at close). Not had within `_LOCK_SECONDS`, binding is Refused (the process polls) and
unbinding leaves the file (stale then: the next start replaces it). A path longer than
sun_path's 107 bytes is reached through /proc/self/fd and an open descriptor of the
directory.

The socket never exists at its name with wider permissions than those: bind() makes the file
with the process's umask (0755 under the usual 022), so it is bound inside a fresh private
(0700) directory beside the database, given its group and bits there, and only then
hard-linked at its name (link, not rename: link never replaces a file someone made there
meanwhile). Bound at its name and chmod'ed after, it let any local user connect and send in
between. A restrictive umask around bind() was the other way, and is not taken: the umask is
the process's, so the API's and SQLite's threads creating files meanwhile (the -wal and -shm
files, the key file) would get it too.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["Refused", "SocketFile", "Taken"]

_SUN_PATH_MAX = 107  # sun_path is 108 bytes, the last one its terminating NUL
# How long the directory's lock is tried for. Another HookCast process holds it for a bind
# (measured: p50 0.028 ms, longest 0.20 ms of 200 at load 4.7; bound in a private directory
# since, p50 0.09-0.15 ms, longest 1.3 ms at load 11.9: docs/benchmarks/latency.md); a process that
# holds it longer is not one, and the event loop (this runs on it) must not wait on it.
_LOCK_SECONDS = 0.1
_LOCK_RETRY_SECONDS = 0.002
_MADE_AS = "socket"  # its name in the private directory it is bound in


class Refused(Exception):
    """The socket cannot be bound here (why is the message); another process listening
    is `Taken`."""


class Taken(Refused):
    """Another process listens on the socket file."""


class SocketFile:
    """The socket file `suffix`-named beside the database file at `database`."""

    def __init__(self, database: Path, suffix: str) -> None:
        database = database.resolve()
        self._database = database
        self.path = database.with_name(database.name + suffix)
        self._directory: int | None = None  # the directory's descriptor, when one is needed
        self._bound: tuple[int, int] | None = None  # (device, inode) of the file we made
        self._owners: set[int] | None = None  # whose socket files are sent to

    def address(self) -> str:
        """The name to bind or send to: the path, or the same file through /proc/self/fd
        when the path is longer than sun_path holds. Raises Refused if even that is."""
        if len(os.fsencode(str(self.path))) <= _SUN_PATH_MAX:
            return str(self.path)
        return _reachable(self.path, self._directory_fd())

    def trusted(self) -> bool:
        """Whether the socket file there now is one to send to: a socket made by this
        process's user or the database file's owner (not a file someone else made first)."""
        try:
            if self._owners is None:
                self._owners = {os.geteuid(), os.stat(self._database).st_uid}
            found = os.lstat(self.address())
        except (OSError, Refused):
            return False
        return stat.S_ISSOCK(found.st_mode) and found.st_uid in self._owners

    def bind(self, listener: socket.socket) -> None:
        """Binds `listener` at the file, replacing a stale socket this user made. Raises
        Taken if a live process listens there, Refused if the file cannot be had."""
        try:
            with self._locked():
                with _private_directory(self.path) as (private, private_fd):
                    made_at = _reachable(private / _MADE_AS, private_fd)
                    listener.bind(made_at)
                    _share_like(made_at, self._database)
                    self._link(private_fd)
                made = os.lstat(self.address())
                self._bound = (made.st_dev, made.st_ino)
        except OSError as exc:
            raise Refused(f"cannot make the socket {self.path}: {exc}") from exc

    def _link(self, private_fd: int) -> None:
        """Gives the socket made in the private directory its name, replacing a stale one."""
        directory, name = self._directory_fd(), self.path.name
        try:
            os.link(_MADE_AS, name, src_dir_fd=private_fd, dst_dir_fd=directory)
        except FileExistsError:
            _check_stale(self.address())
            os.unlink(name, dir_fd=directory)
            os.link(_MADE_AS, name, src_dir_fd=private_fd, dst_dir_fd=directory)

    def unbind(self) -> None:
        """Removes the socket file this process made, unless another has replaced it."""
        bound, self._bound = self._bound, None
        if bound is not None:
            with contextlib.suppress(OSError, Refused), self._locked():
                address = self.address()
                found = os.lstat(address)
                if (found.st_dev, found.st_ino) == bound:
                    os.unlink(address)
        directory, self._directory = self._directory, None
        if directory is not None:
            os.close(directory)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """The directory's exclusive lock, tried for `_LOCK_SECONDS`; Refused if not had."""
        directory = self._directory_fd()
        give_up = time.monotonic() + _LOCK_SECONDS
        while True:
            try:
                fcntl.flock(directory, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= give_up:
                    raise Refused(f"another process holds the lock on {self.path.parent}") from None
                time.sleep(_LOCK_RETRY_SECONDS)
        try:
            yield
        finally:
            fcntl.flock(directory, fcntl.LOCK_UN)

    def _directory_fd(self) -> int:
        if self._directory is None:
            self._directory = os.open(self.path.parent, os.O_RDONLY | os.O_DIRECTORY)
        return self._directory


def _reachable(path: Path, directory: int) -> str:
    """The name to bind or send to for `path` in the directory open as `directory`: the
    path, or the same file through /proc/self/fd when the path is longer than sun_path."""
    if len(os.fsencode(str(path))) <= _SUN_PATH_MAX:
        return str(path)
    short = f"/proc/self/fd/{directory}/{path.name}"
    if len(os.fsencode(short)) > _SUN_PATH_MAX:
        raise Refused(f"its name is too long for a Unix socket: {path.name}")
    return short


@contextlib.contextmanager
def _private_directory(beside: Path) -> Iterator[tuple[Path, int]]:
    """A new directory only this user may enter (0700), beside `beside`, and its open
    descriptor; removed with what is left in it. Only its maker may reach a socket in it.
    (Left behind only by a process killed within the bind, empty but for that socket.)"""
    made = Path(tempfile.mkdtemp(prefix=f".{beside.name}.", dir=beside.parent))
    descriptor = os.open(made, os.O_RDONLY | os.O_DIRECTORY)
    try:
        yield made, descriptor
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(_MADE_AS, dir_fd=descriptor)
        os.close(descriptor)
        os.rmdir(made)


def _check_stale(address: str) -> None:
    """Returns if the file at `address` is a socket this user made that nobody listens
    on (left by a process killed without closing it); else raises Refused or Taken."""
    found = os.lstat(address)
    if not stat.S_ISSOCK(found.st_mode) or found.st_uid != os.geteuid():
        raise Refused(f"{address} is there already, and is not a socket this user made")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        probe.connect(address)
    except ConnectionRefusedError:
        return  # stale
    finally:
        probe.close()
    raise Taken(f"another process listens on {address}")


def _share_like(address: str, database: Path) -> None:
    """Gives the socket file at `address` the database file's group and read/write bits,
    with the owner's always: whoever may write the database may wake its worker, and
    nobody else. Where this user may not give it that group (not one of its groups), no
    group may send. (Review 10: the bits alone, on a file of this process's group, let
    that group send and not the database's.)"""
    found = os.stat(database)
    mode = (found.st_mode & 0o666) | 0o600
    try:
        os.chown(address, -1, found.st_gid)
    except PermissionError:
        mode &= ~0o070
    os.chmod(address, mode)
