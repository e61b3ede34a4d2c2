"""Derived rates per 10,000 residents aged 0-25: EHC plans and SEND Tribunal appeals.

Neither rate is published: both are derived by sendstats from a published count and an ONS
mid-year population estimate, whose vintage is named on every row. A January count uses the
mid-year before it (January 2020 -> mid-2019); a calendar-year count uses its own mid-year.
Regions and England are pooled over the LAs that have both numbers (sum / sum), never a mean
of LA rates. Intervals: Byar's interval for the count, divided by the population.
"""

from __future__ import annotations

import polars as pl

from sendstats.metrics.common import AREA_ATTRS, PROV, finish, pool
from sendstats.metrics.registry import MetricDef, register
from sendstats.metrics.stats import Z_95, Z_998, byar_exprs

#: derived metric id -> (count metric it divides, years between the mid-year and the period)
RATES = {
    "ehc_plans_per_10k_0_25": ("ehc_plans_count", 1),
    "tribunal_appeals_per_10k_0_25": ("tribunal_appeals_count", 0),
}

_POP = (
    "ONS mid-year population estimate aged 0-25 (mid-2017 to mid-2020 held, pre-2021-Census "
    "series; later vintages are declared but not pinned)"
)
register(
    MetricDef(
        id="ehc_plans_per_10k_0_25",
        title="EHC plans per 10,000 residents aged 0-25",
        definition=(
            "EHC plans at January per 10,000 residents aged 0 to 25 at the mid-year before "
            "(January 2020 uses mid-2019). Not published by DfE: derived by sendstats."
        ),
        unit="per_10k",
        polarity="neither",
        period_type="academic_year",
        sources=("dfe_sen2", "ons_population"),
        numerator="ehc_plans_count",
        denominator=_POP,
        official=False,
        method="count / population x 10,000; regions and England pooled over LAs",
        statistic="rate",
        caveats=("Only years with a held population estimate (January 2018 to 2021).",),
    ),
    MetricDef(
        id="tribunal_appeals_per_10k_0_25",
        title="SEND Tribunal appeals per 10,000 residents aged 0-25",
        definition=(
            "SEND Tribunal appeals registered in the calendar year per 10,000 residents aged 0 "
            "to 25 at that year's mid-year. Not the MoJ appeal rate: derived by sendstats."
        ),
        unit="per_10k",
        polarity="neither",
        period_type="calendar_year",
        sources=("moj_send_tribunal", "ons_population"),
        numerator="tribunal_appeals_count",
        denominator=_POP,
        official=False,
        method="count / population x 10,000; regions and England pooled over LAs",
        statistic="rate",
        caveats=("Only years with a held population estimate (2017 to 2020).",),
    ),
)


def _rate_rows(counts: pl.DataFrame, pop: pl.DataFrame, metric_id: str, lag: int) -> pl.DataFrame:
    la = counts.filter(pl.col("geographic_level") == "Local authority").with_columns(
        (pl.col("year") - lag).cast(pl.Int64).alias("mid_year")
    )
    la = la.join(pop, on=["la_code_dfe", "mid_year"], how="inner").filter(
        pl.col("value").is_not_null() & (pl.col("population") > 0)
    )
    la = la.with_columns(
        pl.col("value").alias("num"), pl.col("population").cast(pl.Float64).alias("den")
    )
    cols = ["geographic_level", "area_code", *AREA_ATTRS, "year", "period_type", *PROV]
    la_rows = la.select(*cols, "num", "den", "population_vintage")
    # Pooled rows name the plain vintage label (the shortest), not a predecessor's variant.
    vintage = pl.col("population_vintage").sort_by(pl.col("population_vintage").str.len_chars())
    extra = [vintage.first()]
    region = pool(la, ["num", "den"], level="Regional", extra=extra)
    england = pool(la, ["num", "den"], level="National", extra=extra)
    rows = pl.concat([la_rows, region, england], how="vertical_relaxed")
    return rows.select(
        pl.lit(metric_id).alias("metric_id"),
        "geographic_level",
        "area_code",
        *AREA_ATTRS,
        "year",
        "period_type",
        (pl.col("num") / pl.col("den") * 10_000).alias("value"),
        pl.col("num").alias("numerator"),
        pl.col("den").alias("denominator"),
        *PROV,
        pl.lit(False).alias("spans_break"),
        pl.concat_str(pl.lit("denominator: "), pl.col("population_vintage")).alias("note"),
    )


def compute(metrics: pl.DataFrame, population: pl.DataFrame) -> pl.DataFrame:
    """Derive the per-10,000 rates from count metrics and a population frame.

    Args:
        metrics: metric rows holding the count metrics named in :data:`RATES`.
        population: ``la_code_dfe``, ``mid_year``, ``population``, ``population_vintage``.

    """
    frames = [
        _rate_rows(metrics.filter(pl.col("metric_id") == count), population, metric_id, lag)
        for metric_id, (count, lag) in RATES.items()
    ]
    out = finish(frames)
    # Byar interval of the count, scaled by the same population.
    cols = []
    for z, tag in ((Z_95, "95"), (Z_998, "998")):
        low, high = byar_exprs(pl.col("numerator"), z)
        scale = 10_000 / pl.col("denominator")
        cols += [(low * scale).alias(f"ci{tag}_low"), (high * scale).alias(f"ci{tag}_high")]
    return out.with_columns(cols)
