"""The socket file that wakes the process delivering from a SQLite file (store/file_wakeup.py,
store/socket_file.py): only who may write the database may use it; a stale one is reused, a
live one is not taken, and a process that cannot make it says so once and polls.

Where the tests are root, another user is `nobody`, run through setpriv; elsewhere the tests
that need one skip."""

from __future__ import annotations

import asyncio
import contextlib
import grp
import logging
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from hookcast.store.file_wakeup import FileWakeup

WAIT = 5.0

_can_switch_user = os.geteuid() == 0 and shutil.which("setpriv") is not None
needs_another_user = pytest.mark.skipif(
    not _can_switch_user, reason="runs a process as nobody: needs root and setpriv"
)


_NOBODY = ("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups")


def _start(script: str, *args: str, as_nobody: bool = False) -> subprocess.Popen[str]:
    """`script` run by this Python (as the user nobody), talking on stdin/stdout."""
    command = [sys.executable, "-c", textwrap.dedent(script), *args]
    return subprocess.Popen(
        [*_NOBODY, *command] if as_nobody else command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def _run(script: str, *args: str, as_nobody: bool = False) -> str:
    """What `script` printed, run to its end."""
    answer, _ = _start(script, *args, as_nobody=as_nobody).communicate(timeout=WAIT * 6)
    return answer


def _chmod(path: Path, mode: int) -> None:
    path.chmod(mode)


_SEND = """
    import socket, sys
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        sock.sendto(b"", sys.argv[1])
        print("sent")
    except OSError as exc:
        print(type(exc).__name__)
"""


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory in /tmp that nobody can reach (tmp_path's parents are private)."""
    made = Path(tempfile.mkdtemp(prefix="hookcast-wakeup-"))
    made.chmod(0o755)
    try:
        yield made
    finally:
        shutil.rmtree(made)


def _database(directory: Path, mode: int = 0o644) -> Path:
    database = directory / "hookcast.db"
    database.touch()
    database.chmod(mode)
    return database


class _Woken:
    def __init__(self) -> None:
        self.event = asyncio.Event()

    def __call__(self) -> None:
        self.event.set()

    async def wait(self) -> None:
        await asyncio.wait_for(self.event.wait(), WAIT)


async def _wakes(listener: FileWakeup, database: Path) -> None:
    """`listener` listens and a sender on `database` wakes it; both are closed after."""
    woken, sender = _Woken(), FileWakeup(database)
    try:
        assert listener.listen(woken)
        sender.tell()
        await woken.wait()
    finally:
        sender.close()
        listener.close()


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o660, 0o644])
async def test_the_socket_file_has_the_database_files_read_write_bits(
    tmp_path: Path, mode: int
) -> None:
    database = _database(tmp_path, mode)
    listener, sender, woken = FileWakeup(database), FileWakeup(database), _Woken()
    try:
        assert listener.listen(woken)
        made = os.lstat(listener.path)
        assert stat.S_ISSOCK(made.st_mode)
        assert stat.S_IMODE(made.st_mode) == mode
        assert made.st_uid == os.geteuid()
        sender.tell()
        await woken.wait()
    finally:
        sender.close()
        listener.close()
    assert not listener.path.exists()  # removed as the listener closes


@needs_another_user
async def test_a_user_who_may_not_write_the_database_cannot_send(shared_dir: Path) -> None:
    database = _database(shared_dir, 0o644)  # nobody may read it, not write it
    listener = FileWakeup(database)
    try:
        assert listener.listen(_Woken())
        assert _run(_SEND, str(listener.path), as_nobody=True).strip() == "PermissionError"
        _chmod(database, 0o666)  # the control: once nobody may write it, nobody may send
        listener.close()
        listener = FileWakeup(database)
        woken = _Woken()
        assert listener.listen(woken)
        assert _run(_SEND, str(listener.path), as_nobody=True).strip() == "sent"
        await woken.wait()
    finally:
        listener.close()


_BIND = """
    import socket, sys
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        sock.bind(sys.argv[1])
        print("bound")
    except OSError as exc:
        print(type(exc).__name__)
"""


