"""Fetch and declarations against the real raw archive: files found by content, pins held."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import pytest

from sendstats.acquire import catalog, fetch
from sendstats.acquire.archives import archive_candidates, clear_archive_index
from sendstats.acquire.catalog import get_source
from sendstats.acquire.content import check_file
from sendstats.acquire.manifest import load_manifest
from sendstats.core import config
from sendstats.core.io import sha256_file


def test_real_archive_then_cache(
    raw_archive: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENDSTATS_ARCHIVE", str(raw_archive))
    monkeypatch.setenv("SENDSTATS_OFFLINE", "1")
    declared = sum(len(r.files) for r in get_source("dfe_sen2").releases)
    first = fetch.fetch_sources(["dfe_sen2"], progress=False)
    assert len(first) == declared and {r.route for r in first} == {"archive"}
    for res in first:
        assert sha256_file(res.path) == res.sha256
        assert res.path.parent == config.raw_cache_dir() / "dfe_sen2" / res.release
    second = fetch.fetch_sources(["dfe_sen2"], progress=False)
    assert {r.route for r in second} == {"cache"}
    inputs = load_manifest()["inputs"]
    assert len(inputs) == declared
    assert {e["route"] for e in inputs.values()} == {"archive"}
    caseload = fetch.resolve_file("dfe_sen2", "2025", "caseload")
    assert caseload.read_bytes().startswith(b"\xef\xbb\xbf")  # the 2025 files carry a BOM


def test_pins_match_the_archive_manifest(raw_archive: Path) -> None:
    with (raw_archive / "MANIFEST.csv").open(encoding="utf-8") as fh:
        held = {row["sha256"]: int(row["bytes"]) for row in csv.DictReader(fh)}
    for decl in catalog.load_catalog().values():
        for rel in decl.releases:
            for f in rel.files:
                assert f.sha256 in held, f"{decl.id} {rel.release} {f.name}: pin not in archive"
                assert held[f.sha256] == f.bytes, f"{decl.id} {rel.release} {f.name}: size differs"


def test_every_real_pinned_file_passes_its_declared_format(
    raw_archive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENDSTATS_ARCHIVE", str(raw_archive))
    clear_archive_index()
    checked: dict[str, int] = {}
    for source_id in sorted(catalog.load_catalog()):
        for release in catalog.get_source(source_id).releases:
            for pinned in release.files:
                found = [
                    p
                    for p in archive_candidates(pinned.bytes)
                    if hashlib.sha256(p.read_bytes()).hexdigest() == pinned.sha256
                ]
                assert found, f"{source_id} {release.release}/{pinned.name} not in the archive"
                check_file(found[0], pinned.format)
                checked[pinned.format] = checked.get(pinned.format, 0) + 1
    clear_archive_index()
    assert set(checked) == {"csv", "txt", "xlsx", "ods", "xls"}
    assert sum(checked.values()) >= 41  # every pinned file at the time of writing
