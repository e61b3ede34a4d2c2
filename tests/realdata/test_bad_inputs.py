"""Bad-input corpus: corrupted variants of the real raw files, each refused with its place named.

For every reader of every source, the tests take the real published file from the raw archive
(read once per module), make one corrupted variant of it in memory with :mod:`corrupt`, write
it to ``tmp_path`` and read it with the reader the build uses. Each case must raise the error
the reader's checkpoint raises, and the message must name the file and the column and row (or
the sheet) of the problem. Nothing is committed: every variant is made at test time.

Readers and files (one file per reader; the others of the same reader share its code):

- ``sen2``: DfE EES CSV reader (:func:`sendstats.sources.ees.read_tidy`), 2023 ``sen2_mi.csv``.
  tests/test_sen2.py holds more cases on the 2025 files.
- ``tribunal_csv``: the DfE supporting CSV "SEND Tribunals and appeal rate 2014-2024"
  (:func:`sendstats.sources.moj_send_tribunal.read_file`); plus the 2024-2025 CSV (cut mid-row).
- ``tribunal_ods``: MoJ SEND Appeal Rate Table 2022 (.ods, sheets SEND_2 and SEND_1).
- ``dsg_final``: ESFA DSG allocations 2023-24 (.ods without a mimetype entry: its content.xml).
- ``dsg_compilation``: the DfE compilation of DSG summary sheets (.ods, five sheets).
- ``dsg_derived``: the SEND/AP dashboard's derived DSG balance % (.xlsx).
- ``hnbt``: the high needs benchmarking tool's outturn sheet (.xlsx, python-calamine).
- ``ascof``: NHS Digital ASCOF 2020-21 open data (.xlsx, 49,000 rows).
- ``ons_mye``: ONS mid-2020 population estimates (.xls, sheet "MYE2 - Persons").

The DfE LA list and statistical-neighbour workbooks are not read at run time (the neighbours
come from ``sendstats/geography/maps/statistical_neighbours.csv``, tested equal to the workbooks in
tests/test_neighbours.py), so they have no cases here.

Row numbers in messages: a CSV read by the EES reader or the ASCOF reader counts data rows
(header excluded); the tribunal tables, the DSG sheets, the derived and HNBT workbooks and the
ONS workbook give the row number a spreadsheet shows.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import xlrd
from corrupt import Ods, Xls, Xlsx, csv_records, truncate, write_csv_records
from test_reliability import OUTPUTS

from sendstats.acquire import fetch
from sendstats.geography import LACodeError
from sendstats.pipeline import build
from sendstats.sources import dfe_high_needs as hn
from sendstats.sources import dfe_high_needs_hnbt as hnbt
from sendstats.sources import dfe_sen2, ees, nhs_ascof
from sendstats.sources import moj_send_tribunal as trib
from sendstats.sources import ons_population as population
from sendstats.sources.ons_population import PopulationFileError
from sendstats.sources.readers import RawInputError

SHA = "0" * 64
MID_YEAR = 2020
MYE_SHEET = "MYE2 - Persons"


# --- the readers, as the build calls them ------------------------------------------------------


def _spec_sen2() -> ees.EesFileSpec:
    return next(s for s in dfe_sen2.FILE_SPECS if (s.release, s.name) == ("2023", "sen2_mi"))


def _read_sen2(path: Path) -> object:
    return ees.read_tidy(path, _spec_sen2(), source_id="dfe_sen2", file_sha256=SHA)


def _tribunal_reader(release: str) -> Callable[[Path], object]:
    spec = next(s for s in trib.FILE_SPECS if s.release == release)
    return lambda path: trib.read_file(path, spec, SHA)


def _dsg_reader(key: tuple[str, str]) -> Callable[[Path], object]:
    return lambda path: hn.tidy_allocations(path, SHA, hn.allocation_specs()[key])


def _read_hnbt(path: Path) -> object:
    return hnbt.tidy_hnbt(path, SHA, release=hn.HNBT_RELEASE, source_file=hn.HNBT_FILE)


def _read_mye(path: Path) -> object:
    """Read an ONS workbook through population.la_population, as the rates step does."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(population, "_raw_path", lambda *_: path)
        population.read_mye.cache_clear()
        population.la_population.cache_clear()
        try:
            return population.la_population(MID_YEAR)
        finally:
            population.read_mye.cache_clear()
            population.la_population.cache_clear()


@dataclass(frozen=True)
class Reader:
    """One reader and the real file its cases start from (path relative to the archive)."""

    file: str
    read: Callable[[Path], object]


READERS: dict[str, Reader] = {
    "sen2": Reader("ehcp/education-health-and-care-plans_2023/data/sen2_mi.csv", _read_sen2),
    "tribunal_csv": Reader(
        "tribunal/SEND Tribunals and appeal rate 2014-2024.csv", _tribunal_reader("2025")
    ),
    "tribunal_csv_2024_25": Reader(
        "tribunal/SEND appealable decisions rate 2024-2025.csv", _tribunal_reader("2026")
    ),
    "tribunal_ods": Reader("tribunal/send_appeal_rate_table_2022.ods", _tribunal_reader("2022")),
    "dsg_final": Reader(
        "high_needs/dedicated-schools-grant_2024_07_20.ods", _dsg_reader(("2023-24", "allocations"))
    ),
    "dsg_compilation": Reader(
        "high_needs/dedicated-schools-grant.ods",
        _dsg_reader((hn.COMPILATION_RELEASE, hn.COMPILATION_FILE)),
    ),
    "dsg_derived": Reader(
        "high_needs/dsg_deficit_derived.xlsx", lambda path: hn.tidy_derived(path, SHA)
    ),
    "hnbt": Reader("high_needs/Outturn data 202122.xlsx", _read_hnbt),
    "ascof": Reader(
        "ascof/meas-from-asc-of-eng-2021-open-data-csv_v2.xlsx",
        lambda path: nhs_ascof.tidy_file(path, SHA),
    ),
    "ons_mye": Reader("lookups/ukpopestimatesmid2020on2021geography.xls", _read_mye),
}


