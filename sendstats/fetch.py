"""Fetch the pinned raw files of the source declarations into the local cache.

Every file of ``data_sources/<id>.yaml`` (for example the DfE "Education, health and care plans"
release files, published as members of the release's "Download all data" zip) is resolved in
this order:

1. the cache ``<data>/raw/<source>/<release>/<filename>``, verified by sha256;
2. the raw archive folders of ``SENDSTATS_ARCHIVE``, where a file is found by its content
   whatever its name (only files of the declared size are hashed);
3. the publisher's URL: streamed to a temp file with timeouts and bounded retries, refused if it
   is an HTML page or larger than declared, the zip member extracted safely, sha256 verified,
   renamed into place.

A sha256 mismatch is an error that shows both hashes and leaves the cache as it was. Accepting a
new upstream file is explicit (``update_pins=True``): the file is kept under ``.pending/<sha256>/``
and the YAML diff to commit is printed; it is promoted into the cache once the pin says so.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import difflib
import email.utils
import hashlib
import os
import re
import sys
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import IO, Literal
from urllib.parse import urlsplit

import httpx
import yaml
from tqdm import tqdm

from sendstats import __version__, catalog, config, manifest
from sendstats.catalog import PinnedFile
from sendstats.io import atomic_write_text, data_lock, publish_file, sha256_file, temp_path_in

Route = Literal["cache", "archive", "download"]
MAX_DOWNLOAD_BYTES = 4 * 1024**3
_CHUNK = 1 << 16
_SNIFF_BYTES = 512
_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_RETRY_STATUS = frozenset({408, 425, 429})
_MAGIC = {"zip": b"PK", "xlsx": b"PK", "ods": b"PK", "xls": b"\xd0\xcf\x11\xe0", "parquet": b"PAR1"}
_HTML_STARTS = (b"<!doctype html", b"<html", b"<head", b"<body")


class FetchError(RuntimeError):
    """A pinned file could not be resolved; the message names the file and the cause."""


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


@dataclass(frozen=True)
class FetchResult:
    """Where one pinned file was found, and how it reached the cache.

    When ``update_pins`` found a different upstream file, ``path``, ``sha256`` and ``bytes``
    describe the new file (kept under ``.pending/``) and ``previous_*`` the pin it replaces.
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

    @property
    def id(self) -> str:
        """The manifest id of this input: ``source/release/name``."""
        return manifest.input_id(self.source, self.release, self.name)

    @property
    def pin_changed(self) -> bool:
        """True when this is a new upstream file whose pin must be bumped before use."""
        return self.previous_sha256 is not None


def cache_path(source: str, release: str, pinned: PinnedFile) -> Path:
    """Return where a pinned file lives in the cache."""
    return config.raw_cache_dir() / source / release / pinned.filename


def pending_path(source: str, release: str, pinned: PinnedFile, sha256: str) -> Path:
    """Return where a new upstream file awaiting a pin bump is kept."""
    return config.raw_cache_dir() / source / release / ".pending" / sha256 / pinned.filename


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


# ---------------------------------------------------------------- raw archives, by content


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

    def find(self, sha256: str, size: int) -> Path | None:
        if self.by_size is None:
            self.by_size = self._scan()
        for path in self.by_size.get(size, []):
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


def find_in_archives(sha256: str, size: int) -> Path | None:
    """Return a file of the raw archives with this content, or None."""
    for root in config.archive_dirs():
        if not root.is_dir():
            continue
        index = _INDEXES.setdefault(root, _ArchiveIndex(root))
        if (hit := index.find(sha256, size)) is not None:
            return hit
    return None


def _copy_hashing(src: IO[bytes], dst: Path, limit: int, label: str) -> tuple[str, int]:
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


