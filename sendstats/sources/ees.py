"""Shared reading of DfE "explore education statistics" (EES) CSV files into a long tidy table.

EES files share standard columns (``time_period``, ``geographic_level``, codes and names) and the
same markers, so one reader driven by a small per-file spec (:class:`EesFileSpec`) serves every
EES source: which rows hold the totals, which columns are measures and what they are called in
sendstats, and how the period is coded. The per-source module only declares specs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pandera.polars as pa
import polars as pl

from sendstats.sources import checks
from sendstats.sources.checks import TotalDiscrepancy
from sendstats.sources.readers import (
    EES_MARKERS,
    NUMBER,
    WHOLE_NUMBER,
    RawInputError,
    first_bad_cell,
    read_csv_text,
    reads_as_number,
    split_markers,
    validate_frame,
)

PeriodType = Literal["academic_year", "calendar_year", "financial_year"]
GEOGRAPHIC_LEVELS = ("National", "Regional", "Local authority")
STANDARD_COLUMNS = (
    "time_period",
    "time_identifier",
    "geographic_level",
    "country_code",
    "country_name",
    "region_code",
    "region_name",
    "new_la_code",
    "old_la_code",
    "la_name",
)
ENGLAND_CODE = "E92000001"
#: Columns that identify a tidy row's origin and area, ahead of the measures.
ID_COLUMNS = [
    "raw_row",
    "time_period",
    "year",
    "geographic_level",
    "area_code",
    "area_name",
    "la_code_dfe",
    "region_code",
    "region_name",
]


@dataclass(frozen=True)
class KnownError:
    """LA rows of one region and year known to carry the regional total instead of their own.

    Those values are kept out of sums and metrics (null, status ``err``), and the reader
    asserts that the file still shows the error in every LA of the region, so a corrected
    re-publication is noticed loudly instead of being silently nulled.
    """

    year: int
    region_code: str
    measure: str
    reason: str


@dataclass(frozen=True)
class EesFileSpec:
    """How to read one EES file: filters for the total rows, measures and period coding.

    Attributes:
        release: release label in the declaration.
        name: pinned file name in the declaration.
        period_type: ``academic_year`` for January stocks, ``calendar_year`` for flows.
        period_coding: ``ees`` (``201819`` -> January 2019, ``2019`` -> 2019) or
            ``census_year`` (the 2022 release's age caseload codes the January census year).
        filters: column -> value that selects the "all" rows (e.g. breakdown == "All EHC plans").
        measures: raw column -> sendstats measure id (unit suffix in the id).
        markers: publisher markers allowed in measure columns.
        percentages: published percentage measure -> (numerator, denominator) measures it
            must follow from (checked to its published precision).
        total_discrepancies: totals known to differ from the sum of their LAs (asserted).
        known_errors: LA rows known to carry their region's total instead of their own.

    Every ``_count`` measure is checked against its England and regional rows
    (:func:`sendstats.sources.checks.check_totals`).

    """

    release: str
    name: str
    period_type: PeriodType
    measures: Mapping[str, str]
    filters: Mapping[str, str] = field(default_factory=dict)
    period_coding: Literal["ees", "census_year"] = "ees"
    markers: Mapping[str, str] = field(default_factory=lambda: dict(EES_MARKERS))
    percentages: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    total_discrepancies: tuple[TotalDiscrepancy, ...] = ()
    known_errors: tuple[KnownError, ...] = ()
    #: Column names the publisher's header repeats (twice each). The second occurrence must
    #: hold the same value on every row (asserted) and is dropped; any other repeat is refused.
    duplicate_columns: tuple[str, ...] = ()
    #: Raw count columns the publisher derives as a residual (e.g. decisions outstanding =
    #: meetings - decisions), which go negative on some breakdown rows; exempt from the raw
    #: "no negative count" check (the tidy schema still checks the rows kept).
    residual_columns: tuple[str, ...] = ()

    @property
    def counts(self) -> list[str]:
        """The count measures of the file (their totals are checked).

        Residual columns are left out: one can be negative, so where an LA is marked the
        others may rightly sum to more than the total; they derive from checked counts anyway.
        """
        return [
            m
            for col, m in self.measures.items()
            if m.endswith("_count") and col not in self.residual_columns
        ]

    @property
    def raw_columns(self) -> dict[str, str]:
        """Measure id -> raw column it is read from (named in errors)."""
        return {measure: col for col, measure in self.measures.items()}

    @property
    def required_columns(self) -> list[str]:
        """Columns the raw file must have (standard, filter and measure columns)."""
        return [*STANDARD_COLUMNS, *self.filters, *self.measures]


def _number_or_marker(spec: EesFileSpec) -> str:
    """Return the raw schema's pattern for a measure cell: a number or one of the markers."""
    return (
        r"^\s*(-?[\d,]+(\.\d*)?([eE][-+]?\d+)?|"
        + "|".join(_escape(m) for m in spec.markers)
        + r")\s*$"
    )


def raw_schema(spec: EesFileSpec, *, measures: bool = True) -> pa.DataFrameSchema:
    """Build the raw (drift) schema for one EES file: columns present, levels and markers known.

    Extra columns are allowed (publishers add columns); missing ones are not. With
    ``measures=False`` the measure columns are required as text without their cell pattern:
    :func:`validate_raw` has checked every measure cell already (in its one query).
    """
    columns: dict[str, pa.Column] = {
        c: pa.Column(pl.Utf8, nullable=True, required=True) for c in STANDARD_COLUMNS
    }
    columns["time_period"] = pa.Column(pl.Utf8, pa.Check.str_matches(r"^\d{4}(\d{2})?$"))
    columns["geographic_level"] = pa.Column(pl.Utf8, pa.Check.isin(GEOGRAPHIC_LEVELS))
    for col in spec.filters:
        columns[col] = pa.Column(pl.Utf8)
    for col in spec.measures:
        checks = [pa.Check.str_matches(_number_or_marker(spec))] if measures else []
        columns[col] = pa.Column(pl.Utf8, checks, nullable=False)
    return pa.DataFrameSchema(columns, strict=False, name=f"{spec.release}/{spec.name} (raw)")


def _escape(marker: str) -> str:
    import re

    return re.escape(marker)


def _negative(col: str) -> pl.Expr:
    text = pl.col(col).str.strip_chars()
    return text.str.starts_with("-") & (text != "-")


def validate_raw(df: pl.DataFrame, spec: EesFileSpec, path: Path) -> pl.DataFrame:
    """Check the raw frame against its drift schema; raise RawInputError naming column and row."""
    missing = [c for c in spec.required_columns if c not in df.columns]
    if missing:
        close = sorted(set(df.columns) - set(STANDARD_COLUMNS))[:12]
        raise RawInputError(
            path,
            f"expected column(s) missing: {', '.join(missing)}; columns present include {close}",
            column=missing[0],
        )
    counts = [col for col, measure in spec.measures.items() if measure.endswith("_count")]
    # Residual columns (see EesFileSpec.residual_columns) may go below zero, as published.
    signed = [col for col in counts if col not in spec.residual_columns]
    if _cells_good(df, spec, counts, signed):
        # Every measure cell passed every check below in one query; pandera checks the rest.
        validate_frame(raw_schema(spec, measures=False), df, path, stage="raw")
        return df
    # Something failed: the checks one by one, so the error names the first bad cell as ever.
    bad = first_bad_cell(df, list(spec.measures), spec.markers)
    if bad is not None:
        col, row, value = bad
        raise RawInputError(
            path,
            f"neither a number nor a known marker {sorted(spec.markers)}",
            column=col,
            row=row,
            value=value,
        )
    bad = first_bad_cell(df, counts, spec.markers, pattern=WHOLE_NUMBER)
    if bad is not None:
        col, row, value = bad
        raise RawInputError(
            path,
            "a count is not a whole number written in digits (no exponent, no fraction)",
            column=col,
            row=row,
            value=value,
        )
    for col in signed:
        found = df.with_row_index("row", offset=1).filter(_negative(col))
        if found.height:
            raise RawInputError(
                path,
                "a count is negative",
                column=col,
                row=int(found["row"][0]),
                value=str(found[col][0]),
            )
    validate_frame(raw_schema(spec), df, path, stage="raw")
    return df


def _cells_good(df: pl.DataFrame, spec: EesFileSpec, counts: list[str], signed: list[str]) -> bool:
    """Return whether every measure cell passes every check of :func:`validate_raw`, in one query.

    Each measure is a number or a marker (:func:`first_bad_cell`'s reading) and matches the raw
    schema's pattern, not null; each count is a whole number; no signed count is negative.
    """
    pattern = _number_or_marker(spec)

    def good(col: str) -> pl.Expr:
        shape = WHOLE_NUMBER if col in counts else NUMBER
        number = reads_as_number(col, spec.markers, shape)
        return number & pl.col(col).is_not_null() & pl.col(col).str.contains(pattern)

    verdicts = [good(col).all() for col in spec.measures]
    verdicts += [(~_negative(col)).all() for col in signed]
    if not verdicts:
        return True
    return bool(df.select(pl.all_horizontal(verdicts)).item())


def _refuse_duplicates(df: pl.DataFrame, path: Path) -> None:
    """Refuse a file with two total rows for the same period and area (e.g. a duplicated LA)."""
    key = ["time_period", "geographic_level", "region_code", "old_la_code", "new_la_code"]
    dupes = df.filter(pl.struct(key).is_duplicated())
    if dupes.height:
        first = dupes.row(1, named=True)
        raise RawInputError(
            path,
            f"duplicated row for {first['la_name'] or first['region_name'] or 'England'} in "
            f"{first['time_period']}",
            column="la_name",
            row=int(first["raw_row"]),
        )


_DUPLICATED = "_duplicated_"  # polars' suffix for a repeated header name: name_duplicated_0


def resolve_duplicates(df: pl.DataFrame, spec: EesFileSpec, path: Path) -> pl.DataFrame:
    """Handle header names the file repeats: declared ones must agree row by row, then go.

    polars renames the second ``name`` to ``name_duplicated_0``. A repeat the spec does not
    declare is refused (which column is meant is then unknown), and a declared repeat whose two
    columns differ on any row is refused naming the row, since the data guidance describes one
    column only.
    """
    repeats = [c for c in df.columns if _DUPLICATED in c]
    declared = {f"{name}{_DUPLICATED}0": name for name in spec.duplicate_columns}
    unknown = [c for c in repeats if c not in declared]
    if unknown:
        name = unknown[0].split(_DUPLICATED)[0]
        raise RawInputError(path, "the header repeats this column name", column=name)
    for second, name in declared.items():
        if second not in df.columns:
            raise RawInputError(
                path,
                "expected this column name twice in the header (a known quirk); found it "
                "once or not at all: the layout changed",
                column=name,
            )
        differs = df.with_row_index("row", offset=1).filter(pl.col(name).ne_missing(pl.col(second)))
        if differs.height:
            first = differs.row(0, named=True)
            raise RawInputError(
                path,
                f"the two columns named {name} disagree ({first[name]} vs {first[second]})",
                column=name,
                row=int(first["row"]),
            )
    return df.drop(list(declared))


def _parse_year(spec: EesFileSpec) -> pl.Expr:
    tp = pl.col("time_period")
    if spec.period_coding == "census_year" or spec.period_type == "calendar_year":
        return tp.str.slice(0, 4).cast(pl.Int32)
    # Academic-year coding of a January stock: 201819 is the census of January 2019.
    return (tp.str.slice(0, 4).cast(pl.Int32) + 1).alias("year")


def read_tidy(path: Path, spec: EesFileSpec, *, source_id: str, file_sha256: str) -> pl.DataFrame:
    """Read one EES file into long tidy rows, one per area, period and measure.

    Steps: read as text, validate the raw schema, keep the "all" rows, split markers, give every
    LA row its canonical codes from the geography crosswalk, and melt to long. Publisher totals
    are checked (LA rows sum to the National row) for the measures the spec names.
    """
    df = validate_raw(resolve_duplicates(read_csv_text(path), spec, path), spec, path)
    df = df.with_row_index("raw_row", offset=1)
    for col, value in spec.filters.items():
        df = df.filter(pl.col(col) == value)
    if df.height == 0:
        raise RawInputError(path, f"no rows match the totals filter {dict(spec.filters)}")
    _refuse_duplicates(df, path)
    checks.check_area_names(df, path)
    df = df.with_columns(_parse_year(spec).alias("year"))
    df = _add_areas(df, path)
    df = split_markers(df, spec.measures, spec.markers)
    long = _melt(df, spec).with_columns(
        pl.lit(source_id).alias("source_id"),
        pl.lit(spec.release).alias("release"),
        pl.lit(spec.name).alias("source_file"),
        pl.lit(file_sha256).alias("file_sha256"),
        pl.lit(spec.period_type).alias("period_type"),
    )
    long = _apply_known_errors(long, spec, path)
    check_published_numbers(long, spec, path)
    return long


def _apply_known_errors(long: pl.DataFrame, spec: EesFileSpec, path: Path) -> pl.DataFrame:
    for err in spec.known_errors:
        in_scope = (
            (pl.col("measure") == err.measure)
            & (pl.col("year") == err.year)
            & (pl.col("region_code") == err.region_code)
        )
        region = long.filter(in_scope & (pl.col("geographic_level") == "Regional"))
        las = long.filter(in_scope & (pl.col("geographic_level") == "Local authority"))
        if region.height != 1 or las.height == 0:
            raise RawInputError(
                path, f"known error no longer found: {err.reason}", column=err.measure
            )
        total = region.item(0, "value")
        wrong = las.filter(pl.col("value") == total)
        if wrong.height != las.height:
            fine = las.filter(pl.col("value") != total).row(0, named=True)
            raise RawInputError(
                path,
                f"upstream assumption changed, the file may have been corrected: {err.reason} "
                f"({fine['area_name']} now shows {fine['value']}, region total {total})",
                column=err.measure,
                row=int(fine["raw_row"]),
            )
        hit = in_scope & (pl.col("geographic_level") == "Local authority")
        long = long.with_columns(
            pl.when(hit).then(None).otherwise(pl.col("value")).alias("value"),
            pl.when(hit).then(pl.lit("err")).otherwise(pl.col("status")).alias("status"),
        )
    return long


def _add_areas(df: pl.DataFrame, path: Path) -> pl.DataFrame:
    from sendstats import geography  # the crosswalk loads its maps on first use

    la = df.filter(pl.col("geographic_level") == "Local authority")
    other = df.filter(pl.col("geographic_level") != "Local authority")
    la = geography.canonical_codes(
        la,
        dfe_col="old_la_code",
        gss_col="new_la_code",
        name_col="la_name",
        source=str(path),
        row_col="raw_row",
    )
    la = la.with_columns(pl.col("la_code").alias("area_code"), pl.col("la_name").alias("area_name"))
    checks.check_la_regions(la, path)
    other = other.with_columns(
        pl.when(pl.col("geographic_level") == "National")
        .then(pl.col("country_code"))
        .otherwise(pl.col("region_code"))
        .alias("area_code"),
        pl.when(pl.col("geographic_level") == "National")
        .then(pl.col("country_name"))
        .otherwise(pl.col("region_name"))
        .alias("area_name"),
        pl.lit(None, pl.Utf8).alias("la_code_dfe"),
        pl.lit(None, pl.Utf8).alias("la_code"),
    )
    cols = ID_COLUMNS
    measure_cols = [c for c in df.columns if c not in set(STANDARD_COLUMNS) | {"raw_row", "year"}]
    keep = cols + measure_cols
    out = pl.concat([other.select(keep), la.select(keep)], how="vertical")
    # The crosswalk's names are stored, not the file's (checked equal above).
    names = geography.regions()
    return out.with_columns(
        pl.when(pl.col("region_code") == "")
        .then(None)
        .otherwise(pl.col("region_code"))
        .alias("region_code"),
    ).with_columns(
        pl.col("region_code").replace_strict(names, default=None).alias("region_name"),
        pl.when(pl.col("geographic_level") == "National")
        .then(pl.lit("England"))
        .when(pl.col("geographic_level") == "Regional")
        .then(pl.col("region_code").replace_strict(names, default=None))
        .otherwise(pl.col("area_name"))
        .alias("area_name"),
    )


def _melt(df: pl.DataFrame, spec: EesFileSpec) -> pl.DataFrame:
    id_cols = ID_COLUMNS
    parts = []
    for raw_col, measure in spec.measures.items():
        parts.append(
            df.select(
                *id_cols,
                pl.lit(measure).alias("measure"),
                pl.col(raw_col).alias("value"),
                pl.col(f"{raw_col}_status").alias("status"),
            )
        )
    return pl.concat(parts, how="vertical")


def check_published_numbers(long: pl.DataFrame, spec: EesFileSpec, path: Path) -> None:
    """Check a file's numbers against each other and against the crosswalk.

    In order: every value finite, LA rows inside their LAs' lifetimes, England and regional
    totals against their LAs, percentages against their counts.
    """
    columns = spec.raw_columns
    checks.check_finite(long, path, columns=columns)
    checks.check_lifetimes(long, path, period_type=spec.period_type)
    checks.check_totals(
        long, path, measures=spec.counts, columns=columns, known=spec.total_discrepancies
    )
    checks.check_percentages(long, path, ratios=spec.percentages, columns=columns)
