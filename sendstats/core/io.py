"""Safe file writes, disk errors a user can act on, and the stale temp files of dead runs.

Every output (a cached raw file, a tidy parquet table, the manifest, a figure's data) is written
to a temp file in the folder of its target and renamed onto it only when complete, so a crash or
an error never leaves a half-written file where a reader would take it for a good one.

Writes never go through a symbolic link: temp files are created exclusively and opened with
``O_NOFOLLOW``, and the final rename replaces a link standing at the target's name with the new
file, leaving whatever the link pointed at untouched.

A write that fails because the disk is full or the folder is read-only raises
:class:`StorageError`, naming the folder and what was being written; it is never confused with a
missing file, and the temp file is removed, so the folder is left as it was.

``data_lock`` (in :mod:`sendstats.core.lock`, which builds on this module) serialises whole
runs. This module imports nothing above ``core``; it reads no publication.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

_CHUNK = 1 << 20
_FILE_MODE = 0o644

#: errno values that mean "the disk holding the folder is full" (space or quota).
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
#: errno values that mean "this folder cannot be written" (read-only mount or permissions).
READ_ONLY_ERRNOS = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})

# Names of the temp files sendstats itself creates (mkstemp adds 8 characters of [a-z0-9_]):
# ``.<name>.XXXXXXXX.part`` and ``.tmp.XXXXXXXX.part`` (downloads, copies), ``.<name>.XXXXXXXX.tmp``
# (atomic writes), ``.release.XXXXXXXX.zip`` and ``.release.XXXXXXXX.zip.ok`` (release zips).
_OS_ERROR_IN_TEXT = re.compile(r"os error (\d+)|\[Errno (\d+)\]")
_OUR_TEMP = re.compile(r"^\..+\.[a-z0-9_]{8}\.(?:part|tmp|zip|zip\.ok)$")


class LockTimeoutError(RuntimeError):
    """Another sendstats run held the data-directory lock for longer than the timeout."""


class StorageError(RuntimeError):
    """A write failed for a reason the user must fix: a full disk, a read-only folder, a link.

    Attributes:
        folder: the folder that could not be written.
        errno: the operating system's error number (0 for a refused symbolic link).

    """

    def __init__(self, message: str, *, folder: Path, errno_: int = 0):
        super().__init__(message)
        self.folder, self.errno = folder, errno_

    @property
    def disk_full(self) -> bool:
        """True when the disk (or the user's quota) is full."""
        return self.errno in DISK_FULL_ERRNOS

    @property
    def read_only(self) -> bool:
        """True when the folder cannot be written (read-only mount or permissions)."""
        return self.errno in READ_ONLY_ERRNOS


def storage_error(exc: OSError, folder: Path, doing: str) -> StorageError | None:
    """Return the :class:`StorageError` an ``OSError`` stands for, or None if it is another fault.

    Args:
        exc: the error raised by the write.
        folder: the folder being written into, named in the message.
        doing: what was being written, e.g. ``"writing tidy/dfe_sen2__ehcp.parquet"``.

    """
    code = exc.errno or 0
    why = exc.strerror or type(exc).__name__
    if code in DISK_FULL_ERRNOS:
        return StorageError(
            f"disk full: no space left on the disk holding {folder} while {doing} ({why}); "
            "nothing was changed there: free some space (or point SENDSTATS_DATA_DIR at another "
            "disk) and run again",
            folder=folder,
            errno_=code,
        )
    if code in READ_ONLY_ERRNOS:
        return StorageError(
            f"cannot write into {folder} while {doing}: the folder is read-only ({why}); make it "
            "writable, or point SENDSTATS_DATA_DIR at a writable copy, and run again",
            folder=folder,
            errno_=code,
        )
    return None


@contextlib.contextmanager
def writing_into(folder: Path, doing: str) -> Iterator[None]:
    """Turn a disk-full or read-only ``OSError`` raised in the block into a :class:`StorageError`.

    Any other ``OSError`` propagates unchanged.
    """
    try:
        yield
    except StorageError:
        raise
    except OSError as exc:
        err = storage_error(exc, folder, doing)
        if err is None:
            raise
        raise err from exc


def sha256_file(path: Path) -> str:
    """Return the hex sha256 of a file, read in chunks so big files use little memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def fsync_file(path: Path) -> None:
    """Flush a file's bytes to disk, so a rename after a crash never exposes an empty file."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def open_for_write(path: Path) -> IO[bytes]:
    """Open an existing temp file for writing (truncated) without following a symbolic link.

    Raises:
        StorageError: if ``path`` is a symbolic link (someone swapped the temp file for one).

    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_NOFOLLOW)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise refuse_link(path) from exc
        raise
    return os.fdopen(fd, "wb")


def refuse_link(path: Path) -> StorageError:
    """Return the error for a symbolic link found where sendstats was about to write."""
    try:
        target = f" (to {os.readlink(path)})"
    except OSError:
        target = ""
    return StorageError(
        f"{path} is a symbolic link{target}; sendstats never writes through a link: "
        "remove it and run again",
        folder=Path(path).parent,
    )


@contextlib.contextmanager
def temp_path_in(folder: Path, *, prefix: str = ".tmp.", suffix: str = ".part") -> Iterator[Path]:
    """Yield a fresh, empty temp file path in ``folder``; remove it on exit if still there.

    The caller may ``os.replace`` the temp file onto its final name; whatever is left at exit
    (an error, a refused download) is deleted, so no partial file survives.

    Raises:
        StorageError: the folder cannot be created or written (disk full, read-only).

    """
    with writing_into(folder, f"creating a temp file in {folder}"):
        folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=folder)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)


def publish_file(tmp: Path, path: Path) -> None:
    """Rename a complete temp file onto ``path`` (same folder), flushed and world-readable.

    A symbolic link standing at ``path`` is replaced by the file; its target is not touched.
    """
    with writing_into(path.parent, f"writing {path.name}"):
        fsync_file(tmp)
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temp path beside ``path``; rename it onto ``path`` only if the block succeeds.

    If the block raises, the temp file is removed and any existing ``path`` is left untouched.
    A full disk or a read-only folder, in the block or at the rename, is a :class:`StorageError`.
    """
    path = Path(path)
    with temp_path_in(path.parent, prefix=f".{path.name}.", suffix=".tmp") as tmp:
        with writing_into(path.parent, f"writing {path.name}"):
            yield tmp
        publish_file(tmp, path)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temp file and rename."""
    with atomic_path(path) as tmp, open_for_write(tmp) as out:
        out.write(data)


def atomic_write_text(path: Path, text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` through a temp file and rename."""
    atomic_write_bytes(path, text.encode("utf-8"))


def write_parquet_atomic(df: pl.DataFrame, path: Path) -> None:
    """Write a polars frame as parquet through a temp file and rename.

    polars reports a failed write (a full disk) as a ``ComputeError`` carrying the operating
    system's error number in its text; that becomes the :class:`StorageError` it stands for.
    """
    import polars as pl

    with atomic_path(path) as tmp, open_for_write(tmp) as out:
        try:
            df.write_parquet(out)
        except pl.exceptions.PolarsError as exc:
            found = _OS_ERROR_IN_TEXT.search(str(exc))
            code = int(found[1] or found[2]) if found else 0
            err = storage_error(
                OSError(code, os.strerror(code)), path.parent, f"writing {path.name}"
            )
            if err is None:
                raise
            raise err from exc


def is_our_temp_file(name: str) -> bool:
    """Return True if ``name`` is one of the temp file names sendstats itself creates."""
    return bool(_OUR_TEMP.match(name))


def sweep_stale_temp_files(folder: Path, before: float) -> list[Path]:
    """Delete the temp files of dead runs under ``folder``; return what was deleted.

    Only regular files named as sendstats names its temp files (:func:`is_our_temp_file`) and
    last modified before ``before`` (a ``time.time()``: the start of the current run) are
    deleted; symbolic links are neither followed nor deleted. Call it only while holding the
    data lock, when no other run can be writing. Errors are ignored: a file that cannot be
    deleted is left for the next run.
    """
    gone: list[Path] = []
    for root, dirs, files in os.walk(folder):  # never descends into linked folders
        dirs.sort()
        for name in sorted(files):
            if not is_our_temp_file(name):
                continue
            path = Path(root) / name
            try:
                info = os.lstat(path)
                if not stat.S_ISREG(info.st_mode) or info.st_mtime >= before:
                    continue
                path.unlink()
            except OSError:
                continue
            gone.append(path)
    return gone