class Real:
    """The bytes of one real file, and where things are in it (found once, then cached)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data = path.read_bytes()

    @cached_property
    def records(self) -> list[list[str]]:
        """CSV records, as the publisher wrote them."""
        return csv_records(self.data)[0]

    def sheet(self, name: str | None = None) -> list[list[str]]:
        """Rows of one sheet as text ('' for empty), 0-based, blank rows kept (calamine)."""
        if name not in self._sheets:
            frame = pl.read_excel(
                self.path,
                sheet_name=name,
                has_header=False,
                infer_schema_length=0,
                drop_empty_rows=False,
            )
            self._sheets[name] = [[c or "" for c in row] for row in frame.rows()]
        return self._sheets[name]

    @cached_property
    def _sheets(self) -> dict[str | None, list[list[str]]]:
        return {}

    @cached_property
    def xls_sheet(self) -> xlrd.sheet.Sheet:
        return xlrd.open_workbook(file_contents=self.data, on_demand=True).sheet_by_name(MYE_SHEET)


@pytest.fixture(scope="module")
def real(raw_archive: Path) -> Callable[[str], Real]:
    """Return the real file of a reader, read once per module."""
    cache: dict[str, Real] = {}

    def get(reader: str) -> Real:
        if reader not in cache:
            cache[reader] = Real(raw_archive / READERS[reader].file)
        return cache[reader]

    return get


# --- cases -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    """A corrupted file and the fragments its error message must contain (besides its name)."""

    data: bytes
    expect: tuple[str, ...]


@dataclass(frozen=True)
class Case:
    """One corruption of one reader's file, and the error its checkpoint must raise."""

    reader: str
    name: str
    make: Callable[[Real], Variant]
    error: type[Exception] = RawInputError

    @property
    def id(self) -> str:
        return f"{self.reader}: {self.name}"


def _row(records: list[list[str]], col: int, value: str, start: int = 0) -> int:
    return next(i for i, r in enumerate(records) if i >= start and len(r) > col and r[col] == value)


def _csv(real: Real, records: list[list[str]]) -> bytes:
    _, bom, newline = csv_records(real.data)
    return write_csv_records(records, bom=bom, newline=newline)


