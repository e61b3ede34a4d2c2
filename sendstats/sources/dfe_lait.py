"""SEN support, EHC plans and outcomes by SEN status from DfE's LAIT big data set (secondary).

The Local Authority Interactive Tool (LAIT) republishes values from DfE statistical releases in
one long file (``bds_long_0.parquet``) with a data dictionary (``lait_data_dictionary.csv``).
sendstats reads it because no copy of the EES "Special educational needs in England" CSVs is
held: it is a **secondary source**, and every tidy row names the underlying publication the
dictionary gives for its indicator (``underlying_publication``).

Read per LA, region and England, and year: % of pupils on SEN support and % with a statement or
EHC plan (all schools, and primary / secondary), and outcomes by SEN status (EHC plan or
statement, SEN support, no identified SEN): Attainment 8, Progress 8, KS2 reading, writing and
maths at the expected standard, and level 2 and level 3 qualifications at 19.

Layout facts asserted (``LaitRaw``): every value is a number (some in scientific notation,
``7.0000000000000007E-2``) or the marker ``-`` (not available); every LA number is in the
crosswalk, or one of LAIT's England (970) and region (980-990) rows; the indicators read are in
the dictionary. LAIT's Inner and Outer London rows (987, 988) are not standard regions and are
left out (counted in the log).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import NamedTuple

import pandera.polars as pa
import polars as pl
from pandera.typing.polars import Series

from sendstats.sources.base import TidyBase
from sendstats.sources.readers import RawInputError, read_csv_text, validate_frame

SOURCE_ID = "dfe_lait"
RELEASE = "lait-2026-04"
TABLE = "dfe_lait__sen"
MARKER = "-"
ENGLAND_NUMBER = 970
#: LAIT's region numbers -> GSS codes (987/988, Inner and Outer London, are dropped).
REGION_NUMBERS: dict[int, str] = {
    980: "E12000001",
    981: "E12000002",
    982: "E12000003",
    983: "E12000004",
    984: "E12000005",
    985: "E12000006",
    986: "E12000007",
    989: "E12000008",
    990: "E12000009",
}
LONDON_SUBREGIONS = (987, 988)


class Indicator(NamedTuple):
    """One LAIT indicator read: its sendstats measure, outcome, SEN status and phase."""

    lait_code: str
    measure: str
    outcome: str
    sen_status: str  # "ehc_plan", "sen_support", "no_sen", or "all" (pupil shares)
    phase: str  # "all", "primary", "secondary", "ks2", "ks4", "age_19"


INDICATORS: tuple[Indicator, ...] = (
    Indicator("SEN_TotSENSuP", "sen_support_pupils_pct", "pupils_pct", "sen_support", "all"),
    Indicator("SEN_TotStat", "ehc_plan_pupils_pct", "pupils_pct", "ehc_plan", "all"),
    Indicator(
        "PrimNoStatements", "sen_support_primary_pct", "pupils_pct", "sen_support", "primary"
    ),
    Indicator(
        "SecNoStatements", "sen_support_secondary_pct", "pupils_pct", "sen_support", "secondary"
    ),
    Indicator("PrimStatements", "ehc_plan_primary_pct", "pupils_pct", "ehc_plan", "primary"),
    Indicator("SecStatements", "ehc_plan_secondary_pct", "pupils_pct", "ehc_plan", "secondary"),
    Indicator(
        "SEN_Stat_AVG_Attain8_Score", "attainment8_ehc_plan_score", "attainment8", "ehc_plan", "ks4"
    ),
    Indicator(
        "SEN_WoStat_AVG_Attain8_Score",
        "attainment8_sen_support_score",
        "attainment8",
        "sen_support",
        "ks4",
    ),
    Indicator(
        "SEN_NoID_AVG_Attain8_Score", "attainment8_no_sen_score", "attainment8", "no_sen", "ks4"
    ),
    Indicator(
        "SEN_Stat_AVG_Prog8_Score", "progress8_ehc_plan_score", "progress8", "ehc_plan", "ks4"
    ),
    Indicator(
        "SEN_WoStat_AVG_Prog8_Score",
        "progress8_sen_support_score",
        "progress8",
        "sen_support",
        "ks4",
    ),
    Indicator("SEN_NoID_AVG_Prog8_Score", "progress8_no_sen_score", "progress8", "no_sen", "ks4"),
    Indicator("NEW_KS2_RWM_Sen_Withsta", "ks2_rwm_ehc_plan_pct", "ks2_rwm", "ehc_plan", "ks2"),
    Indicator("NEW_KS2_RWM_Sen_W/Osta", "ks2_rwm_sen_support_pct", "ks2_rwm", "sen_support", "ks2"),
    Indicator("NoID_SEN_NEW_KS2_RWM", "ks2_rwm_no_sen_pct", "ks2_rwm", "no_sen", "ks2"),
    Indicator("Age19_SEN-S", "level2_at_19_ehc_plan_pct", "level2_at_19", "ehc_plan", "age_19"),
    Indicator(
        "Age19_SENwoS", "level2_at_19_sen_support_pct", "level2_at_19", "sen_support", "age_19"
    ),
    Indicator("Age19_NoNSEN", "level2_at_19_no_sen_pct", "level2_at_19", "no_sen", "age_19"),
    Indicator("Age19_SEN-S_L3", "level3_at_19_ehc_plan_pct", "level3_at_19", "ehc_plan", "age_19"),
    Indicator(
        "Age19_SENwoS_L3", "level3_at_19_sen_support_pct", "level3_at_19", "sen_support", "age_19"
    ),
    Indicator("Age19_NoNSEN_L3", "level3_at_19_no_sen_pct", "level3_at_19", "no_sen", "age_19"),
)
_NUMBER_OR_MARKER = r"^(-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?|-)$"
RAW_COLUMNS = (
    "Short Desc",
    "Data item",
    "Years",
    "LA and Regions",
    "Values",
    "LA Number",
    "Region",
)


def _la_numbers() -> list[int]:
    from sendstats import geography

    return sorted({int(la.la_code_dfe) for la in geography.all_las()})


def raw_schema() -> pa.DataFrameSchema:
    """Return the drift schema of the indicators' rows: markers, years and known LA numbers."""
    allowed = [*_la_numbers(), ENGLAND_NUMBER, *REGION_NUMBERS, *LONDON_SUBREGIONS]
    return pa.DataFrameSchema(
        {
            "Short Desc": pa.Column(pl.Utf8, pa.Check.isin([i.lait_code for i in INDICATORS])),
            "Years": pa.Column(pl.Utf8, pa.Check.str_matches(r"^\d{4}$")),
            "LA and Regions": pa.Column(pl.Utf8),
            "Values": pa.Column(pl.Utf8, pa.Check.str_matches(_NUMBER_OR_MARKER)),
            "LA Number": pa.Column(pl.Float64, pa.Check.isin([float(n) for n in allowed])),
        },
        strict=False,
        name="dfe_lait bds_long (raw, SEN indicators)",
    )


