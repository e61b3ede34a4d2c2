"""Load and check the source declarations in ``data_sources/<source_id>.yaml``.

Each declaration names one upstream source: who publishes it, under which licence, how to cite
it, what it covers, where its series break, and every pinned file of every release held (download
URL, optional zip member, sha256 and size). The models below are the contract: a declaration that
does not fit them is refused with the file and the field named.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from sendstats import config

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


class PinnedFile(_Model):
    """One raw file of a release, pinned by content."""

    name: str = Field(description="Short file id, unique in the release, e.g. 'caseload'.")
    filename: str = Field(description="File name as published, used for the cache path.")
    url: str = Field(description="The publisher's download URL (a file or an EES release zip).")
    member: str | None = Field(
        default=None, description="Path of the file inside the zip at `url`, when it is a zip."
    )
    sha256: str
    bytes: int = Field(gt=0)
    format: Literal["csv", "xlsx", "ods", "xls", "parquet", "txt"]
    encoding: str | None = None
    description: str = ""

    @field_validator("sha256")
    @classmethod
    def _check_sha(cls, value: str) -> str:
        if not _SHA256.match(value):
            raise ValueError(f"sha256 must be 64 lowercase hex digits, got {value!r}")
        return value


class Release(_Model):
    """One published release of a source, with its pinned files."""

    release: str = Field(description="Release label as the publisher names it, e.g. '2025'.")
    title: str
    page: str
    date_published: dt.date
    citation: str
    coverage: str
    notes: list[str] = Field(default_factory=list)
    files: list[PinnedFile]


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

    def release(self, label: str) -> Release:
        """Return the release labelled ``label``, or raise naming the ones held."""
        for rel in self.releases:
            if rel.release == label:
                return rel
        held = ", ".join(r.release for r in self.releases)
        raise DeclarationError(f"{self.id}: no release {label!r} (declared: {held})")

    def file(self, release: str, name: str) -> PinnedFile:
        """Return the pinned file ``name`` of ``release``."""
        for f in self.release(release).files:
            if f.name == name:
                return f
        raise DeclarationError(f"{self.id} {release}: no file named {name!r}")


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
        names = [f.name for f in rel.files]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise DeclarationError(f"{path}: release {rel.release}: duplicate file names {dupes}")
        for f in rel.files:
            if not f.url.startswith("https://"):
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
