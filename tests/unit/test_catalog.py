"""Every source declaration loads, is complete, and pins files the raw archive really holds."""

from __future__ import annotations

from pathlib import Path

import pytest

from sendstats.acquire import catalog
from sendstats.acquire.catalog import OGL_V3, DeclarationError, load_declaration


def test_every_declaration_loads_and_is_complete() -> None:
    decls = catalog.load_catalog()
    assert "dfe_sen2" in decls
    for decl in decls.values():
        assert decl.licence.name == OGL_V3
        assert "Open Government Licence" in decl.licence.attribution
        assert decl.releases, decl.id
        for rel in decl.releases:
            assert rel.citation and rel.page.startswith("https://")
            assert rel.declared, f"{decl.id} {rel.release} has no files"
            for f in rel.unpinned:  # declared, not yet pinned: no hash is made up
                assert f.sha256 is None and f.url.startswith("https://"), (decl.id, f.name)


def test_sen2_declares_three_releases_with_the_files_read() -> None:
    decl = catalog.get_source("dfe_sen2")
    assert [r.release for r in decl.releases] == ["2022", "2023", "2025"]
    assert decl.file("2025", "caseload").bytes == 6_379_942
    assert decl.file("2023", "sen2_mi").member == "data/sen2_mi.csv"


def test_bad_declaration_names_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "dfe_broken.yaml"
    text = (Path(catalog.config.sources_dir()) / "dfe_sen2.yaml").read_text(encoding="utf-8")
    path.write_text(
        text.replace("id: dfe_sen2", "id: dfe_broken").replace("sha256: c1c5", "sha256: zz")
    )
    with pytest.raises(DeclarationError) as err:
        load_declaration(path)
    assert str(path) in str(err.value) and "sha256" in str(err.value)


def test_unknown_source_lists_declared_ids() -> None:
    with pytest.raises(DeclarationError, match="dfe_sen2"):
        catalog.get_source("nope_nothing")
