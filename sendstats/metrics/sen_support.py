"""SEN support against EHC plans, and outcomes by SEN status, from LAIT (a secondary source).

Input is the tidy LAIT table (``dfe_lait__sen``): values DfE's LAIT republishes from DfE
statistics (Special educational needs in England; Key stage 2 and 4 performance; Level 2 and 3
attainment at 19). Every metric is that published value (England and region rows are LAIT's
own), except the gaps, which sendstats derives: the outcome of pupils with no identified SEN
minus that of pupils with an EHC plan (or on SEN support), in the outcome's unit (points of
Attainment 8 or Progress 8, percentage points for the % at the expected standard or qualified).

The shares of pupils on SEN support and with a plan carry no polarity (identification is the
debate); outcomes follow LAIT's polarity (higher is better); gaps carry none, since a gap
narrows when pupils without SEN do worse as well as when pupils with SEN do better.
"""

from __future__ import annotations

import polars as pl

from sendstats.metrics import caveats as cv
from sendstats.metrics.common import AREA_ATTRS, AREA_KEYS, PROV, finish, make_rows
from sendstats.metrics.registry import MetricDef, register

SOURCE = "dfe_lait"
_SECONDARY = cv.every_la(
    "Secondary source: values as republished in DfE's LAIT, compiled from DfE statistics "
    "(the source note names the underlying publication)."
)
_COVID = cv.period(
    2020,
    2022,
    "No KS2 tests in 2020 and 2021 and no Progress 8 in 2020 and 2021; KS4 grades in 2020 to "
    "2022 were centre- or teacher-assessed, so attainment in those years is not comparable.",
)
SHARES: dict[str, str] = {
    "sen_support_pupils_pct": "pupils on SEN support (no EHC plan), all schools",
    "ehc_plan_pupils_pct": "pupils with an EHC plan or statement, all schools",
    "sen_support_primary_pct": "pupils on SEN support, state-funded primary schools",
    "sen_support_secondary_pct": "pupils on SEN support, state-funded secondary schools",
    "ehc_plan_primary_pct": "pupils with an EHC plan or statement, state-funded primary schools",
    "ehc_plan_secondary_pct": (
        "pupils with an EHC plan or statement, state-funded secondary schools"
    ),
}
#: Outcome -> (title, unit token, unit, what the value is).
OUTCOMES: dict[str, tuple[str, str, str, str]] = {
    "attainment8": ("Attainment 8", "score", "score", "average Attainment 8 score per pupil"),
    "progress8": ("Progress 8", "score", "score", "average Progress 8 score per pupil"),
    "ks2_rwm": (
        "KS2 reading, writing and maths",
        "pct",
        "pct",
        "% of pupils reaching the expected standard in reading, writing and maths at KS2",
    ),
    "level2_at_19": (
        "Level 2 at 19",
        "pct",
        "pct",
        "% of 19-year-olds qualified to level 2",
    ),
    "level3_at_19": (
        "Level 3 at 19",
        "pct",
        "pct",
        "% of 19-year-olds qualified to level 3",
    ),
}
STATUSES: dict[str, str] = {
    "ehc_plan": "pupils with an EHC plan or statement",
    "sen_support": "pupils on SEN support",
    "no_sen": "pupils with no identified SEN",
}


def outcome_id(outcome: str, status: str) -> str:
    """Return the metric id of an outcome for one SEN status, e.g. ``attainment8_no_sen_score``."""
    return f"{outcome}_{status}_{OUTCOMES[outcome][1]}"


def gap_id(outcome: str, status: str) -> str:
    """Return the metric id of a gap to pupils with no identified SEN."""
    return f"{outcome}_gap_{status}_{OUTCOMES[outcome][1]}"


