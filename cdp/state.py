"""The project's state folder (beside the warehouse): owner-only files, and one writer at a time.

Everything cdp writes (warehouse and its WAL, serving store, models, quality reports, the Dagster
instance, exports, backups) holds personal data or leads to it, so it is created owner-only: the
commands run with umask 077 (files 0600, folders 0700), and a state folder from an older cdp is
made so on the next run.

`cdp run`, `cdp backup`, `cdp restore` and the warehouse exports take the project's lock, a file
beside the warehouse holding the holder's pid and command. It is an fcntl lock: the kernel lets go
of it when its holder ends, even by kill -9, so a crashed run never blocks the next one.
"""

from __future__ import annotations

import fcntl
import os
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PRIVATE_UMASK = 0o077
"""Group and others get nothing: files 0600, folders 0700."""
LOCK_FILE = "cdp.lock"
LOCK_WAIT = 3.0
"""Seconds a command waits for the lock before giving up: enough for an export or a backup to end."""


class Busy(RuntimeError):
    """Another cdp command holds the project's lock: "another run (pid N) is in progress"."""


@contextmanager
def owner_only() -> Iterator[None]:
    """Files and folders created inside the block are owner-only (umask 077); the umask is restored after."""
    previous = os.umask(PRIVATE_UMASK)
    try:
        yield
    finally:
        os.umask(previous)


def make_private(folder: Path) -> None:
    """Take group and other permissions off `folder` and everything in it, unless it is owner-only already.

    For state folders written before cdp created them owner-only; the folder's own mode says whether
    the walk is needed, so it runs once.
    """
    if not folder.is_dir() or stat.S_IMODE(folder.stat().st_mode) & PRIVATE_UMASK == 0:
        return
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = Path(root, name)
            if not path.is_symlink():
                path.chmod(stat.S_IMODE(path.stat().st_mode) & ~PRIVATE_UMASK)
    folder.chmod(0o700)


def private_file(path: Path) -> Path:
    """`path` made 0600: an existing file that is overwritten keeps its old mode otherwise."""
    path.chmod(0o600)
    return path


@contextmanager
def project_lock(state_dir: Path, command: str, wait: float = LOCK_WAIT) -> Iterator[None]:
    """Hold the project's lock while the block runs; raise Busy naming the holder after `wait` seconds."""
    state_dir.mkdir(parents=True, exist_ok=True)
    make_private(state_dir)
    fd = os.open(state_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        _acquire(fd, wait)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {command}\n".encode(), 0)
        yield
        os.ftruncate(fd, 0)  # nobody holds it: a reader between commands names no one
    finally:
        os.close(fd)  # closing releases the lock


def _acquire(fd: int, wait: float) -> None:
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise Busy(_holder(fd)) from None
            time.sleep(0.1)


def _holder(fd: int) -> str:
    """'another run (pid N) is in progress', from what the holder wrote into the lock file."""
    pid, _, command = os.pread(fd, 200, 0).decode(errors="replace").strip().partition(" ")
    return f"another {command or 'cdp command'} (pid {pid or 'unknown'}) is in progress"
