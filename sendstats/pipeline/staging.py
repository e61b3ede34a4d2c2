"""Stage a build's tables, then commit them all at once: a failed build replaces nothing.

Each table a step makes is written (through a temp file and a rename) into a private folder,
``<data>/.staging/<run>/``. Only after every step has succeeded does :meth:`Staging.commit`
move each one onto its place (a rename within one file system) and record it in the manifest,
in step order. A failure, an interrupt or a refused input before that leaves the previous
tables, manifest and build state exactly as they were; the staging folder is removed on exit,
and any left by a killed run is swept by the next one (runs hold the data lock, so no other
run can be using it).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from sendstats.acquire import manifest
from sendstats.core import io as sio

if TYPE_CHECKING:
    import polars as pl

STAGING_DIR = ".staging"


@dataclass
class _Pending:
    step: str
    staged: Path
    output: Path
    reads: list[str]
    rows: int
    details: dict[str, Any] | None = field(default=None)


class Staging:
    """A build's private output folder, committed whole or not at all."""

    def __init__(self, data_dir: Path) -> None:
        """Prepare a staging folder under ``data_dir`` (created on entry)."""
        self.data_dir = data_dir
        self.base = data_dir / STAGING_DIR
        self.root = self.base / str(os.getpid())
        self.pending: list[_Pending] = []

    def __enter__(self) -> Staging:
        """Begin; the folder is made (and any left by killed runs swept) at the first write.

        A build with nothing to do writes nothing, so it also runs on a read-only data folder.
        """
        return self

    def prepare(self) -> None:
        """Sweep staging folders left by killed runs, then create this run's (once).

        Called by the build in its main thread before a step's thread writes into the folder,
        so two threads never sweep or create it at once.
        """
        if self.root.is_dir():
            return
        if self.base.is_symlink():
            self.base.unlink()  # never write through a link
        elif self.base.is_dir():
            shutil.rmtree(self.base)
        self.root.mkdir(parents=True)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Remove the staging folder, committed or not (nothing to do if none was made)."""
        if self.root.is_dir():
            shutil.rmtree(self.base, ignore_errors=True)

    def write(self, relative: str, df: pl.DataFrame) -> tuple[Path, str]:
        """Write a table into the staging folder; return its staged path and sha256."""
        self.prepare()
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        sio.write_parquet_atomic(df, path)
        return path, sio.sha256_file(path)

    def record(
        self,
        step: str,
        staged: Path,
        output: Path,
        *,
        reads: list[str],
        rows: int,
        details: dict[str, Any] | None,
    ) -> None:
        """Remember a staged table to move to ``output`` and record at commit."""
        self.pending.append(_Pending(step, staged, output, reads, rows, details))

    def commit(self) -> None:
        """Move every staged table onto its place, then record them in one manifest write.

        The renames come first and are each atomic; a link found at an output's place is
        replaced, never followed. The manifest records an output only once it is in place.
        """
        for item in self.pending:
            item.output.parent.mkdir(parents=True, exist_ok=True)
            os.replace(item.staged, item.output)
        manifest.record_outputs(
            [
                manifest.OutputRecord(item.output, item.step, item.reads, item.rows, item.details)
                for item in self.pending
            ]
        )
        self.pending.clear()
