"""Adult outcome metrics from ASCOF: adults with a learning disability in paid work or at home.

Input is the tidy table ``nhs_ascof__ld_employment``. The published percentage is kept as the
value (it is reproduced from numerator / denominator when the table is built), with Wilson
intervals; outlying values carry their caveat in the note rather than being dropped.
"""

from __future__ import annotations

import polars as pl

from sendstats.metrics.common import finish, make_rows
from sendstats.metrics.registry import MetricDef, register

SOURCE = "nhs_ascof"
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
            "2014-15: cohort changed to adults receiving long-term support.",
            "2023-24: ASCOF revised and renumbered; the old and new series are kept apart.",
        ),
        statistic="proportion",
        break_years=(2014, 2023),
        caveats=("Values far from the distribution are flagged, not dropped.",),
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
        series_breaks=("2023-24: ASCOF revised and renumbered.",),
        statistic="proportion",
        break_years=(2023,),
    ),
)


def compute(tidy: pl.DataFrame) -> pl.DataFrame:
    """Return ASCOF 1E and 1G (all adults, not by sex) for England, regions and councils."""
    total = tidy.filter(pl.col("disaggregation") == "Total").sort("release", descending=True)
    total = total.unique(subset=["measure", "year", "geographic_level", "area_code"], keep="first")
    frames = [
        make_rows(
            total.filter(pl.col("measure") == measure),
            metric_id,
            pl.col("value"),
            numerator=pl.col("numerator"),
            denominator=pl.col("denominator"),
            note=pl.col("caveat"),
        )
        for measure, metric_id in MEASURES.items()
    ]
    return finish(frames, proportions=list(MEASURES.values()))
