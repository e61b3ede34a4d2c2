"""Primary need of EHC plans: each need's share of all plans at January, per LA.

Input is the SEN2 tidy table (2025 release, ``sen_needs_all_plans.csv``, "All EHC plans"
rows): a count of plans per primary need and the total. Each share is a proportion of the
published total with a Wilson interval; shares are not ranked as good or bad.
"""

from __future__ import annotations

from sendstats.core.vocab import PRIMARY_NEEDS
from sendstats.core.vocab import SEN2_SOURCE_ID as SOURCE_ID
from sendstats.metrics.registry import MetricDef, register

TOTAL_MEASURE = "need_all_plans_count"


def need_metric_id(code: str) -> str:
    """Return the metric id of a primary need's share, e.g. ``ehc_plans_need_asd_pct``."""
    return f"ehc_plans_need_{code.removeprefix('need_')}_pct"


_SURREY = (
    "Surrey, January 2025: the published % for severe (7.8) and specific (0.1) learning "
    "difficulty do not follow from the published counts (595 and 665 of 16,069 plans); "
    "sendstats computes both from the counts (3.7% and 4.1%). The England row suggests the "
    "percentages are right: England's published counts exceed the LAs' sum by 656 severe and "
    "fall 656 short of it for specific (595 + 656 = 1,251 is 7.8% of 16,069; 665 - 656 = 9 is "
    "0.1%), so England and the South East, pooled over the LAs' counts, differ from DfE's "
    "figures by that much (published figure kept beside)."
)
CAVEATS: dict[str, tuple[str, ...]] = {
    "oth": (
        "Down syndrome is counted under 'other difficulty or disability' (DfE data guidance, "
        "note 1).",
    ),
    "sld": (_SURREY,),
    "spld": (_SURREY,),
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
