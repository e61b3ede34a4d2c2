"""DfE high needs benchmarking tool, "Outturn data" sheet, FY 2021-22 (`Outturn data 202122.xlsx`).

One sheet (``Sheet1``) saved out of the tool's ``values_202122`` sheet and sent to the DfE SEND
and AP dashboard team by the tool's owner (the dashboard's ``prep/data_preparation.R`` says so
and reads it as 2021-22). Per LA (region, old 3-digit LA number, name): the 2-18 population
(ONS mid-2021 projection), EHC plan placements, the s251 high-needs budget block (columns P to
AP) and the **s251 high-needs outturn block** (columns BI to CI), read here into long rows of
``dfe_high_needs__dsg`` with ``basis = "hn_benchmarking_outturn"``.

Which financial year is the outturn block? **FY 2021-22**, settled from the file itself:

- North Northamptonshire (940) and West Northamptonshire (941), created on 1 April 2021, carry
  outturn values while Northamptonshire (928) is ``#N/A``: an FY 2020-21 outturn would have been
  returned by Northamptonshire. Cumbria (909, abolished 1 April 2023) carries values, so the year
  is not 2023-24 or later. Both facts are asserted by :func:`check_period_evidence`.
- The sheet's ``Year`` cell is ``2021-22``; the tool's own per-head table divides this block by
  the 2-18 population of the ONS mid-2021 projection (cell CZ = BT / E, asserted on every row);
  the EHC plan counts are January 2021 (Derby 2,613, Leeds 4,689 equal SEN2).
- The workbook was last saved on 2023-11-23, before the FY 2022-23 outturn was published
  (LA and school expenditure 2022-23: 25 January 2024); FY 2021-22 was published in 2022.
- The note over the block ("values for 2016-17 ... 2020-21 ... as data for later years is
  unavailable") is the template text of the November 2022 tool, which held outturn to 2020-21 and
  a 2021-22 sheet with the budget only; it was not updated when the outturn was filled in. Its
  presence is asserted, so a re-issued file is looked at again.

The extract is secondary (its provenance is documented only by the dashboard's code comment);
every row carries that caveat. There is no England or region row: those are pooled by the
metrics (sum / sum). Excel errors: ``#N/A`` in the outturn of the four LAs that no longer existed
(Northamptonshire, Bournemouth, Poole, Dorset county), asserted to be exactly those; ``#REF!`` in
the NFF columns AR to BG, which are not read.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any
from xml.etree import ElementTree

import pandera.polars as pa
import polars as pl

from sendstats import geography
from sendstats.core.vocab import FBIT_TOTAL_MEASURES, HNBT_BASIS
from sendstats.sources import checks
from sendstats.sources.grids import read_grids
from sendstats.sources.layouts import load_layout
from sendstats.sources.readers import RawInputError, validate_frame

SHEET = "Sheet1"
TIME_PERIOD = "2021-22"
BASIS = HNBT_BASIS
FIRST_ROW = 8
#: LA rows in the sheet, and those with an outturn (the rest are '#N/A', see NA_LAS).
LA_ROWS = 154
OUTTURN_LAS = 150
#: LAs listed with '#N/A' outturn: abolished before FY 2021-22 (Northamptonshire in April 2021,
#: Bournemouth, Poole and Dorset county in April 2019).
NA_LAS = frozenset({"928", "835", "836", "837"})
EXCEL_NA = "#N/A"

#: Cell -> text it must contain (case-insensitive, spaces collapsed): the layout and the period.
_LAYOUT = load_layout("dfe_high_needs_hnbt")
HEADER_CELLS: dict[str, str] = dict(_LAYOUT["header_cells"])

#: Column letter -> tidy measure id (GBP unless the id says otherwise).
MEASURE_COLUMNS: dict[str, str] = dict(_LAYOUT["measure_columns"])
#: Columns read only to check the sheet's own arithmetic (phases of the top-ups, income, and
#: the tool's per-head value of maintained special top-ups).
CHECK_COLUMNS: tuple[str, ...] = tuple(_LAYOUT["check_columns"])
CHECK_COLUMNS_ALL = (*CHECK_COLUMNS, *_LAYOUT["check_columns_extra"])
#: measure ids, in the order of MEASURE_COLUMNS.
MEASURES = tuple(MEASURE_COLUMNS.values())
#: Place funding by phase: their sum is s251 line 1.0.2 (FBIT's place funding).
PLACE_FUNDING_PHASES = MEASURES[2:8]
# The FBIT total (core.vocab) is 1.0.2 place funding (all phases) and the six 1.2.x groups.
assert (*PLACE_FUNDING_PHASES, *MEASURES[8:]) == FBIT_TOTAL_MEASURES
CAVEAT = (
    "secondary: sheet of the DfE high needs benchmarking tool sent to the DfE SEND/AP dashboard; "
    "outturn FY 2021-22 settled from the LAs present (see the declaration)"
)
#: Last row inside the ranges of the tool's per-head formulas (``$C$8:$C$160``).
FORMULA_LAST_ROW = 160
#: Absolute tolerance (GBP) of the sheet's own sums (values carry pence).
SUM_TOLERANCE = 1.0


def _norm(value: object) -> str:
    return " ".join(str(value if value is not None else "").split()).lower()


def _col(letter: str) -> int:
    """Return the 0-based index of a column letter (``A`` -> 0, ``BI`` -> 60)."""
    index = 0
    for char in letter.upper():
        index = index * 26 + ord(char) - ord("A") + 1
    return index - 1


def read_grid(path: Path) -> list[tuple[Any, ...]]:
    """Return the sheet's rows as tuples of cached cell values (formulas give their values).

    The grid is openpyxl's (``read_only``, ``data_only``), cell for cell, read with
    python-calamine (:func:`~sendstats.sources.grids.read_grids`, within its limits) instead:
    0.03 s against openpyxl's 0.12 s plus its 0.15 s import, for the
    cold build's speed target (issue 10). calamine's values are made openpyxl's: rows from A1
    (``skip_empty_area=False``), ``None`` for an empty cell (calamine gives ``""``), an
    ``int`` for a number written without a decimal point or exponent (calamine gives every
    number as a float), a ``datetime`` for a whole date (calamine gives a ``date``), and the
    text of an Excel error such as ``'#N/A'``, which calamine gives as ``""``: errors and
    numbers written like ``2500.0`` are found in the sheet's XML by :func:`_xml_cells`. A row
    may lack trailing empty cells that openpyxl padded to the sheet's declared dimension; a
    missing cell reads as ``None`` everywhere here.

    Raises:
        RawInputError: unreadable workbook or no ``Sheet1``.

    """
    rows = read_grids(path, [SHEET])[SHEET]  # bounded in bytes, rows and columns
    try:
        errors, floats = _xml_cells(path, SHEET)
    except RawInputError:
        raise
    except Exception as exc:  # zipfile raises zip, XML and value errors alike
        raise RawInputError(path, f"cannot open workbook: {exc}") from exc
    grid: list[list[Any]] = [
        [
            None
            if v == ""
            else int(v)
            if type(v) is float and v.is_integer()
            else dt.datetime(v.year, v.month, v.day)
            if type(v) is dt.date
            else v
            for v in row
        ]
        for row in rows
    ]
    for r, c in floats:
        if r < len(grid) and c < len(grid[r]) and type(grid[r][c]) is int:
            grid[r][c] = float(grid[r][c])
    for (r, c), text in errors.items():
        grid.extend([] for _ in range(r + 1 - len(grid)))
        grid[r].extend([None] * (c + 1 - len(grid[r])))
        grid[r][c] = text
    width = max((len(row) for row in grid), default=0)
    return [tuple(row + [None] * (width - len(row))) for row in grid]


_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
_RELATIONSHIP = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"
_CELL_REF = re.compile(rb'\sr="([A-Z]+)(\d+)"')
_CELL_TYPE = re.compile(rb'\st="(\w+)"')


def _sheet_xml(path: Path, sheet: str) -> bytes:
    """Return the XML part of a named worksheet of an .xlsx file."""
    with zipfile.ZipFile(path) as book:
        workbook = ElementTree.fromstring(book.read("xl/workbook.xml"))
        rels = ElementTree.fromstring(book.read("xl/_rels/workbook.xml.rels"))
        rid = next(
            el.get(_REL_ID) for el in workbook.iter(f"{_MAIN}sheet") if el.get("name") == sheet
        )
        target = next(
            str(el.get("Target")) for el in rels.iter(_RELATIONSHIP) if el.get("Id") == rid
        )
        part = target[1:] if target.startswith("/") else str(PurePosixPath("xl", target))
        return book.read(part)


def _xml_cells(path: Path, sheet: str) -> tuple[dict[tuple[int, int], str], set[tuple[int, int]]]:
    """Return what calamine does not tell of a sheet's cells, by 0-based (row, column).

    First the cached text of each error cell (``t="e"``, which calamine reads as empty), then
    the numeric cells written with a decimal point or an exponent whose value is whole
    (openpyxl gives those as floats, the rest as ints). Both are found by searching the sheet's
    XML for literal markers as Excel writes them (15 ms for this sheet); calamine reads the rest.
    """
    xml = _sheet_xml(path, sheet)
    root = re.search(rb"<(\w+:)?worksheet\b", xml)
    ns = (root.group(1) or b"") if root else b""
    cell_tag, value_tag, cell_end = b"<" + ns + b"c ", b"<" + ns + b"v>", b"</" + ns + b"c>"

    def cell_at(start: int) -> tuple[tuple[int, int], bytes, int] | None:
        """Return the (row, col), opening tag and tag end of the cell tag at ``start``."""
        end = xml.find(b">", start)
        ref = _CELL_REF.search(xml, start, end) if start >= 0 else None
        if ref is None:
            return None
        return (int(ref.group(2)) - 1, _col(ref.group(1).decode())), xml[start:end], end

    errors: dict[tuple[int, int], str] = {}
    at = xml.find(b' t="e"')
    while at >= 0:
        cell = cell_at(xml.rfind(cell_tag, 0, at))
        # the marker is in that cell's tag, which is not <c t="e"/> (no cached value)
        if cell is not None and at < cell[2] and not cell[1].endswith(b"/"):
            value = xml.find(value_tag, cell[2])
            if 0 <= value < xml.find(cell_end, cell[2]):
                text = xml[value + len(value_tag) : xml.find(b"<", value + 1)]
                errors[cell[0]] = html.unescape(text.decode())
        at = xml.find(b' t="e"', at + 1)
    floats: set[tuple[int, int]] = set()
    whole = re.compile(re.escape(value_tag) + rb"(-?\d*\.?\d*[eE][-+]?\d+|-?\d+\.0*)<")
    for m in whole.finditer(xml):
        cell = cell_at(xml.rfind(cell_tag, 0, m.start()))
        kind = _CELL_TYPE.search(cell[1]) if cell is not None else None
        numeric = kind is None or kind.group(1) == b"n"
        if cell is not None and numeric and float(m.group(1)).is_integer():
            floats.add(cell[0])
    return errors, floats


def _cell(grid: list[tuple[Any, ...]], ref: str) -> object:
    letters = ref.rstrip("0123456789")
    row, col = int(ref[len(letters) :]) - 1, _col(letters)
    if row >= len(grid) or col >= len(grid[row]):
        return None
    return grid[row][col]


def check_header(grid: list[tuple[Any, ...]], path: Path) -> None:
    """Assert every header cell of :data:`HEADER_CELLS` (layout, unit banners, year, note)."""
    for ref, text in HEADER_CELLS.items():
        found = _norm(_cell(grid, ref))
        if text not in found:
            raise RawInputError(
                path, f"expected {text!r} in cell {ref}", column=ref, row=None, value=found
            )


def _la_rows(grid: list[tuple[Any, ...]]) -> Iterator[tuple[int, tuple[Any, ...]]]:
    for i in range(FIRST_ROW - 1, len(grid)):
        row = grid[i]
        if len(row) > _col("C") and row[_col("C")] is not None:
            yield i + 1, row


def extract_rows(grid: list[tuple[Any, ...]], path: Path) -> pl.DataFrame:
    """Return one text row per LA: raw row, region, code, name, measures and check columns."""
    records = []
    for raw_row, row in _la_rows(grid):

        def text(letter: str, row: tuple[Any, ...] = row) -> str | None:
            i = _col(letter)
            value = row[i] if i < len(row) else None
            return None if value is None else str(value)

        rec: dict[str, object] = {
            "raw_row": raw_row,
            "region_raw": _norm(text("B")),
            "la_code_raw": text("C"),
            "la_name_raw": " ".join((text("D") or "").split()),
        }
        rec |= {letter: text(letter) for letter in (*MEASURE_COLUMNS, *CHECK_COLUMNS_ALL)}
        records.append(rec)
    if not records:
        raise RawInputError(path, "no LA rows", row=FIRST_ROW)
    schema = {k: pl.Utf8 for k in records[0]} | {"raw_row": pl.Int64}
    return pl.DataFrame(records, schema=schema)


def raw_schema() -> pa.DataFrameSchema:
    """Drift schema: 3-digit codes, known regions, numbers or '#N/A' in the value columns."""
    number_or_na = pa.Check.str_matches(r"^(-?\d+(\.\d+)?([eE][-+]?\d+)?|#N/A)$")
    regions = [r.lower() for r in geography.regions().values() if r != "London"]
    cols: dict[str, pa.Column] = {
        "raw_row": pa.Column(pl.Int64),
        "region_raw": pa.Column(pl.Utf8, pa.Check.isin([*regions, "inner london", "outer london"])),
        "la_code_raw": pa.Column(pl.Utf8, pa.Check.str_matches(r"^\d{3}$"), unique=True),
        "la_name_raw": pa.Column(pl.Utf8, pa.Check.str_length(min_value=3)),
    }
    cols |= {c: pa.Column(pl.Utf8, number_or_na) for c in (*MEASURE_COLUMNS, *CHECK_COLUMNS)}
    cols |= {c: pa.Column(pl.Utf8, number_or_na, nullable=True) for c in ("CE", "CZ")}
    return pa.DataFrameSchema(cols, strict=True, name="dfe_high_needs HNBT outturn (raw)")


def validate_raw(df: pl.DataFrame, path: Path) -> pl.DataFrame:
    """Check drift, the LA count and that exactly the abolished LAs carry '#N/A'."""
    validate_frame(raw_schema(), df, path, stage="raw", rows=df["raw_row"].to_list(), sheet=SHEET)
    negative = df.filter(pl.col("E").str.starts_with("-"))
    if negative.height:
        raise RawInputError(
            path,
            "the 2-18 population is negative",
            column="E",
            row=int(negative["raw_row"][0]),
            value=str(negative["E"][0]),
            sheet=SHEET,
        )
    if df.height != LA_ROWS:
        raise RawInputError(path, f"expected {LA_ROWS} LA rows, found {df.height}")
    outturn = [c for c in MEASURE_COLUMNS if c != "E"]
    na_any = df.filter(pl.any_horizontal(pl.col(outturn) == EXCEL_NA))
    na_all = df.filter(pl.all_horizontal(pl.col(outturn) == EXCEL_NA))
    if set(na_any["la_code_raw"]) != NA_LAS or na_all.height != na_any.height:
        odd = sorted(set(na_any["la_code_raw"]) ^ NA_LAS) or sorted(
            set(na_any["la_code_raw"]) - set(na_all["la_code_raw"])
        )
        raise RawInputError(
            path,
            f"'#N/A' outturn expected for exactly {sorted(NA_LAS)} (all columns)",
            column="BI:CI",
            value=", ".join(odd),
        )
    return df


def check_period_evidence(df: pl.DataFrame, path: Path) -> None:
    """Assert what settles the outturn year: 928 '#N/A', 940/941 and 909 with values."""
    outturn = dict(zip(df["la_code_raw"], df["BP"], strict=True))
    expect = {"928": False, "940": True, "941": True, "909": True}
    for code, has_value in expect.items():
        if (outturn.get(code, EXCEL_NA) != EXCEL_NA) != has_value:
            raise RawInputError(
                path,
                "the LAs present no longer settle the outturn year as FY 2021-22 "
                f"(LA {code} should {'have' if has_value else 'lack'} an outturn)",
                column="BP",
                value=str(outturn.get(code)),
            )


def check_sums(df: pl.DataFrame, path: Path) -> None:
    """Assert the sheet's own arithmetic on every LA with an outturn.

    Top-ups are their phase columns minus income; the place funding of column BI is special
    schools plus PRUs/AP (so the s251 line 1.0.2 total is the sum of the phase columns); the
    tool's per-head cell CZ is BT / E (the outturn is per head of the mid-2021 population),
    except below the formulas' ranges (York, row 161, is '#N/A' there).
    """
    has = df.filter(pl.col("BP") != EXCEL_NA)
    # The tool's INDEX ranges stop at row FORMULA_LAST_ROW, so a row below it (York) has '#N/A'
    # in CZ: allowed there only.
    outside = has.filter((pl.col("CZ") == EXCEL_NA) & (pl.col("raw_row") <= FORMULA_LAST_ROW))
    if outside.height:
        raise RawInputError(
            path, "per-head cell is '#N/A'", column="CZ", row=int(outside["raw_row"][0])
        )
    num = has.with_columns(
        pl.col([*MEASURE_COLUMNS, *CHECK_COLUMNS]).cast(pl.Float64),
        pl.col("CE").cast(pl.Float64).fill_null(0.0),
        pl.when(pl.col("CZ") != EXCEL_NA).then(pl.col("CZ")).cast(pl.Float64).alias("CZ"),
    )
    checks = {
        "BP": pl.sum_horizontal("BQ", "BR", "BS", "BT", "BU", "BV") - pl.col("BW"),
        "BX": pl.sum_horizontal("BY", "BZ", "CA", "CB", "CC", "CD") - pl.col("CE"),
        "BI": pl.col("BM") + pl.col("BN"),
    }
    for column, expected in checks.items():
        bad = num.filter((pl.col(column) - expected).abs() > SUM_TOLERANCE)
        if bad.height:
            raise RawInputError(
                path,
                "sheet total is not the sum of its parts",
                column=column,
                row=int(bad["raw_row"][0]),
                value=str(bad[column][0]),
            )
    per_head = num.filter(pl.col("CZ").is_not_null())
    bad = per_head.filter((pl.col("CZ") - pl.col("BT") / pl.col("E")).abs() > 1e-6)
    if per_head.height < OUTTURN_LAS - 1 or bad.height:
        raise RawInputError(
            path,
            "the tool's per-head cell CZ is not BT / E (2-18 population, mid-2021)",
            column="CZ",
            row=int(bad["raw_row"][0]) if bad.height else None,
        )


def check_regions(df: pl.DataFrame, path: Path) -> None:
    """Assert each LA's region in the sheet is its region in the crosswalk (London split)."""
    for rec in df.select("raw_row", "region_raw", "la_code_dfe").iter_rows(named=True):
        expected = geography.region_of(str(rec["la_code_dfe"]))[1].lower()
        found = "london" if rec["region_raw"].endswith("london") else rec["region_raw"]
        if found != expected:
            raise RawInputError(
                path,
                f"region differs from the crosswalk ({expected})",
                column="B",
                row=int(rec["raw_row"]),
                value=str(rec["region_raw"]),
            )