def _html_error(label: str, url: str) -> FetchError:
    return FetchError(
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
    try:
        with client.stream("GET", url) as resp:
            _check_response(resp, limit, label)
            return _write_body(resp, tmp, limit, kind, label, progress)
    except httpx.TransportError as exc:
        raise _TransientError(f"{type(exc).__name__}: {exc or 'no detail'}") from exc
    except httpx.RequestError as exc:
        raise FetchError(f"{label}: {url}: {type(exc).__name__}: {exc}") from exc


def _download(
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


def _extract_member(
    zip_path: Path, member: str, tmp: Path, limit: int, label: str
) -> tuple[str, int]:
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
                return _copy_hashing(src, tmp, limit, label)
    except zipfile.BadZipFile as exc:
        raise FetchError(f"{label}: the download is not a valid zip: {exc}") from exc


# ---------------------------------------------------------------- resolution


class Fetcher:
    """One fetch run: an HTTP client, and each release zip downloaded at most once.

    Use as a context manager; temp zips are deleted on exit.
    """

    def __init__(
        self,
        *,
        offline: bool | None = None,
        update_pins: bool = False,
        progress: bool = True,
        policy: RetryPolicy | None = None,
        record: bool = True,
    ):
        self.offline = config.offline() if offline is None else offline
        self.update_pins = update_pins
        self.progress = progress
        self.policy = policy or DEFAULT_POLICY
        self.record = record
        self._client: httpx.Client | None = None
        self._zips: dict[str, Path] = {}
        self._failed: dict[str, str] = {}

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP client and delete downloaded zips."""
        if self._client is not None:
            self._client.close()
            self._client = None
        for path in self._zips.values():
            path.unlink(missing_ok=True)
        self._zips.clear()

    @property
    def client(self) -> httpx.Client:
        """The HTTP client, created on first use (never in offline mode)."""
        if self._client is None:
            self._client = httpx.Client(
                timeout=httpx.Timeout(
                    self.policy.read_timeout, connect=self.policy.connect_timeout
                ),
                follow_redirects=True,
                max_redirects=10,
                headers={"User-Agent": f"sendstats/{__version__}"},
            )
        return self._client

    def fetch_to(
        self, url: str, member: str | None, fmt: str, tmp: Path, limit: int, label: str
    ) -> tuple[str, int]:
        """Download ``url`` (or its zip ``member``) into ``tmp``; return (sha256, bytes)."""
        if self.offline or config.offline():
            raise OfflineMiss(f"{label}: offline mode forbids downloading {url}")
        if member is None:
            return _download(
                self.client,
                url,
                tmp,
                limit=limit,
                kind=fmt,
                label=label,
                policy=self.policy,
                progress=self.progress,
            )
        check_member_name(member)
        if url in self._failed:
            # One broken release zip must not be retried once per member.
            raise FetchError(f"{label}: {self._failed[url]}")
        if url not in self._zips:
            folder = config.raw_cache_dir() / ".downloads"
            try:
                with temp_path_in(folder, prefix=".release.", suffix=".zip") as ztmp:
                    _download(
                        self.client,
                        url,
                        ztmp,
                        limit=MAX_DOWNLOAD_BYTES,
                        kind="zip",
                        label=label,
                        policy=self.policy,
                        progress=self.progress,
                    )
                    kept = ztmp.with_suffix(".zip.ok")
                    os.replace(ztmp, kept)
            except FetchError as exc:
                self._failed[url] = f"the release zip failed earlier in this run ({exc})"
                raise
            self._zips[url] = kept
        return _extract_member(self._zips[url], member, tmp, limit, label)

    def resolve(self, source: str, release: str, pinned: PinnedFile) -> FetchResult:
        """Resolve one pinned file (cache, then archives, then download) and record it."""
        with data_lock():
            result = self._resolve_locked(source, release, pinned)
            if self.record:
                manifest.record_inputs([result])
        return result

    def _result(
        self, source: str, release: str, pinned: PinnedFile, path: Path, route: Route
    ) -> FetchResult:
        return FetchResult(
            source, release, pinned.name, path, pinned.sha256, pinned.bytes, route, pinned.url
        )

    def _resolve_locked(self, source: str, release: str, pinned: PinnedFile) -> FetchResult:
        label = f"{source} {release}/{pinned.name} ({pinned.filename})"
        dest = cache_path(source, release, pinned)
        if not self.update_pins:
            if _is_pinned_file(dest, pinned):
                return self._result(source, release, pinned, dest, "cache")
            pending = pending_path(source, release, pinned, pinned.sha256)
            if _is_pinned_file(pending, pinned):
                os.replace(pending, dest)
                with contextlib.suppress(OSError):
                    pending.parent.rmdir()
                return self._result(source, release, pinned, dest, "cache")
            found = find_in_archives(pinned.sha256, pinned.bytes)
            if found is not None and _copy_pinned(found, dest, pinned, label):
                return self._result(source, release, pinned, dest, "archive")
        if self.offline:
            raise _offline_miss(source, release, pinned, dest, self.update_pins)
        limit = MAX_DOWNLOAD_BYTES if self.update_pins else pinned.bytes
        with temp_path_in(dest.parent, prefix=f".{pinned.filename}.", suffix=".part") as tmp:
            got, size = self.fetch_to(pinned.url, pinned.member, pinned.format, tmp, limit, label)
            if got == pinned.sha256 and size == pinned.bytes:
                publish_file(tmp, dest)
                return self._result(source, release, pinned, dest, "download")
            if not self.update_pins:
                raise ChecksumMismatch(
                    label,
                    expected=pinned.sha256,
                    got=got,
                    expected_bytes=pinned.bytes,
                    got_bytes=size,
                )
            new = pending_path(source, release, pinned, got)
            new.parent.mkdir(parents=True, exist_ok=True)
            publish_file(tmp, new)
        return FetchResult(
            source,
            release,
            pinned.name,
            new,
            got,
            size,
            "download",
            pinned.url,
            previous_sha256=pinned.sha256,
            previous_bytes=pinned.bytes,
        )


def _is_pinned_file(path: Path, pinned: PinnedFile) -> bool:
    try:
        if path.stat().st_size != pinned.bytes:
            return False
    except OSError:
        return False
    return sha256_file(path) == pinned.sha256


def _copy_pinned(src: Path, dest: Path, pinned: PinnedFile, label: str) -> bool:
    """Copy an archive file into the cache; False if it changed since it was indexed."""
    with temp_path_in(dest.parent, prefix=f".{pinned.filename}.", suffix=".part") as tmp:
        try:
            with open(src, "rb") as fh:
                got, size = _copy_hashing(fh, tmp, pinned.bytes, label)
        except (OSError, FetchError):
            return False
        if got != pinned.sha256 or size != pinned.bytes:
            return False
        publish_file(tmp, dest)
    return True


def _offline_miss(
    source: str, release: str, pinned: PinnedFile, dest: Path, update: bool
) -> OfflineMiss:
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


def download_to_cache(
    url: str,
    member: str | None,
    sha256: str,
    size: int,
    dest: Path,
    *,
    fmt: str = "",
    policy: RetryPolicy | None = None,
    progress: bool = False,
) -> Path:
    """Download one file (or zip member) to ``dest``, verified against ``sha256`` and ``size``.

    The low-level download step, without cache or archive lookup or manifest record.

    Raises:
        FetchError: on a refused or failed download; ``ChecksumMismatch`` if the bytes differ.

    """
    dest = Path(dest)
    label = dest.name
    kind = fmt or dest.suffix.lstrip(".")
    with (
        Fetcher(offline=False, progress=progress, policy=policy, record=False) as fetcher,
        temp_path_in(dest.parent, prefix=f".{dest.name}.", suffix=".part") as tmp,
    ):
        got, n = fetcher.fetch_to(url, member, kind, tmp, size, label)
        if got != sha256 or n != size:
            raise ChecksumMismatch(
                label, expected=sha256, got=got, expected_bytes=size, got_bytes=n
            )
        publish_file(tmp, dest)
    return dest


def resolve_pinned(
    source: str,
    release: str,
    pinned: PinnedFile,
    *,
    offline: bool | None = None,
    update_pins: bool = False,
    progress: bool = False,
    policy: RetryPolicy | None = None,
) -> FetchResult:
    """Resolve one pinned file given directly (not looked up in the catalog) and record it."""
    with Fetcher(offline=offline, update_pins=update_pins, progress=progress, policy=policy) as f:
        return f.resolve(source, release, pinned)


def resolve_file(source_id: str, release: str, name: str, *, offline: bool | None = None) -> Path:
    """Return the cached path of a declared file, fetching it first if needed."""
    pinned = catalog.get_source(source_id).file(release, name)
    return resolve_pinned(source_id, release, pinned, offline=offline, progress=True).path


def fetch_sources(
    source_ids: Sequence[str] | None = None,
    *,
    offline: bool | None = None,
    update_pins: bool = False,
    progress: bool = True,
    write_pins: bool = False,
    keep_going: bool = False,
    policy: RetryPolicy | None = None,
) -> list[FetchResult]:
    """Resolve every pinned file of the given sources (all declared sources by default).

    With ``update_pins`` every file is downloaded afresh; files that changed upstream are kept
    under ``.pending/`` and the YAML diff is printed (and written with ``write_pins``).
    With ``keep_going`` a failed file does not stop the others; failures are raised at the end.
    """
    ids = list(source_ids) if source_ids else sorted(catalog.load_catalog())
    decls = [catalog.get_source(i) for i in ids]
    results: list[FetchResult] = []
    errors: list[str] = []
    with (
        data_lock(),
        Fetcher(
            offline=offline, update_pins=update_pins, progress=progress, policy=policy
        ) as fetcher,
    ):
        for decl in decls:
            for rel in decl.releases:
                for pinned in rel.files:
                    try:
                        results.append(fetcher.resolve(decl.id, rel.release, pinned))
                    except FetchError as exc:
                        if not keep_going:
                            raise
                        errors.append(str(exc))
    if update_pins and (diff := format_pin_diff(results)):
        print(diff)
        if write_pins:
            write_pin_updates(results)
    if errors:
        raise FetchError(f"{len(errors)} file(s) failed:\n" + "\n".join(errors))
    return results


# ---------------------------------------------------------------- pin updates


def _edit_pins(text: str, release: str, name: str, sha256: str, size: int) -> str:
    """Return ``text`` with one file's sha256 and bytes lines replaced (comments kept)."""
    lines = text.splitlines(keepends=True)
    current_release = current_file = None
    for i, line in enumerate(lines):
        if m := re.match(r"^\s*-\s*release:\s*['\"]?([^'\"#]+?)['\"]?\s*$", line):
            current_release, current_file = m.group(1), None
        elif m := re.match(r"^\s*-\s*name:\s*['\"]?([^'\"#]+?)['\"]?\s*$", line):
            current_file = m.group(1)
        elif (current_release, current_file) == (release, name):
            line_end = "\n" if line.endswith("\n") else ""
            if m := re.match(r"^(\s*sha256:\s*)", line):
                lines[i] = f"{m.group(1)}{sha256}{line_end}"
            elif m := re.match(r"^(\s*bytes:\s*)\d+", line):
                lines[i] = f"{m.group(1)}{size}{line_end}"
    return "".join(lines)


def _check_edit(old: str, new: str, path: Path, updates: list[FetchResult]) -> None:
    want = yaml.safe_load(old)
    for res in updates:
        for rel in want["releases"]:
            for f in rel["files"] if rel["release"] == res.release else []:
                if f["name"] == res.name:
                    f["sha256"], f["bytes"] = res.sha256, res.bytes
    if yaml.safe_load(new) != want:
        raise FetchError(f"{path}: could not edit the pins automatically; apply the change by hand")


def _pin_edits(results: Sequence[FetchResult]) -> dict[Path, tuple[str, str]]:
    edits: dict[Path, tuple[str, str]] = {}
    changed = [r for r in results if r.pin_changed]
    for source in sorted({r.source for r in changed}):
        path = config.sources_dir() / f"{source}.yaml"
        old = new = path.read_text(encoding="utf-8")
        updates = [r for r in changed if r.source == source]
        for res in updates:
            new = _edit_pins(new, res.release, res.name, res.sha256, res.bytes)
        _check_edit(old, new, path, updates)
        edits[path] = (old, new)
    return edits


def format_pin_diff(results: Sequence[FetchResult]) -> str:
    """Return the unified diff of the declarations that accepts every changed upstream file."""
    chunks: list[str] = []
    root = config.project_root()
    for path, (old, new) in _pin_edits(results).items():
        rel = path.relative_to(root) if path.is_relative_to(root) else path
        chunks.extend(
            difflib.unified_diff(
                old.splitlines(keepends=True),
                new.splitlines(keepends=True),
                fromfile=f"a/{rel}",
                tofile=f"b/{rel}",
            )
        )
    return "".join(chunks)


def write_pin_updates(results: Sequence[FetchResult]) -> list[Path]:
    """Write the pin changes into the declarations (the explicit, reviewed way to bump pins)."""
    edits = _pin_edits(results)
    for path, (_, new) in edits.items():
        atomic_write_text(path, new)
    catalog._load_all.cache_clear()
    return list(edits)
