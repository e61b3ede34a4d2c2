"""Load and check the source declarations in ``data_sources/<source_id>.yaml``.

Each declaration names one upstream source: who publishes it, under which licence, how to cite
it, what it covers, where its series break, and every pinned file of every release held (download
URL, optional zip member, sha256 and size). The models below are the contract: a declaration that
does not fit them is refused with the file and the field named.

A file may also be declared before it is pinned: with its URL but ``sha256: null`` and no
``bytes`` (:class:`UnpinnedFile`). Such a file is listed by ``sendstats sources --files`` as
"unpinned", skipped by the default fetch and by the build, fetched only when asked for, and
pinned from its first download.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from sendstats.core import config

OGL_V3 = "Open Government Licence v3.0"
OGL_V3_URL = "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_SOURCE_ID = re.compile(r"^[a-z]+_[a-z0-9_]+$")


class DeclarationError(ValueError):
    """A source declaration is missing, malformed or inconsistent."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Licence(_Model):
    """The licence of the raw data and the attribution it requires."""

    name: str
    url: str
    attribution: str


FileFormat = Literal["csv", "xlsx", "ods", "xls", "parquet", "txt"]


class _DeclaredFile(_Model):
    """What every declared file has, pinned or not."""

    name: str = Field(description="Short file id, unique in the release, e.g. 'caseload'.")
    filename: str = Field(description="File name as published, used for the cache path.")
    url: str = Field(description="The publisher's download URL (a file or an EES release zip).")
    member: str | None = Field(
        default=None, description="Path of the file inside the zip at `url`, when it is a zip."
    )
    format: FileFormat
    encoding: str | None = None
    description: str = ""
    url_verified: bool | None = Field(
        default=None,
        description=(
            "False: `url` is the best-known download link (or the release page), not confirmed "
            "by a download; set to true when a download from it is pinned. None: not stated."
        ),
    )
    note: str = Field(default="", description="Where the URL came from, what is not verified.")


class PinnedFile(_DeclaredFile):
    """One raw file of a release, pinned by content (sha256 and size)."""

    sha256: str
    bytes: int = Field(gt=0)

    @field_validator("sha256")
    @classmethod
    def _check_sha(cls, value: str) -> str:
        if not _SHA256.match(value):
            raise ValueError(f"sha256 must be 64 lowercase hex digits, got {value!r}")
        return value


class UnpinnedFile(_DeclaredFile):
    """A file declared with its URL but not yet pinned: ``sha256: null`` and no ``bytes``.

    Nothing can match it by content, so it is never taken from a raw archive. It is fetched only
    when asked for (``sendstats fetch SOURCE --release R`` or ``--include-unpinned``), and its
    first download proposes the pin (written with ``--write-pins``); after that it is an ordinary
    pinned file. Readers cannot use it before it is pinned.
    """

    sha256: None = Field(description="Always null: the mark of a declared, not yet pinned file.")


