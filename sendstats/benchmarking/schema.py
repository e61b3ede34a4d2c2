"""The contract of the benchmarks table, and so its data dictionary.

Every column is described once here; the methods page lists these descriptions. The table is
validated (``lazy=True``, every failure at once) before it is written to
``data/metrics/benchmarks.parquet``, so a broken engine never replaces a good table.
"""

from __future__ import annotations

from pathlib import Path

import pandera.polars as pa
import polars as pl
from pandera.typing.polars import Series

from sendstats.benchmarking.bands import BANDS
from sendstats.benchmarking.funnel import FUNNEL_POSITIONS, SIGNIFICANCE_LABELS
from sendstats.benchmarking.reliability import RELIABILITY_LEVELS
from sendstats.core.checks import validate_frame
from sendstats.metrics.schema import interval_contains_value


def _num(description: str, ge: float | None = None, le: float | None = None) -> Series[pl.Float64]:
    return pa.Field(nullable=True, description=description, ge=ge, le=le)  # type: ignore[no-any-return]


class BenchmarksTable(pa.DataFrameModel):
    """One row per metric, LA and period: the value against every comparator."""

    metric_id: Series[str] = pa.Field(description="Metric id from the registry (unit suffix).")
    la_code_dfe: Series[str] = pa.Field(str_matches=r"^\d{3}$", description="3-digit DfE code.")
    area_code: Series[str] = pa.Field(str_matches=r"^E\d{8}$", description="LA GSS code.")
    area_name: Series[str] = pa.Field(description="LA name (DfE spelling).")
    region_code: Series[str] = pa.Field(nullable=True, description="Region GSS code.")
    region_name: Series[str] = pa.Field(nullable=True, description="Region name.")
    year: Series[pl.Int32] = pa.Field(
        ge=2009, le=2030, description="January (academic), calendar year, or FY start year."
    )
    period_type: Series[str] = pa.Field(
        isin=["academic_year", "calendar_year", "financial_year"], description="Period coding."
    )
    unit: Series[str] = pa.Field(description="count, pct, index, per_10k or gbp.")
    polarity: Series[str] = pa.Field(
        isin=["high_is_good", "low_is_good", "neither"], description="Which way is good."
    )
    statistic: Series[str] = pa.Field(
        isin=["proportion", "count", "rate", "other"],
        description="Kind of number: decides the interval, funnel and significance.",
    )
    value: Series[pl.Float64] = _num("The LA's value, in the metric's unit.")
    numerator: Series[pl.Float64] = _num("Numerator of the value, where it has one.")
    denominator: Series[pl.Float64] = _num("Denominator of the value, where it has one.")
    release: Series[str] = pa.Field(description="Release the value came from.")
    source_file: Series[str] = pa.Field(description="Pinned file the value came from.")
    file_sha256: Series[str] = pa.Field(
        str_matches=r"^[0-9a-f]{64}$", description="sha256 of that file."
    )
    note: Series[str] = pa.Field(nullable=True, description="Caveat on this value.")
    reliability: Series[str] = pa.Field(
        isin=list(RELIABILITY_LEVELS),
        description=(
            "Small-numbers rule (benchmarking.reliability): 'not ranked' (base under 10: no "
            "rank, percentile, band, funnel position or significance), 'caution' (base under "
            "30), 'reliable', 'not assessed' (a count or amount) or 'not published' (no value)."
        ),
    )
    reliability_base: Series[pl.Float64] = _num(
        "The base the rule looked at: the denominator, or the events counted for a rate per "
        "population; null for counts and amounts."
    )
    reliability_reason: Series[str] = pa.Field(
        description="Why, in words a report can show (e.g. 'base 2 is under 10: not ranked')."
    )
    rank: Series[pl.Int32] = pa.Field(
        nullable=True, ge=1, description="National rank, 1 = highest value, ties shared."
    )
    n_ranked: Series[pl.Int32] = pa.Field(nullable=True, ge=1, description="LAs ranked.")
    percentile: Series[pl.Float64] = _num(
        "% of LAs with a lower value plus half the ties (0-100).", ge=0, le=100
    )
    band: Series[str] = pa.Field(
        nullable=True, isin=list(BANDS), description="LAIT quartile band A-D (see band_rule)."
    )
    band_rule: Series[str] = pa.Field(description="How bands are cut and which end is A.")
    ci95_low: Series[pl.Float64] = _num("95% interval, low (Wilson or Byar).")
    ci95_high: Series[pl.Float64] = _num("95% interval, high.")
    ci998_low: Series[pl.Float64] = _num("99.8% interval, low.")
    ci998_high: Series[pl.Float64] = _num("99.8% interval, high.")
    england_value: Series[pl.Float64] = _num("England's value for the period.")
    england_rule: Series[str] = pa.Field(description="How the England value was averaged.")
    england_n_las: Series[pl.Int32] = pa.Field(
        nullable=True, ge=0, description="LAs England is pooled over (metric table's n_las)."
    )
    england_published_value: Series[pl.Float64] = _num(
        "The publisher's own England figure, where one is published (it may cover other LAs)."
    )
    gap_england: Series[pl.Float64] = _num("value - England (null for totals: counts, GBP).")
    region_value: Series[pl.Float64] = _num("The LA's region's value.")
    region_rule: Series[str] = pa.Field(description="How the region value was averaged.")
    region_n_las: Series[pl.Int32] = pa.Field(
        nullable=True, ge=0, description="LAs the region is pooled over."
    )
    region_published_value: Series[pl.Float64] = _num(
        "The publisher's own region figure, where one is published."
    )
    gap_region: Series[pl.Float64] = _num("value - region (null for totals).")
    sn2021_value: Series[pl.Float64] = _num("Mean of the LA's neighbours, April 2021 SN set.")
    sn2021_n: Series[pl.Int32] = pa.Field(
        nullable=True, ge=1, le=10, description="Neighbours with a value (2021 set)."
    )
    gap_sn2021: Series[pl.Float64] = _num("value - 2021 SN mean.")
    sn2025_value: Series[pl.Float64] = _num("Mean of the LA's neighbours, May 2025 SN set.")
    sn2025_n: Series[pl.Int32] = pa.Field(
        nullable=True, ge=1, le=10, description="Neighbours with a value (2025 set)."
    )
    gap_sn2025: Series[pl.Float64] = _num("value - 2025 SN mean.")
    sn_rule: Series[str] = pa.Field(description="How the neighbour values were averaged.")
    change_prev: Series[pl.Float64] = _num("value - value a period earlier (pp for %).")
    change_prev_spans_break: Series[bool] = pa.Field(
        nullable=True, description="The change crosses a series break in the registry."
    )
    change_5y: Series[pl.Float64] = _num("value - value five periods earlier.")
    change_5y_spans_break: Series[bool] = pa.Field(
        nullable=True, description="The five-year change crosses a series break."
    )
    change_note: Series[str] = pa.Field(nullable=True, description="Which break a change crosses.")
    funnel95_low: Series[pl.Float64] = _num("95% funnel limit around England at this denominator.")
    funnel95_high: Series[pl.Float64] = _num("95% funnel limit, high.")
    funnel998_low: Series[pl.Float64] = _num("99.8% funnel limit, low.")
    funnel998_high: Series[pl.Float64] = _num("99.8% funnel limit, high.")
    funnel_position: Series[str] = pa.Field(
        nullable=True, isin=list(FUNNEL_POSITIONS), description="Where the value lies."
    )
    funnel_note: Series[str] = pa.Field(nullable=True, description="Overdispersion note.")
    significance: Series[str] = pa.Field(
        isin=list(SIGNIFICANCE_LABELS), description="Better/Similar/Worse vs England."
    )
    significance_method: Series[str] = pa.Field(description="Which limits the label used.")

    class Config:
        """Strict columns; one row per metric, LA and period."""

        strict = True
        unique = ["metric_id", "la_code_dfe", "year"]  # noqa: RUF012

    @pa.dataframe_check
    def intervals_contain_value(cls, data: pa.PolarsData) -> pl.LazyFrame:  # type: ignore[misc]  # noqa: N805
        """Check that each interval contains its value (a little float slack)."""
        return data.lazyframe.select(interval_contains_value())

    @pa.dataframe_check
    def comparators_named(cls, data: pa.PolarsData) -> pl.LazyFrame:  # type: ignore[misc]  # noqa: N805
        """Check that a comparator value never appears without its averaging rule."""
        return data.lazyframe.select(
            pl.col("england_value").is_null() | (pl.col("england_rule").str.len_chars() > 0)
        )


def validate(df: pl.DataFrame, where: Path) -> pl.DataFrame:
    """Validate the benchmarks table, raising one error that names column and row."""
    return validate_frame(BenchmarksTable, df, where, stage="benchmarks")


def data_dictionary() -> list[tuple[str, str, str]]:
    """Return (column, type, description) for every column of the benchmarks table."""
    schema = BenchmarksTable.to_schema()
    return [(name, str(col.dtype), col.description or "") for name, col in schema.columns.items()]
