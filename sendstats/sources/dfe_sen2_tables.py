"""The tidy layout shared by the further SEN2 tables (placements, reviews), without the reader.

:mod:`sendstats.sources.dfe_sen2` reads the EHC plan series from its layout file; the further
tables read other files of the same declaration. They share this model rather than importing
that reader, so that editing the EHC plan layout reruns that step only (a step's fingerprint
follows its imports).
"""

from __future__ import annotations

import pandera.polars as pa
import polars as pl
from pandera.typing.polars import Series

from sendstats.sources.base import TidyBase

SOURCE_ID = "dfe_sen2"
#: Statuses: 'ok' or one of the EES markers (the further tables have no known errors).
ALLOWED_STATUS = ("ok", "x", "z", "c", "low", "u", ":", "N/A")


class Sen2TableTidy(TidyBase):
    """One row per release, file, measure, year and area of a further SEN2 table."""

    source_id: Series[str] = pa.Field(isin=[SOURCE_ID], description="Source declaration id.")
    raw_row: Series[pl.UInt32] = pa.Field(description="1-based data row in the raw file.")
    time_period: Series[str] = pa.Field(description="Period as published (e.g. 202425, 2024).")
    period_type: Series[str] = pa.Field(
        isin=["academic_year", "calendar_year"],
        description="academic_year = January census of `year`; calendar_year = flow in `year`.",
    )
    value: Series[pl.Float64] = pa.Field(
        nullable=True, ge=0, description="Published value; null where a marker was published."
    )
    status: Series[str] = pa.Field(
        isin=list(ALLOWED_STATUS), description="'ok' or the publisher's marker (x, z ...)."
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