@needs_another_user
async def test_a_user_who_may_not_write_the_directory_cannot_bind_first(
    shared_dir: Path,
) -> None:
    """The abstract name this replaced was anyone's to bind first (the worker then polled)."""
    database = _database(shared_dir, 0o644)
    listener = FileWakeup(database)
    assert _run(_BIND, str(listener.path), as_nobody=True).strip() == "PermissionError"
    await _wakes(listener, database)


@needs_another_user
async def test_a_socket_file_another_user_made_first_is_neither_taken_nor_sent_to(
    shared_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _chmod(shared_dir, 0o1777)  # as /tmp: anyone may make a file there
    database = _database(shared_dir, 0o644)
    squatter = _start(
        """
        import socket, sys
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(sys.argv[1])
        print("bound", flush=True)
        sys.stdin.readline()  # until the test has tried to wake it
        sock.setblocking(False)
        try:
            sock.recv(1)
            print("received")
        except BlockingIOError:
            print("nothing")
        """,
        str(FileWakeup(database).path),
        as_nobody=True,
    )
    try:
        assert squatter.stdout is not None
        assert squatter.stdin is not None
        assert squatter.stdout.readline().strip() == "bound"
        listener, sender = FileWakeup(database), FileWakeup(database)
        with caplog.at_level(logging.WARNING, logger="hookcast.store.file_wakeup"):
            assert not listener.listen(_Woken())
        assert [r.levelno for r in caplog.records] == [logging.WARNING]
        assert "not a socket this user made" in caplog.records[0].getMessage()
        sender.tell()  # root could send to it: the owner check is what stops it
        squatter.stdin.write("tried\n")
        squatter.stdin.flush()
        assert squatter.stdout.readline().strip() == "nothing"
        listener.close()
        sender.close()
        assert os.lstat(listener.path).st_uid != os.geteuid()  # left where it was
    finally:
        squatter.kill()
        squatter.communicate()


async def test_a_socket_file_left_by_a_killed_process_is_reused(tmp_path: Path) -> None:
    database = _database(tmp_path)
    killed = _start(
        """
        import asyncio, sys
        from pathlib import Path
        from hookcast.store.file_wakeup import FileWakeup

        async def main():
            assert FileWakeup(Path(sys.argv[1])).listen(lambda: None)
            print("listening", flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)

        asyncio.run(main())
        """,
        str(database),
    )
    try:
        assert killed.stdout is not None
        assert killed.stdout.readline().strip() == "listening"
        listener = FileWakeup(database)
        assert not listener.listen(_Woken())  # alive: not taken from it
    finally:
        killed.send_signal(signal.SIGKILL)
        killed.communicate()
    assert stat.S_ISSOCK(os.lstat(listener.path).st_mode)  # left behind
    await _wakes(listener, database)


async def test_a_private_directory_left_by_a_process_killed_within_the_bind_is_harmless(
    tmp_path: Path,
) -> None:
    # What a process killed between making its private bind directory and removing it
    # leaves (store/socket_file.py): a 0700 directory beside the database holding its stale
    # socket. The next start makes a directory of its own (a new random name) and binds;
    # the leftover stays, reachable by its user only (docs/operations.md).
    database = _database(tmp_path)
    path = FileWakeup(database).path
    left = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=tmp_path))
    # Bound by a relative name from inside it: under pytest-xdist's deeper temporary
    # directories the whole path can pass sun_path's 108 bytes, which the wake-up itself
    # handles (the test below) but a plain bind does not.
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as stale, contextlib.chdir(left):
        stale.bind("socket")

    await _wakes(FileWakeup(database), database)

    assert stat.S_IMODE(os.stat(left).st_mode) == 0o700
    assert os.listdir(left) == ["socket"]


async def test_a_second_listener_in_one_process_leaves_the_first_its_socket(
    tmp_path: Path,
) -> None:
    database = _database(tmp_path)
    first, second, sender, woken = (
        FileWakeup(database),
        FileWakeup(database),
        FileWakeup(database),
        _Woken(),
    )
    try:
        assert first.listen(woken)
        assert not second.listen(_Woken())
        second.close()  # removes nothing it did not make
        sender.tell()
        await woken.wait()
    finally:
        sender.close()
        first.close()


