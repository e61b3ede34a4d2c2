"""NHS Digital "Measures from the Adult Social Care Outcomes Framework" (ASCOF), England.

Reads the long-format ASCOF open data file declared in ``data_sources/nhs_ascof.yaml`` into
``nhs_ascof__ld_employment``: one row per council (and region, England), financial year,
measure and sex, with the numerator, denominator and published percentage of

- ``ascof_1e``: adults aged 18-64 with a primary support reason of learning disability,
  receiving long-term support, who are in paid employment (ASCOF 1E; 1EF/1EM by sex);
- ``ascof_1g``: the same cohort living in their own home or with family (1G; 1GF/1GM).

Each row carries Wilson 95% and 99.8% intervals (from the published counts), a robust-z
outlier flag and a caveat. Values are never dropped: an implausible value is flagged.

Quirks handled here:
- The open data mixes numbers and markers in one text column: ``[x]`` (not available),
  ``[c]`` (suppressed); older CSV files use ``:`` and ``c`` and are cp1252-encoded.
- Councils carry a CASSR code (not the DfE code) and the ONS code of the day: Cumbria, North
  Yorkshire and Somerset are counties to 2022-23. LAs resolve on ONS code + name.
- "Council Type" rows (shire counties, unitaries ...) are groupings, not areas: dropped.
- Isles of Scilly publishes a percentage with suppressed counts, so it has no interval.
- ASCOF was revised from 2023-24: the old and revised series are never spliced;
  :data:`OLD_TO_REVISED` is the only documented link, and it carries a break marker. Only the
  old series is read (:data:`RELEASES`); the tidy schema admits no other series.

``year`` is the calendar year in which the financial year starts (2020 for ``2020-21``),
and ``time_period`` keeps the published label.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import fastexcel
import pandera.polars as pa
import polars as pl
from pandera.typing.polars import Series

from sendstats import geography
from sendstats.sources import checks
from sendstats.sources.base import TidyBase
from sendstats.sources.layouts import load_layout
from sendstats.sources.readers import (
    RawInputError,
    first_bad_value,
    read_csv_text,
    split_markers,
    validate_frame,
)

SOURCE_ID = "nhs_ascof"
TABLE = "nhs_ascof__ld_employment"
FILE_NAME = "open_data"
SHEET = "in"

#: Release label -> published financial year of the data it holds.
RELEASES: dict[str, str] = {"2020-21": "2020-21"}

#: Publisher markers in ``Measure Value`` (NHS Digital open data and older CSVs).
#: File layout (layouts/nhs_ascof.yaml): markers, headers, measure codes, levels.
_LAYOUT = load_layout("nhs_ascof")
ASCOF_MARKERS: dict[str, str] = dict(_LAYOUT["markers"])

#: Raw header (normalised: lower case, single spaces) -> internal column name.
COLUMN_ALIASES: dict[str, str] = dict(_LAYOUT["column_aliases"])
RAW_COLUMNS = tuple(dict.fromkeys(COLUMN_ALIASES.values()))
#: Internal column name -> header as printed in the 2020-21 file (named in errors).
PUBLISHED_HEADERS: dict[str, str] = dict(_LAYOUT["published_headers"])

#: ASCOF measure code -> (sendstats measure, disaggregation).
MEASURES: dict[str, tuple[str, str]] = {
    code: (measure, sex) for code, (measure, sex) in _LAYOUT["measures"].items()
}
RAW_LEVELS = tuple(_LAYOUT["raw_levels"])
LEVELS: dict[str, str] = dict(_LAYOUT["levels"])
RAW_MEASURE_TYPES = ("Numerator", "Denominator", "Outcome", "Base", "Margin Of Error")
KEPT_TYPES: dict[str, str] = {
    "Numerator": "numerator",
    "Denominator": "denominator",
    "Outcome": "value",
}
ENGLAND_CODE = "E92000001"
OLD_SERIES = "ascof_to_2022_23"


@dataclass(frozen=True)
class SeriesLink:
    """A documented link between an old (to 2022-23) and a revised (2023-24 on) ASCOF measure.

    A link never makes one series: the two stay apart and every link carries ``break_marker``.
    ``revised_code`` is None where the successor could not be confirmed from the publisher.
    """

    old_code: str
    old_measure: str
    revised_code: str | None
    revised_part: str
    break_marker: str
    note: str
    source: str


BREAK_2023_24 = "series_break_2023_24"

#: The only bridge between the two series. A revised code is filled in only when a publisher's
#: own material confirms it: a guessed code would splice two series silently.
OLD_TO_REVISED: tuple[SeriesLink, ...] = (
    SeriesLink(
        old_code="1E",
        old_measure="ascof_1e",
        revised_code=None,
        revised_part="",
        break_marker=BREAK_2023_24,
        note=(
            "Successor not confirmed offline. The revised framework (DHSC, from 2023-24) changed "
            "the data source (Client Level Data replaced SALT from April 2024) and, from 2024-25, "
            "also reports people aged 65 and over; DHSC's published CLD code covers 2A-2E and 3D "
            "only. Confirm the revised code in the DHSC handbook before linking."
        ),
        source=(
            "DHSC, The adult social care outcomes framework 2023 to 2024: handbook of "
            "definitions (gov.uk, updated 21 December 2023) - text not available offline"
        ),
    ),
    SeriesLink(
        old_code="1G",
        old_measure="ascof_1g",
        revised_code="2E",
        revised_part=(
            "the learning-disability part of 2E: adults aged 18-64 with a primary support "
            "reason of learning disability receiving long-term support (DHSC's code labels it "
            "'ASCOF 2E LD'); 2E also has all-client parts for 18-64 and 65+"
        ),
        break_marker=BREAK_2023_24,
        note=(
            "2E 'The proportion of people who receive long-term support who live in their home "
            "or with family' replaced 1G. For 2023-24 it is still computed from SALT on the "
            "original definition; from 2024-25 from Client Level Data (accommodation status at "
            "the end of the year), so 2024-25 on is not comparable with 1G. How the published "
            "CSV codes the learning-disability part is to be checked when that file is pinned."
        ),
        source=(
            "DHSC, github.com/DataS-DHSC/ASC-CLD-LA-Dashboard, ASCOF_measures/"
            "Create_ASCOF_2E.sql: 'ASCOF 2E (formerly 1G)', @LD_Filter = 1 selects the 18-64 "
            "learning-disability cohort; NHS England, 'Reproducing ASCOF metrics from CLD: "
            "ASCOF 2E' (SALT-based for 2023-24)"
        ),
    ),
)

ALLOWED_STATUS = ("ok", *ASCOF_MARKERS)
SUPPRESSED_CAVEAT = "numerator and denominator not published; no interval"


class AscofTidy(TidyBase):
    """Tidy ASCOF learning-disability measures: one row per area, year, measure and sex."""

    source_id: Series[str] = pa.Field(isin=[SOURCE_ID], description="Source declaration id.")
    release: Series[str] = pa.Field(description="Release the value was published in.")
    series: Series[str] = pa.Field(
        isin=[OLD_SERIES], description="ASCOF series; the revised series is never spliced in."
    )
    measure: Series[str] = pa.Field(isin=["ascof_1e", "ascof_1g"], description="sendstats id.")
    ascof_code: Series[str] = pa.Field(isin=list(MEASURES), description="Published code.")
    disaggregation: Series[str] = pa.Field(isin=["Total", "Female", "Male"])
    time_period: Series[str] = pa.Field(str_matches=r"^\d{4}-\d{2}$", description="e.g. 2020-21.")
    period_type: Series[str] = pa.Field(isin=["financial_year"])
    year: Series[pl.Int32] = pa.Field(
        ge=2010, le=2035, description="Calendar year in which the financial year starts."
    )
    geographic_level: Series[str] = pa.Field(isin=list(LEVELS.values()))
    area_code: Series[str] = pa.Field(str_matches=r"^E\d{8}$", description="GSS code.")
    area_name: Series[str] = pa.Field(description="Canonical name (DfE spelling for LAs).")
    cassr_code: Series[str] = pa.Field(nullable=True, description="Published CASSR code (LAs).")
    numerator: Series[pl.Float64] = pa.Field(nullable=True, ge=0, description="Count in cohort.")
    denominator: Series[pl.Float64] = pa.Field(nullable=True, ge=0, description="Cohort size.")
    value: Series[pl.Float64] = pa.Field(
        nullable=True, ge=0, le=100, description="Published percentage (0-100, 1 dp)."
    )
    status: Series[str] = pa.Field(isin=list(ALLOWED_STATUS), description="Marker of the value.")
    count_status: Series[str] = pa.Field(
        isin=list(ALLOWED_STATUS), description="Marker of the numerator/denominator."
    )
    caveat: Series[str] = pa.Field(nullable=True, description="Why to read the value with care.")

    class Config:
        """Strict: no column beyond those described; one row per key."""

        strict = True
        unique = ["release", "measure", "disaggregation", "year", "area_code"]  # noqa: RUF012


TIDY_COLUMNS = list(AscofTidy.to_schema().columns)


def _normalise_header(name: str) -> str:
    return " ".join(name.replace("\ufeff", "").split()).lower()


def read_raw(path: Path) -> pl.DataFrame:
    """Read an ASCOF open data file (xlsx sheet ``in``, or CSV) with every column as text.

    CSVs are tried as UTF-8 and then as cp1252, the encoding of the older NHS Digital files.
    Headers are mapped to internal names through :data:`COLUMN_ALIASES`.

    Raises:
        RawInputError: unreadable file, missing sheet or missing column.

    """
    if path.suffix.lower() == ".xlsx":
        df = _read_xlsx(path)
    elif path.suffix.lower() == ".csv":
        try:
            df = read_csv_text(path)
        except RawInputError as exc:
            if "not valid" not in str(exc):
                raise
            df = read_csv_text(path, encoding="cp1252")
    else:
        raise RawInputError(path, f"unsupported ASCOF file type {path.suffix!r} (xlsx or csv)")
    renames = {
        c: COLUMN_ALIASES[_normalise_header(c)]
        for c in df.columns
        if _normalise_header(c) in COLUMN_ALIASES
    }
    present = list(df.columns)
    df = df.rename(renames)
    missing = [c for c in RAW_COLUMNS if c not in df.columns]
    if missing:
        raise RawInputError(
            path,
            f"expected column(s) {missing} missing from the header row; columns present: {present}",
            column=PUBLISHED_HEADERS[missing[0]],
            row=1,
            sheet=SHEET if path.suffix.lower() == ".xlsx" else None,
        )
    return df.select(RAW_COLUMNS).with_columns(pl.col(RAW_COLUMNS).str.strip_chars())


def _read_xlsx(path: Path) -> pl.DataFrame:
    try:
        book = fastexcel.read_excel(path)
    except Exception as exc:  # fastexcel raises its own error types per failure
        raise RawInputError(path, f"cannot open workbook: {exc}") from exc
    if SHEET not in book.sheet_names:
        raise RawInputError(
            path, f"sheet {SHEET!r} not found; sheets: {book.sheet_names}", sheet=SHEET
        )
    return book.load_sheet_by_name(SHEET, dtypes="string").to_polars()


def raw_schema() -> pa.DataFrameSchema:
    """Build the drift schema of the raw file: levels, measure types and value cells known."""
    number_or_marker = (
        r"^(-?\d+(\.\d*)?([eE][-+]?\d+)?|" + "|".join(map(_escape, ASCOF_MARKERS)) + r")$"
    )
    text = {c: pa.Column(pl.Utf8, nullable=True) for c in RAW_COLUMNS}
    text["geo_level"] = pa.Column(pl.Utf8, pa.Check.isin(RAW_LEVELS))
    text["measure_type"] = pa.Column(pl.Utf8, pa.Check.isin(RAW_MEASURE_TYPES))
    text["measure_value"] = pa.Column(pl.Utf8, pa.Check.str_matches(number_or_marker))
    text["measure_code"] = pa.Column(pl.Utf8, nullable=False)
    return pa.DataFrameSchema(text, strict=False, name="nhs_ascof (raw)")


def _escape(marker: str) -> str:
    return re.escape(marker)


def validate_raw(df: pl.DataFrame, path: Path) -> pl.DataFrame:
    """Check the raw frame; raise RawInputError naming file, column, row and value."""
    bad = first_bad_value(df, "measure_value", ASCOF_MARKERS)
    if bad is not None:
        raise RawInputError(
            path,
            f"neither a number nor a known marker {sorted(ASCOF_MARKERS)}",
            column="Measure Value",
            row=bad[0],
            value=bad[1],
        )
    negative = df.with_row_index("row", offset=1).filter(
        pl.col("measure_value").str.starts_with("-")
    )
    if negative.height:
        raise RawInputError(
            path,
            "a count or percentage is negative",
            column="Measure Value",
            row=int(negative["row"][0]),
            value=str(negative["measure_value"][0]),
        )
    validate_frame(raw_schema(), df, path, stage="raw")
    codes = set(df.get_column("measure_code").unique().to_list())
    if "1E" not in codes:
        raise RawInputError(path, "measure 1E not found", column="ASCOF Measure Code")
    return df


def _to_wide(df: pl.DataFrame, path: Path) -> pl.DataFrame:
    """Keep 1E/1G rows and pivot numerator, denominator and outcome side by side."""
    df = df.with_row_index("raw_row", offset=1).filter(
        pl.col("measure_code").is_in(list(MEASURES)),
        pl.col("measure_type").is_in(list(KEPT_TYPES)),
        pl.col("geo_level").is_in(list(LEVELS)),
    )
    key = ["geo_level", "geo_code", "measure_code", "measure_type"]
    dupes = df.filter(pl.len().over(key) > 1)
    if dupes.height:
        first = dupes.row(0, named=True)
        again = max(dupes.filter(*(pl.col(k) == first[k] for k in key))["raw_row"].to_list())
        raise RawInputError(
            path,
            f"two rows for {first['geo_code']} {first['measure_code']} {first['measure_type']} "
            f"(rows {first['raw_row']} and {again})",
            column="Measure Value",
            row=int(again),
        )
    df = split_markers(df, ["measure_value"], ASCOF_MARKERS)
    index = ["geo_level", "geo_code", "geo_name", "ons_code", "measure_code", "disaggregation"]
    wide = df.pivot(
        on="measure_type",
        index=index,
        values=["measure_value", "measure_value_status"],
        aggregate_function=None,
    ).join(df.group_by(index).agg(pl.col("raw_row").min()), on=index, how="left", nulls_equal=True)
    renames: dict[str, str] = {}
    for raw_type, name in KEPT_TYPES.items():
        renames[f"measure_value_{raw_type}"] = name
        renames[f"measure_value_status_{raw_type}"] = f"{name}_status"
    missing = [c for c in renames if c not in wide.columns]
    if missing:
        raise RawInputError(
            path, f"measure type missing for 1E/1G: {missing}", column="Measure Type"
        )
    return wide.rename(renames)


def _add_areas(wide: pl.DataFrame, path: Path) -> pl.DataFrame:
    """Give each row sendstats area columns; every council must resolve to a crosswalk LA."""
    wide = wide.with_columns(pl.col("geo_level").replace_strict(LEVELS).alias("geographic_level"))
    coded = geography.canonical_codes(
        wide,
        dfe_col=None,
        gss_col="ons_code",
        name_col="geo_name",
        source=str(path),
        row_col="raw_row",
    )
    regions = {
        dfe: geography.region_of(dfe)
        for dfe in coded.get_column("la_code_dfe").drop_nulls().unique().to_list()
    }
    is_la = pl.col("geographic_level") == "Local authority"
    region_code = pl.col("la_code_dfe").replace_strict(
        {k: v[0] for k, v in regions.items()}, default=None, return_dtype=pl.Utf8
    )
    region_name = pl.col("la_code_dfe").replace_strict(
        {k: v[1] for k, v in regions.items()}, default=None, return_dtype=pl.Utf8
    )
    is_region = pl.col("geographic_level") == "Regional"
    return coded.with_columns(
        pl.when(is_la).then(pl.col("la_code")).otherwise(pl.col("ons_code")).alias("area_code"),
        pl.when(is_la).then(pl.col("la_name")).otherwise(pl.col("geo_name")).alias("area_name"),
        pl.when(is_la).then(pl.col("geo_code")).alias("cassr_code"),
        pl.when(is_la)
        .then(region_code)
        .when(is_region)
        .then(pl.col("ons_code"))
        .alias("region_code"),
        pl.when(is_la)
        .then(region_name)
        .when(is_region)
        .then(pl.col("geo_name"))
        .alias("region_name"),
    )


def check_published_values(df: pl.DataFrame, path: Path) -> None:
    """Assert each published percentage equals 100 x numerator / denominator to 1 dp."""
    both = df.filter(
        pl.col("value").is_not_null()
        & pl.col("numerator").is_not_null()
        & (pl.col("denominator") > 0)
    )
    bad = both.filter(
        ((100 * pl.col("numerator") / pl.col("denominator")) - pl.col("value")).abs() > 0.05 + 1e-9
    )
    if bad.height:
        first = bad.row(0, named=True)
        raise RawInputError(
            path,
            f"{first['ascof_code']} for {first['area_name']}: published {first['value']}% is not "
            f"{first['numerator']:.0f} / {first['denominator']:.0f} to 1 dp",
            column="Measure Value",
        )


def _add_caveats(df: pl.DataFrame) -> pl.DataFrame:
    """Say where a council's printed outcome has no published counts behind it."""
    la = pl.col("geographic_level") == "Local authority"
    suppressed = la & pl.col("value").is_not_null() & (pl.col("count_status") != "ok")
    return df.with_columns(
        pl.when(suppressed).then(pl.lit(SUPPRESSED_CAVEAT)).otherwise(None).alias("caveat")
    )


