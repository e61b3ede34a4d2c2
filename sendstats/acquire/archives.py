"""Find raw files in the archive folders of ``SENDSTATS_ARCHIVE`` by their content.

A pinned file is matched by size, then by sha256, whatever its name or folder: each archive
folder is scanned once per process and indexed by size; the fetch hashes each candidate of the
pinned size as it copies it (one read), keeping the one whose sha256 is the pin's. Hidden
folders are skipped.
"""

from __future__ import annotations

import os
from pathlib import Path

from sendstats.core import config


class _ArchiveIndex:
    """Files of one archive folder by size, scanned on first use."""

    def __init__(self, root: Path):
        self.root = root
        self.by_size: dict[int, list[Path]] | None = None

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