class LaitSenTidy(TidyBase):
    """SEN indicators from LAIT: one row per measure, year and area, with their provenance."""

    source_id: Series[str] = pa.Field(isin=[SOURCE_ID], description="Source declaration id.")
    raw_row: Series[pl.UInt32] = pa.Field(description="1-based row in the parquet file.")
    lait_code: Series[str] = pa.Field(description="LAIT indicator code (Short Desc).")
    outcome: Series[str] = pa.Field(description="What is measured (pupils_pct, attainment8 ...).")
    sen_status: Series[str] = pa.Field(
        isin=["ehc_plan", "sen_support", "no_sen"], description="SEN status of the pupils."
    )
    phase: Series[str] = pa.Field(description="all, primary, secondary, ks2, ks4 or age_19.")
    time_period: Series[str] = pa.Field(description="Year as LAIT labels it.")
    period_type: Series[str] = pa.Field(
        isin=["academic_year"],
        description="academic_year: `year` is the January census, or the academic year ending "
        "in `year` (KS2, KS4, age 19).",
    )
    status: Series[str] = pa.Field(isin=["ok", MARKER], description="'ok' or '-' (not available).")
    underlying_publication: Series[str] = pa.Field(
        str_matches=r"^https://", description="The publication LAIT's dictionary names."
    )

    class Config:
        """Strict; one row per measure, year and area."""

        strict = True
        unique = ["measure", "year", "area_code"]  # noqa: RUF012

    @pa.dataframe_check
    def percentages_in_range(cls, data: pa.PolarsData) -> pl.LazyFrame:  # type: ignore[misc]  # noqa: N805
        """Check that % values lie in 0 to 100."""
        return data.lazyframe.select(
            ~pl.col("measure").str.ends_with("_pct")
            | pl.col("value").is_null()
            | pl.col("value").is_between(0, 100)
        )


