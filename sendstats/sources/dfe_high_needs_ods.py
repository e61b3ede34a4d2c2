"""ESFA "Dedicated schools grant (DSG): allocations local authority summary" sheets (.ods).

Reads the ``Allocations_summary`` sheet of the ESFA final DSG allocation spreadsheets (FY
2020-21 to 2023-24) and the ``Allocations_YYZZ`` sheets of the DfE compilation of those summary
sheets (the only copy held of FY 2019-20), into long rows of the ``dfe_high_needs__dsg`` table:
the high-needs block and the total DSG, before and after academy recoupment and deductions.

Quirks handled here:
- The ESFA files were written (Aspose.Cells) without the ``mimetype`` zip entry that the ODF
  standard requires first; calamine refuses them as they are. They are read by
  :func:`sendstats.sources.grids.read_ods_text`, which adds that entry in memory and gives, as
  plain lists of text, the grids ``pandas.read_excel(engine="odf")`` gives (odfpy).
- The compilation's ``Allocations_1920`` sheet is in GBP million with float noise (and a few
  cells given to 2 dp only); it is converted to GBP and rounded to the nearest pound, with a
  caveat on every row. Its other sheets are in GBP.
- The compilation's ``Allocations_2324`` is an earlier vintage than the final ESFA 2023-24 file
  (England high needs block 9,953,984,391 against 9,952,172,126): each file is its own release
  and the two are never mixed.
- City of London (201) and Isles of Scilly (420) are excluded from DSG allocations by design;
  their absence is asserted, as is England = the sum of the LA rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandera.polars as pa
import polars as pl

from sendstats import geography
from sendstats.core.vocab import DSG_EXCLUDED_LAS
from sendstats.sources.grids import read_ods_text
from sendstats.sources.readers import RawInputError, validate_frame

#: LAs absent from every DSG allocation file by design (they are funded differently).
EXCLUDED_LAS = DSG_EXCLUDED_LAS

#: Row of the England total and first LA row (0-based) in every allocation summary sheet.
ENGLAND_ROW = 4
#: Column index -> letter label printed in row 2 of the sheet.
LETTERS: dict[int, str] = {i + 2: f"[{c}]" for i, c in enumerate("ABCDEFGHIJ")}

#: Published column letter -> (measure, basis, header text it must contain).
MEASURE_COLUMNS: dict[int, tuple[str, str, str]] = {
    4: ("high_needs_block_before_recoupment_gbp", "before_recoupment", "high needs block"),
    6: ("total_dsg_before_recoupment_gbp", "before_recoupment", "total dsg allocation"),
    9: ("high_needs_block_after_recoupment_gbp", "after_recoupment", "high needs block"),
    11: ("total_dsg_after_recoupment_gbp", "after_recoupment", "total dsg allocation"),
}

MILLION_CAVEAT = (
    "published in GBP million with float noise (some cells to 2 dp, i.e. GBP 10,000) in the DfE "
    "compilation sheet Allocations_1920; converted to GBP and rounded to the nearest pound"
)

#: Tolerance (GBP) between England and the sum of LA rows, per unit of the sheet. GBP sheets add
#: up exactly; rounding each of about 150 LA rows of a GBP-million sheet to the pound can move the
#: sum by up to 75 (the held 2019-20 sheet is out by at most 8).
SUM_TOLERANCE_GBP: dict[str, float] = {"gbp": 0.5, "gbp_million": 100.0}


@dataclass(frozen=True)
class SheetSpec:
    """One allocation summary sheet: where it is and what it must hold."""

    release: str
    name: str
    sheet: str
    time_period: str
    unit: str
    la_rows: int


def read_sheets(path: Path, sheets: list[str]) -> dict[str, list[list[str]]]:
    """Read ``sheets`` of an .ods file as text grids, whether or not it has a mimetype entry.

    A grid is a list of rows of one width, ``""`` for an empty cell (see
    :func:`~sendstats.sources.grids.read_ods_text`, which adds the ``mimetype`` entry the
    ESFA files lack, in memory, and bounds the sheet's size).

    Raises:
        RawInputError: the file cannot be opened, a sheet is missing or is beyond the limits.

    """
    return read_ods_text(path, sheets)


def _cell(grid: list[list[str]], row: int, col: int) -> str:
    """Return a cell's text with runs of spaces made one, ``""`` outside the grid."""
    if row >= len(grid) or col >= len(grid[row]):
        return ""
    return " ".join(grid[row][col].split())


def check_header(grid: list[list[str]], spec: SheetSpec, path: Path) -> None:
    """Assert the column letters, block names, before/after banners and unit of the sheet.

    The header is expected in rows 1 to 4 and ENGLAND in row 5, as in every held file: rows
    inserted above it (a moved header) are refused, not searched for.
    """
    moved = " (header rows 1-4 not where expected: rows inserted or removed above them?)"
    for col, letter in LETTERS.items():
        if _cell(grid, 2, col) != letter:
            raise RawInputError(
                path,
                f"expected column letter {letter}" + moved,
                column=f"col {col}",
                row=3,
                value=_cell(grid, 2, col),
                sheet=spec.sheet,
            )
    for col, (_, _, text) in MEASURE_COLUMNS.items():
        header = _cell(grid, 1, col).lower()
        unit_ok = "million" in header if spec.unit == "gbp_million" else "(£s)" in header
        if text not in header or not unit_ok:
            raise RawInputError(
                path,
                f"expected a {text!r} header in {spec.unit}",
                column=LETTERS[col],
                row=2,
                value=_cell(grid, 1, col),
                sheet=spec.sheet,
            )
    if "prior to" not in _cell(grid, 0, 2).lower() and "before" not in _cell(grid, 0, 2).lower():
        raise RawInputError(
            path, "expected the 'before recoupment' banner", column="[A]", row=1, sheet=spec.sheet
        )
    if "after" not in _cell(grid, 0, 7).lower():
        raise RawInputError(
            path, "expected the 'after deductions' banner", column="[F]", row=1, sheet=spec.sheet
        )
    if _cell(grid, ENGLAND_ROW, 0).upper() != "ENGLAND":
        raise RawInputError(
            path,
            "expected the ENGLAND row" + moved,
            column="col 0",
            row=ENGLAND_ROW + 1,
            value=_cell(grid, ENGLAND_ROW, 0),
            sheet=spec.sheet,
        )


def extract_rows(grid: list[list[str]], spec: SheetSpec, path: Path) -> pl.DataFrame:
    """Return the England row and LA rows (down to the first blank row) as text columns."""
    records: list[dict[str, str | int]] = []
    row = ENGLAND_ROW
    while row < len(grid) and _cell(grid, row, 0):
        rec: dict[str, str | int] = {
            "raw_row": row + 1,
            "la_code_raw": _cell(grid, row, 0),
            "la_name_raw": _cell(grid, row, 1),
        }
        for col, (measure, _, _) in MEASURE_COLUMNS.items():
            rec[measure] = _cell(grid, row, col)
        records.append(rec)
        row += 1
    if not records:
        raise RawInputError(path, "no data rows", row=ENGLAND_ROW + 1, sheet=spec.sheet)
    return pl.DataFrame(records, schema={k: pl.Utf8 for k in records[0]} | {"raw_row": pl.Int64})


def raw_schema() -> pa.DataFrameSchema:
    """Drift schema: 3-digit LA codes below ENGLAND, and plain numbers in every value cell."""
    number = pa.Check.str_matches(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")
    cols: dict[str, pa.Column] = {
        "raw_row": pa.Column(pl.Int64),
        "la_code_raw": pa.Column(pl.Utf8, pa.Check.str_matches(r"^(ENGLAND|\d{3})$")),
        "la_name_raw": pa.Column(pl.Utf8),
    }
    cols |= {m: pa.Column(pl.Utf8, number) for m, _, _ in MEASURE_COLUMNS.values()}
    return pa.DataFrameSchema(cols, strict=True, name="dfe_high_needs allocations (raw)")


def validate_raw(df: pl.DataFrame, spec: SheetSpec, path: Path) -> pl.DataFrame:
    """Check drift, duplicates, signs, LA codes, the LA count and the excluded LAs.

    Every problem is reported with the sheet's own row number (``raw_row``).
    """
    validate_frame(
        raw_schema(), df, path, stage="raw", rows=df["raw_row"].to_list(), sheet=spec.sheet
    )
    las = df.filter(pl.col("la_code_raw") != "ENGLAND")
    dupes = las.filter(pl.col("la_code_raw").is_duplicated())
    if dupes.height:
        second = dupes.filter(pl.col("la_code_raw") == dupes["la_code_raw"][0]).row(1, named=True)
        raise RawInputError(
            path,
            "LA code listed twice",
            column="col 0",
            row=int(second["raw_row"]),
            value=str(second["la_code_raw"]),
            sheet=spec.sheet,
        )
    present = las.filter(pl.col("la_code_raw").is_in(list(EXCLUDED_LAS)))
    if present.height:
        raise RawInputError(
            path,
            f"LA(s) {sorted(present['la_code_raw'])} should be absent from DSG allocations by "
            "design",
            column="col 0",
            row=int(present["raw_row"][0]),
            value=str(present["la_code_raw"][0]),
            sheet=spec.sheet,
        )
    for col, (measure, _, _) in MEASURE_COLUMNS.items():
        negative = df.filter(pl.col(measure).str.starts_with("-"))
        if negative.height:
            raise RawInputError(
                path,
                f"a DSG allocation ({measure}) is negative",
                column=LETTERS[col],
                row=int(negative["raw_row"][0]),
                value=str(negative[measure][0]),
                sheet=spec.sheet,
            )
    unknown = [
        rec
        for rec in las.select("raw_row", "la_code_raw").iter_rows(named=True)
        if not geography.match_codes(str(rec["la_code_raw"]))
    ]
    if unknown:
        raise RawInputError(
            path,
            "LA code does not resolve through the geography crosswalk",
            column="col 0",
            row=int(unknown[0]["raw_row"]),
            value=str(unknown[0]["la_code_raw"]),
            sheet=spec.sheet,
        )
    if las.height != spec.la_rows:
        raise RawInputError(
            path, f"expected {spec.la_rows} LA rows, found {las.height}", sheet=spec.sheet
        )
    return df


def to_gbp(df: pl.DataFrame, unit: str) -> pl.DataFrame:
    """Cast the measure columns to GBP (Float64, whole pounds when converted from millions)."""
    measures = [m for m, _, _ in MEASURE_COLUMNS.values()]
    if unit == "gbp_million":
        return df.with_columns((pl.col(measures).cast(pl.Float64) * 1e6).round(0))
    return df.with_columns(pl.col(measures).cast(pl.Float64))


def check_england_sum(df: pl.DataFrame, spec: SheetSpec, path: Path) -> None:
    """Assert the England row equals the sum of the LA rows, for every measure."""
    tol = SUM_TOLERANCE_GBP[spec.unit]
    for measure, _, _ in MEASURE_COLUMNS.values():
        england = df.filter(pl.col("la_code_raw") == "ENGLAND").get_column(measure)[0]
        total = df.filter(pl.col("la_code_raw") != "ENGLAND").get_column(measure).sum()
        if abs(england - total) > tol:
            raise RawInputError(
                path,
                f"England {england:,.0f} is not the sum of LA rows {total:,.0f} (tolerance {tol})",
                column=measure,
                row=ENGLAND_ROW + 1,
                sheet=spec.sheet,
            )


def read_allocations(path: Path, specs: list[SheetSpec]) -> pl.DataFrame:
    """Read allocation summary sheets of one file into a wide frame of GBP values.

    Returns:
        One row per sheet and area: ``release``, ``source_file``, ``time_period``,
        ``raw_row``, ``la_code_raw`` (``ENGLAND`` or 3-digit), ``la_name_raw``, ``caveat`` and
        the four measure columns of :data:`MEASURE_COLUMNS`.

    Raises:
        RawInputError: layout drift, wrong LA count, an excluded LA present, or England not
            equal to the sum of LA rows.

    """
    grids = read_sheets(path, [s.sheet for s in specs])
    frames = []
    for spec in specs:
        grid = grids[spec.sheet]
        check_header(grid, spec, path)
        df = to_gbp(validate_raw(extract_rows(grid, spec, path), spec, path), spec.unit)
        check_england_sum(df, spec, path)
        caveat = MILLION_CAVEAT if spec.unit == "gbp_million" else None
        frames.append(
            df.with_columns(
                pl.lit(spec.release).alias("release"),
                pl.lit(spec.name).alias("source_file"),
                pl.lit(spec.time_period).alias("time_period"),
                pl.lit(caveat, pl.Utf8).alias("caveat"),
            )
        )
    return pl.concat(frames, how="vertical")


def period_of_sheet(sheet: str) -> str:
    """Return the financial year of an ``Allocations_YYZZ`` sheet name (``2324`` -> 2023-24)."""
    m = re.fullmatch(r"Allocations_(\d{2})(\d{2})", sheet)
    if m is None or int(m.group(2)) != (int(m.group(1)) + 1) % 100:
        raise ValueError(f"not an Allocations_YYZZ sheet name: {sheet!r}")
    return f"20{m.group(1)}-{m.group(2)}"
