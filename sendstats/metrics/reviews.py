"""Annual reviews, ceased plans by reason and personal budgets (SEN2 2025), as counts and rates.

Inputs: the tidy reviews table (``dfe_sen2__reviews``) and, for the personal-budget rate's
denominator, the tidy placements table (all plans at the same January). Every rate keeps its
numerator and denominator, chosen as the data guidance defines the columns:

- review meetings held: meetings recorded / reviews expected (a review is due within 12 months
  of the plan or the last review: a statutory duty, so higher is better);
- review outcome sent within 4 weeks: within / (within + after), the publisher's own % (the
  statutory time limit, higher is better);
- plan amended (or ceased) at review: outcomes "amend" ("cease") / meetings recorded (no
  polarity: whether plans should change is the debate);
- ceased plans by reason: each reason / all plans ceased in the year (no polarity);
- plans with a personal budget: personal budgets / all EHC plans at January (no polarity).
England and region rows are pooled over the LAs with the figures known (sum / sum), the
publisher's own rows kept beside them (they differ where LAs are suppressed).
"""

from __future__ import annotations

import polars as pl

from sendstats.metrics import caveats as cv
from sendstats.metrics.common import AREA_ATTRS, AREA_KEYS, PROV, finish, make_rows
from sendstats.metrics.comparators import value_ratio, value_sum, with_pooled_comparators
from sendstats.metrics.registry import MetricDef, Polarity, register

SOURCE = "dfe_sen2"
#: 2024 annual reviews (data guidance footnote 1; DfE codes): LAs that returned no data
#: (Blackpool, Reading) and LAs suppressed pending checks (Waltham Forest, Surrey, Redbridge,
#: Hertfordshire, Plymouth).
_SUPPRESSED = (
    cv.for_las(
        ("890", "870"),
        "2024: {names} returned no annual reviews data (data guidance footnote 1).",
        years=(2024, 2024),
    ),
    cv.for_las(
        ("320", "936", "317", "919", "879"),
        "2024: annual reviews figures for {names} are suppressed pending checks (data guidance "
        "footnote 1), but are counted in England and the regions.",
        years=(2024, 2024),
    ),
)
_PB_BREAK = cv.series_break(2023, cv.SEN2_PERSON_LEVEL)
_PB_DROP = cv.method(
    "2023: SEN2 became a person-level return; personal budgets before and after are not "
    "comparable (England fell from 25,259 to 18,887)."
)
#: Ratio metrics: id -> (numerator measure(s), denominator measure(s), title, polarity, period).
RATIOS: dict[str, tuple[tuple[str, ...], tuple[str, ...], str, Polarity, str]] = {
    "review_meetings_held_pct": (
        ("review_meetings_count",),
        ("reviews_expected_count",),
        "Annual reviews due with a review meeting recorded (%)",
        "high_is_good",
        "calendar_year",
    ),
    "review_outcome_within_4_weeks_pct": (
        ("review_outcome_within_4_weeks_count",),
        ("review_outcome_within_4_weeks_count", "review_outcome_after_4_weeks_count"),
        "Annual review outcomes sent within 4 weeks of the meeting (%)",
        "high_is_good",
        "calendar_year",
    ),
    "review_outcome_amend_pct": (
        ("review_outcome_amend_count",),
        ("review_meetings_count",),
        "Annual reviews deciding to amend the plan (%)",
        "neither",
        "calendar_year",
    ),
    "review_outcome_cease_pct": (
        ("review_outcome_cease_count",),
        ("review_meetings_count",),
        "Annual reviews deciding to cease the plan (%)",
        "neither",
        "calendar_year",
    ),
}
CEASED_REASONS: dict[str, str] = {
    "max_age": "maximum age reached",
    "needs_met": "needs met without a plan",
    "higher_education": "moved to higher education",
    "employment": "moved to paid employment",
    "transfer": "transferred to another LA",
    "no_longer_engaging": "young person no longer wishes to engage",
    "moved_outside_england": "moved outside England",
    "deceased": "child or young person deceased",
    "other_reasons": "ceased for other reasons",
    "reason_not_recorded": "reason not recorded",
}
for reason, what in CEASED_REASONS.items():
    RATIOS[f"ceased_{reason}_pct"] = (
        (f"ceased_{reason}_count",),
        ("ceased_plans_count",),
        f"EHC plans ceased: {what} (% of plans ceased)",
        "neither",
        "calendar_year",
    )
_PB_KINDS = cv.every_la(
    "What a personal budget covers is not a breakdown of the total: in January 2023, 12 LAs "
    "publish more budgets of one kind than personal budgets in all (Hartlepool: 101 covering "
    "social care only, 21 in all), so sendstats shows no shares by kind."
)
PB_RATE = "plans_with_personal_budget_pct"
#: Count metrics: id -> (title, period, caveats or series breaks).
COUNTS: dict[str, tuple[str, str, tuple[cv.Caveat, ...]]] = {
    "reviews_expected_count": ("Annual reviews due in the year", "calendar_year", _SUPPRESSED),
    "review_meetings_count": ("Annual review meetings recorded", "calendar_year", _SUPPRESSED),
    "review_outcome_amend_count": (
        "Annual reviews deciding to amend the plan",
        "calendar_year",
        _SUPPRESSED,
    ),
    "ceased_plans_count": ("EHC plans ceased in the calendar year", "calendar_year", ()),
    "personal_budgets_count": (
        "EHC plans with a personal budget (January)",
        "academic_year",
        (_PB_BREAK, _PB_DROP),
    ),
}

