"""DfE "Education, health and care plans" (SEN2 data collection), releases 2022, 2023 and 2025.

Reads the EES CSVs declared in ``data_sources/dfe_sen2.yaml`` into one long tidy table,
``dfe_sen2__ehcp``: one row per release, file, measure, year and area (England, region, LA),
with the value, the publisher's marker as a status, and the raw row it came from. Every
release is kept, so a figure can be rebuilt as first published and revisions can be diffed;
the metric step chooses which release serves each year.

Quirks handled here (see the data guidance of each release):
- January stocks are coded as academic years (``201819`` = January 2019) in the 2025 release,
  but the 2022 release's ``sen2_age_caseload.csv`` codes the census year itself (``2022``).
- Before 2019 the caseload counts statements plus EHC plans (``Total_all`` in the 2022 file).
- ``sen2_mi.csv`` (2023 release) is the legacy aggregate return, 2014 to 2022; the 2025 release's
  person-level flows start in 2019 and revise the overlapping years.
"""

from __future__ import annotations

from pathlib import Path

import pandera.polars as pa
import polars as pl
from pandera.typing.polars import Series

from sendstats.core.vocab import PRIMARY_NEEDS, SEN2_SOURCE_ID, SEN2_TABLE
from sendstats.sources.base import TidyBase
from sendstats.sources.checks import TotalDiscrepancy
from sendstats.sources.ees import EesFileSpec, KnownError, read_tidy
from sendstats.sources.readers import validate_frame

SOURCE_ID = SEN2_SOURCE_ID
TABLE = SEN2_TABLE

#: Published percentage of refused requests and the counts it follows from.
REQUESTS_PERCENTAGES: dict[str, tuple[str, str]] = {
    "requests_refused_published_pct": ("requests_refused_count", "requests_count")
}
#: Published percentages of the timeliness files and the counts they follow from.
TIMELINESS_PERCENTAGES: dict[str, tuple[str, str]] = {
    "plans_within_20_weeks_incl_exceptions_published_pct": (
        "plans_within_20_weeks_incl_exceptions_count",
        "plans_issued_incl_exceptions_count",
    ),
    "plans_within_20_weeks_excl_exceptions_published_pct": (
        "plans_within_20_weeks_excl_exceptions_count",
        "plans_issued_excl_exceptions_count",
    ),
}

_SE_2025 = (
    "in sen_needs_all_plans.csv (2025 release), January 2025, the South East's LA rows give "
    "656 more plans for specific and 656 fewer for severe learning difficulty than its regional "
    "row (and England's), and one more SEMH and one fewer SLCN: one LA's needs were totalled "
    "differently from its own row. Which is right is not known; both are kept as published"
)
#: Totals of the 2025 primary-need file that differ from the sum of their LAs (asserted).
PRIMARY_NEED_DISCREPANCIES_2025: tuple[TotalDiscrepancy, ...] = tuple(
    TotalDiscrepancy(f"primary_need_{need}_count", 2025, area, diff, _SE_2025)
    for need, diff in (("spld", 656.0), ("sld", -656.0), ("semh", 1.0), ("slcn", -1.0))
    for area in ("E12000008", "E92000001")
)

