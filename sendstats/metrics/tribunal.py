"""SEND Tribunal metrics: appeals registered and appeal rates by method, LA, region and England.

Input is the long tidy table ``moj_send_tribunal__appeals`` (every release). For each measure,
method, year and area the newest release wins; region rates are pooled from the LA rows (sum of
appeals / sum of appealable decisions, as the DfE dashboard does), because the publishers' region
rows are headings without values. England keeps the published row. Each method of counting
appealable decisions is its own metric.
"""

from __future__ import annotations

import polars as pl

from sendstats.core.vocab import (
    METHOD_2018,
    METHOD_ANNUAL_REVIEWS,
    TRIBUNAL_METHODS,
    TRIBUNAL_SOURCE_ID,
)
from sendstats.metrics.common import AREA_ATTRS, AREA_KEYS, PROV, finish, make_rows, pool
from sendstats.metrics.registry import MetricDef, register

SOURCE = TRIBUNAL_SOURCE_ID
#: sendstats metric id suffix for each of the publisher's methods.
METHOD_METRICS = {
    METHOD_2018: "tribunal_appeal_rate_pct",
    METHOD_ANNUAL_REVIEWS: "tribunal_appeal_rate_annual_reviews_pct",
}

register(
    MetricDef(
        id="tribunal_appeals_count",
        title="SEND Tribunal appeals registered",
        definition="Appeals to the SEND Tribunal registered against the LA in the calendar year.",
        unit="count",
        polarity="neither",
        period_type="calendar_year",
        sources=(SOURCE,),
        statistic="count",
        caveats=(
            "'-' in the tables is zero (the MoJ legend); City of London and Isles of Scilly "
            "have very few appeals, so their rates are unstable.",
        ),
    ),
    MetricDef(
        id="tribunal_appeal_rate_pct",
        title="SEND Tribunal appeal rate (%)",
        definition=(
            "Appeals registered as a % of total appealable decisions. "
            + TRIBUNAL_METHODS[METHOD_2018]
        ),
        unit="pct",
        polarity="neither",
        period_type="calendar_year",
        sources=(SOURCE,),
        numerator="tribunal_appeals_count",
        denominator="total appealable decisions (2018 method)",
        method="MoJ/DfE published rate; regions pooled by sendstats (sum / sum)",
        statistic="proportion",
        series_breaks=("2024: a new method counting annual reviews is published alongside.",),
    ),
    MetricDef(
        id="tribunal_appeal_rate_annual_reviews_pct",
        title="SEND Tribunal appeal rate, annual-reviews method (%)",
        definition=(
            "Appeals registered as a % of total appealable decisions counted with annual "
            "reviews. " + TRIBUNAL_METHODS[METHOD_ANNUAL_REVIEWS]
        ),
        unit="pct",
        polarity="neither",
        period_type="calendar_year",
        sources=(SOURCE,),
        numerator="tribunal_appeals_count",
        denominator="total appealable decisions (annual-reviews method)",
        method="MoJ/DfE published rate; regions pooled by sendstats (sum / sum)",
        statistic="proportion",
        series_breaks=("Published from 2024 only; not comparable with the 2018 method.",),
    ),
)


def _chosen(tidy: pl.DataFrame) -> pl.DataFrame:
    return tidy.sort("release", descending=True).unique(
        subset=["measure", "method", "year", *AREA_KEYS], keep="first", maintain_order=True
    )


def _wide(chosen: pl.DataFrame, method: str) -> pl.DataFrame:
    base = chosen.filter(pl.col("method") == method)
    keys = [*AREA_KEYS, *AREA_ATTRS, "year", "period_type"]
    appeals = base.filter(pl.col("measure") == "appeals_registered_count").select(
        *keys, *PROV, pl.col("value").alias("appeals")
    )
    decisions = base.filter(pl.col("measure") == "appealable_decisions_count").select(
        *AREA_KEYS, "year", pl.col("value").alias("decisions")
    )
    return appeals.join(decisions, on=[*AREA_KEYS, "year"], how="left")


def _pooled_regions(la: pl.DataFrame) -> pl.DataFrame:
    ok = la.filter(pl.col("appeals").is_not_null() & pl.col("decisions").is_not_null())
    return pool(ok, ["appeals", "decisions"], level="Regional")


def compute(tidy: pl.DataFrame) -> pl.DataFrame:
    """Compute appeals and appeal rates per method for England, regions (pooled) and LAs."""
    chosen = _chosen(tidy)
    frames = []
    cols = [*AREA_KEYS, *AREA_ATTRS, "year", "period_type", *PROV, "appeals", "decisions"]
    for method, metric_id in METHOD_METRICS.items():
        wide = _wide(chosen, method).select(cols)
        la = wide.filter(pl.col("geographic_level") == "Local authority")
        regions = _pooled_regions(la)
        every = pl.concat([wide, regions.select(cols)], how="vertical_relaxed")
        rated = every.filter(pl.col("decisions") > 0)
        frames.append(
            make_rows(
                rated,
                metric_id,
                pl.col("appeals") / pl.col("decisions") * 100,
                numerator=pl.col("appeals"),
                denominator=pl.col("decisions"),
                note=pl.when(pl.col("geographic_level") == "Regional").then(
                    pl.lit("region pooled by sendstats: sum of LA appeals / sum of decisions")
                ),
            )
        )
        if method == METHOD_2018:
            frames.append(
                make_rows(
                    every.filter(pl.col("appeals").is_not_null()),
                    "tribunal_appeals_count",
                    pl.col("appeals"),
                    numerator=pl.col("appeals"),
                )
            )
    return finish(
        frames,
        proportions=list(METHOD_METRICS.values()),
        counts=["tribunal_appeals_count"],
    )
