"""Layout reading of the SEND Tribunal appeal rate tables (MoJ .ods and DfE supporting CSVs).

The MoJ "SEND Appeal Rate Table" (.ods, sheets ``SEND_1`` England and ``SEND_2`` by LA) and
its DfE successors (supporting CSVs of "Education, health and care plans") are human-formatted
sheets, not data files: title rows, a two-row header (years in one row, measure labels with
footnote digits in the next), region header rows, an England total, then sources and notes.
This module turns one sheet into a grid of text cells, finds and asserts the header by its
content, and returns typed wide records plus a count of every physical row by what became of
it. :mod:`sendstats.sources.moj_send_tribunal` makes the long tidy table from them.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import fastexcel
import polars as pl

from sendstats import geography
from sendstats.core.vocab import METHOD_2018 as METHOD_2018
from sendstats.core.vocab import METHOD_ANNUAL_REVIEWS as METHOD_ANNUAL_REVIEWS
from sendstats.geography.crosswalk import normalise_dfe_code
from sendstats.sources.readers import STATUS_OK, RawInputError, decode_text

Grid = list[list[str]]

#: Methods of counting appealable decisions (definitions in ``moj_send_tribunal.METHODS``).
ENGLAND_CODE = "E92000001"
AREA_COLUMNS = (
    "geographic_level", "area_code", "area_name", "la_code_dfe", "region_code", "region_name",
)  # fmt: skip

#: Markers: the MoJ legend ("- zero", ".. Not Available") and the CSV legend ("~ Suppressed");
#: the CSVs print ``x`` for suppressed cells although their legend shows ``~``.
ZERO_MARKER = "-"
NULL_MARKERS = {"..": "not available", "x": "suppressed", "~": "suppressed", "": "blank"}
STATUS_BLANK = "blank"

#: Measure -> the publisher's header label (named when a year lacks the column).
MEASURE_LABELS = {
    "appeals_registered_count": "Appeals registered",
    "appealable_decisions_count": "Total Appealable Decisions",
    "appeal_rate_pct": "SEND Tribunal Appeal Rate",
}

_FOOTNOTE_TAIL = re.compile(r"[\d,\s]+$")
_YEAR = re.compile(r"^(20[12]\d)$")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")


@dataclass(frozen=True)
class TableSpec:
    """How to read one declared file: layout, rate unit, methods and the checks it must pass."""

    release: str
    name: str
    fmt: Literal["csv", "ods"]
    years: tuple[int, ...]
    default_method: str
    rate_scale: float  # 100 for fractions (MoJ .ods), 1 for "1.30%" text
    rate_decimals: int  # published precision of the rate, in percent
    code_column: bool
    sheet: str | None = None
    national_sheet: str | None = None
    #: normalised LA name -> (code printed, correct code): publisher code errors, asserted.
    code_errors: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: (measure, method, years) whose LA rows must sum to the England Total row.
    totals_add_up: tuple[tuple[str, str, tuple[int, ...]], ...] = ()


@dataclass(frozen=True)
class Column:
    """One measure column of the wide table: its year, measure and method."""

    index: int
    year: int
    measure: str
    method: str | None  # None: appeals registered, the numerator of every method of its year
    label: str


@dataclass(frozen=True)
class WideRow:
    """One kept data row (an LA or the England total) with its parsed cells."""

    raw_row: int  # 1-based physical row (CSV record or sheet row)
    kind: str  # "National" or "Local authority"
    name: str
    code: str
    region_header: str
    cells: tuple[tuple[Column, float | None, str], ...]


@dataclass
class WideTable:
    """Data rows of one sheet, with the row counts for the build log."""

    columns: list[Column]
    rows: list[WideRow]
    counts: Counter[str] = field(default_factory=Counter)
    #: "England total excluding suppressed" rows: not data, kept to check against their cells.
    partial_totals: list[WideRow] = field(default_factory=list)


def read_grid(path: Path, fmt: Literal["csv", "ods"], sheet: str | None = None) -> Grid:
    """Read a CSV or one .ods sheet as a grid of stripped text cells ('' for empty).

    Raises:
        RawInputError: the file is empty, cannot be read or decoded, is cut mid-row, or the
            sheet is missing.

    """
    if fmt == "csv":
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise RawInputError(path, f"cannot read file: {exc}") from exc
        # Rows are reported as physical CSV records, so no header line is subtracted.
        text = decode_text(path, data, header_lines=0)
        grid = [[c.strip() for c in rec] for rec in csv.reader(io.StringIO(text))]
        # The publisher pads every record to the table's width; a download cut off mid-row
        # leaves a short last record and no final line break.
        if grid and not text.endswith(("\n", "\r")) and len(grid[-1]) < max(map(len, grid)):
            raise RawInputError(path, "file ends mid-row (truncated download?)", row=len(grid))
        return grid
    try:
        # Empty rows are kept so that a row number is the one the spreadsheet shows.
        df = pl.read_excel(
            path,
            sheet_name=sheet,
            engine="calamine",
            has_header=False,
            infer_schema_length=0,
            drop_empty_rows=False,
        )
    except Exception as exc:  # calamine raises several types; all mean "not this sheet"
        raise RawInputError(path, _sheet_problem(path, sheet, exc), sheet=sheet) from exc
    return [[(c or "").strip() for c in row] for row in df.rows()]


def _sheet_problem(path: Path, sheet: str | None, exc: Exception) -> str:
    """Say why a sheet could not be read: a missing sheet (listing those present) or the file."""
    try:
        names = fastexcel.read_excel(path).sheet_names
    except Exception as book_exc:  # not a readable workbook at all (empty, truncated zip ...)
        return f"cannot open workbook: {book_exc}"
    if sheet not in names:
        return f"sheet {sheet!r} not found; sheets: {names}"
    return f"cannot read sheet: {exc}"


def clean_label(text: str) -> str:
    """Return a header label without footnote digits, lower case, single-spaced."""
    return " ".join(_FOOTNOTE_TAIL.sub("", text.strip()).lower().split())


def parse_cell(
    path: Path, text: str, *, row: int, column: str, rate_scale: float
) -> tuple[float | None, str]:
    """Return (value, status) of one cell; ``rate_scale`` turns a fraction into percent.

    ``-`` is the publisher's zero (MoJ legend "- zero"; the CSVs print 0.00% beside it), so it
    becomes 0 with status ``-``. ``..``, ``x``, ``~`` and blanks become null with the marker as
    status. Anything else that is not a number is an error naming file, column and row.
    """
    cell = text.strip()
    if cell == ZERO_MARKER:
        return 0.0, ZERO_MARKER
    if cell in NULL_MARKERS:
        return None, cell or STATUS_BLANK
    number = cell.replace(",", "")
    scale = rate_scale
    if number.endswith("%"):
        number, scale = number[:-1], 1.0
    if not _NUMBER.match(number):
        raise RawInputError(
            path,
            f"neither a number nor a known marker {sorted(m for m in NULL_MARKERS if m)} or '-'",
            column=column,
            row=row,
            value=text,
        )
    if number.startswith("-"):
        # Appeals, decisions and rates are never negative; the zero marker is a bare '-'.
        raise RawInputError(path, "a count or rate is negative", column=column, row=row, value=text)
    return float(number) * scale, STATUS_OK


def _classify_label(label: str, default_method: str) -> tuple[str, str | None] | None:
    text = clean_label(label)
    method = default_method
    if text.startswith("in development:"):
        text, method = text.removeprefix("in development:").strip(), METHOD_ANNUAL_REVIEWS
    if text in ("appeals registered", "appeals", "send tribunal appeals registered"):
        return "appeals_registered_count", None
    if text == "total appealable decisions":
        return "appealable_decisions_count", method
    if text in ("send tribunal appeal rate", "appeal rate"):
        return "appeal_rate_pct", method
    return None


def find_header(path: Path, grid: Grid, expected_years: tuple[int, ...]) -> int:
    """Return the 0-based index of the year row: the first row naming the expected years.

    Raises:
        RawInputError: no row carries the years the declaration expects.

    """
    for i, row in enumerate(grid[:20]):
        years = [int(c) for c in row[1:] if _YEAR.match(c)]
        if years and tuple(sorted(set(years))) == expected_years:
            return i
    raise RawInputError(
        path,
        f"no header row with the years {expected_years[0]}-{expected_years[-1]} in the first "
        "20 rows (layout changed?)",
        row=1,
    )


def parse_columns(path: Path, grid: Grid, year_row: int, default_method: str) -> list[Column]:
    """Map each labelled column under the year row to (year, measure, method), loudly.

    Raises:
        RawInputError: a label is unknown, sits under no year, or a year lacks a measure.

    """
    labels = grid[year_row + 1]
    columns: list[Column] = []
    year: int | None = None
    for j, label in enumerate(labels):
        cell = grid[year_row][j] if j < len(grid[year_row]) else ""
        if _YEAR.match(cell):
            year = int(cell)
        if j == 0 or not label or clean_label(label) in ("old la code", "la code"):
            continue
        kind = _classify_label(label, default_method)
        if kind is None or year is None:
            raise RawInputError(
                path,
                "unexpected header label: expected 'Appeals registered', 'Total Appealable "
                "Decisions' or 'SEND Tribunal Appeal Rate' under a year",
                column=f"column {j + 1}",
                row=year_row + 2,
                value=label,
            )
        columns.append(Column(j, year, kind[0], kind[1], label))
    for y in sorted({c.year for c in columns}):
        found = {c.measure for c in columns if c.year == y}
        if len(found) != 3:
            lacking = [label for m, label in MEASURE_LABELS.items() if m not in found]
            raise RawInputError(
                path,
                f"year {y} lacks a measure column (found {sorted(found)})",
                column=lacking[0],
                row=year_row + 2,
            )
    return columns


def _row_kind(row: list[str]) -> str:
    name = row[0] if row else ""
    rest = any(c for c in row[1:])
    low = name.lower()
    if not name and not rest:
        return "blank row"
    if low.startswith(("sources", "footnotes", "notes")):
        return "notes"
    if low.startswith("england total excluding"):
        return "partial total"
    if low.startswith("england total"):
        return "National"
    if name == name.upper() and not rest:
        return "region header"
    return "Local authority"


def read_wide(
    path: Path,
    grid: Grid,
    *,
    expected_years: tuple[int, ...],
    default_method: str,
    rate_scale: float,
    code_column: bool,
) -> WideTable:
    """Read the data rows of one by-LA sheet into typed wide records, counting every row.

    Raises:
        RawInputError: the header is not as expected, or a cell is neither number nor marker.

    """
    year_row = find_header(path, grid, expected_years)
    columns = parse_columns(path, grid, year_row, default_method)
    out = WideTable(columns, [])
    out.counts["title or header row"] = year_row + 2
    region = ""
    in_notes = False
    for i in range(year_row + 2, len(grid)):
        row = grid[i]
        kind = "notes" if in_notes else _row_kind(row)
        if kind == "notes":
            in_notes = True
            out.counts["sources, notes and legend"] += 1
            continue
        if kind == "region header":
            region = row[0]
        if kind in ("blank row", "region header"):
            out.counts[kind] += 1
            continue
        cells = []
        for col in columns:
            text = row[col.index] if col.index < len(row) else ""
            scale = rate_scale if col.measure == "appeal_rate_pct" else 1.0
            value, status = parse_cell(path, text, row=i + 1, column=col.label, rate_scale=scale)
            cells.append((col, value, status))
        code = row[1] if code_column and len(row) > 1 else ""
        wide_row = WideRow(i + 1, kind, row[0], code, region, tuple(cells))
        if kind == "partial total":
            out.counts[kind] += 1
            out.partial_totals.append(wide_row)
            continue
        out.rows.append(wide_row)
        out.counts[f"kept: {kind}"] += 1
    return out


def read_national_series(path: Path, grid: Grid) -> dict[int, tuple[float, float, float]]:
    """Read sheet ``SEND_1`` (England by year) into {year: (appeals, decisions, rate_pct)}.

    Raises:
        RawInputError: the header is not ``Year (Calendar)`` over the three expected labels.

    """
    for i, row in enumerate(grid[:10]):
        if row and clean_label(row[0]) == "year (calendar)":
            labels = [clean_label(c) for c in grid[i + 1][1:4]]
            want = ["send tribunal appeals registered", "total appealable decisions", "appeal rate"]
            if labels != want:
                raise RawInputError(
                    path, f"SEND_1 labels {labels}, expected {want}", row=i + 2, value=str(labels)
                )
            series: dict[int, tuple[float, float, float]] = {}
            for k in range(i + 2, len(grid)):
                cells = grid[k]
                if not _YEAR.match(cells[0]):
                    break
                vals = [
                    parse_cell(path, c, row=k + 1, column=lab, rate_scale=scale)[0]
                    for c, lab, scale in zip(cells[1:4], want, (1.0, 1.0, 100.0), strict=True)
                ]
                if any(v is None for v in vals):
                    raise RawInputError(path, "SEND_1 England value missing", row=k + 1)
                a, d, r = (float(v or 0.0) for v in vals)
                series[int(cells[0])] = (a, d, r)
            return series
    raise RawInputError(path, "SEND_1: no 'Year (Calendar)' header row in the first 10 rows")


def resolve_areas(
    path: Path, spec: TableSpec, rows: list[WideRow]
) -> tuple[dict[tuple[int, int], dict[str, str | None]], list[str]]:
    """Give each kept row its area per year; LAs by cleaned name, asserting the known code errors.

    A name two LAs have held (Dorset: the county 835 to March 2019, Dorset Council 838 from
    April 2019) is resolved per year against the geography in force that year (issue 17), so
    the old county keeps its own history and the new council's series starts at 2019.

    Returns:
        {(raw_row, year): area columns} and a description of each published code fixed.

    Raises:
        RawInputError: a name does not resolve, two rows are one LA, an LA sits under another
            region's header, or the published code errors differ from ``spec.code_errors``.

    """
    areas: dict[tuple[int, int], dict[str, str | None]] = {}
    seen: dict[tuple[str, int], int] = {}
    wrong: dict[str, tuple[str, str]] = {}
    for row in rows:
        if row.kind == "National":
            for year in spec.years:
                areas[(row.raw_row, year)] = _area(
                    "National", ENGLAND_CODE, "England", None, None, None
                )
            continue
        by_year = _resolve_name(path, spec, row)
        for year, dfe in by_year.items():
            if (dfe, year) in seen:
                raise RawInputError(
                    path,
                    f"LA {dfe} appears twice (rows {seen[(dfe, year)]} and {row.raw_row})",
                    column="Local Authority",
                    row=row.raw_row,
                    value=row.name,
                )
            seen[(dfe, year)] = row.raw_row
            la = geography.get_la(dfe)
            areas[(row.raw_row, year)] = _area(
                "Local authority", la.la_code, la.la_name, dfe, la.region_code, la.region_name
            )
        last = by_year[spec.years[-1]]
        code = normalise_dfe_code(row.code) if row.code else None
        if code is not None and code != last:
            wrong[geography.normalise_name(row.name)] = (code, last)
        _check_region(path, row, geography.get_la(last).region_name)
    if wrong != spec.code_errors:
        raise RawInputError(
            path,
            f"published LA code errors changed: expected {spec.code_errors}, found {wrong}; the "
            "publisher may have corrected the file: review and update the spec",
            column="LA code",
        )
    fixes = [f"{n}: published {c} corrected to {d} by name" for n, (c, d) in sorted(wrong.items())]
    return areas, fixes


def _area(*values: str | None) -> dict[str, str | None]:
    return dict(zip(AREA_COLUMNS, values, strict=True))


def _resolve_name(path: Path, spec: TableSpec, row: WideRow) -> dict[int, str]:
    """Return the LA a row is in each year of the file: the LA of that name in force that year.

    A name held by one LA is that LA every year. A name two LAs have held (Dorset) is resolved
    per calendar year at its end (Dorset 2018 is the county 835, 2019 the council 838): the
    publisher's single code (838) names only the LA of the file's last year.
    """
    candidates = geography.match_codes(row.name)
    if len(candidates) == 1:
        return dict.fromkeys(spec.years, next(iter(candidates)))
    code = normalise_dfe_code(row.code) if row.code else None
    if candidates:
        out = {}
        for year in spec.years:
            try:
                out[year] = geography.resolve_la(row.name, on=dt.date(year, 12, 31)).la_code_dfe
            except geography.UnknownLAError as exc:
                if code is None or code not in candidates:
                    raise RawInputError(
                        path,
                        f"LA name is ambiguous: {exc}",
                        column="Local Authority",
                        row=row.raw_row,
                    ) from exc
                out[year] = code
        return out
    raise RawInputError(
        path,
        "LA name does not resolve through the geography crosswalk",
        column="Local Authority",
        row=row.raw_row,
        value=row.name,
    )


def _check_region(path: Path, row: WideRow, region_name: str) -> None:
    header = geography.normalise_name(row.region_header)
    header = header.removeprefix("inner ").removeprefix("outer ")
    if header != geography.normalise_name(region_name):
        raise RawInputError(
            path,
            f"LA sits under region header {row.region_header!r} but the crosswalk puts it in "
            f"{region_name!r}",
            row=row.raw_row,
            value=row.name,
        )


def melt(wide: WideTable, areas: dict[tuple[int, int], dict[str, str | None]]) -> pl.DataFrame:
    """Turn wide rows into long rows; appeals are repeated under each method of their year."""
    methods: dict[int, set[str]] = {}
    for col in wide.columns:
        if col.method is not None:
            methods.setdefault(col.year, set()).add(col.method)
    records: list[dict[str, object]] = []
    for row in wide.rows:
        for col, value, status in row.cells:
            for method in sorted(methods[col.year]) if col.method is None else [col.method]:
                cell = {"raw_row": row.raw_row, "measure": col.measure, "method": method}
                cell |= {"year": col.year, "value": value, "status": status}
                records.append({**cell, **areas[(row.raw_row, col.year)]})
    schema = {"raw_row": pl.UInt32, "measure": pl.Utf8, "method": pl.Utf8, "year": pl.Int32}
    schema |= {"value": pl.Float64, "status": pl.Utf8} | dict.fromkeys(AREA_COLUMNS, pl.Utf8)
    return pl.DataFrame(records, schema=schema)