#: Per-file read specs: the "all" rows and the measures kept, with sendstats names.
FILE_SPECS: tuple[EesFileSpec, ...] = (
    EesFileSpec(
        release="2025",
        name="caseload",
        period_type="academic_year",
        filters={"breakdown_topic": "All EHC plans", "breakdown": "All EHC plans"},
        measures={"ehcplans": "ehc_plans_count"},
    ),
    EesFileSpec(
        release="2025",
        name="newplans",
        period_type="calendar_year",
        filters={"breakdown_topic": "New EHC plans", "breakdown": "New EHC plans"},
        measures={"new_ehc_plans": "new_ehc_plans_count"},
        known_errors=(
            KnownError(
                year=2022,
                region_code="E12000003",
                measure="new_ehc_plans_count",
                reason=(
                    "in newplans.csv (2025 release) every Yorkshire and The Humber LA's 2022 "
                    "'New EHC plans' row carries the regional total (6,078); the data guidance "
                    "(footnote 4) says Wakefield submitted aggregate information for 2022. The "
                    "2023 release's sen2_mi.csv has the LA figures"
                ),
            ),
        ),
    ),
    EesFileSpec(
        release="2025",
        name="requests",
        period_type="calendar_year",
        filters={
            "breakdown_topic": "All requests for EHC needs assessments",
            "breakdown": "All requests for EHC needs assessments",
        },
        measures={
            "requests_received_in_year": "requests_count",
            "requests_decided_to_assess": "requests_agreed_count",
            "requests_decided_not_to_assess": "requests_refused_count",
            "request_not_assess_pc": "requests_refused_published_pct",
        },
        percentages=REQUESTS_PERCENTAGES,
    ),
    EesFileSpec(
        release="2025",
        name="assessments",
        period_type="calendar_year",
        filters={
            "breakdown_topic": "All EHC needs assessments",
            "breakdown": "All EHC needs assessments",
        },
        measures={
            "assess_issued": "assessments_plan_issued_count",
            "assess_not_issued": "assessments_no_plan_count",
        },
    ),
    EesFileSpec(
        release="2025",
        name="timeliness_20_week",
        period_type="calendar_year",
        filters={"breakdown_topic": "All EHC plans issued", "breakdown": "All EHC plans issued"},
        measures={
            "plans_issued_den": "plans_issued_incl_exceptions_count",
            "plans_issued_within_20_weeks": "plans_within_20_weeks_incl_exceptions_count",
            "pc_plans_issued_within_20_weeks": (
                "plans_within_20_weeks_incl_exceptions_published_pct"
            ),
            "plans_issued_den_ex": "plans_issued_excl_exceptions_count",
            "plans_issued_20_weeks_ex": "plans_within_20_weeks_excl_exceptions_count",
            "PC_plans_issued_20_weeks_ex": "plans_within_20_weeks_excl_exceptions_published_pct",
        },
        percentages=TIMELINESS_PERCENTAGES,
    ),
    EesFileSpec(
        release="2025",
        name="ceased_plans",
        period_type="calendar_year",
        filters={"breakdown_topic": "All ceased EHC plans", "breakdown": "All ceased EHC plans"},
        measures={"total_ceased": "ceased_plans_count", "needs_met": "ceased_needs_met_count"},
    ),
    EesFileSpec(
        release="2025",
        name="sen_needs_all_plans",
        period_type="academic_year",
        filters={"breakdown_topic": "All EHC plans", "breakdown": "All EHC plans"},
        measures={
            "ehc_plans": "need_all_plans_count",
            **{f"number_{code}": f"primary_need_{code}_count" for code in PRIMARY_NEEDS},
        },
        total_discrepancies=PRIMARY_NEED_DISCREPANCIES_2025,
    ),
    EesFileSpec(
        release="2022",
        name="sen2_age_caseload",
        period_type="academic_year",
        period_coding="census_year",
        filters={"characteristic_age": "Total"},
        measures={
            "Total_st": "statements_count",
            "Total_ehc": "ehc_plans_only_count",
            "Total_all": "ehc_plans_count",
        },
    ),
    EesFileSpec(
        release="2023",
        name="sen2_mi",
        period_type="calendar_year",
        measures={
            "inreq_ehc": "requests_count",
            "ass_refused_ehc": "requests_refused_count",
            "ass_refused_ehc_pc": "requests_refused_published_pct",
            "new_all_ehc": "new_ehc_plans_count",
            "tot_no_exc_ehc": "plans_issued_excl_exceptions_count",
            "no_exc_20week_ehc": "plans_within_20_weeks_excl_exceptions_count",
            "no_exc_20week_rate": "plans_within_20_weeks_excl_exceptions_published_pct",
            "tot_inc_exc_ehc": "plans_issued_incl_exceptions_count",
            "inc_exc_20week_ehc": "plans_within_20_weeks_incl_exceptions_count",
            "inc_exc_20week_rate": "plans_within_20_weeks_incl_exceptions_published_pct",
        },
        percentages={**REQUESTS_PERCENTAGES, **TIMELINESS_PERCENTAGES},
    ),
)

#: Statuses a tidy row may carry: ``ok``, one of the EES markers, or ``err`` for a published
#: value sendstats knows to be wrong (see ``KnownError``; the reason is in the spec).
ALLOWED_STATUS = ("ok", "x", "z", "c", "low", "u", ":", "N/A", "err")


