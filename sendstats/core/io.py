"""Safe file writes and the data-directory lock shared by every sendstats step.

Every output (a cached raw file, a tidy parquet table, the manifest) is written to a temp file
in the folder of its target and renamed onto it only when complete, so a crash or an error never
leaves a half-written file where a reader would take it for a good one. ``data_lock`` serialises
whole runs: two builds started at once wait for each other instead of interleaving writes to
the same cache and outputs. No publication is read here.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from sendstats.core import config

if TYPE_CHECKING:
    import polars as pl

_CHUNK = 1 << 20
_POLL_SECONDS = 0.1
_FILE_MODE = 0o644


class LockTimeoutError(RuntimeError):
    """Another sendstats run held the data-directory lock for longer than the timeout."""


def sha256_file(path: Path) -> str:
    """Return the hex sha256 of a file, read in chunks so big files use little memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def fsync_file(path: Path) -> None:
    """Flush a file's bytes to disk, so a rename after a crash never exposes an empty file."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def temp_path_in(folder: Path, *, prefix: str = ".tmp.", suffix: str = ".part") -> Iterator[Path]:
    """Yield a fresh, empty temp file path in ``folder``; remove it on exit if still there.

    The caller may ``os.replace`` the temp file onto its final name; whatever is left at exit
    (an error, a refused download) is deleted, so no partial file survives.
    """
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=folder)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)


def publish_file(tmp: Path, path: Path) -> None:
    """Rename a complete temp file onto ``path`` (same folder), flushed and world-readable."""
    fsync_file(tmp)
    os.chmod(tmp, _FILE_MODE)
    os.replace(tmp, path)


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temp path beside ``path``; rename it onto ``path`` only if the block succeeds.

    If the block raises, the temp file is removed and any existing ``path`` is left untouched.
    """
    path = Path(path)
    with temp_path_in(path.parent, prefix=f".{path.name}.", suffix=".tmp") as tmp:
        yield tmp
        publish_file(tmp, path)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temp file and rename."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: Path, text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` through a temp file and rename."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_parquet_atomic(df: pl.DataFrame, path: Path) -> None:
    """Write a polars frame as parquet through a temp file and rename."""
    with atomic_path(path) as tmp:
        df.write_parquet(tmp)


# Per-process state of the data lock: flock is per open file, so a second open() in the same
# process would deadlock against itself. Nested data_lock() calls in one process (build ->
# fetch -> manifest) therefore reuse the first descriptor; threads are serialised by an RLock.
_THREAD_LOCK = threading.RLock()
_HELD: dict[str, tuple[int, int, int]] = {}  # lock path -> (fd, depth, owner pid)


def _lock_file() -> Path:
    folder = config.data_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return folder / ".lock"


def _read_holder(fd: int) -> str:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        text = ""
    return text if text.isdigit() else "unknown"


def _try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            return False
        raise
    return True


def _acquire_flock(path: Path, timeout: float) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, _FILE_MODE)
    deadline = time.monotonic() + timeout
    told = False
    try:
        while not _try_flock(fd):
            holder = _read_holder(fd)
            if not told:
                print(
                    f"waiting for another sendstats run (pid {holder}) to finish (lock {path}) ...",
                    file=sys.stderr,
                    flush=True,
                )
                told = True
            if time.monotonic() >= deadline:
                raise LockTimeoutError(
                    f"gave up after {timeout:g} s waiting for the sendstats run (pid {holder}) "
                    f"holding {path}; let it finish, or stop it, then run again"
                )
            time.sleep(_POLL_SECONDS)
    except BaseException:
        os.close(fd)
        raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode("ascii"), 0)
    return fd


@contextlib.contextmanager
def data_lock(timeout: float = 600) -> Iterator[Path]:
    """Hold an exclusive lock on ``<data_dir>/.lock`` for the duration of the block.

    Re-entrant within one process, so a build holding the lock can call fetch and manifest
    functions that take it again. A second process waits, printing once which pid holds the
    lock, and raises ``LockTimeoutError`` after ``timeout`` seconds.

    Yields:
        The lock file path.

    """
    path = _lock_file()
    key = str(path)
    if not _THREAD_LOCK.acquire(timeout=max(timeout, 0)):
        raise LockTimeoutError(
            f"gave up after {timeout:g} s waiting for another thread holding {path}"
        )
    try:
        fd, depth, owner = _HELD.get(key, (-1, 0, 0))
        if depth and owner != os.getpid():
            # Inherited through fork: the parent's lock is not ours to reuse.
            fd, depth = -1, 0
        if depth == 0:
            fd = _acquire_flock(path, timeout)
        _HELD[key] = (fd, depth + 1, os.getpid())
        try:
            yield path
        finally:
            fd, depth, owner = _HELD[key]
            if depth == 1:
                del _HELD[key]
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
            else:
                _HELD[key] = (fd, depth - 1, owner)
    finally:
        _THREAD_LOCK.release()
