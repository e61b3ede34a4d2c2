"""High needs and Dedicated Schools Grant (DSG) deficits by LA: ``dfe_high_needs__dsg``.

Reads the publications declared in ``data_sources/dfe_high_needs.yaml`` into one long table,
one row per release, measure, financial year and area:

- ESFA "Dedicated schools grant (DSG)" final allocations, FY 2020-21 to 2023-24, and the DfE
  compilation of the ESFA summary sheets (the only copy of FY 2019-20): high-needs block and
  total DSG, before and after academy recoupment and deductions (``basis`` says which). Read by
  :mod:`sendstats.sources.dfe_high_needs_ods`.
- The DfE SEND and AP dashboard's "DSG cumulative balance as a % of the total income" (FY
  2019-20 to 2021-22). It is DERIVED by the dashboard's code from the s251 outturn file, not an
  official publication: its rows carry ``official=False`` and ``derived_by``.
- The DfE high needs benchmarking tool's "Outturn data" sheet: s251 high-needs outturn lines
  of FY 2021-22 by LA and the tool's 2-18 population (ONS mid-2021 projection), read by
  :mod:`sendstats.sources.dfe_high_needs_hnbt` (``basis = "hn_benchmarking_outturn"``; why the
  outturn is FY 2021-22 and not 2020-21 is set out there).
- The s251 outturn ("LA and school expenditure") reader lives in
  :mod:`sendstats.sources.dfe_high_needs_s251`; the data file is not held, so no release of it is
  pinned and :func:`tidy` does not read it yet.

``year`` is the calendar year in which the financial year starts (2023 for ``2023-24``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandera.polars as pa
import polars as pl
from pandera.typing.polars import Series

from sendstats import geography
from sendstats.core.vocab import (
    COMPILATION_RELEASE,
    DERIVED_RELEASE,
    FINAL_RELEASES,
    HIGH_NEEDS_SOURCE_ID,
    HIGH_NEEDS_TABLE,
)
from sendstats.sources import checks
from sendstats.sources import dfe_high_needs_hnbt as hnbt
from sendstats.sources import dfe_high_needs_ods as ods
from sendstats.sources import dfe_high_needs_s251 as s251
from sendstats.sources.base import TidyBase
from sendstats.sources.grids import read_grids
from sendstats.sources.layouts import load_layout
from sendstats.sources.readers import (
    EES_MARKERS,
    RawInputError,
    first_bad_value,
    split_markers,
)

SOURCE_ID = HIGH_NEEDS_SOURCE_ID
TABLE = HIGH_NEEDS_TABLE
ENGLAND_CODE = "E92000001"

#: ESFA final allocation files: release label (= its financial year) -> LA rows (no 201, 420).
ALLOCATIONS_FILE = "allocations"
COMPILATION_FILE = "allocations_compilation"
#: Compilation sheet -> (unit, LA rows). Only Allocations_1920 is in GBP million.
_LAYOUT = load_layout("dfe_high_needs")
COMPILATION_SHEETS: dict[str, tuple[str, int]] = {
    sheet: (unit, int(rows)) for sheet, (unit, rows) in _LAYOUT["compilation_sheets"].items()
}
#: (release, file name) of pinned s251 outturn data files. Empty: the file is not held yet; add
#: the pair here once the release is pinned in data_sources/dfe_high_needs.yaml.
S251_FILES: tuple[tuple[str, str], ...] = ()
HNBT_RELEASE = "hnbt-2021-22"
HNBT_FILE = "outturn"
DERIVED_FILE = "dsg_balance_pct"
DERIVED_BY = (
    "DfE SEND and AP dashboard code (dfe-analytical-services/SEND-AP-Inclusion-Dashboard) from "
    "the s251 outturn file; not an official statistic"
)
#: The derived file's one sheet (openxlsx's default name in the dashboard's R code).
DERIVED_SHEET: str = _LAYOUT["derived_sheet"]
DERIVED_COLUMNS: dict[str, str] = dict(_LAYOUT["derived_columns"])
#: LA names that mean a new LA from April 2019 (Dorset Council 838, not Dorset county 835).
POST_2019_NAMES: dict[str, str] = {"Dorset": "838"}
LEVELS = ("National", "Regional", "Local authority")
BASES = (
    "before_recoupment",
    "after_recoupment",
    "s251_outturn",
    "derived_from_s251_outturn",
    hnbt.BASIS,
)
MEASURES = (
    *(m for m, _, _ in ods.MEASURE_COLUMNS.values()),
    "dsg_cumulative_balance_pct_of_total_income",
    *hnbt.MEASURES,
)
MEASURE_PATTERN = "|".join([*(f"^{m}$" for m in MEASURES), s251.MEASURE_PATTERN])


class HighNeedsTidy(TidyBase):
    """High-needs and DSG figures by area and financial year, one row per release and measure."""

    source_id: Series[str] = pa.Field(isin=[SOURCE_ID], description="Source declaration id.")
    release: Series[str] = pa.Field(description="Release (vintage) the figure comes from.")
    raw_row: Series[pl.Int64] = pa.Field(ge=1, description="1-based row in the raw sheet.")
    measure: Series[str] = pa.Field(
        str_matches=MEASURE_PATTERN,
        description="sendstats measure id: DSG allocation blocks (GBP), derived balance %, "
        "s251 outturn lines (dsg_carried_forward_gbp; s251_line_1_2_<n>_net_expenditure_gbp), "
        "or the benchmarking tool's outturn lines (hn_outturn_*_gbp) and 2-18 population.",
    )
    basis: Series[str] = pa.Field(
        isin=list(BASES), description="Before or after recoupment/deductions, or outturn basis."
    )
    time_period: Series[str] = pa.Field(str_matches=r"^\d{4}-\d{2}$", description="e.g. 2023-24.")
    period_type: Series[str] = pa.Field(isin=["financial_year"])
    year: Series[pl.Int32] = pa.Field(
        ge=2010, le=2035, description="Calendar year in which the financial year starts."
    )
    geographic_level: Series[str] = pa.Field(isin=list(LEVELS))
    area_code: Series[str] = pa.Field(str_matches=r"^E\d{8}$", description="GSS code.")
    area_name: Series[str] = pa.Field(description="Canonical name (DfE spelling for LAs).")
    region_code: Series[str] = pa.Field(nullable=True, str_matches=r"^E12\d{6}$")
    value: Series[pl.Float64] = pa.Field(
        nullable=True,
        description="GBP for *_gbp measures; percent (0-100 scale) for *_pct; people for "
        "*_count (the benchmarking tool's 2-18 population, a projection with decimals).",
    )
    status: Series[str] = pa.Field(
        isin=["ok", *EES_MARKERS], description="'ok' or the publisher's marker (value null)."
    )
    official: Series[bool] = pa.Field(description="False: derived by a third party, not official.")
    derived_by: Series[str] = pa.Field(nullable=True, description="Who derived it, if derived.")
    caveat: Series[str] = pa.Field(nullable=True, description="Why to read the value with care.")

    class Config:
        """Strict: no column beyond those described; one row per key."""

        strict = True
        unique = ["release", "measure", "time_period", "area_code"]  # noqa: RUF012


TIDY_COLUMNS = list(HighNeedsTidy.to_schema().columns)


def allocation_specs() -> dict[tuple[str, str], list[ods.SheetSpec]]:
    """Return the sheets read from each (release, file name) of DSG allocations."""
    specs: dict[tuple[str, str], list[ods.SheetSpec]] = {
        (rel, ALLOCATIONS_FILE): [
            ods.SheetSpec(rel, ALLOCATIONS_FILE, "Allocations_summary", rel, "gbp", n)
        ]
        for rel, n in FINAL_RELEASES.items()
    }
    specs[(COMPILATION_RELEASE, COMPILATION_FILE)] = [
        ods.SheetSpec(
            COMPILATION_RELEASE, COMPILATION_FILE, sheet, ods.period_of_sheet(sheet), unit, n
        )
        for sheet, (unit, n) in COMPILATION_SHEETS.items()
    ]
    return specs


def add_la_areas(df: pl.DataFrame, source: str, *, dfe_col: str | None) -> pl.DataFrame:
    """Resolve LA rows (``geographic_level == 'Local authority'``) and fill area columns."""
    coded = geography.canonical_codes(
        df, dfe_col=dfe_col, gss_col=None, name_col="la_name_raw", source=source
    )
    dfe_codes = coded.get_column("la_code_dfe").drop_nulls().unique().to_list()
    regions = {code: geography.region_of(code) for code in dfe_codes}
    is_la = pl.col("geographic_level") == "Local authority"
    return coded.with_columns(
        pl.when(is_la).then(pl.col("la_code")).otherwise(pl.col("area_code")).alias("area_code"),
        pl.when(is_la).then(pl.col("la_name")).otherwise(pl.col("area_name")).alias("area_name"),
        pl.when(is_la)
        .then(
            pl.col("la_code_dfe").replace_strict(
                {k: v[0] for k, v in regions.items()}, default=None, return_dtype=pl.Utf8
            )
        )
        .otherwise(pl.col("region_code"))
        .alias("region_code"),
        pl.when(is_la)
        .then(
            pl.col("la_code_dfe").replace_strict(
                {k: v[1] for k, v in regions.items()}, default=None, return_dtype=pl.Utf8
            )
        )
        .otherwise(pl.col("region_name"))
        .alias("region_name"),
    )


def tidy_allocations(path: Path, sha256: str, specs: list[ods.SheetSpec]) -> pl.DataFrame:
    """Read one DSG allocation file into long tidy rows (not yet validated)."""
    wide = ods.read_allocations(path, specs)
    is_england = pl.col("la_code_raw") == "ENGLAND"
    wide = wide.with_columns(
        pl.when(is_england)
        .then(pl.lit("National"))
        .otherwise(pl.lit("Local authority"))
        .alias("geographic_level"),
        pl.when(is_england).then(pl.lit(ENGLAND_CODE)).alias("area_code"),
        pl.when(is_england).then(pl.lit("England")).alias("area_name"),
        pl.lit(None, pl.Utf8).alias("region_code"),
        pl.lit(None, pl.Utf8).alias("region_name"),
    )
    wide = add_la_areas(wide, str(path), dfe_col="la_code_raw")
    measures = [m for m, _, _ in ods.MEASURE_COLUMNS.values()]
    basis = {m: b for m, b, _ in ods.MEASURE_COLUMNS.values()}
    index = [c for c in wide.columns if c not in measures]
    long = wide.unpivot(index=index, on=measures, variable_name="measure", value_name="value")
    long = long.with_columns(
        pl.col("measure").replace_strict(basis).alias("basis"),
        pl.lit(sha256).alias("file_sha256"),
        pl.lit("ok").alias("status"),
        pl.lit(True).alias("official"),
        pl.lit(None, pl.Utf8).alias("derived_by"),
    )
    return checks.check_financial_rows(long, path)


def read_derived(path: Path) -> pl.DataFrame:
    """Read the dashboard's derived DSG balance file (one sheet) with every column as text.

    The sheet is :data:`DERIVED_SHEET`; a workbook with one sheet of another name is read too
    (a one-sheet export's sheet name carries nothing), but with several sheets the declared
    one must be there. The header must be row 1.

    Raises:
        RawInputError: unreadable workbook, missing sheet or a missing column.

    """
    books = read_grids(path)  # every sheet: the one-sheet rule needs their names
    names = list(books)
    if DERIVED_SHEET not in names and len(names) != 1:
        raise RawInputError(
            path, f"sheet {DERIVED_SHEET!r} not found; sheets: {names}", sheet=DERIVED_SHEET
        )
    sheet = DERIVED_SHEET if DERIVED_SHEET in names else names[0]
    df = _text_frame(books[sheet])
    missing = [c for c in DERIVED_COLUMNS if c not in df.columns]
    if missing:
        raise RawInputError(
            path,
            f"expected column(s) missing from the header row; has {df.columns}",
            column=missing[0],
            row=1,
            sheet=sheet,
        )
    return (
        df.select(list(DERIVED_COLUMNS)).rename(DERIVED_COLUMNS).with_row_index("raw_row", offset=2)
    )


def _text_frame(grid: list[list[Any]]) -> pl.DataFrame:
    """Return a grid as a frame of text columns named by its first row (empty cells null).

    Numbers are written as Python writes floats, whole ones without ``.0`` (``-12.5``, ``3``).
    """

    def text(value: object) -> str | None:
        if value == "" or value is None:
            return None
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)

    if not grid:
        return pl.DataFrame()
    width = max(len(row) for row in grid)
    header: list[str] = []
    for i, cell in enumerate([*grid[0], *[""] * (width - len(grid[0]))]):
        name = str(cell) if cell != "" else f"__UNNAMED__{i}"
        header.append(name if name not in header else f"{name}_{i}")
    body = [[text(v) for v in row] + [None] * (width - len(row)) for row in grid[1:]]
    return pl.DataFrame(body, schema=dict.fromkeys(header, pl.Utf8), orient="row")


def check_derived(df: pl.DataFrame, path: Path) -> None:
    """Assert levels, periods, numbers, one row per area and year, and deficit = -balance."""
    for col, allowed in (("geographic_level", LEVELS), ("financial_year", None)):
        for i, value in enumerate(df.get_column(col).to_list()):
            ok = value in allowed if allowed else bool(value and len(value) == 7)
            if not ok:
                raise RawInputError(path, "unexpected value", column=col, row=i + 2, value=value)
    published = {v: k for k, v in DERIVED_COLUMNS.items()}
    for col in ("deficit", "balance_pct"):
        found = first_bad_value(df, col, EES_MARKERS)
        if found is not None:
            raise RawInputError(
                path,
                f"neither a number nor a known marker {sorted(EES_MARKERS)}",
                column=published[col],
                row=found[0] + 1,
                value=found[1],
            )
    key = ["financial_year", "geographic_level", "region_name_raw", "la_name_raw"]
    dupes = df.filter(pl.struct(key).is_duplicated())
    if dupes.height:
        second = dupes.filter(pl.struct(key) == dupes.select(pl.struct(key)).item(0, 0)).row(
            1, named=True
        )
        raise RawInputError(
            path,
            f"duplicated row for {second['la_name_raw'] or second['region_name_raw']} in "
            f"{second['financial_year']}",
            column="la_name",
            row=int(second["raw_row"]),
        )
    number = {c: pl.col(c).cast(pl.Float64, strict=False) for c in ("deficit", "balance_pct")}
    bad = df.filter((number["deficit"] + number["balance_pct"]).abs() > 1e-9)
    if bad.height:
        raise RawInputError(
            path,
            "'deficit' is not minus the balance %",
            column="deficit",
            row=int(bad["raw_row"][0]),
            value=str(bad["deficit"][0]),
        )


def add_name_codes(df: pl.DataFrame, path: Path) -> pl.DataFrame:
    """Add ``la_code_hint``: the DfE code of each LA name, settling names shared over time.

    The derived file gives names only. "Dorset" matches both the county (835, to March 2019)
    and Dorset Council (838, from April 2019); every year in the file starts in 2019 or later.
    """
    hints: dict[str, str] = {}
    is_la = pl.col("geographic_level") == "Local authority"
    for rec in df.filter(is_la).select("raw_row", "la_name_raw", "financial_year").to_dicts():
        name = str(rec["la_name_raw"] or "")
        codes = geography.match_codes(name) if name else frozenset()
        if len(codes) > 1 and name in POST_2019_NAMES and int(rec["financial_year"][:4]) >= 2019:
            codes = frozenset({POST_2019_NAMES[name]})
        if len(codes) != 1:
            raise RawInputError(
                path,
                f"LA name resolves to {sorted(codes)}",
                column="la_name",
                row=int(rec["raw_row"]),
                value=name,
            )
        hints[name] = next(iter(codes))
    return df.with_columns(
        pl.when(is_la)
        .then(pl.col("la_name_raw").replace_strict(hints, default=None, return_dtype=pl.Utf8))
        .alias("la_code_hint")
    )


def tidy_derived(path: Path, sha256: str) -> pl.DataFrame:
    """Read the derived DSG cumulative balance % into long tidy rows (not yet validated)."""
    df = read_derived(path)
    check_derived(df, path)
    df = split_markers(df, ["balance_pct"], EES_MARKERS)
    region_codes = {name.lower(): code for code, name in geography.regions().items()}
    is_region = pl.col("geographic_level") == "Regional"
    region_code = (
        pl.col("region_name_raw")
        .str.to_lowercase()
        .replace_strict(region_codes, default=None, return_dtype=pl.Utf8)
    )
    unknown = df.filter(is_region & region_code.is_null())
    if unknown.height:
        raise RawInputError(
            path,
            "unknown region",
            column="region_name",
            row=int(unknown["raw_row"][0]),
            value=str(unknown["region_name_raw"][0]),
        )
    df = df.with_columns(
        pl.when(is_region).then(region_code).alias("region_code"),
        pl.when(is_region)
        .then(region_code.replace_strict(geography.regions(), default=None))
        .alias("region_name"),
    ).with_columns(
        pl.when(pl.col("geographic_level") == "National")
        .then(pl.lit(ENGLAND_CODE))
        .otherwise(pl.col("region_code"))
        .alias("area_code"),
        pl.when(pl.col("geographic_level") == "National")
        .then(pl.lit("England"))
        .otherwise(pl.col("region_name"))
        .alias("area_name"),
    )
    df = add_la_areas(add_name_codes(df, path), str(path), dfe_col="la_code_hint")
    long = df.with_columns(
        pl.lit(DERIVED_RELEASE).alias("release"),
        pl.lit(DERIVED_FILE).alias("source_file"),
        pl.lit(sha256).alias("file_sha256"),
        pl.col("raw_row").cast(pl.Int64),
        pl.lit("dsg_cumulative_balance_pct_of_total_income").alias("measure"),
        pl.lit("derived_from_s251_outturn").alias("basis"),
        pl.col("financial_year").alias("time_period"),
        pl.col("balance_pct").alias("value"),
        pl.col("balance_pct_status").alias("status"),
        pl.lit(False).alias("official"),
        pl.lit(DERIVED_BY).alias("derived_by"),
        pl.lit("DERIVED, not official: negative = cumulative DSG deficit").alias("caveat"),
    )
    return checks.check_financial_rows(long, path)


def finish(frames: list[pl.DataFrame]) -> pl.DataFrame:
    """Add the common columns, order and sort the tidy table (the build checks its schema)."""
    out = pl.concat(
        [
            f.with_columns(
                pl.lit(SOURCE_ID).alias("source_id"),
                pl.lit("financial_year").alias("period_type"),
                pl.col("time_period").str.slice(0, 4).cast(pl.Int32).alias("year"),
            ).select(TIDY_COLUMNS)
            for f in frames
        ],
        how="vertical",
    )
    out = out.sort("measure", "release", "year", "geographic_level", "area_code")
    return out


def tidy(paths: dict[tuple[str, str], tuple[Path, str]]) -> pl.DataFrame:
    """Read every declared high-needs file into the ``dfe_high_needs__dsg`` table.

    Args:
        paths: (release, file name) -> (local path, sha256) of each pinned raw file.

    Raises:
        RawInputError: a raw file drifted from its layout, a total does not add up, an LA does
            not resolve. The build checks the table against its schema (one check).

    """
    frames = []
    for key, specs in allocation_specs().items():
        path, sha = paths[key]
        frames.append(tidy_allocations(path, sha, specs))
    path, sha = paths[(DERIVED_RELEASE, DERIVED_FILE)]
    frames.append(tidy_derived(path, sha))
    path, sha = paths[(HNBT_RELEASE, HNBT_FILE)]
    frames.append(hnbt.tidy_hnbt(path, sha, release=HNBT_RELEASE, source_file=HNBT_FILE))
    for release, name in S251_FILES:
        path, sha = paths[(release, name)]
        frames.append(
            checks.check_financial_rows(
                s251.tidy_s251(
                    s251.read_s251(path), path=path, release=release, source_file=name, sha256=sha
                ),
                path,
            )
        )
    return finish(frames)


def required_files() -> list[tuple[str, str]]:
    """Return the (release, file name) pairs :func:`tidy` reads."""
    return [
        *allocation_specs(),
        (DERIVED_RELEASE, DERIVED_FILE),
        (HNBT_RELEASE, HNBT_FILE),
        *S251_FILES,
    ]
