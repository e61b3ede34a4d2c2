"""DfE "LA and school expenditure" (s251 outturn) file: DSG carried forward and high-needs lines.

Reads the EES file ``s251_alleducation_la_regional_national.csv`` (``...national2.csv`` in the
2021-22 release) in the layout its data guidance documents: the standard EES geography and
time columns, a filter ``category_of_expenditure`` and measure columns ``gross_expenditure``,
``income``, ``net_expenditure`` ... (unrounded GBP, National, Regional and LA rows). Kept:

- line ``1.9.3 Dedicated Schools Grant carried forward to next year`` (``gross_expenditure``, as
  the DfE SEND/AP dashboard reads it): the cumulative DSG balance, negative = deficit;
- the high-needs lines ``1.2.n ...`` by category of expenditure (``net_expenditure``).

NOT YET MET A FULL REAL FILE: the data file is not held (several hundred MB, latin-1 per its
users); this reader is built from the data guidance and tested on small inline frames only.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from sendstats import geography
from sendstats.core.vocab import DSG_MEASURE
from sendstats.sources.readers import EES_MARKERS, RawInputError, first_bad_value, read_csv_text
from sendstats.sources.readers import split_markers as _split_markers

DSG_LINE = "1.9.3 Dedicated Schools Grant carried forward to next year"
HIGH_NEEDS_LINE = re.compile(r"^1\.2\.(\d{1,2}) ")
#: Pattern of the measure ids this module writes (high-needs lines keep their line number).
MEASURE_PATTERN = r"^(dsg_carried_forward_gbp|s251_line_1_2_\d{1,2}_net_expenditure_gbp)$"
REQUIRED_COLUMNS = (
    "time_period",
    "time_identifier",
    "geographic_level",
    "region_code",
    "region_name",
    "old_la_code",
    "new_la_code",
    "la_name",
    "category_of_expenditure",
    "gross_expenditure",
    "net_expenditure",
)
LEVELS = ("National", "Regional", "Local authority")
CAVEAT = "s251 reader built from the data guidance; not yet run on a full real file"
ENGLAND_CODE = "E92000001"


def read_s251(path: Path) -> pl.DataFrame:
    """Read the s251 CSV with every column as text (UTF-8, else latin-1)."""
    try:
        return read_csv_text(path)
    except RawInputError as exc:
        if "not valid" not in str(exc):
            raise
        return read_csv_text(path, encoding="latin-1")


def check_layout(df: pl.DataFrame, path: Path) -> None:
    """Assert the documented columns, levels, period codes and value cells."""
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise RawInputError(
            path, f"documented column(s) missing; has {df.columns}", column=missing[0]
        )
    for col, pattern in (
        ("time_period", r"^\d{6}$"),
        ("time_identifier", r"^Financial year$"),
        ("geographic_level", r"^(National|Regional|Local authority)$"),
    ):
        bad = df.with_row_index("r", offset=1).filter(
            ~pl.col(col).str.contains(pattern).fill_null(False)
        )
        if bad.height:
            raise RawInputError(
                path, f"unexpected {col}", column=col, row=int(bad["r"][0]), value=bad[col][0]
            )


def select_lines(df: pl.DataFrame) -> pl.DataFrame:
    """Keep the DSG carried-forward line and the high-needs lines, one measure per row."""
    df = df.with_row_index("raw_row", offset=2)
    category = pl.col("category_of_expenditure").str.strip_chars()
    line_no = category.str.extract(HIGH_NEEDS_LINE.pattern, 1)
    dsg = df.filter(category == DSG_LINE).with_columns(
        pl.lit(DSG_MEASURE).alias("measure"),
        pl.col("gross_expenditure").alias("raw_value"),
        pl.lit("gross_expenditure").alias("value_column"),
    )
    hn = df.filter(line_no.is_not_null()).with_columns(
        pl.concat_str(pl.lit("s251_line_1_2_"), line_no, pl.lit("_net_expenditure_gbp")).alias(
            "measure"
        ),
        pl.col("net_expenditure").alias("raw_value"),
        pl.lit("net_expenditure").alias("value_column"),
    )
    return pl.concat([dsg, hn], how="vertical")


def tidy_s251(
    df: pl.DataFrame, *, path: Path, release: str, source_file: str, sha256: str
) -> pl.DataFrame:
    """Turn an s251 text frame into rows of ``dfe_high_needs__dsg`` (validated by the caller).

    Raises:
        RawInputError: a documented column is missing, a period/level is unknown, a value is
            neither a number nor an EES marker, an LA does not resolve, or a line repeats.

    """
    check_layout(df, path)
    lines = select_lines(df)
    for column in ("gross_expenditure", "net_expenditure"):
        sub = lines.filter(pl.col("value_column") == column)
        bad = first_bad_value(sub, "raw_value", EES_MARKERS)
        if bad is not None:
            raise RawInputError(
                path,
                "neither a number nor an EES marker",
                column=column,
                row=int(sub["raw_row"][bad[0] - 1]),
                value=bad[1],
            )
    key = ["time_period", "geographic_level", "region_code", "new_la_code", "measure"]
    dupes = lines.filter(pl.len().over(key) > 1)
    if dupes.height:
        raise RawInputError(
            path,
            "line repeated for one area and year",
            column="category_of_expenditure",
            row=int(dupes["raw_row"][0]),
            value=str(dupes["category_of_expenditure"][0]),
        )
    lines = _split_markers(lines, ["raw_value"], EES_MARKERS)
    coded = geography.canonical_codes(
        lines, dfe_col="old_la_code", gss_col="new_la_code", name_col="la_name", source=str(path)
    )
    regions = geography.regions()
    is_la = pl.col("geographic_level") == "Local authority"
    is_nat = pl.col("geographic_level") == "National"
    la_region = pl.col("la_code_dfe").replace_strict(
        {c: geography.region_of(c)[0] for c in coded["la_code_dfe"].drop_nulls().unique()},
        default=None,
        return_dtype=pl.Utf8,
    )
    # Inner and Outer London rows (E13...) are regions of their own, not E12 regions.
    region_code = (
        pl.when(is_la)
        .then(la_region)
        .when(pl.col("region_code").is_in(list(regions)))
        .then(pl.col("region_code"))
    )
    period = pl.col("time_period")
    return coded.with_columns(
        pl.lit(release).alias("release"),
        pl.lit(source_file).alias("source_file"),
        pl.lit(sha256).alias("file_sha256"),
        pl.col("raw_row").cast(pl.Int64),
        pl.lit("s251_outturn").alias("basis"),
        pl.concat_str(period.str.slice(0, 4), pl.lit("-"), period.str.slice(4, 2)).alias(
            "time_period"
        ),
        pl.when(is_nat)
        .then(pl.lit(ENGLAND_CODE))
        .when(is_la)
        .then(pl.col("la_code"))
        .otherwise(pl.col("region_code"))
        .alias("area_code"),
        pl.when(is_nat)
        .then(pl.lit("England"))
        .when(is_la)
        .then(pl.col("la_name"))
        .otherwise(pl.col("region_name"))
        .alias("area_name"),
        region_code.alias("region_code"),
        region_code.replace_strict(regions, default=None).alias("region_name"),
        pl.col("raw_value").alias("value"),
        pl.col("raw_value_status").alias("status"),
        pl.lit(True).alias("official"),
        pl.lit(None, pl.Utf8).alias("derived_by"),
        pl.when(pl.col("measure") == DSG_MEASURE)
        .then(pl.lit(f"negative = cumulative DSG deficit; {CAVEAT}"))
        .otherwise(pl.lit(CAVEAT))
        .alias("caveat"),
    )
