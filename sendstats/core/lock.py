"""The data-directory lock: one sendstats run writes into a data folder at a time.

Two builds started at once wait for each other instead of interleaving writes to the same cache
and outputs. The lock is ``<data>/.lock``, held with :mod:`filelock` (``flock``, released by the
operating system when a run dies). The run that holds it writes into the lock file who it is:
pid, host, command and since when, so a run that waits can say what it waits for, and gives up
after a stated time (``SENDSTATS_LOCK_TIMEOUT`` seconds, 600 by default) with a message naming
the holder.

A symbolic link at ``<data>/.lock`` is refused, never followed. A data folder that cannot be
written (a read-only mount, no permission) is not locked at all: a run that only reads (a build
with nothing to do, a report from up-to-date tables) goes ahead, and a run that must write fails
at its first write with a one-line :class:`~sendstats.core.io.StorageError`.

When a run takes the lock it deletes the temp files that dead runs left in the data folder
(:func:`sendstats.core.io.sweep_stale_temp_files`): only sendstats' own temp names, only files
untouched for :data:`STALE_AFTER` (six hours) before the lock was taken. Imports nothing above
``core``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import json
import os
import shlex
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout

from sendstats.core import config
from sendstats.core.io import (
    READ_ONLY_ERRNOS,
    LockTimeoutError,
    StorageError,
    refuse_link,
    storage_error,
    sweep_stale_temp_files,
)

#: Seconds a run waits for the lock before giving up, unless ``SENDSTATS_LOCK_TIMEOUT`` says.
DEFAULT_TIMEOUT = 600.0
#: A temp file untouched for this long belongs to no live run: writers outside the lock (figure
#: data, a report) finish in minutes, and a download's bytes refresh its temp file's time until
#: its deadline (:data:`sendstats.acquire.download.RetryPolicy.deadline`, one hour) stops it.
STALE_AFTER = 6 * 3600.0
_LOCK_NAME = ".lock"
_HOLDER_BYTES = 4096


@dataclass(frozen=True)
class LockHolder:
    """Who holds the data lock, as written into the lock file by the holder."""

    pid: int | None
    host: str = ""
    command: str = ""
    since: str = ""  # ISO 8601, UTC

    def describe(self) -> str:
        """Return e.g. ``pid 123 on host box, `sendstats build`, since 2026-12-04T15:40:00+00:00``.

        The age of the hold follows the time, in seconds.
        """
        parts = [f"pid {self.pid if self.pid is not None else 'unknown'}"]
        if self.host:
            parts[0] += f" on host {self.host}"
        if self.command:
            parts.append(f"`{self.command}`")
        if self.since:
            parts.append(f"since {self.since}{_ago(self.since)}")
        return ", ".join(parts)


def _ago(since: str) -> str:
    try:
        seconds = (dt.datetime.now(dt.UTC) - dt.datetime.fromisoformat(since)).total_seconds()
    except ValueError:
        return ""
    return f" ({seconds:.0f} s ago)"


def lock_timeout() -> float:
    """Return how long a run waits for the lock: ``SENDSTATS_LOCK_TIMEOUT`` or 600 seconds."""
    value = os.environ.get("SENDSTATS_LOCK_TIMEOUT", "").strip()
    try:
        return float(value) if value else DEFAULT_TIMEOUT
    except ValueError:
        return DEFAULT_TIMEOUT


def _command() -> str:
    argv = list(sys.argv) or ["python"]
    first = Path(argv[0])
    argv[0] = first.parent.name if first.name == "__main__.py" else first.name
    return shlex.join(argv)[:200]


def _holder_record() -> bytes:
    record = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "command": _command(),
        "since": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    return json.dumps(record, sort_keys=True).encode("utf-8")


def _write_holder(fd: int) -> None:
    """Write who we are into the locked file (filelock's ``on_acquired`` hook)."""
    os.ftruncate(fd, 0)
    os.pwrite(fd, _holder_record(), 0)


def read_holder(path: Path) -> LockHolder | None:
    """Return who holds the lock at ``path`` as its holder wrote it, or None if unreadable.

    A lock file from an older sendstats holds only the pid.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        text = os.read(fd, _HOLDER_BYTES).decode("utf-8", "replace").strip()
    except OSError:
        return None
    finally:
        os.close(fd)
    if text.isdigit():
        return LockHolder(pid=int(text))
    try:
        data = json.loads(text)
        pid = data.get("pid")
        return LockHolder(
            pid=pid if isinstance(pid, int) else None,
            host=str(data.get("host", "")),
            command=str(data.get("command", "")),
            since=str(data.get("since", "")),
        )
    except (ValueError, AttributeError):
        return None


def _who(path: Path) -> str:
    holder = read_holder(path)
    return holder.describe() if holder else "holder not recorded"


@dataclass
class _Hold:
    lock: FileLock | None  # None: the folder is read-only, nothing was locked
    depth: int
    pid: int


# Nested data_lock() calls in one process (build -> fetch -> manifest) share one hold; threads
# are serialised by an RLock, as flock is per open file and a second open would self-deadlock.
_THREAD_LOCK = threading.RLock()
_HELD: dict[str, _Hold] = {}


def _take(path: Path, timeout: float) -> _Hold:
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        if exc.errno in READ_ONLY_ERRNOS:
            return _Hold(None, 1, os.getpid())
        err = storage_error(exc, folder, "creating the data folder")
        if err is None:
            raise
        raise err from exc
    if path.is_symlink():
        raise refuse_link(path)
    lock = FileLock(path, mode=0o644, thread_local=False, on_acquired=_write_holder)
    try:
        try:
            lock.acquire(timeout=0)
        except Timeout:
            print(
                f"waiting for another sendstats run ({_who(path)}) to finish (lock {path}); "
                f"giving up after {timeout:g} s",
                file=sys.stderr,
                flush=True,
            )
            try:
                lock.acquire(timeout=timeout)
            except Timeout:
                raise LockTimeoutError(
                    f"gave up after {timeout:g} s waiting for the sendstats run holding {path} "
                    f"({_who(path)}); let it finish, or stop it, then run again "
                    "(SENDSTATS_LOCK_TIMEOUT sets the wait in seconds)"
                ) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise refuse_link(path) from exc
        if exc.errno in READ_ONLY_ERRNOS and not os.access(folder, os.W_OK):
            return _Hold(None, 1, os.getpid())
        if exc.errno in READ_ONLY_ERRNOS:
            # The folder can be written but its lock cannot: running unlocked could interleave
            # with another run's writes, so stop and say what to fix.
            raise StorageError(
                f"cannot take the data lock {path} ({exc.strerror}), though {folder} can be "
                f"written: remove {path} (a lock file of another user?) or fix its permissions",
                folder=folder,
                errno_=exc.errno or 0,
            ) from exc
        err = storage_error(exc, folder, "taking the data lock")
        if err is None:
            raise
        raise err from exc
    swept = sweep_stale_temp_files(folder, before=time.time() - STALE_AFTER)
    if swept:
        print(
            f"removed {len(swept)} temp file(s) left in {folder} by an interrupted run",
            file=sys.stderr,
        )
    return _Hold(lock, 1, os.getpid())


@contextlib.contextmanager
def data_lock(timeout: float | None = None) -> Iterator[Path]:
    """Hold an exclusive lock on ``<data_dir>/.lock`` for the duration of the block.

    Re-entrant within one process, so a build holding the lock can call fetch and manifest
    functions that take it again. A second process waits, saying once who holds the lock, and
    raises :class:`~sendstats.core.io.LockTimeoutError` after ``timeout`` seconds (default
    :func:`lock_timeout`).

    Yields:
        The lock file path.

    Raises:
        StorageError: ``.lock`` is a symbolic link, or the data folder cannot be created.

    """
    wait = lock_timeout() if timeout is None else timeout
    path = config.data_dir() / _LOCK_NAME
    key = str(path)
    if not _THREAD_LOCK.acquire(timeout=max(wait, 0)):
        raise LockTimeoutError(
            f"gave up after {wait:g} s waiting for another thread holding {path}"
        )
    try:
        hold = _HELD.get(key)
        if hold is not None and hold.pid != os.getpid():
            hold = None  # inherited through fork: the parent's lock is not ours to reuse
        if hold is None:
            hold = _HELD[key] = _take(path, wait)
        else:
            hold.depth += 1
        try:
            yield path
        finally:
            hold.depth -= 1
            if hold.depth == 0:
                del _HELD[key]
                if hold.lock is not None:
                    hold.lock.release(force=True)
    finally:
        _THREAD_LOCK.release()


__all__ = [
    "DEFAULT_TIMEOUT",
    "STALE_AFTER",
    "LockHolder",
    "LockTimeoutError",
    "StorageError",
    "data_lock",
    "lock_timeout",
    "read_holder",
]
