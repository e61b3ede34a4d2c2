"""Where declared files live in the cache, what a resolution returns, and what a miss says.

The cache is ``<data>/raw/<source>/<release>/<filename>``; a new upstream file awaiting a pin
bump waits under ``.pending/<sha256>/``. :class:`FetchResult` records where one declared file
was found and how it reached the cache (the manifest keeps it). A file is taken from the cache or
a raw archive only when its size and sha256 are the pin's; copying from an archive hashes while
it copies (one read), and a full disk there is a ``StorageError``, never "not in the archive".
The offline messages name the file, where it was looked for and how to get it. Used by
:mod:`sendstats.acquire.fetch`, which re-exports the public names.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from sendstats.acquire import manifest
from sendstats.acquire.catalog import PinnedFile, UnpinnedFile
from sendstats.acquire.download import FetchError, OfflineMiss, copy_hashing
from sendstats.core import config
from sendstats.core.io import publish_file, sha256_file, temp_path_in

#: Manifest route of a file declared without a pin and downloaded: its first pin comes from it.
UNPINNED_ROUTE: Final = "downloaded, unpinned (pin on first fetch)"
Route = Literal["cache", "archive", "download", "downloaded, unpinned (pin on first fetch)"]
DeclaredFile = PinnedFile | UnpinnedFile


class UnpinnedOffline(OfflineMiss):
    """Offline, and the file is declared without a pin: there is nothing to find it by."""


@dataclass(frozen=True)
class FetchResult:
    """Where one declared file was found, and how it reached the cache.

    When ``update_pins`` found a different upstream file, ``path``, ``sha256`` and ``bytes``
    describe the new file (kept under ``.pending/``) and ``previous_*`` the pin it replaces.
    When the file was declared without a pin (``unpinned``), they describe its first download.
    """

    source: str
    release: str
    name: str
    path: Path
    sha256: str
    bytes: int
    route: Route
    url: str
    previous_sha256: str | None = None
    previous_bytes: int | None = None
    unpinned: bool = False

    @property
    def id(self) -> str:
        """The manifest id of this input: ``source/release/name``."""
        return manifest.input_id(self.source, self.release, self.name)

    @property
    def pin_changed(self) -> bool:
        """True when this is a new upstream file whose pin must be bumped before use."""
        return self.previous_sha256 is not None

    @property
    def needs_pin(self) -> bool:
        """True when the declaration must be edited (new pin or changed pin) to match."""
        return self.pin_changed or self.unpinned


def cache_path(source: str, release: str, declared: DeclaredFile) -> Path:
    """Return where a declared file lives in the cache."""
    return config.raw_cache_dir() / source / release / declared.filename


def pending_path(source: str, release: str, declared: DeclaredFile, sha256: str) -> Path:
    """Return where a new upstream file awaiting a pin bump is kept."""
    return config.raw_cache_dir() / source / release / ".pending" / sha256 / declared.filename


def is_pinned_file(path: Path, pinned: PinnedFile) -> bool:
    """Return True if ``path`` holds the pinned file (its size, then its sha256)."""
    try:
        if path.stat().st_size != pinned.bytes:
            return False
    except OSError:
        return False
    return sha256_file(path) == pinned.sha256


def copy_pinned(src: Path, dest: Path, pinned: PinnedFile, label: str) -> bool:
    """Copy an archive file into the cache; False if it changed since it was indexed.

    Only a failure to read the archive file means "not this one"; a failure to write the cache
    (a full disk) is a ``StorageError`` and propagates.
    """
    with temp_path_in(dest.parent, prefix=f".{pinned.filename}.", suffix=".part") as tmp:
        try:
            with open(src, "rb") as fh:
                got, size = copy_hashing(fh, tmp, pinned.bytes, label)
        except (OSError, FetchError):
            return False
        if got != pinned.sha256 or size != pinned.bytes:
            return False
        publish_file(tmp, dest)
    return True


def offline_miss(
    source: str, release: str, pinned: PinnedFile, dest: Path, update: bool
) -> OfflineMiss:
    """Return the error for a pinned file found nowhere offline, naming where it was looked for."""
    if update:
        return OfflineMiss(f"{source} {release}/{pinned.name}: --update-pins needs the network")
    dirs = ", ".join(str(d) for d in config.archive_dirs()) or "none (set SENDSTATS_ARCHIVE)"
    return OfflineMiss(
        f"{source} release {release}, file {pinned.name} ({pinned.filename}): not found, and "
        "offline mode forbids downloading.\n"
        f"  looked in the cache: {dest}\n"
        f"  looked in the raw archives for sha256 {pinned.sha256} ({pinned.bytes} bytes): {dirs}\n"
        f"  would download from: {pinned.url}"
    )


def unpinned_offline(
    source: str, release: str, declared: UnpinnedFile, dest: Path
) -> UnpinnedOffline:
    """Return the error for an unpinned file asked for offline, saying how to pin it."""
    checked = "" if declared.url_verified is not False else " (not verified)"
    earlier = (
        f"\n  a copy downloaded earlier is in the cache ({dest}) but is not used until pinned"
        if dest.is_file()
        else ""
    )
    return UnpinnedOffline(
        f"{source} release {release}, file {declared.name} ({declared.filename}): declared but "
        "not pinned (sha256: null), so it cannot be matched in the cache or a raw archive, and "
        "offline mode forbids downloading it.\n"
        f"  download URL{checked}: {declared.url}\n"
        f"  to pin it, on a connected machine: `sendstats fetch {source} --release {release}` "
        "downloads it and prints the declaration diff (its sha256 and bytes); review it, then "
        "rerun with --write-pins (or copy the two lines into "
        f"data_sources/{source}.yaml) and commit.{earlier}"
    )
