"""A full disk or a read-only folder, played in-process for tests.

:func:`fail_writes_under` makes the operating system calls that write under one folder fail as
they would on a full disk (ENOSPC: files can be created, their bytes cannot be written) or on a
read-only mount (EROFS: nothing can be created, renamed or opened for writing), so the tests run
anywhere and as any user, root included. A real tiny tmpfs gives the same errors (checked by hand:
see the README's reliability section).
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under root (hidden ones too) with its bytes; links by their target.

    The data lock file is left out: it records who took the lock last, which every run does.
    """
    out: dict[str, bytes] = {}
    for p in sorted(root.rglob("*")):
        key = str(p.relative_to(root))
        if key == ".lock":
            continue
        if p.is_symlink():
            out[key] = b"-> " + os.readlink(p).encode()
        elif p.is_file():
            out[key] = p.read_bytes()
    return out


def fail_writes_under(monkeypatch: pytest.MonkeyPatch, folder: Path, code: int) -> None:
    """Make every call that would create or change a file under ``folder`` fail with ``code``.

    Covers os.open for writing (so mkstemp, open(..., "w") and filelock), os.mkdir, os.replace,
    os.rename and os.write on descriptors opened under the folder, so a write fails at its first
    step, as on a read-only mount (EROFS) or a full disk (ENOSPC, which lets the temp file be
    created and fails the write of its bytes).
    """
    root = str(folder)
    fds: set[int] = set()
    real_open, real_write = os.open, os.write
    real_mkdir, real_replace, real_rename = os.mkdir, os.replace, os.rename

    def under(path: Any) -> bool:
        try:
            return os.path.abspath(os.fspath(path)).startswith(root)
        except TypeError:
            return False

    def fail(path: Any = "") -> OSError:
        return OSError(code, os.strerror(code), str(path))

    def fake_open(path: Any, flags: int, mode: int = 0o777, *, dir_fd: int | None = None) -> int:
        if under(path) and flags & _WRITE_FLAGS:
            if code != errno.ENOSPC:
                raise fail(path)
            fd = real_open(path, flags, mode, dir_fd=dir_fd)  # a full disk fails the writes
            fds.add(fd)
            return fd
        return real_open(path, flags, mode, dir_fd=dir_fd)

    def fake_write(fd: int, data: Any) -> int:
        if fd in fds and len(data):
            raise fail()
        return real_write(fd, data)

    def guard(real: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if code != errno.ENOSPC and any(under(a) for a in args[:2]):
                raise fail(args[0])
            return real(*args, **kwargs)

        return wrapped

    real_fdopen = os.fdopen

    def fake_fdopen(fd: int, *args: Any, **kwargs: Any) -> Any:
        fh = real_fdopen(fd, *args, **kwargs)
        return _FullFile(fh) if fd in fds else fh

    real_access = os.access

    def fake_access(path: Any, mode: int, **kwargs: Any) -> bool:
        if code != errno.ENOSPC and mode & os.W_OK and under(path):
            return False  # as access(2) answers on a read-only mount
        return real_access(path, mode, **kwargs)

    monkeypatch.setattr(os, "access", fake_access)
    monkeypatch.setattr(os, "open", fake_open)
    monkeypatch.setattr(os, "write", fake_write)
    monkeypatch.setattr(os, "fdopen", fake_fdopen)
    monkeypatch.setattr(os, "mkdir", guard(real_mkdir))
    monkeypatch.setattr(os, "replace", guard(real_replace))
    monkeypatch.setattr(os, "rename", guard(real_rename))


class _FullFile:
    """A file object on a full disk: every non-empty write fails with ENOSPC."""

    def __init__(self, fh: Any):
        self._fh = fh

    def write(self, data: Any) -> int:
        if len(data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fh, name)

    def __enter__(self) -> _FullFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self._fh.close()