register(
    *(
        MetricDef(
            id=mid,
            title=title,
            definition=(
                f"{title.removesuffix(' (%)')}: {' + '.join(num)} as a % of {' + '.join(den)} "
                "(SEN2 2025, measures named as in sendstats' tidy table; data guidance wording "
                "in its measure_label column)."
            ),
            unit="pct",
            polarity=polarity,
            period_type=period,  # type: ignore[arg-type]
            sources=(SOURCE,),
            numerator=" + ".join(num),
            denominator=" + ".join(den),
            official=mid == "review_outcome_within_4_weeks_pct",
            method="ratio of published counts",
            statistic="proportion",
            caveats=_SUPPRESSED if mid.startswith("review") else (),
        )
        for mid, (num, den, title, polarity, period) in RATIOS.items()
    ),
    MetricDef(
        id=PB_RATE,
        title="EHC plans with a personal budget (%)",
        definition=(
            "EHC plans with a personal budget in place at January, as a % of all EHC plans at "
            "the same January (caseload.csv)."
        ),
        unit="pct",
        polarity="neither",
        period_type="academic_year",
        sources=(SOURCE,),
        numerator="personal_budgets_count",
        denominator="EHC plans at January (placements_ehcplans_count)",
        official=False,
        method="ratio of published counts from two files of the same release",
        statistic="proportion",
        series_breaks=(_PB_BREAK,),
        break_years=(2023,),
        caveats=(_PB_DROP, _PB_KINDS),
    ),
    *(
        MetricDef(
            id=mid,
            title=title,
            definition=f"{title}, as published (SEN2 2025).",
            unit="count",
            polarity="neither",
            period_type=period,  # type: ignore[arg-type]
            sources=(SOURCE,),
            statistic="count",
            series_breaks=tuple(c for c in notes if c.applies == "series_break"),
            break_years=(2023,) if any(c.applies == "series_break" for c in notes) else (),
            caveats=tuple(c for c in notes if c.applies != "series_break"),
        )
        for mid, (title, period, notes) in COUNTS.items()
    ),
)
PROPORTIONS = (*RATIOS, PB_RATE)


def _sum_of(tidy: pl.DataFrame, measures: tuple[str, ...], name: str) -> pl.DataFrame:
    rows = tidy.filter(pl.col("measure").is_in(list(measures)))
    keys = [*AREA_KEYS, *AREA_ATTRS, "year", "period_type", *PROV]
    return (
        rows.group_by(keys)
        .agg(
            pl.col("value").sum().alias(name),
            (pl.col("value").count() == len(measures)).alias(f"_{name}_complete"),
        )
        .filter(pl.col(f"_{name}_complete"))
        .drop(f"_{name}_complete")
    )


def _ratio(
    tidy: pl.DataFrame, metric_id: str, num: tuple[str, ...], den: tuple[str, ...]
) -> pl.DataFrame:
    n = _sum_of(tidy, num, "num")
    d = _sum_of(tidy, den, "den").select(*AREA_KEYS, "year", "den")
    j = n.join(d, on=[*AREA_KEYS, "year"], how="inner").filter(pl.col("den") > 0)
    return make_rows(
        j,
        metric_id,
        pl.col("num") / pl.col("den") * 100,
        numerator=pl.col("num"),
        denominator=pl.col("den"),
    )


def compute(reviews: pl.DataFrame, placements: pl.DataFrame) -> pl.DataFrame:
    """Compute review, ceased-plan and personal-budget counts and rates, every area and year.

    Args:
        reviews: the tidy reviews table (``dfe_sen2__reviews``).
        placements: the tidy placements table (its all-plans rows give the personal budget
            rate's denominator).

    """
    ratio = value_ratio(100.0)
    frames = [
        with_pooled_comparators(_ratio(reviews, mid, num, den), ratio)
        for mid, (num, den, *_) in RATIOS.items()
    ]
    for mid in COUNTS:
        rows = _sum_of(reviews, (mid,), "num")
        counts = make_rows(rows, mid, pl.col("num"), numerator=pl.col("num"))
        frames.append(with_pooled_comparators(counts, value_sum, needs_denominator=False))
    plans = placements.filter(pl.col("measure") == "placements_ehcplans_count").select(
        *AREA_KEYS, "year", pl.col("value").alias("den")
    )
    pb = _sum_of(reviews, ("personal_budgets_count",), "num").join(
        plans, on=[*AREA_KEYS, "year"], how="inner"
    )
    pb = pb.filter(pl.col("den") > 0)
    rate = make_rows(
        pb,
        PB_RATE,
        pl.col("num") / pl.col("den") * 100,
        numerator=pl.col("num"),
        denominator=pl.col("den"),
        spans_break=pl.lit(False),
    )
    frames.append(with_pooled_comparators(rate, ratio))
    return finish(frames, proportions=PROPORTIONS, counts=tuple(COUNTS))
