"""Download primitives: HTTP with timeouts and bounded retries, sniffing, safe zip members.

What :mod:`sendstats.acquire.fetch` uses to reach a publisher: a URL is streamed to a temp file with
connect and read timeouts and bounded retries (honouring ``Retry-After``), refused if it is an
HTML page (an error or release page served instead of the file), if it does not start like the
declared format, or if it is larger than allowed; a zip member is extracted only if its path
stays inside its folder. Nothing here knows about the cache, the archives or the pins.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import re
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING
from urllib.parse import urlsplit

from tqdm import tqdm

if TYPE_CHECKING:  # httpx is imported where a download runs: a build from cache never needs it
    import httpx

MAX_DOWNLOAD_BYTES = 4 * 1024**3
_CHUNK = 1 << 16
_SNIFF_BYTES = 512
_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_RETRY_STATUS = frozenset({408, 425, 429})
_MAGIC = {"zip": b"PK", "xlsx": b"PK", "ods": b"PK", "xls": b"\xd0\xcf\x11\xe0", "parquet": b"PAR1"}
_HTML_STARTS = (b"<!doctype html", b"<html", b"<head", b"<body")


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


class _TransientError(Exception):
    def __init__(self, problem: str, retry_after: float | None = None):
        super().__init__(problem)
        self.problem, self.retry_after = problem, retry_after


@dataclass(frozen=True)
class RetryPolicy:
    """Timeouts (seconds) and bounded retries with exponential backoff.

    ``max_delay`` caps both the backoff and a server's ``Retry-After``.
    """

    attempts: int = 4
    base_delay: float = 1.0
    max_delay: float = 60.0
    connect_timeout: float = 15.0
    read_timeout: float = 60.0

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
    with open(dst, "wb") as out:
        while chunk := src.read(_CHUNK):
            size += len(chunk)
            if size > limit:
                raise FetchError(f"{label}: larger than the declared {limit} bytes; refused")
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest(), size


# ---------------------------------------------------------------- HTTP


def _check_url(url: str, label: str) -> None:
    parts = urlsplit(url)
    if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOCAL_HOSTS):
        return
    raise FetchError(f"{label}: refusing {url}: downloads must use https://")


def _retry_after(resp: httpx.Response) -> float | None:
    value = resp.headers.get("retry-after", "").strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


def _html_error(label: str, url: str) -> HtmlInsteadOfFile:
    return HtmlInsteadOfFile(
        f"{label}: {url} served an HTML page, not the data file (an error page, or a release "
        "page instead of the download link); refused"
    )


def _check_response(resp: httpx.Response, limit: int, label: str) -> None:
    status = resp.status_code
    if status in _RETRY_STATUS or status >= 500:
        raise _TransientError(f"HTTP {status} {resp.reason_phrase}", _retry_after(resp))
    if status != 200:
        raise FetchError(f"{label}: HTTP {status} {resp.reason_phrase} from {resp.url}")
    _check_url(str(resp.url), label)
    ctype = resp.headers.get("content-type", "").lower()
    if ctype.startswith(("text/html", "application/xhtml")):
        raise _html_error(label, str(resp.url))
    length = resp.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise FetchError(
            f"{label}: {resp.url} announces {int(length)} bytes, larger than the declared "
            f"{limit}; refused without reading"
        )


def _sniff(head: bytes, kind: str, label: str, url: str) -> None:
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").lower().startswith(_HTML_STARTS):
        raise _html_error(label, url)
    magic = _MAGIC.get(kind)
    if magic and not head.startswith(magic):
        raise FetchError(f"{label}: {url} did not serve a {kind} file (starts {head[:16]!r})")


def _write_body(
    resp: httpx.Response, tmp: Path, limit: int, kind: str, label: str, progress: bool
) -> tuple[str, int]:
    digest, size, head = hashlib.sha256(), 0, b""
    length = resp.headers.get("content-length", "")
    bar = tqdm(
        total=int(length) if length.isdigit() else None,
        desc=label,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        file=sys.stderr,
        leave=False,
        disable=None if progress else True,
    )
    with bar, open(tmp, "wb") as out:
        for chunk in resp.iter_bytes(_CHUNK):
            if len(head) < _SNIFF_BYTES:
                head += chunk[: _SNIFF_BYTES - len(head)]
                if len(head) >= _SNIFF_BYTES:
                    _sniff(head, kind, label, str(resp.url))
            size += len(chunk)
            if size > limit:
                raise FetchError(
                    f"{label}: {resp.url} sent more than the declared {limit} bytes; "
                    "stopped reading and refused"
                )
            digest.update(chunk)
            out.write(chunk)
            bar.update(resp.num_bytes_downloaded - bar.n)
    if len(head) < _SNIFF_BYTES:
        _sniff(head, kind, label, str(resp.url))
    return digest.hexdigest(), size


def _stream_once(
    client: httpx.Client, url: str, tmp: Path, limit: int, kind: str, label: str, progress: bool
) -> tuple[str, int]:
    import httpx

    try:
        with client.stream("GET", url) as resp:
            _check_response(resp, limit, label)
            return _write_body(resp, tmp, limit, kind, label, progress)
    except httpx.TransportError as exc:
        raise _TransientError(f"{type(exc).__name__}: {exc or 'no detail'}") from exc
    except httpx.RequestError as exc:
        raise FetchError(f"{label}: {url}: {type(exc).__name__}: {exc}") from exc


def download(
    client: httpx.Client,
    url: str,
    tmp: Path,
    *,
    limit: int,
    kind: str,
    label: str,
    policy: RetryPolicy,
    progress: bool,
) -> tuple[str, int]:
    """Stream ``url`` into ``tmp`` with bounded retries; return (sha256, bytes).

    Transient failures (connection errors, timeouts, cut-off bodies, 408/425/429, 5xx) are
    retried with backoff, honouring ``Retry-After`` up to ``policy.max_delay``.

    Raises:
        FetchError: on a refused response or when the retries are used up.

    """
    _check_url(url, label)
    problem = ""
    for attempt in range(1, policy.attempts + 1):
        try:
            return _stream_once(client, url, tmp, limit, kind, label, progress)
        except _TransientError as exc:
            problem = exc.problem
            if attempt == policy.attempts:
                break
            wait = exc.retry_after if exc.retry_after is not None else policy.backoff(attempt)
            wait = min(wait, policy.max_delay)
            print(
                f"{label}: {problem}; retry {attempt + 1}/{policy.attempts} in {wait:.1f} s",
                file=sys.stderr,
            )
            time.sleep(wait)
    raise FetchError(
        f"{label}: giving up on {url} after {policy.attempts} attempts; last error: {problem}"
    )


def extract_member(
    zip_path: Path, member: str, tmp: Path, limit: int, label: str
) -> tuple[str, int]:
    """Extract one zip member into ``tmp`` (path checked, size bounded); return (sha256, bytes)."""
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
                return copy_hashing(src, tmp, limit, label)
    except zipfile.BadZipFile as exc:
        raise FetchError(f"{label}: the download is not a valid zip: {exc}") from exc
