"""SEND Tribunal metrics: appeals registered and appeal rates by method, LA, region and England.

Input is the long tidy table ``moj_send_tribunal__appeals`` (every release). For each measure,
method, year and area the newest release wins; region rates are pooled from the LA rows (sum of
appeals / sum of appealable decisions, as the DfE dashboard does), because the publishers' region
rows are headings without values. England is pooled the same way, over the same LAs, with the
published England Total kept beside it (issue 17). Each method of counting appealable
decisions is its own metric.
"""

from __future__ import annotations

import polars as pl

from sendstats.core.vocab import (
    METHOD_2018,
    METHOD_ANNUAL_REVIEWS,
    TRIBUNAL_METHODS,
    TRIBUNAL_SOURCE_ID,
)
from sendstats.metrics import caveats as cv
from sendstats.metrics.common import AREA_ATTRS, AREA_KEYS, ENGLAND_CODE, PROV, finish, make_rows
from sendstats.metrics.comparators import value_ratio, value_sum, with_pooled_comparators
from sendstats.metrics.registry import MetricDef, register

SOURCE = TRIBUNAL_SOURCE_ID
#: sendstats metric id suffix for each of the publisher's methods.
METHOD_METRICS = {
    METHOD_2018: "tribunal_appeal_rate_pct",
    METHOD_ANNUAL_REVIEWS: "tribunal_appeal_rate_annual_reviews_pct",
}

#: City of London and Isles of Scilly (DfE codes): appeals too few for a stable rate.
FEW_APPEALS = cv.for_las(
    ("201", "420"),
    "Appeal rates for {names} rest on very few appeals and swing widely from year to year.",
)

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
        caveats=(cv.method("'-' in the publisher's tables is zero (the MoJ legend)."), FEW_APPEALS),
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
        method=(
            "MoJ/DfE published LA rates; England and regions pooled by sendstats over the LAs "
            "with both figures (sum / sum), the published England Total kept beside"
        ),
        statistic="proportion",
        series_breaks=(
            cv.series_break(
                2023,
                "2023: the publisher warns against comparing 2023 appealable decisions with "
                "earlier years (the move to the person-level SEN2 collection from 2022; "
                "footnote 9 of the 2014-2024 file).",
            ),
            cv.every_la("2024: a new method counting annual reviews is published alongside."),
        ),
        caveats=(FEW_APPEALS,),
        break_years=(2023,),
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
        method=(
            "MoJ/DfE published LA rates; England and regions pooled by sendstats over the LAs "
            "with both figures (sum / sum), the published England Total kept beside"
        ),
        statistic="proportion",
        series_breaks=(
            cv.every_la("Published from 2024 only; not comparable with the 2018 method."),
        ),
        caveats=(
            cv.every_la(
                "2024 and 2025: the published England Total divides the appeals of every LA by "
                "the appealable decisions of the LAs whose decisions are not suppressed (2024: "
                "22,276 / 364,912 = 6.1%); sendstats pools both over the same LAs (2024: 20,771 "
                "/ 364,912 = 5.7%, which the publisher's 'England total excluding suppressed' "
                "row also prints) and shows the published figure beside it."
            ),
        ),
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


SUPPRESSED_NOTE = (
    "; its appeals count the LAs whose appealable decisions are suppressed (x), while its "
    "decisions leave them out"
)


def compute(tidy: pl.DataFrame) -> pl.DataFrame:
    """Compute appeals and appeal rates per method for LAs, with England and regions pooled.

    England and each region are pooled over the LAs whose appeals and appealable decisions are
    both published (sum / sum, :func:`with_pooled_comparators`); the publisher's England Total
    is kept beside it (``published_value``), with a note where it differs (2024 and 2025 on the
    annual-reviews method, whose England Total counts appeals of LAs with suppressed decisions).
    """
    chosen = _chosen(tidy)
    frames = []
    cols = [*AREA_KEYS, *AREA_ATTRS, "year", "period_type", *PROV, "appeals", "decisions"]
    for method, metric_id in METHOD_METRICS.items():
        wide = _wide(chosen, method).select(cols)
        # LAs publishing either figure: one lacking the other is left out and named.
        rated = wide.filter(
            (pl.col("decisions") > 0) | pl.col("appeals").is_not_null()
        ).with_columns(pl.when(pl.col("decisions") > 0).then(pl.col("decisions")))
        rows = make_rows(
            rated,
            metric_id,
            pl.col("appeals") / pl.col("decisions") * 100,
            numerator=pl.col("appeals"),
            denominator=pl.col("decisions"),
        )
        pooled = with_pooled_comparators(rows, value_ratio(100.0), what="appeals and decisions")
        frames.append(
            pooled.with_columns(
                pl.when(
                    pl.col("published_note").is_not_null()
                    & (pl.col("area_code") == ENGLAND_CODE)
                    & pl.lit(method == METHOD_ANNUAL_REVIEWS)
                )
                .then(pl.col("published_note") + pl.lit(SUPPRESSED_NOTE))
                .otherwise(pl.col("published_note"))
                .alias("published_note")
            )
        )
        if method == METHOD_2018:
            counts = make_rows(
                wide.filter(pl.col("appeals").is_not_null()),
                "tribunal_appeals_count",
                pl.col("appeals"),
                numerator=pl.col("appeals"),
            )
            frames.append(
                with_pooled_comparators(counts, value_sum, needs_denominator=False, what="appeals")
            )
    return finish(
        frames,
        proportions=list(METHOD_METRICS.values()),
        counts=["tribunal_appeals_count"],
    )
