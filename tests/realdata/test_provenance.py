"""Every declared source is read by a build step, or is the provenance of a hand-kept map.

The ONS lookups and the DfE LAIT lookups are not read by the build: the crosswalk and the
statistical-neighbour maps were made from them once, are kept as small CSVs, and are checked
against them here and in test_geography.py and test_neighbours.py.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from python_calamine import CalamineWorkbook

from sendstats import geography
from sendstats.acquire import catalog
from sendstats.core import config
from sendstats.pipeline import table


def test_each_source_is_read_by_a_step_or_is_a_maps_provenance() -> None:
    read = {source for step in table.STEPS for source in step.sources}
    for source_id, decl in catalog.load_catalog().items():
        if source_id in read:
            assert not decl.provenance_of, f"{source_id} is read by the build"
            continue
        assert decl.provenance_of, f"{source_id} is neither read nor a map's provenance"
        for path in decl.provenance_of:
            assert (config.project_root() / path).is_file(), path


def test_lait_la_list_agrees_with_the_crosswalk(raw_archive: Path) -> None:
    book = CalamineWorkbook.from_path(raw_archive / "lookups" / "la_code_list.xlsx")
    rows = book.get_sheet_by_name("Sheet1").to_python()
    assert rows[0][:4] == ["LA Number", "LA Name", "Region", "Type"]
    las = [r for r in rows[1:] if r[3] in {"UA", "MD", "SC", "OLB", "ILB"}]
    current = {la.la_code_dfe for la in geography.list_las(dt.date(2025, 6, 30))}
    listed = {f"{int(r[0]):03d}" for r in las}
    assert current <= listed  # the 153 LAs of April 2023 on
    # The rest are the legacy rows LAIT keeps for old series: each an abolished LA.
    legacy = {la.la_code_dfe for la in geography.all_las() if la.valid_to is not None}
    assert listed - current == {"835", "836", "837", "909", "928"} and listed - current <= legacy
    for number, name, *_ in las:
        code = f"{int(number):03d}"
        if code in current:
            assert geography.resolve_la(str(name)).la_code_dfe == code, (number, name)
