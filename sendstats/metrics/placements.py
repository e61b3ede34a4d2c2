"""Where children and young people with EHC plans are taught: shares, counts and growth by setting.

Input is the tidy placements table (SEN2 2025 ``caseload.csv``, January 2019 to 2025), whose
rows carry each setting's group and whether it adds to the total of plans, so nothing here
depends on the reader. England and region rows are pooled over the LAs with the figures
known (sum / sum, :func:`sendstats.metrics.comparators.with_pooled_comparators`), the
publisher's own rows kept beside them: they differ where LAs' settings are suppressed
(January 2024 and 2025).

Shares follow the publisher: the denominator is the plans with a setting in the file (the sum of
the published groups, "not recorded" included), which equals all plans except January 2024 in
England, the East of England and London, whose totals include Hackney and Peterborough's plans
with no setting returned (data guidance, footnote 5). Growth is an index on January 2019.
Placement shares carry no polarity: how many children should be taught where is the policy
debate itself.
"""

from __future__ import annotations

import polars as pl

from sendstats.metrics import caveats as cv
from sendstats.metrics.common import AREA_ATTRS, AREA_KEYS, PROV, finish, make_rows
from sendstats.metrics.comparators import value_ratio, value_sum, with_pooled_comparators
from sendstats.metrics.registry import MetricDef, register

SOURCE = "dfe_sen2"
BASE_YEAR = 2019
#: Published setting columns in each placement group sendstats reports.
GROUPS: dict[str, tuple[tuple[str, ...], str]] = {
    "mainstream": (
        ("mainstream_total",),
        "mainstream schools (including resourced provision "
        "and SEN units, and independent mainstream schools)",
    ),
    "state_special": (
        ("special_la_maintained", "special_academy_free"),
        "state special schools (LA maintained, special academies and free schools)",
    ),
    "independent_special": (
        ("special_independent", "special_non_maintained"),
        "independent or non-maintained special schools",
    ),
    "alternative_provision": (("ap_pru_total",), "alternative provision and pupil referral units"),
    "post_16": (("fe_total",), "further education and post-16 institutions"),
    "elsewhere": (
        ("ed_elsewhere",),
        "education elsewhere (home education, other arrangements, "
        "not in education, employment or training)",
    ),
    "not_recorded": (("placement_unknown",), "a setting not recorded"),
}
DENOMINATOR = "plans with a setting in the file (sum of the published groups)"
#: January 2025: LAs that could not return placements for many plans (footnote 1:
#: Cambridgeshire, North East Lincolnshire), and January 2024: LAs that returned totals only
#: (footnote 5: Hackney, Peterborough); DfE codes.
_UNRECORDED = cv.for_las(
    ("873", "812"),
    "January 2025: settings for {names} are suppressed (many plans could not be returned with "
    "a placement, data guidance footnote 1), while England and the region count those plans "
    "as not recorded.",
    years=(2025, 2025),
)
_UNRECORDED_REGIONS = cv.for_regions(
    ("E12000006", "E12000003"),  # East of England, Yorkshire and The Humber
    "January 2025: the region's and England's shares count as 'not recorded' the plans of an "
    "LA that could not return placements for many of them (data guidance footnote 1).",
    years=(2025, 2025),
    stands_for=("873", "812"),
)
_FOOTNOTE_5 = cv.for_las(
    ("204", "874"),
    "January 2024: settings for {names} are suppressed (totals only were returned, data "
    "guidance footnote 5), and England's and the region's shares leave out those plans.",
    years=(2024, 2024),
)
_FOOTNOTE_5_REGIONS = cv.for_regions(
    ("E12000007", "E12000006"),  # London, East of England
    "January 2024: the region's and England's shares leave out the plans of an LA that "
    "returned totals only (data guidance footnote 5).",
    years=(2024, 2024),
    stands_for=("204", "874"),
)
_NOTES = (_FOOTNOTE_5, _FOOTNOTE_5_REGIONS, _UNRECORDED, _UNRECORDED_REGIONS)
_BREAK = cv.series_break(2023, cv.SEN2_PERSON_LEVEL)
_SETTINGS_2023 = cv.method(
    "2023: SEN2 became a person-level return and gained settings ('not recorded', UKRLP "
    "providers, NEET detail); 'awaiting provision' and 'permanently excluded' stopped.",
)


def share_id(group: str) -> str:
    """Return the metric id of a group's share of plans, e.g. ``plans_mainstream_pct``."""
    return f"plans_{group}_pct"


def count_id(group: str) -> str:
    """Return the metric id of a group's count of plans."""
    return f"plans_{group}_count"


def index_id(group: str) -> str:
    """Return the metric id of a group's growth index (January 2019 = 100)."""
    return f"plans_{group}_index_{BASE_YEAR}"


