"""The columns every tidy table has, described once: provenance, period, area, value, status.

Each source's tidy model inherits :class:`TidyBase` and narrows what it must (its source id,
its releases, its measures, the levels it publishes), adding its own columns. So a value of any
source can be traced the same way (``source_id``, ``release``, ``source_file``, ``file_sha256``),
joined the same way (``area_code``, ``la_code_dfe``, ``period_type``, ``year``) and read the same
way (``value`` null exactly where the publisher printed a marker, whose text is in ``status``).
"""

from __future__ import annotations

import pandera.polars as pa
import polars as pl
from pandera.typing.polars import Series

PERIOD_TYPES = ("academic_year", "calendar_year", "financial_year")
LEVELS = ("National", "Regional", "Local authority")


class TidyBase(pa.DataFrameModel):
    """Columns shared by every tidy table (a source's model narrows and extends them)."""

    source_id: Series[str] = pa.Field(description="Source declaration id (data_sources/<id>).")
    release: Series[str] = pa.Field(description="Release the value was published in.")
    source_file: Series[str] = pa.Field(description="Pinned file name within the release.")
    file_sha256: Series[str] = pa.Field(
        str_matches=r"^[0-9a-f]{64}$", description="sha256 of the raw file read."
    )
    measure: Series[str] = pa.Field(description="sendstats measure id; unit as suffix.")
    period_type: Series[str] = pa.Field(
        isin=list(PERIOD_TYPES),
        description="academic_year = January census of `year`; calendar_year = `year`; "
        "financial_year = April of `year` to March.",
    )
    year: Series[pl.Int32] = pa.Field(ge=2009, le=2030, description="Year the period starts in.")
    geographic_level: Series[str] = pa.Field(isin=list(LEVELS))
    area_code: Series[str] = pa.Field(
        str_matches=r"^E\d{8}$", description="GSS code: E92 England, E12 region, LA code."
    )
    area_name: Series[str] = pa.Field(description="Canonical name (the crosswalk's spelling).")
    la_code_dfe: Series[str] = pa.Field(
        nullable=True, str_matches=r"^\d{3}$", description="3-digit DfE LA code (LA rows)."
    )
    region_code: Series[str] = pa.Field(nullable=True, description="Region GSS code.")
    region_name: Series[str] = pa.Field(nullable=True, description="Region name.")
    value: Series[pl.Float64] = pa.Field(
        nullable=True, description="Published value; null where a marker was published."
    )
    status: Series[str] = pa.Field(description="'ok' or the publisher's marker.")

    @pa.dataframe_check
    def values_are_finite(cls, data: pa.PolarsData) -> pl.LazyFrame:  # type: ignore[misc]  # noqa: N805
        """Check no value is infinite or NaN: a refused number never reaches a table."""
        return data.lazyframe.select(pl.col("value").is_null() | pl.col("value").is_finite())
