"""Confidence intervals and a robust outlier rule, in pure Python and as polars expressions.

Methods follow OHID Fingertips (``PHEindicatormethods``), which the domain notes take as the
model for uncertainty in LA benchmarking:

- proportions: Wilson score interval (Wilson 1927; Newcombe 1998, method 3);
- counts and rates: Byar's approximation to the exact Poisson interval (Breslow and Day 1987),
  plus an exact Poisson interval by bisection on the Poisson distribution for small counts;
- outliers: a robust z-score (distance from the median in units of 1.4826 x MAD).

scipy is not a dependency, so the two normal quantiles in use are constants
(:data:`Z_95`, :data:`Z_998`) and the exact Poisson interval is solved numerically.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import polars as pl

#: Two-sided 95% normal quantile, Phi^-1(0.975).
Z_95 = 1.959963984540054
#: Two-sided 99.8% normal quantile, Phi^-1(0.999): Fingertips' outer funnel limit.
Z_998 = 3.090232306167813
#: MAD -> standard deviation for a normal distribution (1 / Phi^-1(0.75)).
MAD_SCALE = 1.482602218505602
#: Robust z-score beyond which a value is flagged as implausibly far from the distribution.
OUTLIER_ROBUST_Z = 3.0
#: The small-numbers rule (issue 19 item 3, after Fingertips and LAIT): a value whose base (its
#: denominator; for a rate per population, the events counted) is under this is not ranked,
#: banded or tested ...
MIN_BASE_RANKED = 10
#: ... and one under this is marked for caution.
MIN_BASE_RELIABLE = 30


def wilson_interval(numerator: float, denominator: float, z: float = Z_95) -> tuple[float, float]:
    """Return the Wilson score interval (low, high) of a proportion, as fractions in [0, 1].

    Wilson is used rather than the normal (Wald) interval because it stays inside [0, 1] and
    behaves for small councils and for 0 or n successes.

    Raises:
        ValueError: when the denominator is not positive or the numerator lies outside 0..n.

    """
    if denominator <= 0:
        raise ValueError(f"denominator must be positive, got {denominator}")
    if numerator < 0 or numerator > denominator:
        raise ValueError(f"numerator must lie in 0..{denominator}, got {numerator}")
    p = numerator / denominator
    z2 = z * z
    scale = 1 + z2 / denominator
    centre = (p + z2 / (2 * denominator)) / scale
    half = z * math.sqrt(p * (1 - p) / denominator + z2 / (4 * denominator**2)) / scale
    # At 0 or n successes the limit is exactly 0 or 1; float noise would leave 1e-17.
    low = 0.0 if numerator == 0 else max(0.0, centre - half)
    high = 1.0 if numerator == denominator else min(1.0, centre + half)
    return low, high


def wilson_exprs(
    numerator: pl.Expr, denominator: pl.Expr, z: float = Z_95
) -> tuple[pl.Expr, pl.Expr]:
    """Return polars expressions (low, high) of the Wilson interval, as fractions.

    Null where either count is null or the denominator is not positive, so a suppressed count
    never yields an interval.
    """
    ok = denominator.is_not_null() & numerator.is_not_null() & (denominator > 0)
    n = denominator.cast(pl.Float64)
    p = numerator.cast(pl.Float64) / n
    z2 = z * z
    scale = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / scale
    half = z * (p * (1 - p) / n + z2 / (4 * n * n)).sqrt() / scale
    x = numerator.cast(pl.Float64)
    low = (
        pl.when(~ok)
        .then(None)
        .when(x == 0)
        .then(0.0)
        .otherwise(pl.max_horizontal(pl.lit(0.0), centre - half))
    )
    high = (
        pl.when(~ok)
        .then(None)
        .when(x == n)
        .then(1.0)
        .otherwise(pl.min_horizontal(pl.lit(1.0), centre + half))
    )
    return low, high


def byar_interval(count: float, z: float = Z_95) -> tuple[float, float]:
    """Return Byar's approximate Poisson interval (low, high) for an observed count.

    Byar's formula is the one Fingertips uses for counts; it is within about 0.2% of the exact
    interval from a count of 10 up. For a count of 0 the lower limit is 0.

    Raises:
        ValueError: when the count is negative.

    """
    if count < 0:
        raise ValueError(f"count must be non-negative, got {count}")
    low = 0.0 if count == 0 else count * (1 - 1 / (9 * count) - z / (3 * math.sqrt(count))) ** 3
    up = count + 1
    high = up * (1 - 1 / (9 * up) + z / (3 * math.sqrt(up))) ** 3
    return max(0.0, low), high


def byar_exprs(count: pl.Expr, z: float = Z_95) -> tuple[pl.Expr, pl.Expr]:
    """Return polars expressions (low, high) of Byar's Poisson interval; null for null counts."""
    o = count.cast(pl.Float64)
    up = o + 1
    low = (
        pl.when(o.is_null())
        .then(None)
        .when(o == 0)
        .then(0.0)
        .otherwise(pl.max_horizontal(pl.lit(0.0), o * (1 - 1 / (9 * o) - z / (3 * o.sqrt())) ** 3))
    )
    high = up * (1 - 1 / (9 * up) + z / (3 * up.sqrt())) ** 3
    return low, high