register(
    *(
        MetricDef(
            id=share_id(g),
            title=f"EHC plans: share in {what.split(' (')[0]} (%)",
            definition=(
                f"EHC plans at January whose child or young person attends {what}, as a % of "
                f"{DENOMINATOR}."
            ),
            unit="pct",
            polarity="neither",
            period_type="academic_year",
            sources=(SOURCE,),
            numerator=" + ".join(cols),
            denominator=DENOMINATOR,
            official=False,
            method="ratio of published counts (reproduces the published % where one exists)",
            statistic="proportion",
            series_breaks=(_BREAK,),
            break_years=(2023,),
            caveats=(_SETTINGS_2023, *_NOTES),
        )
        for g, (cols, what) in GROUPS.items()
    ),
    *(
        MetricDef(
            id=count_id(g),
            title=f"EHC plans in {what.split(' (')[0]}",
            definition=f"EHC plans at January whose child or young person attends {what}.",
            unit="count",
            polarity="neither",
            period_type="academic_year",
            sources=(SOURCE,),
            numerator=" + ".join(cols),
            statistic="count",
            caveats=_NOTES,
        )
        for g, (cols, what) in GROUPS.items()
        if g in ("mainstream", "state_special", "independent_special")
    ),
    *(
        MetricDef(
            id=index_id(g),
            title=f"EHC plans in {what.split(' (')[0]}, index (January {BASE_YEAR} = 100)",
            definition=(
                f"EHC plans at January in {what}, divided by the same count in January "
                f"{BASE_YEAR}, x 100."
            ),
            unit="index",
            polarity="neither",
            period_type="academic_year",
            sources=(SOURCE,),
            numerator=f"{count_id(g)} (year)",
            denominator=f"{count_id(g)} ({BASE_YEAR})",
            official=False,
            method="ratio of published counts",
            caveats=_NOTES,
        )
        for g, (cols, what) in GROUPS.items()
        if g in ("mainstream", "state_special", "independent_special")
    ),
)

SHARE_METRICS = tuple(share_id(g) for g in GROUPS)
COUNT_METRICS = tuple(count_id(g) for g in ("mainstream", "state_special", "independent_special"))


def _counts(tidy: pl.DataFrame) -> pl.DataFrame:
    """Return one row per area and year with each group's count and the share denominator."""
    counts = tidy.filter(~pl.col("is_published_pct"))
    keys = [*AREA_KEYS, *AREA_ATTRS, "year", "period_type", *PROV]
    denominator = (
        counts.filter(pl.col("adds_to_total"))
        .group_by(keys)
        .agg(
            pl.col("value").sum().alias("den"),
            pl.col("value").is_null().all().alias("_suppressed"),
        )
    )
    wide = denominator
    for g, (cols, _) in GROUPS.items():
        part = (
            counts.filter(pl.col("setting").is_in(list(cols)))
            .group_by(*AREA_KEYS, "year")
            .agg(
                pl.when(pl.col("value").is_null().any())
                .then(None)
                .otherwise(pl.col("value").sum())
                .alias(g)
            )
        )
        wide = wide.join(part, on=[*AREA_KEYS, "year"], how="left")
    return wide.filter(~pl.col("_suppressed") & (pl.col("den") > 0))


def compute(placements: pl.DataFrame) -> pl.DataFrame:
    """Compute placement shares, counts and growth since January 2019 for every area and year.

    Args:
        placements: the tidy placements table (``dfe_sen2__placements``).

    """
    wide = _counts(placements)
    frames = []
    ratio = value_ratio(100.0)
    for g in GROUPS:
        have = wide.filter(pl.col(g).is_not_null())
        frames.append(
            with_pooled_comparators(
                make_rows(
                    have,
                    share_id(g),
                    pl.col(g) / pl.col("den") * 100,
                    numerator=pl.col(g),
                    denominator=pl.col("den"),
                    spans_break=pl.lit(False),
                ),
                ratio,
                what="plans",
            )
        )
        if g not in ("mainstream", "state_special", "independent_special"):
            continue
        counts = make_rows(have, count_id(g), pl.col(g), numerator=pl.col(g))
        frames.append(
            with_pooled_comparators(counts, value_sum, needs_denominator=False, what="plans")
        )
        base = have.filter(pl.col("year") == BASE_YEAR).select(*AREA_KEYS, pl.col(g).alias("_base"))
        idx = have.join(base, on=AREA_KEYS, how="inner").filter(pl.col("_base") > 0)
        index = make_rows(
            idx,
            index_id(g),
            pl.col(g) / pl.col("_base") * 100,
            numerator=pl.col(g),
            denominator=pl.col("_base"),
        )
        frames.append(with_pooled_comparators(index, ratio, what="plans"))
    return finish(frames, proportions=SHARE_METRICS, counts=COUNT_METRICS)