register(
    *(
        MetricDef(
            id=mid,
            title=f"{what[0].upper()}{what[1:]} (%)",
            definition=f"{what[0].upper()}{what[1:]}, January school census, as % of pupils.",
            unit="pct",
            polarity="neither",
            period_type="academic_year",
            sources=(SOURCE,),
            caveats=(_SECONDARY,),
        )
        for mid, what in SHARES.items()
    ),
    *(
        MetricDef(
            id=outcome_id(outcome, status),
            title=f"{title}: {STATUSES[status]}",
            definition=f"{what[0].upper()}{what[1:]}, {STATUSES[status]} (academic year).",
            unit=unit,  # type: ignore[arg-type]
            polarity="high_is_good",
            period_type="academic_year",
            sources=(SOURCE,),
            caveats=(_SECONDARY, _COVID),
        )
        for outcome, (title, _, unit, what) in OUTCOMES.items()
        for status in STATUSES
    ),
    *(
        MetricDef(
            id=gap_id(outcome, status),
            title=f"{title}: gap, no identified SEN minus {STATUSES[status]}",
            definition=(
                f"{what[0].upper()}{what[1:]} of pupils with no identified SEN minus that of "
                f"{STATUSES[status]}" + (" (percentage points)." if unit == "pct" else " (points).")
            ),
            unit=unit,  # type: ignore[arg-type]
            polarity="neither",
            period_type="academic_year",
            sources=(SOURCE,),
            official=False,
            method=f"difference of two published values ({outcome_id(outcome, status)})",
            caveats=(_SECONDARY, _COVID),
        )
        for outcome, (title, _, unit, what) in OUTCOMES.items()
        for status in ("ehc_plan", "sen_support")
    ),
)


#: Every metric this module makes (none can be pooled: LAIT publishes no counts).
METRIC_IDS: tuple[str, ...] = (
    *SHARES,
    *(outcome_id(o, s) for o in OUTCOMES for s in STATUSES),
    *(gap_id(o, s) for o in OUTCOMES for s in ("ehc_plan", "sen_support")),
)
AS_PUBLISHED_NOTE = (
    "as published by LAIT: no counts are held, so England and regions are not pooled over LAs"
)


def _as_published(frame: pl.DataFrame) -> pl.DataFrame:
    """Mark England and region rows as the publisher's own (kept, not pooled)."""
    comparator = pl.col("geographic_level") != "Local authority"
    return frame.with_columns(
        pl.when(comparator).then(pl.col("value")).alias("published_value"),
        pl.when(comparator).then(pl.lit(AS_PUBLISHED_NOTE)).alias("published_note"),
    )


def _measure(tidy: pl.DataFrame, measure: str) -> pl.DataFrame:
    return tidy.filter((pl.col("measure") == measure) & pl.col("value").is_not_null()).select(
        *AREA_KEYS, *AREA_ATTRS, "year", "period_type", "value", *PROV
    )


def compute(lait: pl.DataFrame) -> pl.DataFrame:
    """Return the LAIT SEN shares, outcomes by SEN status and their gaps, every area and year.

    Args:
        lait: the tidy LAIT table (``dfe_lait__sen``).

    """
    frames = [make_rows(_measure(lait, mid), mid, pl.col("value")) for mid in SHARES]
    for outcome in OUTCOMES:
        for status in STATUSES:
            mid = outcome_id(outcome, status)
            frames.append(make_rows(_measure(lait, mid), mid, pl.col("value")))
        base = _measure(lait, outcome_id(outcome, "no_sen")).select(
            *AREA_KEYS, "year", pl.col("value").alias("_no_sen")
        )
        for status in ("ehc_plan", "sen_support"):
            own = _measure(lait, outcome_id(outcome, status)).join(
                base, on=[*AREA_KEYS, "year"], how="inner"
            )
            frames.append(
                make_rows(
                    own,
                    gap_id(outcome, status),
                    pl.col("_no_sen") - pl.col("value"),
                    note=pl.format(
                        "no identified SEN {} minus {} {}",
                        pl.col("_no_sen"),
                        pl.lit(status.replace("_", " ")),
                        pl.col("value"),
                    ),
                )
            )
    return finish([_as_published(f) for f in frames])
