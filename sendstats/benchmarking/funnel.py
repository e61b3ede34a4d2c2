"""Funnel-plot control limits around England and the significance label, as in Fingertips.

Funnel limits use the normal approximation of Spiegelhalter (2005, "Funnel plots for comparing
institutional performance", Statistics in Medicine 24:1185): for a proportion with England
value ``p0`` and an LA denominator ``n``, ``p0 +/- z sqrt(p0 (1 - p0) / n)`` (clipped to 0..1);
for a rate per ``scale`` residents with England rate ``r0`` and population ``n``, the expected
count ``E = r0 n / scale`` gives ``(E +/- z sqrt(E)) scale / n`` (clipped at 0). The 95% and
99.8% limits use z = 1.96 and 3.09.

The significance label compares the LA's 95% interval (Wilson for proportions, Byar for
rates) with the England value, the Fingertips default: wholly above or below is a difference,
overlapping is "Similar". Polarity turns a difference into Better or Worse; a metric without
polarity says Higher or Lower. Counts and other ratios are "Not compared".
"""

from __future__ import annotations

import math

import polars as pl

from sendstats.metrics.stats import Z_95, Z_998

SIGNIFICANCE_LABELS = ("Better", "Similar", "Worse", "Higher", "Lower", "Not compared")
SIGNIFICANCE_METHOD = "95% interval of the LA value against the England value"
FUNNEL_METHOD = "Spiegelhalter (2005) normal approximation around the England value"
#: Funnel position labels, from most extreme low to most extreme high.
FUNNEL_POSITIONS = (
    "below 99.8% limit",
    "below 95% limit",
    "within 95% limits",
    "above 95% limit",
    "above 99.8% limit",
)
#: Share of LAs outside the 99.8% limits above which the funnel is called overdispersed.
OVERDISPERSION_SHARE = 0.10


def proportion_limits(p0: float, n: float, z: float = Z_95) -> tuple[float, float]:
    """Return funnel limits (low, high) as fractions for a proportion ``p0`` at denominator n.

    Raises:
        ValueError: when ``p0`` is outside 0..1 or ``n`` is not positive.

    """
    if not 0 <= p0 <= 1 or n <= 0:
        raise ValueError(f"need 0 <= p0 <= 1 and n > 0, got p0={p0}, n={n}")
    half = z * math.sqrt(p0 * (1 - p0) / n)
    return max(0.0, p0 - half), min(1.0, p0 + half)


def rate_limits(r0: float, n: float, z: float = Z_95, scale: float = 10_000) -> tuple[float, float]:
    """Return funnel limits (low, high) for a rate ``r0`` per ``scale`` at population ``n``.

    Raises:
        ValueError: when the rate is negative or the population is not positive.

    """
    if r0 < 0 or n <= 0:
        raise ValueError(f"need r0 >= 0 and n > 0, got r0={r0}, n={n}")
    expected = r0 * n / scale
    half = z * math.sqrt(expected)
    return max(0.0, expected - half) * scale / n, (expected + half) * scale / n


def limit_exprs(
    statistic: pl.Expr, england: pl.Expr, denominator: pl.Expr, z: float
) -> tuple[pl.Expr, pl.Expr]:
    """Return polars expressions (low, high) of the funnel limits in the metric's unit.

    ``england`` is the England value in the metric's unit (% for proportions, per 10,000 for
    rates); null for any other statistic, a null England value or a non-positive denominator.
    """
    n = denominator.cast(pl.Float64)
    ok = england.is_not_null() & n.is_not_null() & (n > 0)
    p0 = england / 100
    p_half = z * (p0 * (1 - p0) / n).sqrt()
    expected = england * n / 10_000
    r_half = z * expected.sqrt()
    is_prop = ok & (statistic == "proportion")
    is_rate = ok & (statistic == "rate")
    low = (
        pl.when(is_prop)
        .then(pl.max_horizontal(pl.lit(0.0), p0 - p_half) * 100)
        .when(is_rate)
        .then(pl.max_horizontal(pl.lit(0.0), expected - r_half) * 10_000 / n)
    )
    high = (
        pl.when(is_prop)
        .then(pl.min_horizontal(pl.lit(1.0), p0 + p_half) * 100)
        .when(is_rate)
        .then((expected + r_half) * 10_000 / n)
    )
    return low, high


def funnel_position_expr(
    value: pl.Expr, lo95: pl.Expr, hi95: pl.Expr, lo998: pl.Expr, hi998: pl.Expr
) -> pl.Expr:
    """Return where the value lies against the 95% and 99.8% limits (null without limits)."""
    return (
        pl.when(lo95.is_null() | value.is_null())
        .then(None)
        .when(value > hi998)
        .then(pl.lit(FUNNEL_POSITIONS[4]))
        .when(value < lo998)
        .then(pl.lit(FUNNEL_POSITIONS[0]))
        .when(value > hi95)
        .then(pl.lit(FUNNEL_POSITIONS[3]))
        .when(value < lo95)
        .then(pl.lit(FUNNEL_POSITIONS[1]))
        .otherwise(pl.lit(FUNNEL_POSITIONS[2]))
    )


def significance(
    low: float | None, high: float | None, england: float | None, polarity: str
) -> str:
    """Return Better / Similar / Worse (or Higher / Lower without polarity) / Not compared."""
    if low is None or high is None or england is None:
        return "Not compared"
    if low > england:
        side = "high"
    elif high < england:
        side = "low"
    else:
        return "Similar"
    if polarity == "neither":
        return "Higher" if side == "high" else "Lower"
    good = (side == "high") == (polarity == "high_is_good")
    return "Better" if good else "Worse"


def significance_expr(
    low: pl.Expr, high: pl.Expr, england: pl.Expr, polarity: pl.Expr, statistic: pl.Expr
) -> pl.Expr:
    """Return the significance label as a polars expression (see :func:`significance`)."""
    compared = (
        statistic.is_in(["proportion", "rate"])
        & low.is_not_null()
        & high.is_not_null()
        & england.is_not_null()
    )
    above, below = low > england, high < england
    high_good = polarity == "high_is_good"
    low_good = polarity == "low_is_good"
    return (
        pl.when(~compared)
        .then(pl.lit("Not compared"))
        .when(~above & ~below)
        .then(pl.lit("Similar"))
        .when(polarity == "neither")
        .then(pl.when(above).then(pl.lit("Higher")).otherwise(pl.lit("Lower")))
        .when((above & high_good) | (below & low_good))
        .then(pl.lit("Better"))
        .otherwise(pl.lit("Worse"))
    )


def overdispersion_note(outside_998: int, n: int) -> str | None:
    """Return a note when many LAs lie outside the 99.8% limits (chance alone: about 0.2%)."""
    if n == 0 or outside_998 / n <= OVERDISPERSION_SHARE:
        return None
    return (
        f"{outside_998} of {n} LAs lie outside the 99.8% limits, far more than chance alone "
        "(about 0.2%) would put there: LAs differ for reasons beyond sampling noise "
        "(overdispersion), so read the limits as a guide, not a test."
    )


__all__ = [
    "FUNNEL_METHOD",
    "SIGNIFICANCE_METHOD",
    "Z_95",
    "Z_998",
    "limit_exprs",
    "proportion_limits",
    "rate_limits",
    "significance",
]