async def test_a_path_longer_than_sun_path_still_wakes(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    database = _database(deep)
    listener, sender, woken = FileWakeup(database), FileWakeup(database), _Woken()
    assert len(os.fsencode(str(listener.path))) > 108
    try:
        assert listener.listen(woken)
        assert stat.S_ISSOCK(os.lstat(listener.path).st_mode)
        sender.tell()
        await woken.wait()
    finally:
        sender.close()
        listener.close()
    assert not listener.path.exists()


_READ_ONLY_WAITS = """
    import asyncio, logging, sys
    from pathlib import Path
    from hookcast.store.file_wakeup import FileWakeup
    from hookcast.store.wakeup import Wakeup

    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logging.getLogger("hookcast").addHandler(handler)
    logging.getLogger("hookcast").setLevel(logging.INFO)

    async def main():
        wakeup = Wakeup(None, file=FileWakeup(Path(sys.argv[1])))
        for _ in range(3):
            await wakeup.wait(0)
        await wakeup.close()

    asyncio.run(main())
    for record in records:
        print(record.levelname, record.getMessage())
"""


async def test_a_read_only_directory_makes_the_worker_poll_and_say_so_once(
    shared_dir: Path,
) -> None:
    database = _database(shared_dir)
    root = os.geteuid() == 0  # root writes anywhere: the worker runs as another user
    if root and not _can_switch_user:
        pytest.skip("root without setpriv cannot be denied a directory")
    _chmod(shared_dir, 0o555)
    try:
        logged = _run(_READ_ONLY_WAITS, str(database), as_nobody=root)
    finally:
        _chmod(shared_dir, 0o755)

    lines = logged.splitlines()
    assert len(lines) == 1, logged
    assert lines[0].startswith("WARNING no wake-ups from other processes"), logged
    assert "Permission denied" in lines[0]
    assert not FileWakeup(database).path.exists()


# Review 10: the stale check, unlink and bind run under an flock of the directory, and any
# user who may read the directory may open it and hold that lock. Waited for, the lock hung
# the worker's event loop at its first wait (the API with it, under `serve`) and at close.
_LOCK_DIRECTORY = """
    import fcntl, os, sys
    directory = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(directory, fcntl.LOCK_EX)
    print("locked", flush=True)
    sys.stdin.readline()  # held until the test ends
"""

_LISTENS_THEN_CLOSES = """
    import asyncio, sys
    from pathlib import Path
    from hookcast.store.file_wakeup import FileWakeup

    async def main():
        wakeup = FileWakeup(Path(sys.argv[1]))
        print("listening" if wakeup.listen(lambda: None) else "polling", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        wakeup.close()
        print("closed", flush=True)

    asyncio.run(main())
"""


def _lock(directory: Path) -> subprocess.Popen[str]:
    """Another user (where the tests can switch to one) holding the directory's flock."""
    locker = _start(_LOCK_DIRECTORY, str(directory), as_nobody=_can_switch_user)
    assert locker.stdout is not None
    assert locker.stdout.readline().strip() == "locked"
    return locker


def _finish(process: subprocess.Popen[str], line: str = "\n") -> str:
    """What `process` prints once sent `line`, within WAIT seconds (TimeoutExpired if it hangs)."""
    try:
        answer, _ = process.communicate(line, timeout=WAIT)
    finally:
        process.kill()
        process.communicate()
    return answer


async def test_a_user_holding_the_directorys_lock_cannot_hang_the_worker_at_start(
    shared_dir: Path,
) -> None:
    database = _database(shared_dir)
    locker = _lock(shared_dir)
    try:
        worker = _start(_LISTENS_THEN_CLOSES, str(database))
        assert _finish(worker).split() == ["polling", "closed"]
    finally:
        _finish(locker)
    assert not FileWakeup(database).path.exists()


async def test_a_user_holding_the_directorys_lock_cannot_hang_the_worker_at_close(
    shared_dir: Path,
) -> None:
    database = _database(shared_dir)
    worker = _start(_LISTENS_THEN_CLOSES, str(database))
    try:
        assert worker.stdout is not None
        assert worker.stdout.readline().strip() == "listening"
        locker = _lock(shared_dir)
        try:
            assert _finish(worker).split() == ["closed"]
        finally:
            _finish(locker)
    finally:
        worker.kill()
        worker.communicate()
    # Left behind (it could not be removed safely without the lock): a stale socket, which
    # the next start replaces (test_a_socket_file_left_by_a_killed_process_is_reused).
    await _wakes(FileWakeup(database), database)


def _send_as(path: Path, *, group: str) -> str:
    """What sending to the socket file at `path` as the user nobody in `group` only gives."""
    command = [sys.executable, "-c", textwrap.dedent(_SEND), str(path)]
    done = subprocess.run(
        ["setpriv", "--reuid=nobody", f"--regid={group}", "--clear-groups", *command],
        capture_output=True,
        text=True,
        timeout=WAIT * 6,
    )
    return done.stdout.strip()


@needs_another_user
async def test_the_socket_file_has_the_database_files_group(shared_dir: Path) -> None:
    # Review 10: made with this process's group and the database's group bits, the socket
    # let this process's group send (who may not write the database) and not the
    # database's group (who may).
    database = _database(shared_dir, 0o660)
    os.chown(database, 0, grp.getgrnam("nogroup").gr_gid)
    listener, woken = FileWakeup(database), _Woken()
    try:
        assert listener.listen(woken)
        # May not write the database (neither its owner nor in its group): may not send.
        assert _send_as(listener.path, group="root") == "PermissionError"
        # In the database's group, which may write it: may send.
        assert _send_as(listener.path, group="nogroup") == "sent"
        await woken.wait()
        assert os.lstat(listener.path).st_gid == os.stat(database).st_gid
    finally:
        listener.close()


_SAYS_ITS_SOCKET_FILE = """
    import asyncio, os, stat, sys
    from pathlib import Path
    from hookcast.store.file_wakeup import FileWakeup

    async def main():
        wakeup = FileWakeup(Path(sys.argv[1]))
        assert wakeup.listen(lambda: None)
        found = os.lstat(wakeup.path)
        print(oct(stat.S_IMODE(found.st_mode)), found.st_gid)
        wakeup.close()

    asyncio.run(main())
"""


@needs_another_user
async def test_a_database_group_the_worker_is_not_in_gives_no_group_the_socket(
    shared_dir: Path,
) -> None:
    own = shared_dir / "nobodys"
    own.mkdir()
    nobody = pwd.getpwnam("nobody")
    os.chown(own, nobody.pw_uid, nobody.pw_gid)
    database = _database(own, 0o660)
    os.chown(database, nobody.pw_uid, 0)  # the group root, which nobody is not in
    said = _run(_SAYS_ITS_SOCKET_FILE, str(database), as_nobody=True).split()
    assert said == ["0o600", str(nobody.pw_gid)]  # its own group, which may not send


# Each file-system step the bind takes (Python's audit events, raised before the step)
# looks at the socket's final name: what it shows is what another user could reach there
# after the step before. The umask is 0: bind() alone makes the socket 0777.
_WATCHES_THE_FINAL_NAME = """
    import asyncio, os, stat, sys
    from pathlib import Path
    from hookcast.store.file_wakeup import FileWakeup

    database = Path(sys.argv[1])
    final = str(FileWakeup(database).path)
    seen = set()

    def look(event, _args):
        if event.startswith(("os.", "socket.")):
            try:
                seen.add(stat.S_IMODE(os.lstat(final).st_mode))
            except FileNotFoundError:
                pass

    async def main():
        os.umask(0)
        wakeup = FileWakeup(database)
        sys.addaudithook(look)
        listening = wakeup.listen(lambda: None)
        look("os.", None)
        wakeup.close()
        print(listening, *sorted(oct(mode) for mode in seen))

    asyncio.run(main())
"""


@pytest.mark.parametrize("stale", [False, True])
def test_the_socket_file_is_never_wider_than_the_database_at_its_name(
    tmp_path: Path, stale: bool
) -> None:
    # Bound at its name and chmod'ed after, the socket was 0777 (0755 under umask 022)
    # there in between: any local user could connect and send.
    database = _database(tmp_path, 0o600)
    if stale:  # the socket a killed process left, replaced
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as left:
            left.bind(str(FileWakeup(database).path))
        os.chmod(FileWakeup(database).path, 0o600)
    said = _run(_WATCHES_THE_FINAL_NAME, str(database)).split()
    assert said == ["True", "0o600"]