def _poisson_cdf(k: int, mean: float) -> float:
    """P(X <= k) for X ~ Poisson(mean), summed in log space to avoid overflow."""
    if mean == 0:
        return 1.0
    total = 0.0
    log_term = -mean
    for i in range(k + 1):
        if i > 0:
            log_term += math.log(mean) - math.log(i)
        total += math.exp(log_term)
    return min(1.0, total)


def _bisect(func: Callable[[float], float], lo: float, hi: float) -> float:
    """Return the root of a decreasing ``func`` on [lo, hi] by bisection."""
    for _ in range(200):
        mid = (lo + hi) / 2
        if func(mid) > 0:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def exact_poisson_interval(count: int, z: float = Z_95) -> tuple[float, float]:
    """Return the exact (Garwood) Poisson interval (low, high) for an observed count.

    Solved by bisection on the Poisson distribution function (no chi-squared quantile is
    available without scipy). Use it for small counts, where Byar's approximation drifts.

    Raises:
        ValueError: when the count is negative.

    """
    if count < 0:
        raise ValueError(f"count must be non-negative, got {count}")
    tail = math.erfc(z / math.sqrt(2)) / 2  # one-sided alpha / 2
    top = count + 10 * math.sqrt(count + 1) + 20
    high = _bisect(lambda m: _poisson_cdf(count, m) - tail, 0.0, top)
    if count == 0:
        return 0.0, high
    low = _bisect(lambda m: tail - (1 - _poisson_cdf(count - 1, m)), 0.0, top)
    return low, high


def robust_z_expr(value: pl.Expr, over: list[str] | None = None) -> pl.Expr:
    """Return the robust z-score of ``value``: (x - median) / (1.4826 x MAD), within ``over``.

    The median and MAD ignore nulls, and unlike a mean and standard deviation they are not
    dragged by the very outliers they are meant to find. Null where the MAD is 0.
    """
    med = value.median()
    mad = (value - med).abs().median()
    if over:
        med = med.over(over)
        mad = (value - value.median().over(over)).abs().median().over(over)
    return pl.when(mad > 0).then((value - med) / (MAD_SCALE * mad))


def outlier_flag_expr(
    value: pl.Expr, over: list[str] | None = None, threshold: float = OUTLIER_ROBUST_Z
) -> pl.Expr:
    """Return True where ``value`` lies more than ``threshold`` robust z-scores from the median.

    Null values (markers) are never flagged; the flag marks a value to be read with care and
    never removes it.
    """
    return (robust_z_expr(value, over).abs() > threshold).fill_null(False)
