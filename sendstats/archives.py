"""Find raw files in the archive folders of ``SENDSTATS_ARCHIVE`` by their content.

A pinned file is matched by sha256 and size whatever its name or folder: each archive folder is
scanned once per process and indexed by size, and only files of the wanted size are hashed (the
hashes are remembered until the file changes). Hidden folders are skipped.
"""

from __future__ import annotations

import os
from pathlib import Path

from sendstats import config
from sendstats.io import sha256_file


class _ArchiveIndex:
    """Files of one archive folder by size; hashes computed lazily and remembered."""

    def __init__(self, root: Path):
        self.root = root
        self.by_size: dict[int, list[Path]] | None = None
        self.hashes: dict[tuple[str, int, int], str] = {}

    def _scan(self) -> dict[int, list[Path]]:
        found: dict[int, list[Path]] = {}
        for folder, dirs, files in os.walk(self.root):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                path = Path(folder) / name
                try:
                    found.setdefault(path.stat().st_size, []).append(path)
                except OSError:
                    continue
        return found

    def of_size(self, size: int) -> list[Path]:
        if self.by_size is None:
            self.by_size = self._scan()
        return list(self.by_size.get(size, []))

    def find(self, sha256: str, size: int) -> Path | None:
        for path in self.of_size(size):
            try:
                st = path.stat()
            except OSError:
                continue
            key = (str(path), st.st_size, st.st_mtime_ns)
            if key not in self.hashes:
                self.hashes[key] = sha256_file(path)
            if st.st_size == size and self.hashes[key] == sha256:
                return path
        return None


_INDEXES: dict[Path, _ArchiveIndex] = {}


def clear_archive_index() -> None:
    """Forget the in-process index of the raw archives (after files were added to them)."""
    _INDEXES.clear()


def archive_candidates(size: int) -> list[Path]:
    """Return the files of the raw archives with this size (archive order), unhashed.

    For a caller that hashes while it copies (the fetch): one read of the file, not two.
    """
    out: list[Path] = []
    for root in config.archive_dirs():
        if root.is_dir():
            out.extend(_INDEXES.setdefault(root, _ArchiveIndex(root)).of_size(size))
    return out


def find_in_archives(sha256: str, size: int) -> Path | None:
    """Return a file of the raw archives with this content, or None."""
    for root in config.archive_dirs():
        if not root.is_dir():
            continue
        index = _INDEXES.setdefault(root, _ArchiveIndex(root))
        if (hit := index.find(sha256, size)) is not None:
            return hit
    return None