def _cut_mid_row(data: bytes, line_start: bytes) -> tuple[bytes, int]:
    """Cut the file in the middle of the line starting with ``line_start``; return its line no."""
    at = data.index(b"\n" + line_start) + 1
    end = data.index(b"\n", at)
    return data[: (at + end) // 2], data[:at].count(b"\n") + 1


def _latin1(data: bytes, word: bytes, replacement: bytes) -> tuple[bytes, int]:
    """Put one Latin-1 byte into the file; return the line number it is on."""
    at = data.index(word)
    return data.replace(word, replacement, 1), data[:at].count(b"\n") + 1


def _utf16(data: bytes) -> bytes:
    return data.decode("utf-8-sig").encode("utf-16")


# SEN2 (EES CSV), 2023 sen2_mi.csv: data rows count from 1 below the header.


def _sen2_cells(real: Real) -> tuple[list[str], int, list[list[str]]]:
    recs = [list(r) for r in real.records]
    header = recs[0]
    la = _row(recs, header.index("geographic_level"), "Local authority")
    return header, la, recs


def _sen2_set(column: str, value: str) -> Callable[[Real], Variant]:
    def make(real: Real) -> Variant:
        header, la, recs = _sen2_cells(real)
        recs[la][header.index(column)] = value
        return Variant(_csv(real, recs), (f"column {column!r}", f"row {la}", repr(value)))

    return make


def _sen2_renamed(real: Real) -> Variant:
    header, _, recs = _sen2_cells(real)
    header[header.index("new_all_ehc")] = "new_all_ehcp"
    return Variant(_csv(real, recs), ("column 'new_all_ehc'", "expected column(s) missing"))


def _sen2_missing(real: Real) -> Variant:
    header, _, recs = _sen2_cells(real)
    j = header.index("inreq_ehc")
    return Variant(
        _csv(real, [r[:j] + r[j + 1 :] for r in recs]),
        ("column 'inreq_ehc'", "expected column(s) missing"),
    )


def _sen2_duplicated(real: Real) -> Variant:
    _, la, recs = _sen2_cells(real)
    recs.insert(la + 1, list(recs[la]))
    return Variant(_csv(real, recs), ("duplicated row", "column 'la_name'", f"row {la + 1}"))


def _sen2_cut(real: Real) -> Variant:
    data, line = _cut_mid_row(real.data, b"2018,")
    return Variant(data, ("ends mid-row", f"row {line - 1}"))


def _sen2_latin1(real: Real) -> Variant:
    data, line = _latin1(real.data, b'"Leeds"', b'"L\xe9eds"')
    return Variant(data, ("not valid utf-8", f"line {line}", f"row {line - 1}"))


SEN2_CASES = [
    Case("sen2", "renamed column", _sen2_renamed),
    Case("sen2", "missing column", _sen2_missing),
    Case("sen2", "new marker", _sen2_set("new_all_ehc", "[c]")),
    Case("sen2", "duplicated LA row", _sen2_duplicated),
    Case("sen2", "negative count", _sen2_set("new_all_ehc", "-12")),
    Case("sen2", "text in a numeric column", _sen2_set("new_all_ehc", "twelve")),
    Case("sen2", "unknown LA code", _sen2_set("old_la_code", "999"), LACodeError),
    Case("sen2", "empty file", lambda real: Variant(b"", ("file is empty",))),
    Case("sen2", "file cut mid-row", _sen2_cut),
    Case("sen2", "Latin-1 byte", _sen2_latin1),
    Case("sen2", "UTF-16 with BOM", lambda real: Variant(_utf16(real.data), ("UTF-16",))),
]


# Tribunal CSV (2014-2024): rows are physical CSV records, 1-based.


def _trib_cells(real: Real) -> tuple[int, int, list[list[str]]]:
    recs = [list(r) for r in real.records]
    year_row = _row(recs, 2, "2014")
    darlington = _row(recs, 0, "Darlington")
    return year_row, darlington, recs


def _trib_set(col: int, value: str, *expect_extra: str) -> Callable[[Real], Variant]:
    def make(real: Real) -> Variant:
        _, d, recs = _trib_cells(real)
        recs[d][col] = value
        return Variant(_csv(real, recs), (f"row {d + 1}", repr(value), *expect_extra))

    return make


def _trib_renamed(real: Real) -> Variant:
    year_row, _, recs = _trib_cells(real)
    recs[year_row + 1][2] = "Appeals lodged4"
    return Variant(
        _csv(real, recs), ("column 'column 3'", f"row {year_row + 2}", "'Appeals lodged4'")
    )


def _trib_missing(real: Real) -> Variant:
    year_row, _, recs = _trib_cells(real)
    return Variant(
        _csv(real, [r[:3] + r[4:] for r in recs]),
        ("year 2014 lacks", "column 'Total Appealable Decisions'", f"row {year_row + 2}"),
    )


def _trib_duplicated(real: Real) -> Variant:
    _, d, recs = _trib_cells(real)
    recs.insert(d + 1, list(recs[d]))
    return Variant(_csv(real, recs), ("appears twice", "column 'Local Authority'", f"row {d + 2}"))


def _trib_cut(line_start: bytes) -> Callable[[Real], Variant]:
    def make(real: Real) -> Variant:
        data, line = _cut_mid_row(real.data, line_start)
        return Variant(data, ("ends mid-row", f"row {line}"))

    return make


def _trib_latin1(real: Real) -> Variant:
    data, line = _latin1(real.data, b"Darlington", b"Darl\xefngton")
    return Variant(data, ("not valid utf-8", f"row {line}"))


APPEALS_2015 = "'Appeals registered4'"
TRIBUNAL_CSV_CASES = [
    Case("tribunal_csv", "renamed column", _trib_renamed),
    Case("tribunal_csv", "missing column", _trib_missing),
    Case("tribunal_csv", "new marker", _trib_set(5, "[c]", APPEALS_2015)),
    Case("tribunal_csv", "duplicated LA row", _trib_duplicated),
    Case("tribunal_csv", "negative count", _trib_set(5, "-5", APPEALS_2015, "negative")),
    Case("tribunal_csv", "text in a numeric column", _trib_set(5, "five", APPEALS_2015)),
    Case(
        "tribunal_csv",
        "unknown LA name",
        _trib_set(0, "Darlingtown", "column 'Local Authority'", "does not resolve"),
    ),
    Case("tribunal_csv", "empty file", lambda real: Variant(b"", ("file is empty",))),
    Case("tribunal_csv", "file cut mid-row", _trib_cut(b"Leeds,")),
    Case("tribunal_csv", "Latin-1 byte", _trib_latin1),
    Case("tribunal_csv", "UTF-16 with BOM", lambda real: Variant(_utf16(real.data), ("UTF-16",))),
    Case("tribunal_csv_2024_25", "file cut mid-row", _trib_cut(b"Leeds,")),
]


# Tribunal .ods (MoJ 2022): rows as the sheet shows them, 1-based.

SEND_2 = "SEND_2"


def _ods_locate(real: Real) -> tuple[int, int]:
    grid = real.sheet(SEND_2)
    return _row(grid, 1, "2014"), _row(grid, 0, "Darlington")


def _ods_edit(real: Real, edit: Callable[[Ods, int, int], tuple[str, ...]]) -> Variant:
    year_row, d = _ods_locate(real)
    book = Ods(real.data)
    expect = edit(book, year_row, d)
    return Variant(book.to_bytes(), expect)


def _ods_set(col: int, value: str | float, *expect: str) -> Callable[[Real], Variant]:
    def edit(book: Ods, _: int, d: int) -> tuple[str, ...]:
        book.set_cell(SEND_2, d, col, value)
        return ("sheet 'SEND_2'", f"row {d + 1}", *expect)

    return lambda real: _ods_edit(real, edit)


def _ods_renamed(book: Ods, year_row: int, _: int) -> tuple[str, ...]:
    book.set_cell(SEND_2, year_row + 1, 1, "Appeals lodged4")
    return ("sheet 'SEND_2'", "column 'column 2'", f"row {year_row + 2}", "'Appeals lodged4'")


def _ods_missing(book: Ods, year_row: int, _: int) -> tuple[str, ...]:
    book.delete_column(SEND_2, 2)
    return ("sheet 'SEND_2'", "column 'Total Appealable Decisions'", f"row {year_row + 2}")


def _ods_duplicated(book: Ods, _: int, d: int) -> tuple[str, ...]:
    book.duplicate_row(SEND_2, d)
    return ("sheet 'SEND_2'", "appears twice", "column 'Local Authority'", f"row {d + 2}")


def _ods_header_out_of_reach(book: Ods, _: int, __: int) -> tuple[str, ...]:
    book.insert_rows(SEND_2, 0, ["Provisional"] + [""] * 19)
    return ("sheet 'SEND_2'", "no header row with the years 2014-2022")


def _ods_renamed_sheet(old: str, new: str) -> Callable[[Real], Variant]:
    def make(real: Real) -> Variant:
        book = Ods(real.data)
        book.rename_sheet(old, new)
        return Variant(book.to_bytes(), (f"sheet {old!r}", f"sheet {old!r} not found", new))

    return make


APPEALS = "'Appeals registered4'"
TRIBUNAL_ODS_CASES = [
    Case("tribunal_ods", "renamed column", lambda r: _ods_edit(r, _ods_renamed)),
    Case("tribunal_ods", "missing column", lambda r: _ods_edit(r, _ods_missing)),
    Case("tribunal_ods", "new marker", _ods_set(4, "[c]", APPEALS, "'[c]'")),
    Case("tribunal_ods", "duplicated LA row", lambda r: _ods_edit(r, _ods_duplicated)),
    Case("tribunal_ods", "negative count", _ods_set(4, -5.0, APPEALS, "'-5'", "negative")),
    Case("tribunal_ods", "text in a numeric column", _ods_set(4, "five", APPEALS, "'five'")),
    Case(
        "tribunal_ods",
        "unknown LA name",
        _ods_set(0, "Darlingtown", "column 'Local Authority'", "'Darlingtown'"),
    ),
    Case("tribunal_ods", "empty file", lambda real: Variant(b"", ("cannot open workbook",))),
    Case(
        "tribunal_ods",
        "truncated zip",
        lambda real: Variant(truncate(real.data), ("cannot open workbook",)),
    ),
    Case(
        "tribunal_ods",
        "moved header row (out of the searched rows)",
        lambda r: _ods_edit(r, _ods_header_out_of_reach),
    ),
    Case("tribunal_ods", "renamed sheet (by LA)", _ods_renamed_sheet("SEND_2", "SEND_2a")),
    Case("tribunal_ods", "renamed sheet (England)", _ods_renamed_sheet("SEND_1", "SEND 1")),
]


# DSG allocation .ods (ESFA 2023-24, and the DfE compilation): rows as the sheet shows them.

SUMMARY = "Allocations_summary"
FIRST_LA = 5  # 0-based: Camden, under the ENGLAND row
HNB = 4  # 0-based column of [C] high needs block before recoupment


def _dsg_edit(sheet: str, edit: Callable[[Ods], tuple[str, ...]]) -> Callable[[Real], Variant]:
    def make(real: Real) -> Variant:
        book = Ods(real.data)
        expect = edit(book)
        return Variant(book.to_bytes(), (f"sheet {sheet!r}", *expect))

    return make


def _dsg_set(sheet: str, row: int, col: int, value: str | float, *expect: str) -> Case:
    def edit(book: Ods) -> tuple[str, ...]:
        book.set_cell(sheet, row, col, value)
        return (f"row {row + 1}", *expect)

    return Case("", "", _dsg_edit(sheet, edit))


def _dsg_case(reader: str, name: str, case: Case) -> Case:
    return dataclasses.replace(case, reader=reader, name=name)


def _dsg_duplicated(sheet: str) -> Callable[[Real], Variant]:
    def edit(book: Ods) -> tuple[str, ...]:
        book.duplicate_row(sheet, FIRST_LA)
        return ("LA code listed twice", "column 'col 0'", f"row {FIRST_LA + 2}")

    return _dsg_edit(sheet, edit)


def _dsg_missing(book: Ods) -> tuple[str, ...]:
    book.delete_column(SUMMARY, HNB)
    return ("expected column letter [C]", "column 'col 4'", "row 3", "'[D]'")


def _dsg_moved(sheet: str) -> Callable[[Real], Variant]:
    def edit(book: Ods) -> tuple[str, ...]:
        book.insert_rows(sheet, 0, ["Provisional allocations", ""])
        return ("header rows 1-4 not where expected", "row 3")

    return _dsg_edit(sheet, edit)


def _dsg_renamed_sheet(old: str, new: str) -> Callable[[Real], Variant]:
    def make(real: Real) -> Variant:
        book = Ods(real.data)
        book.rename_sheet(old, new)
        return Variant(book.to_bytes(), (f"sheet {old!r}", "not found", new))

    return make


HNB_SCHEMA = "column 'high_needs_block_before_recoupment_gbp'"
DSG_FINAL_CASES = [
    _dsg_case(
        "dsg_final",
        "infinite value",
        _dsg_set(SUMMARY, FIRST_LA, HNB, float("inf"), HNB_SCHEMA, "'inf'"),
    ),
    _dsg_case(
        "dsg_final",
        "renamed column",
        _dsg_set(SUMMARY, 1, HNB, "High needs (£s)", "column '[C]'", "'High needs (£s)'"),
    ),
    Case("dsg_final", "missing column", _dsg_edit(SUMMARY, _dsg_missing)),
    _dsg_case(
        "dsg_final",
        "new marker",
        _dsg_set(SUMMARY, FIRST_LA, HNB, "x", HNB_SCHEMA, "raw schema check failed", "'x'"),
    ),
    Case("dsg_final", "duplicated LA row", _dsg_duplicated(SUMMARY)),
    _dsg_case(
        "dsg_final",
        "negative count",
        _dsg_set(SUMMARY, FIRST_LA, HNB, -55017590.0, "column '[C]'", "negative"),
    ),
    _dsg_case(
        "dsg_final",
        "text in a numeric column",
        _dsg_set(SUMMARY, FIRST_LA, HNB, "fifty", HNB_SCHEMA, "'fifty'"),
    ),
    _dsg_case(
        "dsg_final",
        "unknown LA code",
        _dsg_set(SUMMARY, FIRST_LA, 0, 999.0, "column 'col 0'", "'999'", "does not resolve"),
    ),
    Case("dsg_final", "empty file", lambda real: Variant(b"", ("cannot open workbook",))),
    Case(
        "dsg_final",
        "truncated zip",
        lambda real: Variant(truncate(real.data), ("cannot open workbook",)),
    ),
    Case("dsg_final", "moved header row", _dsg_moved(SUMMARY)),
    Case("dsg_final", "renamed sheet", _dsg_renamed_sheet(SUMMARY, "Allocations summary")),
]
DSG_COMPILATION_CASES = [
    _dsg_case(
        "dsg_compilation",
        "text in a numeric column (GBP million sheet)",
        _dsg_set("Allocations_1920", FIRST_LA, HNB, "fifty", HNB_SCHEMA, "'fifty'"),
    ),
    Case("dsg_compilation", "duplicated LA row", _dsg_duplicated("Allocations_2122")),
    Case("dsg_compilation", "moved header row", _dsg_moved("Allocations_1920")),
    Case(
        "dsg_compilation",
        "renamed sheet",
        _dsg_renamed_sheet("Allocations_1920", "Allocations_2019-20"),
    ),
    Case(
        "dsg_compilation",
        "truncated zip",
        lambda real: Variant(truncate(real.data), ("cannot open workbook",)),
    ),
]


# Derived DSG balance % (.xlsx, header in row 1): rows as the sheet shows them.

BALANCE = "DSG cumulative balance as a % of the total income"


def _derived_la_row(real: Real) -> int:
    """Return the sheet row (1-based) of the first LA row."""
    return _row(real.sheet(), 1, "Local authority") + 1


def _xlsx_edit(
    edit: Callable[[Xlsx, Real], tuple[str, ...]],
) -> Callable[[Real], Variant]:
    def make(real: Real) -> Variant:
        book = Xlsx(real.data)
        expect = edit(book, real)
        return Variant(book.to_bytes(), expect)

    return make


def _derived_set(col: int, value: str, *expect: str) -> Callable[[Real], Variant]:
    def edit(book: Xlsx, real: Real) -> tuple[str, ...]:
        r = _derived_la_row(real)
        book.set_cell(r, col, value)
        return (f"row {r}", repr(value), *expect)

    return _xlsx_edit(edit)


def _derived_header(edit: Callable[[Xlsx], None], column: str) -> Callable[[Real], Variant]:
    def run(book: Xlsx, _: Real) -> tuple[str, ...]:
        edit(book)
        return ("expected column(s) missing", f"column {column!r}", "row 1", "sheet ")

    return _xlsx_edit(run)


def _derived_duplicated(book: Xlsx, real: Real) -> tuple[str, ...]:
    new = book.append_copy_of_row(_derived_la_row(real))
    return ("duplicated row", "column 'la_name'", f"row {new}")


def _derived_infinite(book: Xlsx, real: Real) -> tuple[str, ...]:
    """A balance of 1e400 (infinity) with its deficit -1e400: inf - inf is no number."""
    r = _derived_la_row(real)
    book.set_cell(r, 4, "-1e400")
    book.set_cell(r, 5, "1e400")
    return (f"row {r}", "'deficit' is not minus the balance %", "'-1e400'")


DERIVED_CASES = [
    Case("dsg_derived", "infinite value", _xlsx_edit(_derived_infinite)),
    Case(
        "dsg_derived",
        "renamed column",
        _derived_header(lambda b: b.set_cell(1, 4, "deficit_pct"), "deficit"),
    ),
    Case("dsg_derived", "missing column", _derived_header(lambda b: b.delete_column(4), "deficit")),
    Case("dsg_derived", "new marker", _derived_set(5, "[c]", f"column {BALANCE!r}")),
    Case("dsg_derived", "duplicated LA row", _xlsx_edit(_derived_duplicated)),
    Case("dsg_derived", "text in a numeric column", _derived_set(4, "twelve", "column 'deficit'")),
    Case("dsg_derived", "unknown LA name", _derived_set(3, "Atlantis", "column 'la_name'")),
    Case("dsg_derived", "empty file", lambda real: Variant(b"", ("cannot open workbook",))),
    Case(
        "dsg_derived",
        "truncated zip",
        lambda real: Variant(truncate(real.data), ("cannot open workbook",)),
    ),
    Case(
        "dsg_derived",
        "moved header row",
        _derived_header(lambda b: b.insert_rows_on_top(["DSG balance", ""]), "time_period"),
    ),
]


# High needs benchmarking tool outturn (.xlsx, python-calamine): rows as the sheet shows them.

HNBT_FIRST_LA = hnbt.FIRST_ROW
HNBT_PLACE = hnbt._col("BI")


def _hnbt_set(col: int, value: str | float, *expect: str) -> Callable[[Real], Variant]:
    def edit(book: Xlsx, _: Real) -> tuple[str, ...]:
        book.set_cell(HNBT_FIRST_LA, col, value)
        return (f"row {HNBT_FIRST_LA}", *expect)

    return _xlsx_edit(edit)


def _hnbt_header(edit: Callable[[Xlsx], None], cell: str, text: str) -> Callable[[Real], Variant]:
    def run(book: Xlsx, _: Real) -> tuple[str, ...]:
        edit(book)
        return (f"expected {text!r} in cell {cell}", f"column {cell!r}")

    return _xlsx_edit(run)


def _hnbt_duplicated(book: Xlsx, _: Real) -> tuple[str, ...]:
    new = book.append_copy_of_row(HNBT_FIRST_LA)
    return ("column 'la_code_raw'", f"row {new}", "sheet 'Sheet1'")


def _hnbt_renamed_sheet(real: Real) -> Variant:
    book = Xlsx(real.data)
    book.rename_sheet(hnbt.SHEET, "Outturn")
    return Variant(book.to_bytes(), (f"{hnbt.SHEET!r} not found", "Outturn"))


def _hnbt_moved(book: Xlsx, _: Real) -> tuple[str, ...]:
    book.insert_rows_on_top(["High needs benchmarking tool", ""])
    return ("expected 'year' in cell B2", "column 'B2'")


HNBT_CASES = [
    Case("hnbt", "infinite value", _hnbt_set(HNBT_PLACE, float("inf"), "column 'BI'", "inf")),
    Case(
        "hnbt",
        "renamed column",
        _hnbt_header(lambda b: b.set_cell(4, hnbt._col("BJ"), "Nursery"), "BJ4", "early years"),
    ),
    Case(
        "hnbt",
        "missing column",
        _hnbt_header(lambda b: b.delete_column(hnbt._col("BK")), "BK4", "primary"),
    ),
    Case("hnbt", "new marker", _hnbt_set(HNBT_PLACE, "[x]", "column 'BI'", "'[x]'")),
    Case("hnbt", "duplicated LA row", _xlsx_edit(_hnbt_duplicated)),
    Case("hnbt", "negative count", _hnbt_set(hnbt._col("E"), -2500.0, "column 'E'", "negative")),
    Case("hnbt", "text in a numeric column", _hnbt_set(HNBT_PLACE, "twelve", "'twelve'")),
    Case("hnbt", "unknown LA code", _hnbt_set(2, "999", "'999'"), LACodeError),
    Case("hnbt", "empty file", lambda real: Variant(b"", ("cannot open workbook",))),
    Case(
        "hnbt",
        "truncated zip",
        lambda real: Variant(truncate(real.data), ("cannot open workbook",)),
    ),
    Case("hnbt", "moved header row", _xlsx_edit(_hnbt_moved)),
    Case("hnbt", "renamed sheet", _hnbt_renamed_sheet),
]


# ASCOF (.xlsx, 49,000 rows, header in row 1): rows are data rows (header excluded).

MEASURE_VALUE = 7  # 0-based column of "Measure Value"


def _ascof_row(real: Real) -> int:
    """Return the sheet row (1-based) of the first 1E numerator of a council."""
    grid = real.sheet()
    return 1 + next(
        i for i, r in enumerate(grid) if r[2] == "Council" and r[4] == "1E" and r[6] == "Numerator"
    )


def _ascof_set(col: int, value: str, *expect: str) -> Callable[[Real], Variant]:
    def edit(book: Xlsx, real: Real) -> tuple[str, ...]:
        r = _ascof_row(real)
        book.set_cell(r, col, value)
        return (f"row {r - 1}", repr(value), *expect)

    return _xlsx_edit(edit)


def _ascof_header(edit: Callable[[Xlsx], None], column: str) -> Callable[[Real], Variant]:
    def run(book: Xlsx, _: Real) -> tuple[str, ...]:
        edit(book)
        return ("missing from the header row", f"column {column!r}", "row 1", "sheet 'in'")

    return _xlsx_edit(run)


def _ascof_duplicated(book: Xlsx, real: Real) -> tuple[str, ...]:
    new = book.append_copy_of_row(_ascof_row(real))
    return ("two rows for", "column 'Measure Value'", f"row {new - 1}")


def _ascof_renamed_sheet(real: Real) -> Variant:
    book = Xlsx(real.data)
    book.rename_sheet("in", "data")
    return Variant(book.to_bytes(), ("sheet 'in'", "not found", "'data'"))


def _ascof_doubled(book: Xlsx, real: Real) -> tuple[str, ...]:
    """Double one council's 1E numerator and denominator: its % stays, its region's sum breaks."""
    grid = real.sheet()
    first = _ascof_row(real)  # the sheet row of the first council's 1E numerator
    council = grid[first - 1][0]
    for i, r in enumerate(grid):
        if r[0] == council and r[4] == "1E" and r[5] == "Total" and r[6] != "Outcome":
            book.set_cell(i + 1, MEASURE_VALUE, float(r[MEASURE_VALUE]) * 2)
    return ("do not sum to the published", "ascof_1e/Total/", "column 'ascof_1e/Total/")


ASCOF_CASES = [
    Case("ascof", "council counts doubled", _xlsx_edit(_ascof_doubled)),
    Case(
        "ascof",
        "renamed column",
        _ascof_header(lambda b: b.set_cell(1, MEASURE_VALUE, "Value"), "Measure Value"),
    ),
    Case("ascof", "missing column", _ascof_header(lambda b: b.delete_column(3), "ONS Code")),
    Case("ascof", "new marker", _ascof_set(MEASURE_VALUE, "[z]", "column 'Measure Value'")),
    Case("ascof", "duplicated LA row", _xlsx_edit(_ascof_duplicated)),
    Case("ascof", "negative count", _ascof_set(MEASURE_VALUE, "-65", "column 'Measure Value'")),
    Case(
        "ascof",
        "text in a numeric column",
        _ascof_set(MEASURE_VALUE, "sixty", "column 'Measure Value'"),
    ),
    Case("ascof", "unknown LA code", _ascof_set(3, "E06999999", "column 'ons_code'"), LACodeError),
    Case("ascof", "empty file", lambda real: Variant(b"", ("cannot open workbook",))),
    Case(
        "ascof",
        "truncated zip",
        lambda real: Variant(truncate(real.data), ("cannot open workbook",)),
    ),
    Case(
        "ascof",
        "moved header row",
        _ascof_header(lambda b: b.insert_rows_on_top(["ASCOF 2020-21", ""]), "Geographical Code"),
    ),
    Case("ascof", "renamed sheet", _ascof_renamed_sheet),
]


# ONS mid-year estimates (.xls, BIFF8): rows as the sheet shows them. The workbook is edited in
# place, record by record, so no case changes the size of a record: a renamed sheet keeps its
# length, a renamed header points its cell at another shared string, and a column cannot be
# removed (the missing-column and new-marker cases have no in-place equivalent).


def _mye_row(real: Real, geography: str, skip: int = 0) -> int:
    """Return the 0-based row of the (skip+1)-th English row of a geography type."""
    sheet = real.xls_sheet
    rows = [
        i
        for i in range(sheet.nrows)
        if str(sheet.cell_value(i, 2)) == geography and str(sheet.cell_value(i, 0)).startswith("E")
    ]
    return rows[skip]


def _xls_edit(edit: Callable[[Xls, Real], tuple[str, ...]]) -> Callable[[Real], Variant]:
    def make(real: Real) -> Variant:
        book = Xls(real.data)
        expect = edit(book, real)
        return Variant(book.to_bytes(), (f"sheet {MYE_SHEET!r}", *expect))

    return make


def _mye_negative(book: Xls, real: Real) -> tuple[str, ...]:
    r = _mye_row(real, "Unitary Authority")
    book.negate_number(MYE_SHEET, r, 4 + 5)
    return (f"row {r + 1}", "column '5'", "negative")


def _mye_text(book: Xls, real: Real) -> tuple[str, ...]:
    r = _mye_row(real, "Unitary Authority")
    book.move_label_into(MYE_SHEET, r, 1, 4 + 5)
    return (f"row {r + 1}", "column '5'", "not a number", repr(real.xls_sheet.cell_value(r, 1)))


def _mye_unknown(book: Xls, real: Real) -> tuple[str, ...]:
    r = _mye_row(real, "Unitary Authority")
    district = _mye_row(real, "Non-metropolitan District")
    book.point_label(MYE_SHEET, r, 0, book.label_sst_index(MYE_SHEET, district, 0))
    code = real.xls_sheet.cell_value(district, 0)
    return (f"row {r + 1}", "column 'Code'", repr(code), "not an LA")


def _mye_duplicated(book: Xls, real: Real) -> tuple[str, ...]:
    first, second = _mye_row(real, "Unitary Authority"), _mye_row(real, "Unitary Authority", 1)
    book.point_label(MYE_SHEET, second, 0, book.label_sst_index(MYE_SHEET, first, 0))
    return (f"row {second + 1}", "column 'Code'", "listed twice")


def _mye_renamed_column(book: Xls, real: Real) -> tuple[str, ...]:
    header = population.mye_layouts()[MID_YEAR].header_row
    book.point_label(MYE_SHEET, header, 3, book.label_sst_index(MYE_SHEET, header, 2))
    return (f"row {header + 1}", "is not Code, Name, Geography, All ages")


def _mye_moved(book: Xls, real: Real) -> tuple[str, ...]:
    book.shift_rows(MYE_SHEET, 3)
    header = population.mye_layouts()[MID_YEAR].header_row
    return (f"row {header + 1}", "is not Code, Name, Geography, All ages")


def _mye_renamed_sheet(real: Real) -> Variant:
    book = Xls(real.data)
    book.rename_sheet(MYE_SHEET, "MYE2 - Peoples")
    return Variant(book.to_bytes(), (f"no sheet {MYE_SHEET!r}", "MYE2 - Peoples"))


MYE_CASES = [
    Case("ons_mye", "renamed column", _xls_edit(_mye_renamed_column), PopulationFileError),
    Case("ons_mye", "duplicated LA row", _xls_edit(_mye_duplicated), PopulationFileError),
    Case("ons_mye", "negative count", _xls_edit(_mye_negative), PopulationFileError),
    Case("ons_mye", "text in a numeric column", _xls_edit(_mye_text), PopulationFileError),
    Case("ons_mye", "unknown LA code", _xls_edit(_mye_unknown), PopulationFileError),
    Case(
        "ons_mye",
        "empty file",
        lambda real: Variant(b"", ("cannot open the .xls workbook",)),
        PopulationFileError,
    ),
    Case(
        "ons_mye",
        "truncated file",
        lambda real: Variant(truncate(real.data), ("cannot open the .xls workbook",)),
        PopulationFileError,
    ),
    Case("ons_mye", "moved header row", _xls_edit(_mye_moved), PopulationFileError),
    Case("ons_mye", "renamed sheet", _mye_renamed_sheet, PopulationFileError),
]

CASES = [
    *SEN2_CASES,
    *TRIBUNAL_CSV_CASES,
    *TRIBUNAL_ODS_CASES,
    *DSG_FINAL_CASES,
    *DSG_COMPILATION_CASES,
    *DERIVED_CASES,
    *HNBT_CASES,
    *ASCOF_CASES,
    *MYE_CASES,
]


def _write(tmp_path: Path, real: Real, data: bytes) -> Path:
    path = tmp_path / real.path.name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_refused_naming_file_and_place(
    case: Case, real: Callable[[str], Real], tmp_path: Path
) -> None:
    source = real(case.reader)
    variant = case.make(source)
    bad = _write(tmp_path, source, variant.data)
    with pytest.raises(case.error) as err:
        READERS[case.reader].read(bad)
    msg = str(err.value)
    missing = [f for f in (bad.name, *variant.expect) if f not in msg]
    assert not missing, f"{missing} not in the message:\n{msg}"


# --- what a faithful editor and a tolerant reader must accept ----------------------------------


def _frame(result: object) -> pl.DataFrame:
    frame = result[0] if isinstance(result, tuple) else result
    assert isinstance(frame, pl.DataFrame)
    return frame


@pytest.mark.parametrize(
    "reader",
    ["tribunal_ods", "dsg_final", "dsg_derived", "ascof", "ons_mye"],
)
def test_editing_tools_round_trip_to_the_same_table(
    reader: str, real: Callable[[str], Real], tmp_path: Path
) -> None:
    """An unedited round trip through the tools reads as the original: edits cause refusals."""
    source = real(reader)
    editor: Any = {".ods": Ods, ".xlsx": Xlsx, ".xls": Xls}[source.path.suffix](source.data)
    again = _write(tmp_path, source, editor.to_bytes())
    read = READERS[reader].read
    assert _frame(read(again)).equals(_frame(read(source.path)))


def test_utf8_bom_added_or_removed_reads_the_same(
    real: Callable[[str], Real], tmp_path: Path
) -> None:
    """A BOM is not an error: the 2025 EES files have one, the 2023 ones do not."""
    sen2 = real("sen2")
    with_bom = _write(tmp_path, sen2, b"\xef\xbb\xbf" + sen2.data)
    assert _frame(_read_sen2(with_bom)).equals(_frame(_read_sen2(sen2.path)))
    trib_csv = real("tribunal_csv")
    assert trib_csv.data.startswith(b"\xef\xbb\xbf")
    (tmp_path / "t").mkdir()
    without = _write(tmp_path / "t", trib_csv, trib_csv.data[3:])
    read = READERS["tribunal_csv"].read
    assert _frame(read(without)).equals(_frame(read(trib_csv.path)))


def test_tribunal_header_moved_within_reach_is_found_by_its_content(
    real: Callable[[str], Real], tmp_path: Path
) -> None:
    """The tribunal reader finds its header by the years it holds, so rows above it are fine."""
    source = real("tribunal_ods")
    book = Ods(source.data)
    book.insert_rows(SEND_2, 0, ["Provisional", "", ""])
    moved = _frame(READERS["tribunal_ods"].read(_write(tmp_path, source, book.to_bytes())))
    original = _frame(READERS["tribunal_ods"].read(source.path))
    assert moved.drop("raw_row").equals(original.drop("raw_row"))
    assert (moved["raw_row"] - original["raw_row"]).unique().to_list() == [3]


def test_derived_single_sheet_renamed_is_read(real: Callable[[str], Real], tmp_path: Path) -> None:
    """The derived workbook has one sheet, whose name carries nothing: a new name is read."""
    source = real("dsg_derived")
    book = Xlsx(source.data)
    book.rename_sheet(hn.DERIVED_SHEET, "DSG")
    renamed = _write(tmp_path, source, book.to_bytes())
    assert _frame(hn.tidy_derived(renamed, SHA)).equals(_frame(hn.tidy_derived(source.path, SHA)))


# --- a refused input replaces no output --------------------------------------------------------

#: One case per source, run through a whole build: (reader, case, file the case is applied to,
#: its (release, name) in the declaration). The file is the first its step reads, so the
#: refused build stops early; it has the layout of the reader's own file.
BUILD_CASES: dict[str, tuple[str, str, str, tuple[str, str]]] = {
    "dfe_sen2": ("sen2", "negative count", READERS["sen2"].file, ("2023", "sen2_mi")),
    "moj_send_tribunal": (
        "tribunal_ods",
        "duplicated LA row",
        "tribunal/SEND_Appeal_Rate_Table_2021.ods",
        ("2021", "appeal_rate_table"),
    ),
    "dfe_high_needs": (
        "dsg_final",
        "moved header row",
        "high_needs/dedicated-schools-grant_2021_11_18.ods",
        ("2020-21", "allocations"),
    ),
    "nhs_ascof": ("ascof", "renamed sheet", READERS["ascof"].file, ("2020-21", "open_data")),
    "ons_population": (
        "ons_mye",
        "text in a numeric column",
        READERS["ons_mye"].file,
        ("mid-2020", "mye"),
    ),
}


@pytest.fixture(scope="module")
def built(
    raw_archive: Path,
    session_build: tuple[Path, Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Path, dict[str, bytes]]]:
    """A data directory after a complete build, and the bytes of its outputs and records."""
    data = tmp_path_factory.mktemp("built") / "data"
    shutil.copytree(session_build[0], data, symlinks=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SENDSTATS_DATA_DIR", str(data))
        mp.setenv("SENDSTATS_ARCHIVE", str(raw_archive))
        population.read_mye.cache_clear()
        population.la_population.cache_clear()
        yield data, _snapshot(data)
    population.read_mye.cache_clear()
    population.la_population.cache_clear()


def _snapshot(data: Path) -> dict[str, bytes]:
    names = [*OUTPUTS, "manifest.json", build.STATE_FILE]
    return {name: (data / name).read_bytes() for name in names}


@pytest.mark.parametrize("source_id", sorted(BUILD_CASES))
def test_refused_input_replaces_no_output(
    source_id: str,
    built: tuple[Path, dict[str, bytes]],
    raw_archive: Path,
    real: Callable[[str], Real],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data, before = built
    reader, name, file, (release, file_name) = BUILD_CASES[source_id]
    case = next(c for c in CASES if (c.reader, c.name) == (reader, name))
    source = real(reader) if file == READERS[reader].file else Real(raw_archive / file)
    bad = _write(tmp_path, source, case.make(source).data)
    sha = hashlib.sha256(bad.read_bytes()).hexdigest()
    monkeypatch.setenv("SENDSTATS_DATA_DIR", str(data))
    # Every source, the ONS population included, is an ordinary tidy step: corrupt its file.
    fetch_sources = fetch.fetch_sources

    def corrupted(*args: Any, **kwargs: Any) -> list[Any]:
        results = fetch_sources(*args, **kwargs)
        return [
            dataclasses.replace(r, path=bad, sha256=sha)
            if (r.source, r.release, r.name) == (source_id, release, file_name)
            else r
            for r in results
        ]

    monkeypatch.setattr(fetch, "fetch_sources", corrupted)
    state_before = (data / build.STATE_FILE).read_bytes()
    try:
        with pytest.raises(case.error):
            build.build(offline=True, progress=False)
        after = _snapshot(data)
        changed = [n for n in OUTPUTS if after[n] != before[n]]
        assert not changed, f"outputs replaced by a refused build: {changed}"
        # Fetch stamps when each input was last verified; what the outputs claim must not move.
        outputs = [
            json.loads(m)["outputs"] for m in (before["manifest.json"], after["manifest.json"])
        ]
        assert outputs[0] == outputs[1]
        assert sha not in after["manifest.json"].decode()
        assert after[build.STATE_FILE] == state_before
        assert not [p for p in data.rglob("*") if p.name.startswith(".tmp")]
    finally:
        (data / build.STATE_FILE).write_bytes(before[build.STATE_FILE])
        population.read_mye.cache_clear()
        population.la_population.cache_clear()


def test_the_corpus_covers_every_reader() -> None:
    assert {c.reader for c in CASES} == set(READERS)
    assert len({c.id for c in CASES}) == len(CASES)