def tidy_file(path: Path, sha256: str, *, release: str = "2020-21") -> pl.DataFrame:
    """Read one ASCOF open data file into ``nhs_ascof__ld_employment`` rows (schema: by the build).

    Args:
        path: local path of the pinned raw file (xlsx or CSV).
        sha256: its sha256, recorded on every row.
        release: the release label in the declaration; gives the financial year.

    Raises:
        RawInputError: layout drift, an unknown marker, a council that does not resolve, a
            published percentage that does not follow from its counts, or a tidy schema error.

    """
    if release not in RELEASES:
        raise RawInputError(path, f"unknown ASCOF release {release!r}; known: {list(RELEASES)}")
    period = RELEASES[release]
    wide = _add_areas(_to_wide(validate_raw(read_raw(path), path), path), path)
    count_marked = (pl.col("numerator_status") != "ok") | (pl.col("denominator_status") != "ok")
    out = wide.with_columns(
        pl.lit(SOURCE_ID).alias("source_id"),
        pl.lit(release).alias("release"),
        pl.lit(FILE_NAME).alias("source_file"),
        pl.lit(sha256).alias("file_sha256"),
        pl.lit(OLD_SERIES).alias("series"),
        pl.col("measure_code").alias("ascof_code"),
        pl.col("measure_code")
        .replace_strict({k: v[0] for k, v in MEASURES.items()})
        .alias("measure"),
        pl.lit(period).alias("time_period"),
        pl.lit("financial_year").alias("period_type"),
        pl.lit(int(period[:4]), pl.Int32).alias("year"),
        pl.col("value_status").alias("status"),
        pl.when(count_marked)
        .then(
            pl.when(pl.col("numerator_status") != "ok")
            .then(pl.col("numerator_status"))
            .otherwise(pl.col("denominator_status"))
        )
        .otherwise(pl.lit("ok"))
        .alias("count_status"),
    )
    check_published_values(out, path)
    counts = checks.counts_long(
        out, ["numerator", "denominator"], by=["measure", "disaggregation"], status="count_status"
    )  # LA sums against England and regions (issue 18 item 1)
    checks.check_totals(counts, path, measures=counts["measure"].unique().sort().to_list())
    out = _add_caveats(out).select(TIDY_COLUMNS)
    out = out.sort("measure", "disaggregation", "year", "geographic_level", "area_code")
    return out


def required_files() -> list[tuple[str, str]]:
    """Return the (release, file name) pairs :func:`tidy` reads."""
    return [(release, FILE_NAME) for release in RELEASES]


def revised_mapping() -> pl.DataFrame:
    """Return :data:`OLD_TO_REVISED` as a frame, for reports and the data dictionary."""
    return pl.DataFrame(
        [vars(link) for link in OLD_TO_REVISED],
        schema={
            "old_code": pl.Utf8,
            "old_measure": pl.Utf8,
            "revised_code": pl.Utf8,
            "revised_part": pl.Utf8,
            "break_marker": pl.Utf8,
            "note": pl.Utf8,
            "source": pl.Utf8,
        },
    )


def tidy(paths: dict[tuple[str, str], tuple[Path, str]]) -> pl.DataFrame:
    """Tidy every held ASCOF release: paths maps (release, file name) -> (path, sha256)."""
    frames = [tidy_file(p, sha, release=rel) for (rel, _), (p, sha) in sorted(paths.items())]
    return pl.concat(frames, how="vertical")
