"""Fetch the declared raw files of the source declarations into the local cache.

Every pinned file of ``data_sources/<id>.yaml`` (for example the DfE "Education, health and care
plans" release files, published as members of the release's "Download all data" zip) is
resolved in this order:

1. the cache ``<data>/raw/<source>/<release>/<filename>``, verified by sha256;
2. the raw archive folders of ``SENDSTATS_ARCHIVE``, where a file is found by its content
   whatever its name (only files of the declared size are hashed);
3. the publisher's URL (:mod:`sendstats.acquire.http`): every redirect hop checked before it is
   followed, streamed to a temp file with timeouts, a minimum rate, an overall deadline and
   bounded retries, refused if its content is not the declared format (an HTML page above all)
   or larger than declared, the zip member extracted safely and checked, sha256 verified,
   renamed into place.

A full disk or a read-only cache is a :class:`~sendstats.core.io.StorageError` naming the folder,
raised at once (never taken for a missing file, never retried), and the cache is left as it was.

A sha256 mismatch is an error that shows both hashes and leaves the cache as it was. Accepting a
new upstream file is explicit (``update_pins=True``): the file is kept under ``.pending/<sha256>/``
and the YAML diff to commit is printed (:mod:`sendstats.acquire.pins`); it is promoted into the
cache once the pin says so.

A file declared but not yet pinned (``sha256: null``) has nothing to be matched by, so it is
never taken from the cache or a raw archive: it is skipped unless asked for (a named release, or
``include_unpinned``), downloaded with the same machinery (bounded only by
:data:`~sendstats.acquire.download.MAX_DOWNLOAD_BYTES`), recorded in the manifest with the route
:data:`UNPINNED_ROUTE`, and its pin is proposed as for ``update_pins``. Offline it is an error
that says how to pin it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from sendstats.acquire import catalog, manifest
from sendstats.acquire.archives import archive_candidates, clear_archive_index
from sendstats.acquire.cache import (
    UNPINNED_ROUTE,
    DeclaredFile,
    FetchResult,
    Route,
    UnpinnedOffline,
    cache_path,
    copy_pinned,
    is_pinned_file,
    offline_miss,
    pending_path,
    unpinned_offline,
)
from sendstats.acquire.catalog import DeclarationError, PinnedFile, UnpinnedFile
from sendstats.acquire.download import (
    DEFAULT_POLICY,
    MAX_DOWNLOAD_BYTES,
    ChecksumMismatch,
    FetchError,
    HtmlInsteadOfFile,
    OfflineMiss,
    RetryPolicy,
    UnsafeArchiveMember,
    check_member_name,
    extract_member,
)
from sendstats.acquire.pins import format_pin_diff, write_pin_updates
from sendstats.core import config
from sendstats.core.io import publish_file, temp_path_in
from sendstats.core.lock import data_lock
from sendstats.core.version import __version__

if TYPE_CHECKING:
    import httpx

__all__ = [
    "DEFAULT_POLICY",
    "MAX_DOWNLOAD_BYTES",
    "UNPINNED_ROUTE",
    "ChecksumMismatch",
    "FetchError",
    "FetchResult",
    "Fetcher",
    "HtmlInsteadOfFile",
    "OfflineMiss",
    "RetryPolicy",
    "UnpinnedOffline",
    "UnsafeArchiveMember",
    "cache_path",
    "check_member_name",
    "clear_archive_index",
    "download_to_cache",
    "fetch_sources",
    "format_pin_diff",
    "pending_path",
    "resolve_file",
    "resolve_pinned",
    "select_files",
    "write_pin_updates",
]

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
            import httpx  # only when downloading: a build from cache or archive never needs it

            # Redirects are followed hop by hop, each checked first (acquire.http); no kept-alive
            # connections, so each request's socket is known to the download's deadline watchdog.
            self._client = httpx.Client(
                timeout=httpx.Timeout(
                    self.policy.read_timeout, connect=self.policy.connect_timeout
                ),
                follow_redirects=False,
                limits=httpx.Limits(max_keepalive_connections=0),
                headers={"User-Agent": f"sendstats/{__version__}"},
            )
        return self._client

    def fetch_to(
        self, url: str, member: str | None, fmt: str, tmp: Path, limit: int, label: str
    ) -> tuple[str, int]:
        """Download ``url`` (or its zip ``member``) into ``tmp``; return (sha256, bytes)."""
        if self.offline or config.offline():
            raise OfflineMiss(f"{label}: offline mode forbids downloading {url}")
        # Imported on use: a build served from the cache or an archive never needs httpx or
        # tenacity (60 ms of a no-op build's 0.5 s budget).
        from sendstats.acquire.http import download

        if member is None:
            return download(
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
                    download(
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
        return extract_member(self._zips[url], member, tmp, limit, label, fmt)

    def resolve(self, source: str, release: str, declared: DeclaredFile) -> FetchResult:
        """Resolve one declared file and record it in the manifest.

        A pinned file comes from the cache, then the raw archives, then a download. A file
        declared without a pin is always downloaded (there is nothing to match it by).
        """
        with data_lock():
            if isinstance(declared, UnpinnedFile):
                result = self._resolve_unpinned(source, release, declared)
            else:
                result = self._resolve_locked(source, release, declared)
            if self.record:
                manifest.record_inputs([result])
        return result

    def _resolve_unpinned(self, source: str, release: str, declared: UnpinnedFile) -> FetchResult:
        label = f"{source} {release}/{declared.name} ({declared.filename}, unpinned)"
        dest = cache_path(source, release, declared)
        if self.offline:
            raise unpinned_offline(source, release, declared, dest)
        with temp_path_in(dest.parent, prefix=f".{declared.filename}.", suffix=".part") as tmp:
            try:
                got, size = self.fetch_to(
                    declared.url, declared.member, declared.format, tmp, MAX_DOWNLOAD_BYTES, label
                )
            except HtmlInsteadOfFile as exc:
                if declared.url_verified is True:
                    raise
                raise HtmlInsteadOfFile(
                    f"{exc}\n  The declared url was not verified: open the release page (`page` of "
                    f"release {release} in data_sources/{source}.yaml), copy the file's download "
                    "link into `url`, and fetch again."
                ) from exc
            publish_file(tmp, dest)
        return FetchResult(
            source, release, declared.name, dest, got, size, UNPINNED_ROUTE, declared.url,
            unpinned=True,
        )  # fmt: skip

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
            if is_pinned_file(dest, pinned):
                return self._result(source, release, pinned, dest, "cache")
            pending = pending_path(source, release, pinned, pinned.sha256)
            if is_pinned_file(pending, pinned):
                os.replace(pending, dest)
                with contextlib.suppress(OSError):
                    pending.parent.rmdir()
                return self._result(source, release, pinned, dest, "cache")
            # Each archive file of the pinned size is hashed as it is copied (one read): a
            # different file of the same size is discarded, the pinned one published.
            for found in archive_candidates(pinned.bytes):
                if copy_pinned(found, dest, pinned, label):
                    return self._result(source, release, pinned, dest, "archive")
        if self.offline:
            raise offline_miss(source, release, pinned, dest, self.update_pins)
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


def select_files(
    source_ids: Sequence[str] | None = None,
    releases: Sequence[str] | None = None,
    *,
    include_unpinned: bool = False,
) -> tuple[list[tuple[str, str, DeclaredFile]], list[tuple[str, str, UnpinnedFile]]]:
    """Return the (source, release, file) triples to fetch, and the unpinned ones left out.

    Every pinned file of the given sources (all by default), restricted to ``releases`` when
    given. A file declared without a pin is fetched only when asked for: its release is named
    in ``releases``, or ``include_unpinned`` is set; otherwise it is returned as left out.

    Raises:
        DeclarationError: an unknown source, or a release label none of the sources declares.

    """
    ids = list(source_ids) if source_ids else sorted(catalog.load_catalog())
    decls = [catalog.get_source(i) for i in ids]
    if releases:
        known = {r.release for d in decls for r in d.releases}
        if missing := [r for r in releases if r not in known]:
            raise DeclarationError(
                f"no release {', '.join(map(repr, missing))} in {', '.join(ids)}; "
                f"declared: {', '.join(sorted(known))}"
            )
    chosen: list[tuple[str, str, DeclaredFile]] = []
    left_out: list[tuple[str, str, UnpinnedFile]] = []
    for decl in decls:
        for rel in decl.releases:
            if releases and rel.release not in releases:
                continue
            chosen.extend((decl.id, rel.release, f) for f in rel.files)
            if include_unpinned or releases:
                chosen.extend((decl.id, rel.release, f) for f in rel.unpinned)
            else:
                left_out.extend((decl.id, rel.release, f) for f in rel.unpinned)
    return chosen, left_out


def fetch_sources(
    source_ids: Sequence[str] | None = None,
    *,
    releases: Sequence[str] | None = None,
    include_unpinned: bool = False,
    offline: bool | None = None,
    update_pins: bool = False,
    progress: bool = True,
    write_pins: bool = False,
    keep_going: bool = False,
    policy: RetryPolicy | None = None,
) -> list[FetchResult]:
    """Resolve the declared files of the given sources (all declared sources by default).

    By default every pinned file, so the build never needs the network when a raw archive
    holds them; files declared without a pin are fetched only when asked for (their release
    named in ``releases``, or ``include_unpinned``), see :func:`select_files`.

    With ``update_pins`` every pinned file is downloaded afresh; files that changed upstream are
    kept under ``.pending/``. The YAML diff that pins every new or changed file is printed, and
    written with ``write_pins``. With ``keep_going`` a failed file does not stop the others;
    failures are raised at the end.
    """
    chosen, _ = select_files(source_ids, releases, include_unpinned=include_unpinned)
    results: list[FetchResult] = []
    errors: list[str] = []
    with (
        data_lock(),
        Fetcher(
            offline=offline, update_pins=update_pins, progress=progress, policy=policy, record=False
        ) as fetcher,
    ):
        try:
            for source, release, declared in chosen:
                try:
                    results.append(fetcher.resolve(source, release, declared))
                except FetchError as exc:
                    if not keep_going:
                        raise
                    errors.append(str(exc))
        finally:
            # One manifest write for the whole run (not one per file), of every file that
            # reached the cache, whether or not a later file failed.
            manifest.record_inputs(results)
    if diff := format_pin_diff(results):
        print(diff)
        if write_pins:
            for path in write_pin_updates(results):
                print(f"wrote the new pins into {path}; review and commit it")
        else:
            print("# review the diff above; rerun with --write-pins to write it, then commit")
    if errors:
        raise FetchError(f"{len(errors)} file(s) failed:\n" + "\n".join(errors))
    return results
