"""A small file system to run out of: tmpfs (needs root, or CAP_SYS_ADMIN), else a
loop-mounted ext4 image. Each returns the exact reason when it cannot be done here."""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path


def _run(*args: str) -> str | None:
    """None on success, else the command and what it said."""
    try:
        result = subprocess.run(args, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"`{' '.join(args)}`: {exc}"
    if result.returncode != 0:
        return f"`{' '.join(args)}` exited {result.returncode}: {result.stderr.strip()}"
    return None


def mount_small_fs(directory: Path, megabytes: int) -> str | None:
    """Mounts a file system of `megabytes` at `directory`; None, or why it could not."""
    directory.mkdir(parents=True, exist_ok=True)
    tmpfs = _run("mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs", str(directory))
    if tmpfs is None:
        return None
    image = directory.parent / "disk.img"
    loop = (
        _run("truncate", "-s", f"{megabytes}M", str(image))
        or _run("mkfs.ext4", "-q", "-F", str(image))
        or _run("mount", "-o", "loop", str(image), str(directory))
    )
    if loop is None:
        return None
    return f"cannot make a small file system: tmpfs: {tmpfs}; loop ext4: {loop}"


def fill(path: Path) -> int:
    """Writes `path` until the file system is full; the bytes written."""
    written = 0
    chunk = b"\0" * 65536
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (65536, 4096, 512, 1):  # then smaller writes for the last bytes
            with contextlib.suppress(OSError):
                while True:
                    written += os.write(fd, chunk[:size])
    finally:
        os.close(fd)
    return written


def unmount(directory: Path) -> None:
    if _run("umount", str(directory)) is not None:
        _run("umount", "-l", str(directory))