TIDY_COLUMNS = list(LaitSenTidy.to_schema().columns)


def required_files() -> list[tuple[str, str]]:
    """Return the (release, file name) pairs :func:`tidy` reads."""
    return [(RELEASE, "bds_long"), (RELEASE, "data_dictionary")]


def _entry(entry: Path | tuple[Path, str]) -> tuple[Path, str]:
    if isinstance(entry, tuple):
        return entry
    return entry, hashlib.sha256(entry.read_bytes()).hexdigest()


def read_dictionary(path: Path) -> pl.DataFrame:
    """Return ``lait_code -> underlying_publication`` for the indicators read; refuse a gap."""
    dic = read_csv_text(path, encoding="utf-8")
    for col in ("Measure_short", "Hyperlink(s)", "Data Owner (DO) /Supplier and Contact Details"):
        if col not in dic.columns:
            raise RawInputError(
                path, "expected column missing from the data dictionary", column=col
            )
    codes = [i.lait_code for i in INDICATORS]
    found = dic.filter(pl.col("Measure_short").is_in(codes)).select(
        pl.col("Measure_short").alias("lait_code"),
        pl.col("Hyperlink(s)").str.strip_chars().alias("underlying_publication"),
        pl.col("Data Owner (DO) /Supplier and Contact Details").alias("owner"),
    )
    missing = sorted(set(codes) - set(found["lait_code"]))
    if missing:
        raise RawInputError(path, f"indicators not in the data dictionary: {missing}")
    bad = found.filter(
        (pl.col("owner") != "DfE") | ~pl.col("underlying_publication").str.starts_with("https://")
    )
    if bad.height:
        row = bad.row(0, named=True)
        raise RawInputError(
            path,
            f"{row['lait_code']}: expected a DfE publication link, got owner {row['owner']!r} "
            f"and link {row['underlying_publication']!r}",
            column="Hyperlink(s)",
        )
    return found.drop("owner").unique("lait_code")


def _areas(df: pl.DataFrame, path: Path) -> pl.DataFrame:
    from sendstats import geography

    number = pl.col("LA Number").cast(pl.Int32)
    is_la = number < ENGLAND_NUMBER
    la = df.filter(is_la).with_columns(
        number.cast(pl.Utf8).str.zfill(3).alias("la_code_dfe"),
        pl.lit("Local authority").alias("geographic_level"),
    )
    la = geography.canonical_codes(
        la, dfe_col="la_code_dfe", gss_col=None, name_col=None, source=str(path), row_col="raw_row"
    )
    region_of = {code: geography.region_of(code) for code in la["la_code_dfe"].unique()}
    la = la.with_columns(
        pl.col("la_code").alias("area_code"),
        pl.col("la_name").alias("area_name"),
        pl.col("la_code_dfe")
        .replace_strict({k: v[0] for k, v in region_of.items()})
        .alias("region_code"),
        pl.col("la_code_dfe")
        .replace_strict({k: v[1] for k, v in region_of.items()})
        .alias("region_name"),
    )
    names = geography.regions()
    other = df.filter(number.is_in([ENGLAND_NUMBER, *REGION_NUMBERS])).with_columns(
        pl.when(number == ENGLAND_NUMBER)
        .then(pl.lit("National"))
        .otherwise(pl.lit("Regional"))
        .alias("geographic_level"),
        number.replace_strict(
            {ENGLAND_NUMBER: "E92000001", **REGION_NUMBERS}, return_dtype=pl.Utf8
        ).alias("area_code"),
        pl.lit(None, pl.Utf8).alias("la_code_dfe"),
    )
    other = other.with_columns(
        pl.col("area_code").replace_strict({"E92000001": "England", **names}).alias("area_name"),
        pl.when(pl.col("geographic_level") == "Regional")
        .then(pl.col("area_code"))
        .alias("region_code"),
    ).with_columns(
        pl.col("region_code")
        .replace_strict(names, default=None, return_dtype=pl.Utf8)
        .alias("region_name")
    )
    keep = [*df.columns, "geographic_level", "area_code", "area_name", "la_code_dfe"]
    keep += ["region_code", "region_name"]
    return pl.concat([la.select(keep), other.select(keep)], how="vertical")