def tidy_hnbt(path: Path, sha256: str, *, release: str, source_file: str) -> pl.DataFrame:
    """Read the sheet into long tidy rows of ``dfe_high_needs__dsg`` (not yet validated).

    Raises:
        RawInputError: layout or period evidence drifted, a sum does not add up, an LA does
            not resolve or sits in another region.

    """
    grid = read_grid(path)
    check_header(grid, path)
    df = validate_raw(extract_rows(grid, path), path)
    check_period_evidence(df, path)
    check_sums(df, path)
    df = df.filter(pl.col("BP") != EXCEL_NA).with_columns(
        pl.lit("Local authority").alias("geographic_level")
    )
    df = geography.canonical_codes(
        df,
        dfe_col="la_code_raw",
        gss_col=None,
        name_col="la_name_raw",
        source=str(path),
        row_col="raw_row",
    )
    check_regions(df, path)
    regions = {c: geography.region_of(c) for c in df["la_code_dfe"].to_list()}
    df = df.with_columns(
        pl.col("la_code").alias("area_code"),
        pl.col("la_name").alias("area_name"),
        pl.col("la_code_dfe")
        .replace_strict({k: v[0] for k, v in regions.items()})
        .alias("region_code"),
        pl.col("la_code_dfe")
        .replace_strict({k: v[1] for k, v in regions.items()})
        .alias("region_name"),
    )
    index = [c for c in df.columns if c not in MEASURE_COLUMNS]
    long = df.unpivot(index=index, on=list(MEASURE_COLUMNS), variable_name="col", value_name="v")
    long = long.with_columns(
        pl.col("col").replace_strict(MEASURE_COLUMNS).alias("measure"),
        pl.col("v").cast(pl.Float64).alias("value"),
        pl.lit(release).alias("release"),
        pl.lit(source_file).alias("source_file"),
        pl.lit(sha256).alias("file_sha256"),
        pl.lit(TIME_PERIOD).alias("time_period"),
        pl.lit(BASIS).alias("basis"),
        pl.lit("ok").alias("status"),
        pl.lit(True).alias("official"),
        pl.lit(None, pl.Utf8).alias("derived_by"),
        pl.lit(CAVEAT).alias("caveat"),
    )
    return checks.check_financial_rows(long, path)
