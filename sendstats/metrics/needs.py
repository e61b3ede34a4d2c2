"""Primary need of EHC plans: each need's share of all plans at January, per LA.

Input is the SEN2 tidy table (2025 release, ``sen_needs_all_plans.csv``, "All EHC plans"
rows): a count of plans per primary need and the total. Each share is a proportion of the
published total with a Wilson interval; shares are not ranked as good or bad.
"""

from __future__ import annotations

from sendstats.core.vocab import PRIMARY_NEEDS
from sendstats.core.vocab import SEN2_SOURCE_ID as SOURCE_ID
from sendstats.metrics import caveats as cv
from sendstats.metrics.registry import MetricDef, register

TOTAL_MEASURE = "need_all_plans_count"


def need_metric_id(code: str) -> str:
    """Return the metric id of a primary need's share, e.g. ``ehc_plans_need_asd_pct``."""
    return f"ehc_plans_need_{code.removeprefix('need_')}_pct"


SURREY = "936"
_SURREY = cv.for_las(
    (SURREY,),
    "Surrey, January 2025: its published % for severe (7.8%) and specific (0.1%) learning "
    "difficulty do not follow from its published counts; sendstats computes them from the "
    "counts (3.7% and 4.1%), so England's and the South East's pooled figures differ from "
    "DfE's.",
    years=(2025, 2025),
)
_SURREY_WHY = cv.method(
    "Surrey, January 2025: the England row suggests the published percentages are right: "
    "England's published counts exceed the LAs' sum by 656 severe and fall 656 short of it for "
    "specific (595 + 656 = 1,251 is 7.8% of 16,069; 665 - 656 = 9 is 0.1%), so England and "
    "the South East, pooled over the LAs' counts, differ from DfE's figures by that much."
)
_SOUTH_EAST = cv.for_regions(
    ("E12000008",),
    "January 2025: the South East's shares of severe and specific learning difficulty are "
    "pooled over its LAs' counts, and one LA's published % do not follow from its counts, so "
    "they differ from DfE's regional figures (published figure kept beside).",
    years=(2025, 2025),
    stands_for=(SURREY,),
)
CAVEATS: dict[str, tuple[cv.Caveat, ...]] = {
    "oth": (
        cv.every_la(
            "Down syndrome is counted under 'other difficulty or disability' (DfE data "
            "guidance, note 1)."
        ),
    ),
    "sld": (_SURREY, _SURREY_WHY, _SOUTH_EAST),
    "spld": (_SURREY, _SURREY_WHY, _SOUTH_EAST),
}

NEED_METRICS: dict[str, str] = {need_metric_id(code): name for code, name in PRIMARY_NEEDS.items()}

register(
    *(
        MetricDef(
            id=need_metric_id(code),
            title=f"EHC plans with primary need: {name} (%)",
            definition=(
                f"EHC plans at January whose primary need is {name.lower()}, as a % of all EHC "
                "plans the LA maintains (published from January 2025)."
            ),
            unit="pct",
            polarity="neither",
            period_type="academic_year",
            sources=(SOURCE_ID,),
            numerator=f"primary_need_{code}_count",
            denominator=TOTAL_MEASURE,
            official=False,
            method="ratio of published counts (the publisher also prints the % to 1 dp)",
            statistic="proportion",
            caveats=CAVEATS.get(code, ()),
        )
        for code, name in PRIMARY_NEEDS.items()
    )
)