class Release(_Model):
    """One published release of a source, with its pinned (and declared, unpinned) files.

    In YAML every file is listed under ``files``; those with ``sha256: null`` are split off into
    :attr:`unpinned` when the declaration is read, so ``files`` holds pinned files only.
    """

    release: str = Field(description="Release label as the publisher names it, e.g. '2025'.")
    title: str
    page: str
    date_published: dt.date
    citation: str
    coverage: str
    notes: list[str] = Field(default_factory=list)
    files: list[PinnedFile]
    unpinned: list[UnpinnedFile] = Field(
        default_factory=list, description="Declared files with sha256: null (not yet pinned)."
    )

    @model_validator(mode="before")
    @classmethod
    def _split_unpinned(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not isinstance(data.get("files"), list):
            return data
        files = data["files"]
        unpinned = [
            f for f in files if isinstance(f, dict) and "sha256" in f and f["sha256"] is None
        ]
        if not unpinned:
            return data
        pinned = [f for f in files if not any(f is u for u in unpinned)]
        return {**data, "files": pinned, "unpinned": [*data.get("unpinned", []), *unpinned]}

    @property
    def declared(self) -> list[PinnedFile | UnpinnedFile]:
        """Every declared file of the release, pinned first."""
        return [*self.files, *self.unpinned]


class SourceDeclaration(_Model):
    """Everything sendstats knows about one upstream source."""

    id: str
    title: str
    producer: str
    publication_page: str
    licence: Licence
    coverage: dict[str, str]
    series_breaks: list[str] = Field(default_factory=list)
    releases: list[Release]
    #: Hand-kept maps (paths from the project root) that this source is the provenance of. Such
    #: a source is not read by the build; tests check the maps against its files.
    provenance_of: list[str] = Field(default_factory=list)

    def release(self, label: str) -> Release:
        """Return the release labelled ``label``, or raise naming the ones held."""
        for rel in self.releases:
            if rel.release == label:
                return rel
        held = ", ".join(r.release for r in self.releases)
        raise DeclarationError(f"{self.id}: no release {label!r} (declared: {held})")

    def file(self, release: str, name: str) -> PinnedFile:
        """Return the pinned file ``name`` of ``release``.

        Raises:
            DeclarationError: no such file, or the file is declared but not pinned yet (the
                message says how to pin it).

        """
        found = self.declared_file(release, name)
        if isinstance(found, UnpinnedFile):
            raise DeclarationError(
                f"{self.id} release {release}, file {name} ({found.filename}) is declared but not "
                f"pinned (sha256: null), so it cannot be read yet. Pin it on a connected machine: "
                f"`sendstats fetch {self.id} --release {release}` prints the declaration diff; "
                "review it, rerun with --write-pins and commit."
            )
        return found

    def declared_file(self, release: str, name: str) -> PinnedFile | UnpinnedFile:
        """Return the file ``name`` of ``release``, pinned or not."""
        for f in self.release(release).declared:
            if f.name == name:
                return f
        raise DeclarationError(f"{self.id} {release}: no file named {name!r}")

    def unpinned_files(self) -> list[tuple[str, UnpinnedFile]]:
        """Return (release, file) for every declared file that has no pin yet."""
        return [(rel.release, f) for rel in self.releases for f in rel.unpinned]


def _secure_url(url: str) -> bool:
    # Plain http is allowed to a loopback host only: the tests' local HTTP server (as in fetch).
    parts = urlsplit(url)
    return parts.scheme == "https" or (
        parts.scheme == "http" and parts.hostname in {"127.0.0.1", "localhost", "::1"}
    )


def _check_consistency(decl: SourceDeclaration, path: Path) -> None:
    if decl.id != path.stem:
        raise DeclarationError(f"{path}: id {decl.id!r} must equal the file stem {path.stem!r}")
    if not _SOURCE_ID.match(decl.id):
        raise DeclarationError(f"{path}: id {decl.id!r} is not of the form publisher_collection")
    seen_rel: set[str] = set()
    for rel in decl.releases:
        if rel.release in seen_rel:
            raise DeclarationError(f"{path}: release {rel.release!r} declared twice")
        seen_rel.add(rel.release)
        if not rel.declared:
            raise DeclarationError(f"{path}: release {rel.release} declares no file")
        for what, values in (
            ("file names", [f.name for f in rel.declared]),
            ("cache file names (filename)", [f.filename for f in rel.declared]),
        ):
            dupes = {n for n in values if values.count(n) > 1}
            if dupes:
                raise DeclarationError(f"{path}: release {rel.release}: duplicate {what} {dupes}")
        for f in rel.declared:
            if not _secure_url(f.url):
                raise DeclarationError(f"{path}: {rel.release}/{f.name}: url must be https")


def load_declaration(path: Path) -> SourceDeclaration:
    """Read one YAML declaration and validate it.

    Raises:
        DeclarationError: naming the file and the offending field.

    """
    try:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    except (OSError, yaml.YAMLError) as exc:
        raise DeclarationError(f"{path}: cannot read declaration: {exc}") from exc
    try:
        decl = SourceDeclaration.model_validate(raw)
    except ValidationError as exc:
        raise DeclarationError(f"{path}: invalid declaration:\n{exc}") from exc
    _check_consistency(decl, path)
    return decl


@cache
def _load_all(folder: str) -> dict[str, SourceDeclaration]:
    decls: dict[str, SourceDeclaration] = {}
    for path in sorted(Path(folder).glob("*.yaml")):
        decl = load_declaration(path)
        decls[decl.id] = decl
    if not decls:
        raise DeclarationError(f"no source declarations found in {folder}")
    return decls


def clear_cache() -> None:
    """Forget the declarations read so far (after a declaration was edited, e.g. pins written)."""
    _load_all.cache_clear()


def load_catalog() -> dict[str, SourceDeclaration]:
    """Return every declaration in ``data_sources/``, keyed by source id."""
    return _load_all(str(config.sources_dir()))


def get_source(source_id: str) -> SourceDeclaration:
    """Return one declaration, or raise listing the declared ids."""
    catalog = load_catalog()
    if source_id not in catalog:
        raise DeclarationError(
            f"unknown source {source_id!r}; declared: {', '.join(sorted(catalog))}"
        )
    return catalog[source_id]


def describe_sources(*, files: bool = False) -> str:
    """Return the text of ``sendstats sources``: sources, releases and (with ``files``) files.

    Pinned files show their size and short sha256; declared files without a pin show
    "unpinned" (and whether their URL is verified).
    """
    out: list[str] = []
    for decl in load_catalog().values():
        out.append(f"{decl.id}: {decl.title} ({decl.producer}); licence {decl.licence.name}")
        for rel in decl.releases:
            counts = f"{len(rel.files)} pinned"
            if rel.unpinned:
                counts += f", {len(rel.unpinned)} unpinned (declared, not yet pinned)"
            out.append(f"  release {rel.release} (published {rel.date_published}): {counts}")
            if not files:
                continue
            for f in rel.files:
                out.append(f"    {f.name:<24} {f.bytes:>12,} B  sha256 {f.sha256[:12]}  {f.url}")
            for u in rel.unpinned:
                checked = "" if u.url_verified is not False else "  (url not verified)"
                out.append(f"    {u.name:<24} {'unpinned':>14}  sha256 {'-':<12}  {u.url}{checked}")
    return "\n".join(out)