class Sen2Tidy(TidyBase):
    """Tidy EHC plan statistics: one row per release, file, measure, year and area."""

    source_id: Series[str] = pa.Field(isin=[SOURCE_ID], description="Source declaration id.")
    release: Series[str] = pa.Field(description="Release the value was published in.")
    raw_row: Series[pl.UInt32] = pa.Field(description="1-based data row in the raw file.")
    measure: Series[str] = pa.Field(description="sendstats measure id; unit as suffix.")
    time_period: Series[str] = pa.Field(description="Period as published (e.g. 202425, 2024).")
    period_type: Series[str] = pa.Field(
        isin=["academic_year", "calendar_year"],
        description="academic_year = January census of `year`; calendar_year = flow in `year`.",
    )
    year: Series[pl.Int32] = pa.Field(
        ge=2009, le=2030, description="January of the census, or the calendar year of the flow."
    )
    geographic_level: Series[str] = pa.Field(isin=["National", "Regional", "Local authority"])
    area_code: Series[str] = pa.Field(
        str_matches=r"^E\d{8}$", description="GSS code: E92 England, E12 region, LA code."
    )
    area_name: Series[str] = pa.Field(description="Canonical name (DfE spelling).")
    value: Series[pl.Float64] = pa.Field(
        nullable=True, ge=0, description="Published value; null where a marker was published."
    )
    status: Series[str] = pa.Field(
        isin=list(ALLOWED_STATUS),
        description="'ok', the publisher's marker (x, z ...) or 'err' (known publisher error).",
    )

    class Config:
        """Strict: no column beyond those described; one row per key."""

        strict = True
        unique = ["release", "source_file", "measure", "year", "geographic_level", "area_code"]  # noqa: RUF012

    @pa.dataframe_check
    def percentages_in_range(cls, data: pa.PolarsData) -> pl.LazyFrame:  # type: ignore[misc]  # noqa: N805
        """Check percentages lie in 0 to 100."""
        return data.lazyframe.select(
            ~pl.col("measure").str.ends_with("_pct")
            | pl.col("value").is_null()
            | (pl.col("value") <= 100)
        )

    @pa.dataframe_check
    def counts_are_whole(cls, data: pa.PolarsData) -> pl.LazyFrame:  # type: ignore[misc]  # noqa: N805
        """Check that counts are whole numbers."""
        return data.lazyframe.select(
            ~pl.col("measure").str.ends_with("_count")
            | pl.col("value").is_null()
            | (pl.col("value") == pl.col("value").round(0))
        )

    @pa.dataframe_check
    def marker_means_null(cls, data: pa.PolarsData) -> pl.LazyFrame:  # type: ignore[misc]  # noqa: N805
        """Check a marker never became a number: status 'ok' iff the value is present."""
        return data.lazyframe.select((pl.col("status") == "ok") == pl.col("value").is_not_null())


TIDY_COLUMNS = list(Sen2Tidy.to_schema().columns)


def tidy(paths: dict[tuple[str, str], tuple[Path, str]]) -> pl.DataFrame:
    """Read every declared SEN2 file into one validated long table.

    Args:
        paths: (release, file name) -> (local path, sha256) of each pinned raw file.

    Raises:
        RawInputError: a raw file drifted from its layout, or the tidy table breaks its schema.

    """
    return combine(tidy_files(paths))


def tidy_files(
    paths: dict[tuple[str, str], tuple[Path, str]],
) -> dict[tuple[str, str], pl.DataFrame]:
    """Read the declared SEN2 files among ``paths`` into long rows, one frame per file.

    The build may read some files in its worker process and the rest in its own, then
    :func:`combine` them: the table is the same whichever process read which file.
    """
    frames = {}
    for spec in FILE_SPECS:
        if (spec.release, spec.name) in paths:
            path, sha = paths[(spec.release, spec.name)]
            frames[(spec.release, spec.name)] = read_tidy(
                path, spec, source_id=SOURCE_ID, file_sha256=sha
            )
    return frames


def combine(frames: dict[tuple[str, str], pl.DataFrame]) -> pl.DataFrame:
    """Return the validated SEN2 table from every file's frame (in declaration order)."""
    ordered = [frames[(spec.release, spec.name)] for spec in FILE_SPECS]
    out = pl.concat(ordered, how="vertical").select(TIDY_COLUMNS)
    out = out.sort("measure", "release", "year", "geographic_level", "area_code")
    return validate_frame(Sen2Tidy, out, Path(TABLE), stage="tidy")


def required_files() -> list[tuple[str, str]]:
    """Return the (release, file name) pairs :func:`tidy` reads."""
    return [(spec.release, spec.name) for spec in FILE_SPECS]