def tidy(
    paths: dict[tuple[str, str], Path] | dict[tuple[str, str], tuple[Path, str]],
) -> pl.DataFrame:
    """Read the SEN indicators of the LAIT file into the long table (the build checks its schema).

    Raises:
        RawInputError: the file or dictionary drifted (a new marker, an unknown LA number, an
            indicator missing from the dictionary).

    """
    path, sha = _entry(paths[(RELEASE, "bds_long")])
    dic_path, _ = _entry(paths[(RELEASE, "data_dictionary")])
    try:
        raw = pl.read_parquet(path)
    except (OSError, pl.exceptions.ComputeError) as exc:
        raise RawInputError(path, f"cannot read parquet: {exc}") from exc
    missing = [c for c in RAW_COLUMNS if c not in raw.columns]
    if missing:
        raise RawInputError(path, f"expected column(s) missing: {missing}", column=missing[0])
    raw = raw.with_row_index("raw_row", offset=1)
    codes = [i.lait_code for i in INDICATORS]
    rows = raw.filter(pl.col("Short Desc").is_in(codes))
    absent = sorted(set(codes) - set(rows["Short Desc"]))
    if absent:
        raise RawInputError(
            path, f"indicators no longer in the file: {absent}", column="Short Desc"
        )
    validate_frame(raw_schema(), rows, path, stage="raw")
    rows = rows.filter(~pl.col("LA Number").cast(pl.Int32).is_in(LONDON_SUBREGIONS))
    rows = _areas(rows, path)
    ind = pl.DataFrame([tuple(i) for i in INDICATORS], schema=list(Indicator._fields), orient="row")
    out = (
        rows.join(ind, left_on="Short Desc", right_on="lait_code", how="left")
        .join(read_dictionary(dic_path), left_on="Short Desc", right_on="lait_code", how="left")
        .select(
            pl.lit(SOURCE_ID).alias("source_id"),
            pl.lit(RELEASE).alias("release"),
            pl.lit("bds_long").alias("source_file"),
            pl.lit(sha).alias("file_sha256"),
            pl.col("raw_row").cast(pl.UInt32),
            pl.col("Short Desc").alias("lait_code"),
            "measure",
            "outcome",
            "sen_status",
            "phase",
            pl.col("Years").alias("time_period"),
            pl.lit("academic_year").alias("period_type"),
            pl.col("Years").cast(pl.Int32).alias("year"),
            "geographic_level",
            "area_code",
            "area_name",
            "la_code_dfe",
            "region_code",
            "region_name",
            pl.when(pl.col("Values") == MARKER)
            .then(None)
            .otherwise(pl.col("Values"))
            .cast(pl.Float64)
            .alias("value"),
            pl.when(pl.col("Values") == MARKER)
            .then(pl.lit(MARKER))
            .otherwise(pl.lit("ok"))
            .alias("status"),
            "underlying_publication",
        )
    )
    out = out.select(TIDY_COLUMNS).sort("measure", "year", "geographic_level", "area_code")
    return out
