"""Adult outcome metrics from ASCOF: adults with a learning disability in paid work or at home.

Input is the tidy table ``nhs_ascof__ld_employment``. The published percentage is kept as the
value (it is reproduced from numerator / denominator when the table is built), with Wilson
intervals; outlying values carry their caveat in the note rather than being dropped.

A value whose counts the publisher suppressed (``[c]``, ``[x]``: Isles of Scilly's 1E is
printed as 0 with its counts suppressed) is **not published** here (issue 17): the row is kept
with no value, so it gets no rank, band, interval or significance, and its note says so. England
and regions are pooled over the councils with both counts (sum / sum), the published figure
(printed to 1 dp) beside.
"""

from __future__ import annotations

import polars as pl

from sendstats.metrics import caveats as cv
from sendstats.metrics.common import finish, make_rows
from sendstats.metrics.comparators import value_ratio, with_pooled_comparators
from sendstats.metrics.registry import MetricDef, register
from sendstats.metrics.stats import OUTLIER_ROBUST_Z, outlier_flag_expr

SOURCE = "nhs_ascof"
#: Published percentages are printed to 1 dp: a pooled figure within half of that agrees.
PUBLISHED_PRECISION = 0.05
NOT_PUBLISHED = (
    "not published: the publisher withheld this council's counts ({status}; [c] suppressed, [x] "
    "not available); its printed "
    "outcome is not used, so no rank, band, interval or significance"
)
_BEFORE, _AFTER = NOT_PUBLISHED.split("{status}")
SUPPRESSED = cv.when_suppressed(
    "NHS England withheld this council's counts in a year shown ([c] suppressed, [x] not "
    "available): its printed outcome is not used, so that year has no value, rank or comparison."
)
OUTLIER_CAVEAT = (
    f"value more than {OUTLIER_ROBUST_Z:g} robust z-scores (1.4826 x MAD) from the median "
    "of councils for this measure and year: check with the council before use"
)


def _outlier_caveats(total: pl.DataFrame) -> pl.DataFrame:
    """Flag councils whose value lies far from the others' (same measure and year), keeping it.

    The flag is added to the row's caveat; the value stays, since an implausible figure is the
    publisher's to correct, not ours to drop (one council reported 26.8% in 2019-20).
    """
    la = pl.col("geographic_level") == "Local authority"
    la_value = pl.when(la).then(pl.col("value"))
    flagged = la & outlier_flag_expr(la_value, over=["measure", "year"])
    return total.with_columns(
        pl.concat_str(
            pl.when(flagged).then(pl.lit(OUTLIER_CAVEAT)),
            pl.col("caveat"),
            separator="; ",
            ignore_nulls=True,
        )
        .replace("", None)
        .alias("caveat")
    )


MEASURES = {
    "ascof_1e": "ascof_1e_ld_paid_employment_pct",
    "ascof_1g": "ascof_1g_ld_own_home_or_family_pct",
}

register(
    MetricDef(
        id="ascof_1e_ld_paid_employment_pct",
        title="Adults with a learning disability in paid employment (ASCOF 1E, %)",
        definition=(
            "Adults aged 18-64 with a primary support reason of learning disability, receiving "
            "long-term support during the year, who are in paid employment, as a % of all such "
            "adults (ASCOF 1E, to 2022-23)."
        ),
        unit="pct",
        polarity="high_is_good",
        period_type="financial_year",
        sources=(SOURCE,),
        numerator="adults 18-64 with a learning disability in paid employment",
        denominator="adults 18-64 with a learning disability receiving long-term support",
        series_breaks=(
            cv.series_break(2014, "2014-15: cohort changed to adults receiving long-term support."),
            cv.series_break(
                2023,
                "2023-24: ASCOF revised and renumbered; the old and new series are kept apart.",
            ),
        ),
        statistic="proportion",
        break_years=(2014, 2023),
        caveats=(
            cv.method("Values far from the distribution are flagged, not dropped."),
            SUPPRESSED,
        ),
    ),
    MetricDef(
        id="ascof_1g_ld_own_home_or_family_pct",
        title="Adults with a learning disability living in their own home or with family "
        "(ASCOF 1G, %)",
        definition=(
            "Adults aged 18-64 with a learning disability receiving long-term support who live "
            "in their own home or with their family, as a % of all such adults (ASCOF 1G)."
        ),
        unit="pct",
        polarity="high_is_good",
        period_type="financial_year",
        sources=(SOURCE,),
        numerator="adults 18-64 with a learning disability in their own home or with family",
        denominator="adults 18-64 with a learning disability receiving long-term support",
        series_breaks=(cv.series_break(2023, "2023-24: ASCOF revised and renumbered."),),
        statistic="proportion",
        break_years=(2023,),
        caveats=(SUPPRESSED,),
    ),
)


def compute(tidy: pl.DataFrame) -> pl.DataFrame:
    """Return ASCOF 1E and 1G (all adults, not by sex) for England, regions and councils."""
    total = tidy.filter(pl.col("disaggregation") == "Total").sort("release", descending=True)
    total = total.unique(subset=["measure", "year", "geographic_level", "area_code"], keep="first")
    total = _outlier_caveats(total)
    suppressed = (pl.col("geographic_level") == "Local authority") & (
        pl.col("count_status") != "ok"
    )
    note = (
        pl.when(suppressed)
        .then(pl.concat_str(pl.lit(_BEFORE), pl.col("count_status"), pl.lit(_AFTER)))
        .otherwise(pl.col("caveat"))
    )
    frames = [
        with_pooled_comparators(
            make_rows(
                total.filter(pl.col("measure") == measure),
                metric_id,
                pl.when(suppressed).then(None).otherwise(pl.col("value")),
                numerator=pl.col("numerator"),
                denominator=pl.col("denominator"),
                note=note,
            ),
            value_ratio(100.0),
            tolerance=PUBLISHED_PRECISION,
            keep_left_out=True,
            carry_la_note=False,
        )
        for measure, metric_id in MEASURES.items()
    ]
    return finish(frames, proportions=list(MEASURES.values()))
