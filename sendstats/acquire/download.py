"""Download primitives: errors, the retry policy, content checks of a file, safe zip members.

What :mod:`sendstats.acquire.fetch` uses to reach a publisher. The HTTP transfer itself (redirect
hops checked before they are followed, time limits, retries with :mod:`tenacity`, the body
checked as it streams) is :mod:`sendstats.acquire.http`; :func:`download` is its entry point.
A zip member is extracted only if its path stays inside its folder, and its content is checked
as its declared format (:mod:`sendstats.acquire.content`). A full disk is a
:class:`~sendstats.core.io.StorageError`, never a retry or a "not found". Nothing here knows
about the cache, the archives or the pins.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING

from sendstats.acquire.content import ContentError, check_file
from sendstats.core.io import open_for_write, writing_into

if TYPE_CHECKING:  # httpx is imported where a download runs: a build from cache never needs it
    pass

MAX_DOWNLOAD_BYTES = 4 * 1024**3
_CHUNK = 1 << 16


class FetchError(RuntimeError):
    """A declared file could not be resolved; the message names the file and the cause."""


class ChecksumMismatch(FetchError):  # noqa: N818 (name asked for by the CLI)
    """The bytes obtained are not the pinned file."""

    def __init__(self, label: str, *, expected: str, got: str, expected_bytes: int, got_bytes: int):
        self.expected, self.got = expected, got
        super().__init__(
            f"{label}: sha256 mismatch\n  expected {expected} ({expected_bytes} bytes)\n"
            f"  got      {got} ({got_bytes} bytes)\nThe cache is unchanged. If the publisher "
            "replaced the file, review it and accept it with `sendstats fetch --update-pins`."
        )


class OfflineMiss(FetchError):  # noqa: N818
    """Offline mode, and the file is neither in the cache nor in a raw archive."""


class HtmlInsteadOfFile(FetchError):  # noqa: N818
    """The server sent an HTML page (an error or release page) where a data file was expected."""


class UnsafeArchiveMember(FetchError):  # noqa: N818
    """A zip member path is absolute or escapes its folder."""


@dataclass(frozen=True)
class RetryPolicy:
    """Timeouts (seconds) and bounded retries with exponential backoff.

    ``max_delay`` caps both the backoff and a server's ``Retry-After``. ``deadline`` bounds one
    download as a whole (every attempt and wait); ``min_rate`` (bytes per second) is checked
    over each ``rate_window`` seconds of a body, so a server dripping bytes is cut off.
    """

    attempts: int = 4
    base_delay: float = 1.0
    max_delay: float = 60.0
    connect_timeout: float = 15.0
    read_timeout: float = 60.0
    deadline: float = 3600.0
    min_rate: float = 1024.0
    rate_window: float = 30.0
    max_redirects: int = 10

    def backoff(self, attempt: int) -> float:
        """Return the wait before retry number ``attempt`` (1-based)."""
        return float(min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))


DEFAULT_POLICY = RetryPolicy()


def check_member_name(member: str) -> None:
    """Refuse a zip member path that is absolute or climbs out of its folder."""
    parts = PurePosixPath(member).parts
    if (
        not member
        or "\\" in member
        or "\x00" in member
        or member.startswith("/")
        or re.match(r"^[A-Za-z]:", member)
        or ".." in parts
    ):
        raise UnsafeArchiveMember(f"unsafe zip member {member!r}: absolute or escapes its folder")


def copy_hashing(src: IO[bytes], dst: Path, limit: int, label: str) -> tuple[str, int]:
    """Copy ``src`` into ``dst`` while hashing; refuse more than ``limit`` bytes."""
    digest, size = hashlib.sha256(), 0
    with open_for_write(dst) as out:
        while chunk := src.read(_CHUNK):
            size += len(chunk)
            if size > limit:
                raise FetchError(f"{label}: larger than the declared {limit} bytes; refused")
            digest.update(chunk)
            with writing_into(dst.parent, f"copying {label}"):
                out.write(chunk)
        with writing_into(dst.parent, f"copying {label}"):
            out.flush()
    return digest.hexdigest(), size


class _TransientError(Exception):
    """A failure worth another attempt (connection, timeout, cut-off body, 408/425/429, 5xx)."""

    def __init__(self, problem: str, retry_after: float | None = None):
        super().__init__(problem)
        self.problem, self.retry_after = problem, retry_after


def extract_member(
    zip_path: Path, member: str, tmp: Path, limit: int, label: str, kind: str = ""
) -> tuple[str, int]:
    """Extract one zip member into ``tmp``; return (sha256, bytes).

    The member's path is checked, its size bounded, and its content checked as format ``kind``
    (when given), so a page or a stray file inside a release zip is not kept.
    """
    check_member_name(member)
    try:
        with zipfile.ZipFile(zip_path) as zf:
            try:
                info = zf.getinfo(member)
            except KeyError:
                names = ", ".join(zf.namelist()[:20])
                raise FetchError(
                    f"{label}: no member {member!r} in the zip; it holds: {names}"
                ) from None
            if info.is_dir():
                raise FetchError(f"{label}: zip member {member!r} is a folder")
            if info.file_size > limit:
                raise FetchError(
                    f"{label}: zip member {member!r} is {info.file_size} bytes, larger than "
                    f"the declared {limit}; refused"
                )
            with zf.open(info) as src:
                got = copy_hashing(src, tmp, limit, label)
    except zipfile.BadZipFile as exc:
        raise FetchError(f"{label}: the download is not a valid zip: {exc}") from exc
    if kind:
        check_content(tmp, kind, label, f"zip member {member!r}")
    return got


def check_content(path: Path, kind: str, label: str, where: str) -> None:
    """Refuse a complete file that is not format ``kind``, saying what it looks like instead.

    Raises:
        HtmlInsteadOfFile: it is an HTML page.
        FetchError: it is something else that is not a ``kind`` file.

    """
    try:
        check_file(path, kind)
    except ContentError as exc:
        if exc.html:
            raise HtmlInsteadOfFile(
                f"{label}: {where} served an HTML page, not the data file ({exc}: an error "
                "page, or a release page instead of the download link); refused"
            ) from exc
        raise FetchError(f"{label}: {where} is not a {kind} file: {exc}; refused") from exc
