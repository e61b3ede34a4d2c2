"""The contract every metric table meets (``data/metrics/<theme>.parquet``), and its dictionary.

All themes share one layout (:data:`sendstats.metrics.common.METRIC_COLUMNS`); this schema
describes each column once and is checked (``lazy=True``, every failure at once) before a
metric table is written, so a broken computation never replaces a good table.
"""

from __future__ import annotations

from pathlib import Path

import pandera.polars as pa
import polars as pl
from pandera.typing.polars import Series

from sendstats.core.checks import validate_frame


def interval_contains_value() -> pl.Expr:
    """Return True where the 95% interval is absent or contains the value (float slack 1e-9)."""
    v = pl.col("value")
    return (
        pl.col("ci95_low").is_null()
        | v.is_null()
        | ((pl.col("ci95_low") <= v + 1e-9) & (v <= pl.col("ci95_high") + 1e-9))
    )


class MetricsTable(pa.DataFrameModel):
    """One row per metric, area and period: the value with its arithmetic and provenance."""

    metric_id: Series[str] = pa.Field(description="Metric id from the registry (unit suffix).")
    geographic_level: Series[str] = pa.Field(
        isin=["National", "Regional", "Local authority"], description="Level of the area."
    )
    area_code: Series[str] = pa.Field(
        str_matches=r"^E\d{8}$", description="GSS code: E92 England, E12 region, LA code."
    )
    area_name: Series[str] = pa.Field(description="Area name (DfE spelling for LAs).")
    la_code_dfe: Series[str] = pa.Field(
        nullable=True, str_matches=r"^\d{3}$", description="3-digit DfE code (LA rows)."
    )
    region_code: Series[str] = pa.Field(nullable=True, description="Region GSS code.")
    region_name: Series[str] = pa.Field(nullable=True, description="Region name.")
    year: Series[pl.Int32] = pa.Field(
        ge=2009, le=2030, description="January (academic), calendar year, or FY start year."
    )
    period_type: Series[str] = pa.Field(
        isin=["academic_year", "calendar_year", "financial_year"], description="Period coding."
    )
    value: Series[pl.Float64] = pa.Field(nullable=True, description="The metric's value.")
    numerator: Series[pl.Float64] = pa.Field(nullable=True, description="Numerator, if any.")
    denominator: Series[pl.Float64] = pa.Field(nullable=True, description="Denominator, if any.")
    release: Series[str] = pa.Field(nullable=True, description="Release the value came from.")
    source_file: Series[str] = pa.Field(nullable=True, description="Pinned file it came from.")
    file_sha256: Series[str] = pa.Field(
        nullable=True, str_matches=r"^[0-9a-f]{64}$", description="sha256 of that file."
    )
    denominator_release: Series[str] = pa.Field(
        nullable=True, description="Release of the population a rate per head divides by."
    )
    denominator_file: Series[str] = pa.Field(
        nullable=True, description="File of that population (the ONS workbook read)."
    )
    denominator_sha256: Series[str] = pa.Field(
        nullable=True, str_matches=r"^[0-9a-f]{64}$", description="sha256 of that file."
    )
    spans_break: Series[bool] = pa.Field(
        nullable=True, description="The value's arithmetic crosses a series break."
    )
    note: Series[str] = pa.Field(nullable=True, description="Caveat on this value.")
    n_las: Series[pl.Int32] = pa.Field(
        nullable=True,
        ge=0,
        description=(
            "England and region rows: LAs pooled (value, numerator and denominator known); "
            "null on LA rows and on published figures with no LA figures to pool."
        ),
    )
    published_value: Series[pl.Float64] = pa.Field(
        nullable=True, description="England and region rows: the publisher's own figure, if any."
    )
    published_note: Series[str] = pa.Field(
        nullable=True, description="Why the published figure differs from the pooled value."
    )
    rank: Series[pl.Int32] = pa.Field(
        nullable=True, ge=1, description="National rank among LAs, 1 = highest, ties shared."
    )
    n_ranked: Series[pl.Int32] = pa.Field(nullable=True, ge=1, description="LAs ranked.")
    ci95_low: Series[pl.Float64] = pa.Field(nullable=True, description="95% interval, low.")
    ci95_high: Series[pl.Float64] = pa.Field(nullable=True, description="95% interval, high.")
    ci998_low: Series[pl.Float64] = pa.Field(nullable=True, description="99.8% interval, low.")
    ci998_high: Series[pl.Float64] = pa.Field(nullable=True, description="99.8% interval, high.")

    class Config:
        """Strict columns; one row per metric, area and period."""

        strict = True
        unique = ["metric_id", "geographic_level", "area_code", "year"]  # noqa: RUF012

    @pa.dataframe_check
    def rank_within_n(cls, data: pa.PolarsData) -> pl.LazyFrame:  # type: ignore[misc]  # noqa: N805
        """Check that a rank never exceeds the number of LAs ranked."""
        return data.lazyframe.select(
            pl.col("rank").is_null() | (pl.col("rank") <= pl.col("n_ranked"))
        )

    @pa.dataframe_check
    def intervals_contain_value(cls, data: pa.PolarsData) -> pl.LazyFrame:  # type: ignore[misc]  # noqa: N805
        """Check that each 95% interval contains its value (a little float slack)."""
        return data.lazyframe.select(interval_contains_value())


def validate(df: pl.DataFrame, where: Path) -> pl.DataFrame:
    """Validate a metric table and check every id is registered; name column and row on error.

    Raises:
        RawInputError: the table breaks the contract (file, column and row named).
        ValueError: a metric id is not in the registry.

    """
    from sendstats.metrics.registry import all_metrics

    unknown = set(df["metric_id"].unique()) - {m.id for m in all_metrics()}
    if unknown:
        raise ValueError(f"{where}: metrics not in the registry: {', '.join(sorted(unknown))}")
    return validate_frame(MetricsTable, df, where, stage="metrics")
