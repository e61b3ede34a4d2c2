"""Derived rates per 10,000 residents aged 0-25: EHC plans and SEND Tribunal appeals.

Neither rate is published: both are derived by sendstats from a published count and an ONS
mid-year population estimate, whose vintage is named on every row and whose workbook (release,
file, sha256) is the row's ``denominator_*`` provenance. A January count uses the mid-year before
it (January 2020 -> mid-2019); a calendar-year count uses its own mid-year.

- **Geography in force each year.** The count's LA is looked up in the estimate of its
  mid-year, on that estimate's boundaries; an LA abolished by a split is the exact sum of its
  successors (Northamptonshire in January 2021, Cumbria in January 2023 and in 2022 appeals).
- **No LA is dropped silently** (issue 17). An LA with a count but no population (Bournemouth,
  Poole and Dorset county in January 2019 and in 2018 appeals: the held mid-2018 estimate is on
  April 2019 boundaries, and a merger cannot be undone) keeps its row, with no value and a
  note saying why; England and its region are pooled without it and name it.
- **One rule for a year with no estimate yet** (:data:`LATEST_RULE`): the latest estimate held
  is used, and the row says so.
- Regions and England are pooled over the LAs that have both numbers (sum / sum), never a mean
  of LA rates. Intervals: Byar's interval for the count, divided by the population.
"""

from __future__ import annotations

import polars as pl

from sendstats.metrics import caveats as cv
from sendstats.metrics.common import finish
from sendstats.metrics.per_head import CENSUS_BREAK, LATEST_RULE, check_population, per_head_rows
from sendstats.metrics.registry import MetricDef, register
from sendstats.metrics.stats import Z_95, Z_998, byar_exprs

#: derived metric id -> (count metric it divides, years between the mid-year and the period)
RATES = {
    "ehc_plans_per_10k_0_25": ("ehc_plans_count", 1),
    "tribunal_appeals_per_10k_0_25": ("tribunal_appeals_count", 0),
}
_POP = (
    "ONS mid-year population estimate aged 0-25 (mid-2017 to mid-2023 held; mid-2017 to "
    "mid-2020 pre-2021-Census series, mid-2021 on Census-based); release, file and sha256 on "
    "every row"
)
#: Bournemouth, Poole, Dorset county and their successors (DfE codes): the April 2019 merger.
_DORSET_2019 = ("835", "836", "837", "838", "839")
_NOT_DROPPED = cv.for_las(
    _DORSET_2019,
    "An LA with a count but no population on that year's boundaries (Bournemouth, Poole and "
    "Dorset county before April 2019: the held mid-2018 estimate is on April 2019 boundaries) "
    "keeps its row without a value, with the reason; England and regions leave it out and "
    "name it.",
    years=(2018, 2019),
    beside=False,
)
register(
    MetricDef(
        id="ehc_plans_per_10k_0_25",
        title="EHC plans per 10,000 residents aged 0-25",
        definition=(
            "EHC plans at January per 10,000 residents aged 0 to 25 at the mid-year before "
            "(January 2020 uses mid-2019), on the LA boundaries in force that January. Not "
            "published by DfE: derived by sendstats."
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
        # January 2022 is the first value year dividing by a Census-based estimate (mid-2021).
        series_breaks=(cv.series_break(2022, CENSUS_BREAK),),
        break_years=(2022,),
        caveats=(
            cv.every_la(
                "January 2018 to 2024 divide by their own mid-year (mid-2017 to mid-2023). "
                + LATEST_RULE
            ),
            _NOT_DROPPED,
        ),
    ),
    MetricDef(
        id="tribunal_appeals_per_10k_0_25",
        title="SEND Tribunal appeals per 10,000 residents aged 0-25",
        definition=(
            "SEND Tribunal appeals registered in the calendar year per 10,000 residents aged 0 "
            "to 25 at that year's mid-year, on the LA boundaries in force that year. Not the MoJ "
            "appeal rate: derived by sendstats."
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
        # 2021 is the first value year dividing by a Census-based estimate (mid-2021).
        series_breaks=(cv.series_break(2021, CENSUS_BREAK),),
        break_years=(2021,),
        caveats=(
            cv.every_la("2017 to 2023 divide by their own mid-year. " + LATEST_RULE),
            _NOT_DROPPED,
        ),
    ),
)


def compute(metrics: pl.DataFrame, population: pl.DataFrame) -> pl.DataFrame:
    """Derive the per-10,000 rates from count metrics and a population frame.

    Args:
        metrics: metric rows holding the count metrics named in :data:`RATES`.
        population: the 0-25 band with :data:`~sendstats.metrics.per_head.POPULATION_COLUMNS`
            (``population_by_age_band("0_25", include_predecessors=True)``).

    """
    check_population(population)
    frames = [
        per_head_rows(
            metrics.filter(pl.col("metric_id") == count),
            population,
            metric_id,
            lag=lag,
            scale=10_000.0,
            label="aged 0-25",
        )
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
