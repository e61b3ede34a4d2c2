"""The small-numbers rule: when an LA's value is too small a base to rank, band or test.

Fingertips and LAIT do not rank, band or test values built on a handful of cases, and mark
those built on few as unreliable. sendstats states one rule for the benchmarks table (issue 19
item 3), applied before any rank, percentile, band, funnel position or significance label:

- the **base** of a value is its denominator (the cases a proportion, a growth rate or an index
  is out of: requests, plans, appealable decisions, adults supported), except for a rate per
  population, whose base is its numerator (the events counted: plans, appeals), because its
  denominator (residents) is never small;
- base under :data:`MIN_RANKED` (10): ``reliability = "not ranked"``; no rank, percentile, band,
  funnel position or significance (``Not compared``);
- base under :data:`MIN_RELIABLE` (30): ``reliability = "caution"``; ranked and tested, and
  the report marks it;
- otherwise ``"reliable"``; counts and amounts of money (no base) are ``"not assessed"``, and
  a value not published is ``"not published"``.

``reliability_reason`` says which case applied and the base, in words a report can show as is.
The thresholds live in :mod:`sendstats.metrics.stats`, so the metric tables' own ranks follow
the same rule.
"""

from __future__ import annotations

import polars as pl

from sendstats.metrics.stats import MIN_BASE_RANKED, MIN_BASE_RELIABLE

MIN_RANKED = MIN_BASE_RANKED
MIN_RELIABLE = MIN_BASE_RELIABLE
RELIABILITY_LEVELS = ("reliable", "caution", "not ranked", "not assessed", "not published")
RULE_TEXT = (
    f"Small numbers: a value whose base (the denominator; for a rate per population, the "
    f"events counted) is under {MIN_RANKED} is not ranked, banded or tested; under "
    f"{MIN_RELIABLE}, it is marked for caution."
)


def base_expr() -> pl.Expr:
    """Return the base the rule looks at: numerator for rates, else the denominator."""
    return (
        pl.when(pl.col("statistic") == "rate")
        .then(pl.col("numerator"))
        .otherwise(pl.col("denominator"))
    )


def reliability_exprs() -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """Return (reliability, reliability_base, reliability_reason) expressions for LA rows.

    The frame needs ``value``, ``numerator``, ``denominator``, ``statistic`` and ``unit``.
    """
    base = base_expr()
    what = pl.when(pl.col("statistic") == "rate").then(pl.lit("events")).otherwise(pl.lit("base"))
    shown = base.round(0).cast(pl.Int64).cast(pl.Utf8)
    no_base = base.is_null() | pl.col("unit").is_in(["count", "gbp"])
    level = (
        pl.when(pl.col("value").is_null())
        .then(pl.lit("not published"))
        .when(no_base)
        .then(pl.lit("not assessed"))
        .when(base < MIN_RANKED)
        .then(pl.lit("not ranked"))
        .when(base < MIN_RELIABLE)
        .then(pl.lit("caution"))
        .otherwise(pl.lit("reliable"))
    )
    reason = (
        pl.when(pl.col("value").is_null())
        .then(pl.lit("no value published or computed (see the note)"))
        .when(no_base)
        .then(pl.lit("a count or amount: no base to assess"))
        .when(base < MIN_RANKED)
        .then(
            pl.concat_str(
                what,
                pl.lit(" "),
                shown,
                pl.lit(f" is under {MIN_RANKED}: not ranked, banded or tested"),
            )
        )
        .when(base < MIN_RELIABLE)
        .then(
            pl.concat_str(
                what, pl.lit(" "), shown, pl.lit(f" is under {MIN_RELIABLE}: treat with caution")
            )
        )
        .otherwise(pl.concat_str(what, pl.lit(" "), shown, pl.lit(f" is {MIN_RELIABLE} or more")))
    )
    return (
        level.alias("reliability"),
        pl.when(no_base).then(None).otherwise(base).alias("reliability_base"),
        reason.alias("reliability_reason"),
    )


def rankable_value() -> pl.Expr:
    """Return the value where the rule lets it be ranked and banded, else null."""
    return pl.when(pl.col("reliability") == "not ranked").then(None).otherwise(pl.col("value"))
