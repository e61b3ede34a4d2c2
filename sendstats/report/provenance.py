"""Where shown numbers come from: the source note naming producer, release, file and sha256.

Every chart, table and exported figure cites its rows this way. It reads only the source
declarations, so the CLI and notebooks can cite without importing the report machinery.
"""

from __future__ import annotations

import polars as pl

from sendstats.acquire import catalog

PROVENANCE = ("release", "source_file", "file_sha256")


def _find_file(release: str, name: str) -> tuple[catalog.SourceDeclaration, str]:
    """Return the declaration and the published file name of a (release, file) pair."""
    for decl in catalog.load_catalog().values():
        for rel in decl.releases:
            if rel.release == release:
                for f in rel.files:
                    if f.name == name:
                        return decl, f.filename
    raise KeyError(f"no declared file {name!r} in any release {release!r}")


def source_note(rows: pl.DataFrame) -> str:
    """Build the source note for the rows shown: producer, release, files, short sha256, licence.

    Rows without provenance (drawn lines such as funnel limits) are skipped; with none left the
    note is empty.
    """
    if "file_sha256" not in rows.columns:
        return ""
    used = rows.filter(pl.col("file_sha256").is_not_null()).select(*PROVENANCE).unique()
    if used.height == 0:
        return ""
    by_release: dict[tuple[str, str], list[str]] = {}
    producers: dict[str, str] = {}
    for release, name, sha in used.sort("release", "source_file").iter_rows():
        decl, filename = _find_file(str(release), str(name))
        title = decl.release(str(release)).title
        by_release.setdefault((decl.id, title), []).append(f"{filename} (sha256 {str(sha)[:12]})")
        producers[decl.id] = decl.producer
    parts = [f"{title}: {', '.join(files)}" for (_, title), files in by_release.items()]
    who = "; ".join(sorted(set(producers.values())))
    return (
        f"Source: {who}. "
        + "; ".join(parts)
        + ". Open Government Licence v3.0. Built with sendstats."
    )


def _short_producer(producer: str) -> str:
    """Return a producer's name without its parenthesised detail ('Ministry of Justice')."""
    return producer.split("(")[0].split(";")[0].strip()


def short_source(rows: pl.DataFrame) -> str:
    """Return a one-line source for a caption: publisher, release and file names, no hashes.

    The full note (with sha256) goes in the figure's "How this figure was made" block and on
    the methods page.
    """
    if "file_sha256" not in rows.columns:
        return ""
    used = rows.filter(pl.col("file_sha256").is_not_null()).select(*PROVENANCE).unique()
    by_release: dict[str, list[str]] = {}
    for release, name, _sha in used.sort("release", "source_file").iter_rows():
        decl, filename = _find_file(str(release), str(name))
        title = decl.release(str(release)).title
        key = f"{_short_producer(decl.producer)}, {title}"
        if filename not in by_release.setdefault(key, []):
            by_release[key].append(filename)
    if not by_release:
        return ""
    return "Source: " + "; ".join(f"{k} ({', '.join(v)})" for k, v in by_release.items()) + "."
